//! Silences: what a message does to the ones automations wait for ([`plan`], pure,
//! inside the ingest's transaction), what one that fell due does ([`fire`]), and
//! counting running ones again after an edit ([`reschedule`]).
//!
//! - `no_response`: a message from the requester side starts the clock unless it is
//!   running already (the wait counts from the first unanswered message); a team
//!   member's message stops it.
//! - `no_reply`: a team member's message starts the clock again; a message from the
//!   requester side stops it.
//! - `idle`: every message starts the clock again.
//!
//! A silence that fired stays recorded (without a due time) until the awaited message
//! comes, so each silence fires once however many times the requester writes again.

use chrono::DateTime;

use super::{TimerChange, TimerOp, fold_into};
use crate::automations::calendars::Calendars;
use crate::automations::{SilenceRule, VersionedAutomation};
use crate::db::{self, timers::DueTimer};
use crate::rules;
use crate::runs::RunEnv;
use crate::team::Side;
use crate::trigger::{Silence, Trigger, TriggerEvent, TriggerKind};

/// The prefix of a silence timer's name; the automation's id follows.
pub const PREFIX: &str = "silence:";

/// Someone spoke in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spoke {
    /// The conversation.
    pub conversation_id: i64,
    /// Which side spoke.
    pub side: Side,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// The timer name of an automation's silence.
pub fn timer_name(automation_id: &str) -> String {
    format!("{PREFIX}{automation_id}")
}

/// When a silence that began at `since` falls due under `rule`: `after` later, in the
/// open hours of its calendar if it names one. `None` when the calendar is unknown or
/// never reaches the deadline.
pub fn due_at(rule: &SilenceRule, calendars: &Calendars, since: i64) -> Option<i64> {
    let after = chrono::Duration::from_std(rule.after).ok()?;
    match &rule.business_hours {
        None => Some(since.saturating_add(after.num_milliseconds())),
        Some(name) => {
            let from = DateTime::from_timestamp_millis(since)?;
            Some(calendars.get(name)?.add(from, after)?.timestamp_millis())
        }
    }
}

/// The timer changes of what was said, in order, one per (conversation, timer): the
/// changes to a timer in one batch fold into the one that leaves it as all of them
/// would have.
pub fn plan(
    automations: &[VersionedAutomation],
    calendars: &Calendars,
    spoke: &[Spoke],
) -> Vec<TimerChange> {
    let silent: Vec<(&str, TriggerKind, &SilenceRule)> = automations
        .iter()
        .filter(|a| a.automation.enabled)
        .filter_map(|a| {
            let rule = a.automation.trigger.silence.as_ref()?;
            Some((a.automation.id.as_str(), a.automation.trigger.kind, rule))
        })
        .collect();
    if silent.is_empty() || spoke.is_empty() {
        return Vec::new();
    }
    let mut changes = Vec::new();
    for s in spoke {
        for (id, kind, rule) in &silent {
            let start = |restart: bool| {
                let due = due_at(rule, calendars, s.at_ms)?;
                Some(if restart {
                    TimerOp::Restart {
                        since: s.at_ms,
                        due,
                    }
                } else {
                    TimerOp::StartIfAbsent {
                        since: s.at_ms,
                        due,
                    }
                })
            };
            let op = match (kind, s.side) {
                (TriggerKind::Idle, _) => start(true),
                (TriggerKind::NoResponse, Side::Requester) => start(false),
                (TriggerKind::NoResponse, Side::Team) => Some(TimerOp::Stop),
                (TriggerKind::NoReply, Side::Team) => start(true),
                (TriggerKind::NoReply, Side::Requester) => Some(TimerOp::Stop),
                _ => None,
            };
            let Some(op) = op else { continue };
            changes.push(TimerChange {
                conversation_id: s.conversation_id,
                name: timer_name(id),
                op,
            });
        }
    }
    fold_into(changes)
}

