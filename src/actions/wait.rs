//! The `wait` action: the run pauses — as a waiting run, holding no worker — until the
//! time has passed, and the next step runs then (a follow-up the next day).
//!
//! With `until`, the wait ends early when that happens in the conversation: a reply
//! from a side, a status, a field change. The ingest wakes such runs when their
//! conversation moves, and the step decides from the conversation's recorded history
//! (its messages and field changes since the wait began, up to its deadline), so a
//! wake that comes late — or not at all — still gives the right answer at the
//! deadline. The step's `decision` is `ended` or `timed_out`; `on_timeout` steps run
//! only on the latter.

use std::time::Duration;

use serde_json::{Value, json};

use super::{StepContext, StepError, StepOutcome, Until, Wait};
use crate::automations::definition::ReplyFrom;
use crate::clock::format_ms;
use crate::conversations::{Field, Status};
use crate::db;
use crate::team::Side;

/// The `waiting_for` of a run that waits for time to pass; such runs are resumed by
/// the reaper when their deadline comes.
pub const DELAY: &str = "delay";
/// What a wait that something may end says after `delay of …s`; the ingest wakes
/// such runs when their conversation moves.
pub const UNTIL: &str = "until";
/// The decision of a wait whose time ran out first.
pub const TIMED_OUT: &str = "timed_out";
/// The decision of a wait that `until` ended.
pub const ENDED: &str = "ended";

/// Waits `duration` from when the step first ran, or until `until` happens.
pub async fn execute(
    duration: Duration,
    until: Option<&Until>,
    ctx: &StepContext<'_>,
) -> Result<StepOutcome, StepError> {
    let now = ctx.env.clock.now_ms();
    let earlier = ctx.waited;
    let at = |key: &str| earlier.and_then(|w| w.get(key)).and_then(Value::as_i64);
    let since = at("since").unwrap_or(now);
    let deadline = at("until").unwrap_or_else(|| {
        now.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
    });
    if let (Some(until), Some(c), Some(_)) = (until, ctx.conversation, earlier)
        && let Some((what, when)) = ended_by(ctx.env, until, c.id, since, deadline).await?
    {
        return Ok(StepOutcome::done(json!({
            "decision": ENDED, "ended_by": what, "at": format_ms(when),
        })));
    }
    if now >= deadline {
        let mut output = json!({ "waited_until": format_ms(deadline) });
        if until.is_some() {
            output["decision"] = TIMED_OUT.into();
        }
        return Ok(StepOutcome::done(output));
    }
    Ok(StepOutcome {
        wait: Some(Wait {
            waiting_for: waiting_for(duration, until),
            deadline: Some(deadline),
            approval: None,
        }),
        ..StepOutcome::done(json!({ "until": deadline, "since": since }))
    })
}

/// What ended the wait and when: the first thing in the conversation's history after
/// `since` and by `deadline` that `until` names. Shared with scripts' `waitFor`.
pub async fn ended_by(
    env: &crate::runs::RunEnv,
    until: &Until,
    conversation_id: i64,
    since: i64,
    deadline: i64,
) -> Result<Option<(String, i64)>, StepError> {
    let history =
        db::conversations::history_between(env.db.reader(), conversation_id, since, deadline)
            .await
            .map_err(|e| StepError::Transient {
                reason: format!("cannot read the conversation's history: {e}"),
                retry_after: None,
            })?;
    let mut found: Vec<(i64, String)> = Vec::new();
    if let Some(from) = until.reply_from {
        let reply = history.messages.iter().find(|(user, _)| {
            let side = env.team.side_of(user);
            match from {
                ReplyFrom::Anyone => true,
                ReplyFrom::Team => side == Side::Team,
                ReplyFrom::Requester => side == Side::Requester,
            }
        });
        if let Some((user, at)) = reply {
            found.push((*at, format!("a reply from <@{user}>")));
        }
    }
    for (field, after, at) in &history.changes {
        let Some(field) = Field::from_name(field) else {
            continue;
        };
        let status = (field == Field::Status)
            .then(|| after.as_str().and_then(|s| s.parse::<Status>().ok()))
            .flatten();
        if status.is_some_and(|s| until.status.contains(&s)) {
            found.push((
                *at,
                format!("status {}", after.as_str().unwrap_or_default()),
            ));
        } else if until.field_changes.contains(&field) {
            found.push((*at, format!("a change of {}", field.as_str())));
        }
    }
    Ok(found
        .into_iter()
        .min_by_key(|(at, _)| *at)
        .map(|(at, what)| (what, at)))
}

/// A waiting run's `waiting_for`: `delay of 172800s until a reply from the requester`
/// (the reaper resumes `delay…` at the deadline, the ingest wakes `… until …`).
pub fn waiting_for(duration: Duration, until: Option<&Until>) -> String {
    match until {
        Some(u) => format!("{DELAY} of {}s {UNTIL} {}", duration.as_secs(), describe(u)),
        None => format!("{DELAY} of {}s", duration.as_secs()),
    }
}

/// The `until` for people: "a reply from the requester or status resolved".
fn describe(until: &Until) -> String {
    let mut parts = Vec::new();
    if let Some(from) = until.reply_from {
        parts.push(match from {
            ReplyFrom::Requester => "a reply from the requester".to_owned(),
            ReplyFrom::Team => "a reply from the team".to_owned(),
            ReplyFrom::Anyone => "a reply".to_owned(),
        });
    }
    if !until.status.is_empty() {
        let names: Vec<&str> = until.status.iter().map(|s| s.as_str()).collect();
        parts.push(format!("status {}", names.join(" or ")));
    }
    if !until.field_changes.is_empty() {
        let names: Vec<&str> = until.field_changes.iter().map(|f| f.as_str()).collect();
        parts.push(format!("a change of {}", names.join(" or ")));
    }
    parts.join(" or ")
}
