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

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::automations::VersionedAutomation;
use crate::db::{self, timers::DueTimer};
use crate::rules;
use crate::runs::RunEnv;
use crate::trigger::{Silence, Trigger, TriggerEvent, TriggerKind};

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

/// One pass: fires the timers due now; returns how many it looked at.
pub async fn pass(env: &RunEnv) -> anyhow::Result<usize> {
    let now = env.clock.now_ms();
    let due = db::timers::due(env.db.reader(), now, BATCH).await?;
    let mut queued = false;
    for timer in &due {
        match fire(env, timer, now).await {
            Ok(run) => queued |= run.is_some(),
            Err(e) => tracing::warn!(
                conversation.id = timer.conversation_id,
                timer = %timer.name,
                error = format!("{e:#}"),
                "timer not fired; trying again"
            ),
        }
    }
    if queued {
        env.wake.notify_waiters();
    }
    Ok(due.len())
}

/// What a due timer does: queues its run (returned) if its automation still waits for
/// it and the filter passes.
async fn fire(env: &RunEnv, timer: &DueTimer, now: i64) -> anyhow::Result<Option<i64>> {
    let Some(id) = timer.name.strip_prefix(silence::PREFIX) else {
        anyhow::bail!("unknown kind of timer {:?}", timer.name);
    };
    let current = env.registry.current();
    let automation = current
        .iter()
        .find(|a| a.automation.id == id && a.automation.trigger.silence.is_some());
    let mut tx = env.db.begin().await?;
    let Some(automation) = automation else {
        // Gone, or no longer waiting for a silence: nobody waits for this timer.
        db::timers::remove(&mut tx, timer).await?;
        tx.commit().await?;
        tracing::debug!(
            automation = id,
            conversation.id = timer.conversation_id,
            "timer of an automation that no longer waits for a silence removed"
        );
        return Ok(None);
    };
    let rule = automation
        .automation
        .trigger
        .silence
        .as_ref()
        .expect("found with a silence");
    let calendars = env.registry.calendars();
    // The automation may have changed since the timer was set: it waits as it says now.
    if let Some(due) = silence::due_at(rule, &calendars, timer.since).filter(|d| *d > now) {
        db::timers::postpone(&mut tx, timer, due).await?;
        tx.commit().await?;
        return Ok(None);
    }
    if !db::timers::take(&mut tx, timer).await? {
        return Ok(None); // fired by another server, or the silence ended meanwhile
    }
    let conversation = db::conversations::get(&mut tx, timer.conversation_id).await?;
    let Some(team) = conversation.as_ref().map(|c| c.team_id.clone()) else {
        tx.commit().await?;
        return Ok(None);
    };
    let trigger = Trigger {
        event_id: format!(
            "{}{id}:{}:{}",
            silence::PREFIX,
            timer.conversation_id,
            timer.since
        ),
        team_id: team,
        actor: None,
        conversation_id: Some(timer.conversation_id),
        depth: 0,
        event: silence_event(automation, timer),
    };
    if !automation.automation.enabled
        || !rules::matches(&automation.automation, &trigger, conversation.as_ref())
    {
        tx.commit().await?;
        tracing::info!(
            automation = id,
            conversation.id = timer.conversation_id,
            "silence fell due; filter did not pass, no run"
        );
        return Ok(None);
    }
    let a = &automation.automation;
    let run = db::runs::insert(&mut tx, &a.id, automation.version, a.lane(), &trigger, now).await?;
    tx.commit().await?;
    let late_ms = now - timer.due_at;
    tracing::info!(
        run.id = ?run,
        automation = id,
        trigger = %trigger.kind(),
        conversation.id = timer.conversation_id,
        late_ms,
        "silence fell due; run queued"
    );
    Ok(run)
}

fn silence_event(automation: &VersionedAutomation, timer: &DueTimer) -> TriggerEvent {
    let rule = automation.automation.trigger.silence.as_ref();
    let silence = Silence {
        since: timer.since,
        due: timer.due_at,
        after: rule.map(|r| r.after_text.clone()).unwrap_or_default(),
        business_hours: rule.and_then(|r| r.business_hours.clone()),
    };
    match automation.automation.trigger.kind {
        TriggerKind::NoReply => TriggerEvent::NoReply { silence },
        TriggerKind::Idle => TriggerEvent::Idle { silence },
        _ => TriggerEvent::NoResponse { silence },
    }
}
