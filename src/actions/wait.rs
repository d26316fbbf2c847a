//! The `wait` action: the run pauses — as a waiting run, holding no worker — until the
//! time has passed, and the next step runs then (a follow-up the next day).

use std::time::Duration;

use serde_json::{Value, json};

use super::{StepContext, StepOutcome, Wait};
use crate::clock::format_ms;

/// The `waiting_for` of a run that waits for time to pass; such runs are resumed by
/// the reaper when their deadline comes.
pub const DELAY: &str = "delay";

/// Waits `duration` from when the step first ran.
pub fn execute(duration: Duration, ctx: &StepContext<'_>) -> StepOutcome {
    let now = ctx.env.clock.now_ms();
    let until = ctx
        .waited
        .and_then(|w| w.get("until"))
        .and_then(Value::as_i64)
        .unwrap_or_else(|| {
            now.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        });
    if now >= until {
        return StepOutcome::done(json!({ "waited_until": format_ms(until) }));
    }
    StepOutcome {
        wait: Some(Wait {
            waiting_for: format!("{DELAY} of {}s", duration.as_secs()),
            deadline: Some(until),
            approval: None,
        }),
        ..StepOutcome::done(json!({ "until": until }))
    }
}