/// What a due timer does: queues its run (returned) if its automation still waits for
/// it and the filter passes.
pub(super) async fn fire(env: &RunEnv, timer: &DueTimer, now: i64) -> anyhow::Result<Option<i64>> {
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
    if !automation.automation.enabled
        || !rules::matches(&automation.automation, &trigger, conversation.as_ref())
    {
        tx.commit().await?;
        tracing::debug!(
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::automations::{StoredScripts, compile};

    fn automation(id: &str, trigger: &str) -> VersionedAutomation {
        let source = format!("[trigger]\n{trigger}\n[[actions]]\ntype = \"reply\"\ntext = \"x\"\n");
        VersionedAutomation {
            automation: Arc::new(
                compile(
                    Path::new(&format!("{id}.toml")),
                    &source,
                    &StoredScripts::default(),
                )
                .unwrap(),
            ),
            version: 1,
        }
    }

    fn spoke(side: Side, at_ms: i64) -> Spoke {
        Spoke {
            conversation_id: 7,
            side,
            at_ms,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn each_trigger_starts_and_stops_on_its_own_side() {
        let automations = [
            automation("unanswered", "type = \"no_response\"\nafter = \"30m\""),
            automation("quiet", "type = \"no_reply\"\nafter = \"2d\""),
            automation("idle", "type = \"idle\"\nafter = \"1h\""),
        ];
        let calendars = Calendars::default();
        let requester = plan(&automations, &calendars, &[spoke(Side::Requester, 0)]);
        assert_eq!(
            requester,
            [
                TimerChange {
                    conversation_id: 7,
                    name: "silence:unanswered".into(),
                    op: TimerOp::StartIfAbsent {
                        since: 0,
                        due: 30 * MIN
                    }
                },
                TimerChange {
                    conversation_id: 7,
                    name: "silence:quiet".into(),
                    op: TimerOp::Stop
                },
                TimerChange {
                    conversation_id: 7,
                    name: "silence:idle".into(),
                    op: TimerOp::Restart {
                        since: 0,
                        due: 60 * MIN
                    }
                },
            ]
        );
        let team = plan(&automations, &calendars, &[spoke(Side::Team, 5 * MIN)]);
        let ops: Vec<&TimerOp> = team.iter().map(|c| &c.op).collect();
        assert_eq!(
            ops,
            [
                &TimerOp::Stop,
                &TimerOp::Restart {
                    since: 5 * MIN,
                    due: 5 * MIN + 2 * 24 * 60 * MIN
                },
                &TimerOp::Restart {
                    since: 5 * MIN,
                    due: 65 * MIN
                },
            ]
        );
    }

    #[test]
    fn a_batch_folds_into_one_change_per_timer() {
        let automations = [automation(
            "unanswered",
            "type = \"no_response\"\nafter = \"30m\"",
        )];
        let calendars = Calendars::default();
        let cases = [
            // Two requester messages: the clock counts from the first.
            (
                vec![spoke(Side::Requester, 0), spoke(Side::Requester, MIN)],
                TimerOp::StartIfAbsent {
                    since: 0,
                    due: 30 * MIN,
                },
            ),
            // Answered, then asked again: a new silence from the new question.
            (
                vec![
                    spoke(Side::Requester, 0),
                    spoke(Side::Team, MIN),
                    spoke(Side::Requester, 2 * MIN),
                ],
                TimerOp::Restart {
                    since: 2 * MIN,
                    due: 32 * MIN,
                },
            ),
            // Asked and answered in the same batch.
            (
                vec![spoke(Side::Requester, 0), spoke(Side::Team, MIN)],
                TimerOp::Stop,
            ),
        ];
        for (said, want) in cases {
            let changes = plan(&automations, &calendars, &said);
            assert_eq!(changes.len(), 1, "{said:?}");
            assert_eq!(changes[0].op, want, "{said:?}");
        }
    }

    #[test]
    fn business_hours_move_the_due_time_and_disabled_automations_plan_nothing() {
        let calendar = crate::automations::calendars::compile(
            Path::new("calendars/office.toml"),
            "timezone = \"UTC\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
        )
        .unwrap();
        let calendars = Calendars::of([calendar]);
        let automations = [automation(
            "unanswered",
            "type = \"no_response\"\nafter = \"30m\"\nbusiness_hours = \"office\"",
        )];
        // Friday 2026-12-04 16:50 UTC: 10 minutes on Friday, 20 on Monday.
        let friday = chrono::DateTime::parse_from_rfc3339("2026-12-04T16:50:00Z")
            .unwrap()
            .timestamp_millis();
        let monday = chrono::DateTime::parse_from_rfc3339("2026-12-07T09:20:00Z")
            .unwrap()
            .timestamp_millis();
        let changes = plan(&automations, &calendars, &[spoke(Side::Requester, friday)]);
        assert_eq!(
            changes[0].op,
            TimerOp::StartIfAbsent {
                since: friday,
                due: monday
            }
        );
        let mut off = automation("unanswered", "type = \"no_response\"\nafter = \"30m\"");
        Arc::get_mut(&mut off.automation).unwrap().enabled = false;
        assert!(plan(&[off], &calendars, &[spoke(Side::Requester, 0)]).is_empty());
    }
}
