//! Silences: what a message does to the ones automations wait for ([`plan`], pure,
//! inside the ingest's transaction). What one that fell due does, and counting the
//! running ones again after an edit, is `fire.rs`.
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

mod fire;

pub(super) use fire::fire;
pub use fire::reschedule;

use super::{TimerChange, TimerOp, fold_into};
use crate::automations::calendars::Calendars;
use crate::automations::{SilenceRule, VersionedAutomation};
use crate::team::Side;
use crate::trigger::TriggerKind;

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
