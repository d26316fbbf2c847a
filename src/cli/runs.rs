//! `switchboard runs list|show`.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::RunsCommand;
use crate::clock::format_ms;
use crate::db::Db;
use crate::db::approvals;
use crate::db::runs::{self, LogLine, RunQuery, RunRecord, StepRecord};

pub async fn run(db: &Db, command: RunsCommand) -> anyhow::Result<ExitCode> {
    match command {
        RunsCommand::List {
            status,
            automation,
            limit,
            json,
        } => {
            let list = runs::list(
                db.reader(),
                &RunQuery {
                    status,
                    automation_id: automation,
                    limit,
                },
            )
            .await?;
            if json {
                for r in &list {
                    println!("{}", run_json(r));
                }
            } else {
                print!("{}", table(&list));
            }
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Show { id, json } => {
            let Some(run) = runs::get(db.reader(), id).await? else {
                eprintln!("no run with id {id} (see `switchboard runs list`)");
                return Ok(ExitCode::FAILURE);
            };
            let steps = runs::steps(db.reader(), id).await?;
            let log = runs::log_lines(db.reader(), id).await?;
            let mut requests = Vec::new();
            for a in approvals::list(db.reader(), None, Some(id), 1000).await? {
                let votes = super::approvals::votes(db, a.id).await?;
                requests.push((a, votes));
            }
            requests.reverse();
            if json {
                let mut value = run_json(&run);
                value["steps"] = steps.iter().map(step_json).collect();
                value["approvals"] = requests
                    .iter()
                    .map(|(a, votes)| super::approvals::approval_json(a, votes))
                    .collect();
                value["log"] = log
                    .iter()
                    .map(|l| json!({ "at": format_ms(l.at), "level": l.level, "message": l.message }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", details(&run, &steps, &log));
                if !requests.is_empty() {
                    println!("\napprovals");
                    for (a, votes) in &requests {
                        for line in super::approvals::summary(a, votes).lines() {
                            println!("  {line}");
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_json(r: &RunRecord) -> Value {
    json!({
        "id": r.id,
        "automation": r.automation_id,
        "version": r.automation_version,
        "status": r.status,
        "trigger": r.trigger_kind,
        "event_id": r.event_id,
        "conversation_id": r.conversation_id,
        "depth": r.depth,
        "attempt": r.attempt,
        "error": r.error,
        "created_at": format_ms(r.created_at),
        "started_at": r.started_at.map(format_ms),
        "finished_at": r.finished_at.map(format_ms),
        "waiting_for": r.waiting_for,
        "wait_deadline": r.wait_deadline.map(format_ms),
        "trigger_data": serde_json::from_str::<Value>(&r.trigger_json).unwrap_or(Value::Null),
    })
}

fn step_json(s: &StepRecord) -> Value {
    json!({
        "index": s.index,
        "action": s.action,
        "status": s.status,
        "attempts": s.attempts,
        "duration_ms": s.finished_at - s.started_at,
        "output": s.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
        "error": s.error,
    })
}

fn table(list: &[RunRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<10} {:<28} {:<22} {:>7}  {:<24}",
        "ID", "STATUS", "AUTOMATION", "TRIGGER", "ATTEMPT", "CREATED"
    );
    for r in list {
        let _ = writeln!(
            out,
            "{:>6}  {:<10} {:<28} {:<22} {:>7}  {:<24}",
            r.id,
            r.status,
            format!("{} v{}", r.automation_id, r.automation_version),
            r.trigger_kind,
            r.attempt,
            format_ms(r.created_at)
        );
    }
    if list.is_empty() {
        out.push_str("(no runs)\n");
    }
    out
}

pub(super) fn details(r: &RunRecord, steps: &[StepRecord], log: &[LogLine]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "run {}  {}", r.id, r.status.to_uppercase());
    let _ = writeln!(
        out,
        "automation    {} (version {})",
        r.automation_id, r.automation_version
    );
    let _ = writeln!(
        out,
        "trigger       {}  event {}  depth {}",
        r.trigger_kind, r.event_id, r.depth
    );
    if let Some(c) = r.conversation_id {
        let _ = writeln!(out, "conversation  {c}");
    }
    let _ = writeln!(out, "attempts      {}", r.attempt);
    let _ = writeln!(out, "queued        {}", format_ms(r.created_at));
    if let Some(s) = r.started_at {
        let _ = writeln!(
            out,
            "started       {} (+{} ms)",
            format_ms(s),
            s - r.created_at
        );
    }
    if let Some(f) = r.finished_at {
        let _ = writeln!(
            out,
            "finished      {} (total {} ms)",
            format_ms(f),
            f - r.created_at
        );
    } else if r.status == "queued" && r.attempt > 0 {
        let _ = writeln!(out, "next attempt  {}", format_ms(r.run_after));
    }
    if let Some(w) = &r.waiting_for {
        let until = r
            .wait_deadline
            .map(|d| format!(" (until {})", format_ms(d)))
            .unwrap_or_default();
        let _ = writeln!(out, "waiting for   {w}{until}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "error         {e}");
    }
    out.push_str("\nsteps\n");
    if steps.is_empty() {
        out.push_str("  (none yet)\n");
    }
    for s in steps {
        let detail = s.error.as_deref().or(s.output.as_deref()).unwrap_or("");
        let _ = writeln!(
            out,
            "  {:>2} {:<12} {:<10} {} attempt(s)  {} ms  {}",
            s.index,
            s.action,
            s.status,
            s.attempts,
            s.finished_at - s.started_at,
            detail
        );
    }
    out.push_str("\nlog\n");
    for l in log {
        let _ = writeln!(out, "  {}  {:<5}  {}", format_ms(l.at), l.level, l.message);
    }
    out.push_str("\ntrigger\n");
    let pretty = serde_json::from_str::<Value>(&r.trigger_json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| r.trigger_json.clone());
    for line in pretty.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}
