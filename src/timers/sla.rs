//! An SLA target's alarm fell due: record the warning or the breach on the
//! conversation's clock and start the `sla_warning` / `sla_breached` automations, in
//! one transaction. The runs' event id names the conversation, target, alarm and
//! deadline, so each deadline starts each automation once.

use super::{TimerChange, TimerOp};
use crate::conversations::sla::Target;
use crate::db::{self, timers::DueTimer};
use crate::dispatch;
use crate::runs::RunEnv;
use crate::sla::{Alarm, timer_name};
use crate::trigger::{SlaAlarm, Trigger, TriggerEvent};

pub(super) async fn fire(
    env: &RunEnv,
    timer: &DueTimer,
    target: Target,
    alarm: Alarm,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let mut tx = env.db.begin().await?;
    if !db::timers::take(&mut tx, timer).await? {
        return Ok(None); // rung by another server, or the clock moved meanwhile
    }
    let Some(mut conversation) = db::conversations::get(&mut tx, timer.conversation_id).await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    if !crate::sla::ring(&mut conversation, target, alarm, timer.due_at) {
        tx.commit().await?;
        tracing::debug!(conversation.id = conversation.id, timer = %timer.name, "SLA alarm no longer awaited");
        return Ok(None);
    }
    let clock = &conversation.sla.clocks[&target];
    let event = SlaAlarm {
        target,
        policy: clock.policy.clone(),
        due: clock.due_at.unwrap_or(timer.due_at),
    };
    let event_id = format!(
        "sla:{}:{target}:{}:{}:{}",
        conversation.id,
        alarm.as_str(),
        clock.started_at,
        timer.due_at
    );
    if alarm == Alarm::Breached {
        let warning = TimerChange {
            conversation_id: conversation.id,
            name: timer_name(target, Alarm::Warning),
            op: TimerOp::Stop,
        };
        db::timers::apply(&mut tx, &[warning]).await?;
    }
    db::conversations::save_sla(&mut tx, &conversation).await?;
    let trigger = Trigger {
        event_id,
        team_id: conversation.team_id.clone(),
        actor: None,
        conversation_id: Some(conversation.id),
        depth: 0,
        event: match alarm {
            Alarm::Warning => TriggerEvent::SlaWarning { sla: event },
            Alarm::Breached => TriggerEvent::SlaBreached { sla: event },
        },
    };
    let runs = dispatch::queue_runs(
        &mut tx,
        &env.registry.current(),
        &trigger,
        Some(&conversation),
        env.config.max_depth,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        conversation.id = conversation.id,
        target = %target,
        trigger = %trigger.kind(),
        runs = ?runs,
        late_ms = now - timer.due_at,
        "SLA {}; runs queued", alarm.as_str()
    );
    Ok(runs.first().copied())
}
