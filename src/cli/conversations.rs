//! `switchboard conversations list|show`: the tracked tickets, and one ticket's
//! fields, SLA clocks, running timers, field history and runs.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::ConversationsCommand;
use crate::clock::format_ms;
use crate::db::{self, Db};

pub async fn run(db: &Db, command: ConversationsCommand) -> anyhow::Result<ExitCode> {
    let mut conn = db.reader().acquire().await?;
    match command {
        ConversationsCommand::List { limit } => {
            let list = db::conversations::list(&mut conn, limit).await?;
            println!(
                "{:>6}  {:<9} {:<9} {:<14} {:<12} title",
                "id", "status", "priority", "type", "assignee"
            );
            for c in list {
                println!(
                    "{:>6}  {:<9} {:<9} {:<14} {:<12} {}",
                    c.id,
                    c.status.as_str(),
                    c.priority.as_str(),
                    c.ticket_type,
                    c.assignee.as_deref().unwrap_or("-"),
                    c.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ConversationsCommand::Show { id } => {
            let Some(c) = db::conversations::get(&mut *conn, id).await? else {
                eprintln!("no conversation {id} (see `switchboard conversations list`)");
                return Ok(ExitCode::FAILURE);
            };
            let mut out = String::new();
            let _ = writeln!(out, "conversation {}  {}", c.id, c.title);
            for (label, value) in [
                ("status", c.status.as_str().to_owned()),
                ("priority", c.priority.as_str().to_owned()),
                ("type", c.ticket_type.clone()),
                ("customer", c.customer.clone().unwrap_or_else(|| "-".into())),
                ("requester", c.requester.clone()),
                ("assignee", c.assignee.clone().unwrap_or_else(|| "-".into())),
                ("tags", c.tags.join(", ")),
                ("thread", c.permalink.clone()),
                ("opened", format_ms(c.created_at)),
                (
                    "messages",
                    db::conversations::message_count(&mut conn, id)
                        .await?
                        .to_string(),
                ),
            ] {
                let _ = writeln!(out, "{label:<10} {value}");
            }
            out.push_str("\nsla\n");
            let sla = crate::sla::describe(&c.sla.clocks);
            if sla.is_empty() {
                out.push_str("  (no policy applies)\n");
            }
            for line in sla {
                let _ = writeln!(out, "  {line}");
            }
            let timers = db::timers::of_conversation(db.reader(), id).await?;
            if !timers.is_empty() {
                out.push_str("\ntimers\n");
                for (name, since, due) in timers {
                    let due =
                        due.map_or_else(|| "fired".to_owned(), |d| format!("due {}", format_ms(d)));
                    let _ = writeln!(out, "  {name:<32} {due}  (since {})", format_ms(since));
                }
            }
            let changes = db::conversations::changes(&mut conn, id).await?;
            if !changes.is_empty() {
                out.push_str("\nhistory\n");
                for ch in changes {
                    let by = ch.actor.as_deref().unwrap_or(&ch.cause);
                    let _ = writeln!(
                        out,
                        "  {:<12} {} -> {}  by {by}",
                        ch.field, ch.before, ch.after
                    );
                }
            }
            let runs = db::runs::of_conversation(db.reader(), id, 20).await?;
            if !runs.is_empty() {
                out.push_str("\nruns\n");
                for r in runs {
                    let _ = writeln!(
                        out,
                        "  {:>6}  {:<10} {:<22} {}  {}",
                        r.id,
                        r.status,
                        r.automation_id,
                        r.trigger_kind,
                        format_ms(r.created_at)
                    );
                }
            }
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
