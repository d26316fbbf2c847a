//! Automations that run when nothing happens: `no_response`, `no_reply` and `idle`.
//!
//! The ingest keeps one timer per (conversation, silence automation) in the same
//! transaction that records the message ([`silence::plan`]). This poller, on every
//! server, reads the timers that have fallen due (an indexed range, so its cost
//! follows the due timers, not the open conversations) and fires each in one
//! transaction: mark the timer fired, check the automation's filter against the
//! conversation as it is now, queue the run. The run's event id is
//! `silence:<automation>:<conversation>:<since>`, unique per silence, so however many
//! servers poll, and whatever crashes in between, each silence runs once. A timer
//! that fell due while no server was running fires once when one is back.
//!
//! Adding a time-based trigger: give its timers a name of their own, plan them where
//! the awaited thing is recorded, and teach [`fire`] what to queue when one is due.

pub mod silence;
mod sla;

pub use crate::deadlines::{TimerChange, TimerOp, fold_into};

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{self, timers::DueTimer};
use crate::runs::RunEnv;

/// Most timers fired in one pass; more are fired in the next one, at once.
const BATCH: i64 = 256;

/// Fires due timers until `stop`, looking at least every second (a timer fires
/// within a second of its due time).
pub async fn run(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = env
        .config
        .poll_interval
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        let more = match pass(&env).await {
            Ok(fired) => fired as i64 == BATCH,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "could not fire the due timers; trying again"
                );
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// How long a timer that could not be fired waits before it is tried again, so that
/// one that keeps failing neither floods the log nor holds up the others.
const RETRY_MS: i64 = 60_000;

/// One pass: fires the timers due now; returns how many it dealt with.
pub async fn pass(env: &RunEnv) -> anyhow::Result<usize> {
    let now = env.clock.now_ms();
    let due = db::timers::due(env.db.reader(), now, BATCH).await?;
    let (mut queued, mut dealt) = (false, 0);
    for timer in &due {
        match fire(env, timer, now).await {
            Ok(run) => {
                queued |= run.is_some();
                dealt += 1;
            }
            Err(e) => {
                tracing::warn!(
                    conversation.id = timer.conversation_id,
                    timer = %timer.name,
                    error = format!("{e:#}"),
                    "timer not fired; trying again in a minute"
                );
                let later = async {
                    let mut tx = env.db.begin().await?;
                    db::timers::postpone(&mut tx, timer, now + RETRY_MS).await?;
                    tx.commit().await
                };
                if let Err(e) = later.await {
                    tracing::warn!(error = %e, "could not put the timer off; it is tried again at once");
                }
            }
        }
    }
    if queued {
        env.wake.notify_waiters();
    }
    Ok(dealt)
}

/// What a due timer does: queues its runs (the first returned) if something still
/// waits for it.
async fn fire(env: &RunEnv, timer: &DueTimer, now: i64) -> anyhow::Result<Option<i64>> {
    if timer.name.starts_with(silence::PREFIX) {
        silence::fire(env, timer, now).await
    } else if let Some((target, alarm)) = crate::sla::parse_timer_name(&timer.name) {
        sla::fire(env, timer, target, alarm, now).await
    } else {
        // Written by a newer version, or garbage: leave it for whoever knows it.
        anyhow::bail!("unknown kind of timer {:?}", timer.name)
    }
}
