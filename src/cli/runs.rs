//! `switchboard runs list|show|prune`.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::RunsCommand;
use crate::clock::{Clock as _, SystemClock, format_ms};
use crate::db::Db;
use crate::db::runs::{self, RunQuery, RunRecord, StepRecord};
use crate::retention;
use crate::runs::report::RunReport;

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
            let Some(report) = RunReport::load(db, id).await? else {
                eprintln!("no run with id {id} (see `switchboard runs list`)");
                return Ok(ExitCode::FAILURE);
            };
            if json {
                let mut value = run_json(&report.run);
                value["steps"] = report.steps.iter().map(step_json).collect();
                value["approvals"] = report
                    .approvals
                    .iter()
                    .map(|(a, votes)| super::approvals::approval_json(a, votes))
                    .collect();
                value["log"] = report
                    .log
                    .iter()
                    .map(|l| json!({ "at": format_ms(l.at), "level": l.level, "message": l.message }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", report.text(true));
            }
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Prune { older_than } => prune(db, &older_than).await,
    }
}

async fn prune(db: &Db, older_than: &str) -> anyhow::Result<ExitCode> {
    let period = match crate::config::parse_period(older_than) {
        Ok(Some(period)) => period,
        Ok(None) => {
            eprintln!("--older-than forever deletes nothing; give a period such as 30d");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            eprintln!("--older-than: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let before = SystemClock.now_ms() - i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
    let mut longest = std::time::Duration::ZERO;
    let deleted =
        retention::prune_runs(db, before, std::time::Duration::ZERO, &mut longest).await?;
    println!(
        "deleted {deleted} finished runs created before {} (with their steps, logs and triggers)",
        format_ms(before)
    );
    println!(
        "runs with approval records stay while those are kept (retention.approvals); queued, running and waiting runs always stay"
    );
    Ok(ExitCode::SUCCESS)
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
