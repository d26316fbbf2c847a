//! Approval requests described for people: the audit lines shown by the CLI and on a
//! run's page.

use std::fmt::Write as _;

use crate::clock::format_ms;
use crate::db::approvals::{ApprovalRecord, Vote};

/// The lines that describe a request's outcome and votes (for `approvals show` and a run's report).
pub fn summary(a: &ApprovalRecord, votes: &[Vote]) -> String {
    let mut out = String::new();
    let decided = match (&a.decided_by, a.decided_at) {
        (Some(by), Some(at)) => format!(" by {by} at {}", format_ms(at)),
        (None, Some(at)) => format!(" at {}", format_ms(at)),
        _ => String::new(),
    };
    let reason = a
        .decision_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{} {}{decided}{reason}", a.id, a.status.to_uppercase());
    let _ = writeln!(out, "  title      {}", a.title);
    for v in votes {
        let reason = v
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  vote       {} {} at {}{reason}",
            v.user_id,
            v.decision,
            format_ms(v.voted_at)
        );
    }
    out
}
