//! A silence that fell due: check that its automation still waits for it, mark it
//! fired and queue the run, in one transaction; and counting the running silences of
//! an edited automation again.

use super::{PREFIX, due_at, timer_name};
use crate::automations::VersionedAutomation;
use crate::automations::calendars::Calendars;
use crate::db::{self, timers::DueTimer};
use crate::dispatch;
use crate::runs::RunEnv;
use crate::trigger::{Silence, Trigger, TriggerEvent, TriggerKind};

/// What a due timer does: queues its run (returned) if its automation still waits for
/// it and the filter passes.
pub(in crate::timers) async fn fire(
    env: &RunEnv,
    timer: &DueTimer,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let Some(id) = timer.name.strip_prefix(PREFIX) else {
        anyhow::bail!("not a silence timer: {:?}", timer.name);
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
    if let Some(due) = due_at(rule, &calendars, timer.since).filter(|d| *d > now) {
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
        event_id: format!("{}{id}:{}:{}", PREFIX, timer.conversation_id, timer.since),
        team_id: team,
        actor: None,
        conversation_id: Some(timer.conversation_id),
        depth: 0,
        event: silence_event(automation, timer),
    };
    let runs = dispatch::queue_runs(
        &mut tx,
        std::slice::from_ref(automation),
        &trigger,
        conversation.as_ref(),
        env.config.max_depth,
        now,
    )
    .await?;
    tx.commit().await?;
    let run = runs.first().copied();
    match run {
        Some(run) => tracing::info!(
            run.id = run,
            automation = id,
            trigger = %trigger.kind(),
            conversation.id = timer.conversation_id,
            late_ms = now - timer.due_at,
            "silence fell due; run queued"
        ),
        None => tracing::debug!(
            automation = id,
            conversation.id = timer.conversation_id,
            "silence fell due; its filter did not pass, no run"
        ),
    }
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

/// Recomputes the due times of `automation`'s running silences with its rule and
/// calendar as they are now (after an edit of the file or of its calendar), a page
/// at a time so the writer is never held for long. Returns how many moved.
pub async fn reschedule(
    db: &crate::db::Db,
    automation: &VersionedAutomation,
    calendars: &Calendars,
) -> anyhow::Result<usize> {
    let Some(rule) = automation.automation.trigger.silence.as_ref() else {
        return Ok(0);
    };
    let name = timer_name(&automation.automation.id);
    let (mut after, mut moved) = (0, 0);
    loop {
        let page = db::timers::running_named(db.reader(), &name, after, 500).await?;
        let Some(last) = page.last() else {
            return Ok(moved);
        };
        after = last.conversation_id;
        let changed: Vec<(&DueTimer, i64)> = page
            .iter()
            .filter_map(|t| {
                let due = due_at(rule, calendars, t.since)?;
                (due != t.due_at).then_some((t, due))
            })
            .collect();
        if changed.is_empty() {
            continue;
        }
        let mut tx = db.begin().await?;
        for (timer, due) in &changed {
            db::timers::postpone(&mut tx, timer, *due).await?;
        }
        tx.commit().await?;
        moved += changed.len();
    }
}
