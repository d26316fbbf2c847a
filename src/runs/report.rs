//! What one run did, gathered from the database: for `switchboard runs show`, for
//! `switchboard run --wait`, and for the page a run link opens.

use std::fmt::Write as _;

use crate::approvals::audit::summary;
use crate::clock::format_ms;
use crate::db::Db;
use crate::db::approvals::{self, ApprovalRecord, Vote};
use crate::db::runs::{self, LogLine, RunRecord, StepRecord};

/// A run with its steps, log and approval requests.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run.
    pub run: RunRecord,
    /// Its steps, in order.
    pub steps: Vec<StepRecord>,
    /// Its log, oldest first.
    pub log: Vec<LogLine>,
    /// Its approval requests, oldest first, with their votes.
    pub approvals: Vec<(ApprovalRecord, Vec<Vote>)>,
    /// Its conversation as it is now, if it has one.
    pub conversation: Option<crate::conversations::Conversation>,
}

impl RunReport {
    /// Reads run `id`, or `None` when there is no such run.
    pub async fn load(db: &Db, id: i64) -> sqlx::Result<Option<Self>> {
        let Some(run) = runs::get(db.reader(), id).await? else {
            return Ok(None);
        };
        let steps = runs::steps(db.reader(), id).await?;
        let log = runs::log_lines(db.reader(), id).await?;
        let list = approvals::list(db.reader(), None, Some(id), 1000).await?;
        let mut requests = Vec::with_capacity(list.len());
        let mut conn = db.reader().acquire().await?;
        for a in list {
            let votes = approvals::votes(&mut conn, a.id).await?;
            requests.push((a, votes));
        }
        requests.reverse();
        let conversation = match run.conversation_id {
            Some(c) => crate::db::conversations::get(&mut *conn, c).await?,
            None => None,
        };
        Ok(Some(Self {
            run,
            steps,
            log,
            approvals: requests,
            conversation,
        }))
    }

    /// Whether the run has reached its final state.
    pub fn finished(&self) -> bool {
        matches!(self.run.status.as_str(), "succeeded" | "failed")
    }

    /// The run as text: facts, steps, approvals, log and, with `trigger`, the trigger.
    pub fn text(&self, trigger: bool) -> String {
        let r = &self.run;
        let mut out = String::new();
        let _ = writeln!(out, "run {}  {}", r.id, r.status.to_uppercase());
        for (label, value) in facts(r) {
            let _ = writeln!(out, "{label:<13} {value}");
        }
        if let Some(c) = &self.conversation {
            let sla = crate::sla::describe(&c.sla.clocks);
            if !sla.is_empty() {
                out.push_str("\nsla of the conversation, now\n");
                for line in sla {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        out.push_str("\nsteps\n");
        if self.steps.is_empty() {
            out.push_str("  (none yet)\n");
        }
        for s in &self.steps {
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
        if !self.approvals.is_empty() {
            out.push_str("\napprovals\n");
            for (a, votes) in &self.approvals {
                for line in summary(a, votes).lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        out.push_str("\nlog\n");
        for l in &self.log {
            let _ = writeln!(out, "  {}  {:<5}  {}", format_ms(l.at), l.level, l.message);
        }
        if trigger {
            out.push_str("\ntrigger\n");
            let pretty = serde_json::from_str::<serde_json::Value>(&r.trigger_json)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| r.trigger_json.clone());
            for line in pretty.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

/// The run's facts as label and value, in reading order.
pub fn facts(r: &RunRecord) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        (
            "automation",
            format!("{} (version {})", r.automation_id, r.automation_version),
        ),
        (
            "trigger",
            format!(
                "{}  event {}  depth {}",
                r.trigger_kind, r.event_id, r.depth
            ),
        ),
    ];
    if let Some(c) = r.conversation_id {
        facts.push(("conversation", c.to_string()));
    }
    facts.push(("attempts", r.attempt.to_string()));
    facts.push(("queued", format_ms(r.created_at)));
    if let Some(s) = r.started_at {
        facts.push((
            "started",
            format!("{} (+{} ms)", format_ms(s), s - r.created_at),
        ));
    }
    if let Some(f) = r.finished_at {
        facts.push((
            "finished",
            format!("{} (total {} ms)", format_ms(f), f - r.created_at),
        ));
    } else if r.status == "queued" && r.attempt > 0 {
        facts.push(("next attempt", format_ms(r.run_after)));
    }
    if let Some(w) = &r.waiting_for {
        let until = r
            .wait_deadline
            .map(|d| format!(" (until {})", format_ms(d)))
            .unwrap_or_default();
        facts.push(("waiting for", format!("{w}{until}")));
    }
    if let Some(e) = &r.error {
        facts.push(("error", e.clone()));
    }
    facts
}
