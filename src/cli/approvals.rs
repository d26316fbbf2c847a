//! `switchboard approvals list|show`: the audit of every request and decision.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::ApprovalsCommand;
use crate::approvals::audit::summary;
use crate::clock::format_ms;
use crate::db::Db;
use crate::db::approvals::{self, ApprovalRecord, Vote};

pub async fn run(db: &Db, command: ApprovalsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ApprovalsCommand::List {
            status,
            run,
            limit,
            json,
        } => {
            let list = approvals::list(db.reader(), status.as_deref(), run, limit).await?;
            if json {
                for a in &list {
                    println!("{}", approval_json(a, &votes(db, a.id).await?));
                }
            } else {
                print!("{}", table(&list));
            }
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Show { id, json } => {
            let Some(a) = approvals::get(db.reader(), id).await? else {
                eprintln!("no approval request with id {id} (see `switchboard approvals list`)");
                return Ok(ExitCode::FAILURE);
            };
            let votes = votes(db, id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&approval_json(&a, &votes))?
                );
            } else {
                print!("{}", details(&a, &votes));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(super) async fn votes(db: &Db, id: i64) -> anyhow::Result<Vec<Vote>> {
    let mut conn = db.reader().acquire().await?;
    Ok(approvals::votes(&mut conn, id).await?)
}

pub(super) fn approval_json(a: &ApprovalRecord, votes: &[Vote]) -> Value {
    json!({
        "id": a.id,
        "status": a.status,
        "automation": a.automation_id,
        "run_id": a.run_id,
        "step": a.step_index,
        "request": a.call_index,
        "conversation_id": a.conversation_id,
        "title": a.title,
        "text": a.body,
        "requester": a.requester,
        "approvers": a.approver_spec,
        "approver_ids": a.approvers,
        "quorum": a.quorum,
        "allow_self_approval": a.allow_self,
        "first_deny_wins": a.first_deny_wins,
        "reason": a.reason_mode,
        "messages": a.messages,
        "deadline": a.deadline.map(format_ms),
        "remind_at": a.remind_at.map(format_ms),
        "reminded_at": a.reminded_at.map(format_ms),
        "decided_by": a.decided_by,
        "decision_reason": a.decision_reason,
        "decided_at": a.decided_at.map(format_ms),
        "created_at": format_ms(a.created_at),
        "votes": votes.iter().map(|v| json!({
            "user": v.user_id, "decision": v.decision, "reason": v.reason, "at": format_ms(v.voted_at),
        })).collect::<Vec<_>>(),
    })
}

fn table(list: &[ApprovalRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<9} {:<24} {:>6}  {:<14} {:<24}  TITLE",
        "ID", "STATUS", "AUTOMATION", "RUN", "DECIDED BY", "CREATED"
    );
    for a in list {
        let title: String = a.title.chars().take(60).collect();
        let _ = writeln!(
            out,
            "{:>6}  {:<9} {:<24} {:>6}  {:<14} {:<24}  {title}",
            a.id,
            a.status,
            a.automation_id,
            a.run_id,
            a.decided_by.as_deref().unwrap_or("-"),
            format_ms(a.created_at),
        );
    }
    if list.is_empty() {
        out.push_str("(no approval requests)\n");
    }
    out
}

fn details(a: &ApprovalRecord, votes: &[Vote]) -> String {
    let mut out = format!("approval {}", summary(a, votes));
    let _ = writeln!(
        out,
        "  automation {} (run {}, step {})",
        a.automation_id, a.run_id, a.step_index
    );
    if let Some(r) = &a.requester {
        let _ = writeln!(out, "  requester  {r}");
    }
    let _ = writeln!(
        out,
        "  approvers  {} → {}",
        a.approver_spec,
        a.approvers.join(", ")
    );
    let rules = [
        Some(format!("quorum {}", a.quorum)),
        (!a.allow_self).then(|| "requester may not approve".to_owned()),
        a.first_deny_wins.then(|| "first deny wins".to_owned()),
        (a.reason_mode != "none").then(|| format!("reason {}", a.reason_mode)),
    ];
    let _ = writeln!(
        out,
        "  rules      {}",
        rules.into_iter().flatten().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(out, "  asked      {}", format_ms(a.created_at));
    if let Some(d) = a.deadline {
        let _ = writeln!(out, "  expires    {}", format_ms(d));
    }
    if let Some(r) = a.reminded_at {
        let _ = writeln!(out, "  reminded   {}", format_ms(r));
    }
    for m in &a.messages {
        let _ = writeln!(out, "  message    {} {}", m.channel, m.ts);
    }
    out.push_str("\ntext\n");
    for line in a.body.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}
