//! Scheduled automations: each tick of a cron schedule (read in its time zone) starts
//! one run — once, however many servers watch the clock, because the run's event id
//! is the tick (`schedule:<automation>:<tick>`) and runs are unique per event.
//!
//! Ticks missed while no server was running are not replayed one by one: the latest
//! missed tick runs once when a server is back (a daily report after a week's outage
//! is sent once, not seven times). A schedule starts counting when its version came
//! into force, so a new, edited, re-enabled or reverted schedule runs at its next tick.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::automations::{ScheduleRule, VersionedAutomation};
use crate::db;
use crate::launch::{self, Launched};
use crate::runs::RunEnv;
use crate::trigger::{Trigger, TriggerEvent, TriggerKind};

/// Checks the schedules every `poll_interval` until `stop`.
pub async fn run(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = env
        .config
        .poll_interval
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut known = HashMap::new();
    loop {
        if let Err(e) = tick(&env, &mut known).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not check the schedules; trying again"
            );
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Per automation id: the version seen last and the latest tick dealt with.
pub type Known = HashMap<String, (i64, i64)>;

/// One pass: starts the run of every schedule whose latest tick has not run. A
/// schedule that fails is logged and retried on the next pass; the others go on.
pub async fn tick(env: &RunEnv, known: &mut Known) -> anyhow::Result<()> {
    let now = env.clock.now_ms();
    let mut failed = 0;
    let current = env.registry.current();
    let active = current.iter().filter_map(|a| {
        let schedule = a.automation.trigger.schedule.as_ref()?;
        a.automation.enabled.then_some((a, schedule))
    });
    let mut seen = HashSet::new();
    for (a, schedule) in active {
        seen.insert(a.automation.id.as_str());
        if let Err(e) = tick_one(env, a, schedule, now, known).await {
            tracing::warn!(automation = %a.automation.id, error = format!("{e:#}"), "schedule not checked; trying again");
            failed += 1;
        }
    }
    // A schedule switched off (or gone) starts from its baseline again when it is back.
    known.retain(|id, _| seen.contains(id.as_str()));
    if failed > 0 {
        anyhow::bail!("{failed} schedule(s) could not be checked");
    }
    Ok(())
}

async fn tick_one(
    env: &RunEnv,
    a: &VersionedAutomation,
    schedule: &ScheduleRule,
    now: i64,
    known: &mut Known,
) -> anyhow::Result<()> {
    let since = match known.get(&a.automation.id) {
        Some((version, tick)) if *version == a.version => *tick,
        _ => {
            let since = baseline(env, a).await?;
            known.insert(a.automation.id.clone(), (a.version, since));
            since
        }
    };
    let Some(due) = latest_tick(schedule, now).filter(|t| *t > since) else {
        return Ok(());
    };
    start(env, a, schedule, due).await?;
    known.insert(a.automation.id.clone(), (a.version, due));
    Ok(())
}

/// Ticks up to this time have been dealt with: the latest one recorded, or the moment
/// this version came into force, whichever is later.
async fn baseline(env: &RunEnv, a: &VersionedAutomation) -> anyhow::Result<i64> {
    let id = &a.automation.id;
    let last = db::doors::last_tick(env.db.reader(), id).await?;
    let since = db::automations::in_force_since(env.db.reader(), id, a.version).await?;
    Ok(last
        .unwrap_or(i64::MIN)
        .max(since.unwrap_or_else(|| env.clock.now_ms())))
}

/// The latest tick at or before `now_ms`.
fn latest_tick(schedule: &ScheduleRule, now_ms: i64) -> Option<i64> {
    let now = chrono::DateTime::from_timestamp_millis(now_ms)?.with_timezone(&schedule.timezone);
    schedule
        .cron
        .find_previous_occurrence(&now, true)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Starts the run of `tick` (idempotent across servers) and records the tick.
async fn start(
    env: &RunEnv,
    a: &VersionedAutomation,
    schedule: &ScheduleRule,
    tick: i64,
) -> anyhow::Result<()> {
    let id = &a.automation.id;
    let Some(team) = env.workspaces.primary() else {
        anyhow::bail!("the Slack workspace is not known yet; schedules wait for it");
    };
    let trigger = Trigger {
        event_id: format!("schedule:{id}:{tick}"),
        team_id: team,
        actor: None,
        conversation_id: None,
        depth: 0,
        event: TriggerEvent::Schedule {
            tick,
            cron: schedule.expression.clone(),
            timezone: schedule.timezone.name().to_owned(),
        },
    };
    let automation = launch::automation(env, id, TriggerKind::Schedule)?;
    let run = match launch::launch(env, &automation, &trigger, None).await? {
        Launched::Queued(run) => Some(run),
        Launched::Filtered => None,
    };
    let mut conn = env.db.write().await?;
    if db::doors::claim_tick(&mut conn, id, tick, env.clock.now_ms()).await? {
        db::doors::set_tick_run(&mut conn, id, tick, run).await?;
        tracing::info!(automation = %id, tick = %crate::clock::format_ms(tick), run.id = ?run, "schedule tick");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn rule(expression: &str, tz: &str) -> ScheduleRule {
        ScheduleRule {
            expression: expression.into(),
            cron: croner::Cron::from_str(expression).unwrap(),
            timezone: chrono_tz::Tz::from_str(tz).unwrap(),
        }
    }

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_latest_tick_is_the_one_to_run() {
        let hourly = rule("0 * * * *", "UTC");
        assert_eq!(
            latest_tick(&hourly, ms("2026-11-25T10:59:59Z")),
            Some(ms("2026-11-25T10:00:00Z"))
        );
        assert_eq!(
            latest_tick(&hourly, ms("2026-11-25T11:00:00Z")),
            Some(ms("2026-11-25T11:00:00Z"))
        );
        // 9:00 on weekdays in New York, seen on Saturday: Friday's.
        let weekdays = rule("0 9 * * MON-FRI", "America/New_York");
        assert_eq!(
            latest_tick(&weekdays, ms("2026-11-28T18:00:00Z")),
            Some(ms("2026-11-27T14:00:00Z"))
        );
    }
}
