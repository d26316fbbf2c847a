//! Which automations a trigger starts: the trigger rule must match and the filter must
//! pass. Pure, so it is tested with tables and runs inside the ingest transaction.

pub mod facts;
pub mod filter;

use facts::FactContext;

use crate::automations::{Automation, TriggerRule};
use crate::conversations::Conversation;
use crate::trigger::{Trigger, TriggerEvent};

/// Whether `automation` runs for `trigger` on `conversation`.
pub fn matches(
    automation: &Automation,
    trigger: &Trigger,
    conversation: Option<&Conversation>,
) -> bool {
    if !automation.enabled || !trigger_matches(&automation.trigger, trigger) {
        return false;
    }
    let ctx = FactContext::new(trigger, conversation);
    automation.filter.as_ref().is_none_or(|f| f.eval(&ctx))
}

fn trigger_matches(rule: &TriggerRule, trigger: &Trigger) -> bool {
    if rule.kind != trigger.kind() {
        return false;
    }
    match &trigger.event {
        TriggerEvent::ConversationUpdated { changes } => {
            rule.fields.is_empty() || changes.iter().any(|c| rule.fields.contains(&c.field))
        }
        TriggerEvent::ReactionAdded { emoji, .. } => {
            // `thumbsup::skin-tone-2` is a thumbsup.
            let base = emoji.split("::").next().unwrap_or(emoji);
            rule.emoji.is_empty() || rule.emoji.iter().any(|e| e == emoji || e == base)
        }
        TriggerEvent::ApprovalResponse { approval } => {
            rule.automations.is_empty() || rule.automations.contains(&approval.automation_id)
        }
        TriggerEvent::SlaWarning { sla } | TriggerEvent::SlaBreached { sla } => {
            rule.sla_targets.is_empty() || rule.sla_targets.contains(&sla.target)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::automations::compile;
    use crate::conversations::{Field, FieldChange, Priority, Status};
    use crate::trigger::TriggerKind;

    fn automation(trigger: &str, filter: &str) -> Automation {
        let source = format!(
            "[trigger]\n{trigger}\n{filter}\n[[actions]]\ntype = \"post\"\nchannel = \"C9\"\ntext = \"x\"\n"
        );
        compile(
            Path::new("t.toml"),
            &source,
            &crate::automations::StoredScripts::default(),
        )
        .unwrap()
    }

    fn conversation() -> Conversation {
        Conversation {
            id: 1,
            team_id: "T1".into(),
            channel: "C1".into(),
            thread_ts: "1.0".into(),
            requester: "U1".into(),
            customer: None,
            title: "t".into(),
            status: Status::Open,
            priority: Priority::Medium,
            ticket_type: "question".into(),
            assignee: None,
            tags: vec![],
            permalink: String::new(),
            created_at: 0,
            updated_at: 0,
            sla: Default::default(),
        }
    }

    fn trigger(event: TriggerEvent) -> Trigger {
        Trigger {
            event_id: "Ev".into(),
            team_id: "T1".into(),
            actor: Some("U2".into()),
            conversation_id: Some(1),
            depth: 0,
            event,
        }
    }

    fn reaction(emoji: &str) -> Trigger {
        trigger(TriggerEvent::ReactionAdded {
            emoji: emoji.into(),
            message_ts: "1.0".into(),
        })
    }

    fn approval(automation: &str, decision: &str) -> Trigger {
        trigger(TriggerEvent::ApprovalResponse {
            approval: crate::trigger::ApprovalDecision {
                approval_id: 1,
                automation_id: automation.into(),
                title: "t".into(),
                decision: decision.into(),
                decided_by: Some("U2".into()),
                reason: None,
                requester: Some("U1".into()),
            },
        })
    }

    fn manual() -> Trigger {
        trigger(TriggerEvent::Manual {
            user: "U2".into(),
            inputs: serde_json::Map::new(),
            source: "cli".into(),
            reply_to: None,
            reply_thread: None,
        })
    }

    fn update(field: Field) -> Trigger {
        trigger(TriggerEvent::ConversationUpdated {
            changes: vec![FieldChange {
                field,
                before: "a".into(),
                after: "b".into(),
            }],
        })
    }

    #[test]
    fn matching_table() {
        let c = conversation();
        let cases = [
            (
                "any emoji",
                automation("type = \"reaction_added\"", ""),
                reaction("eyes"),
                true,
            ),
            (
                "that emoji",
                automation("type = \"reaction_added\"\nemoji = \"bangbang\"", ""),
                reaction("bangbang"),
                true,
            ),
            (
                "other emoji",
                automation("type = \"reaction_added\"\nemoji = \"bangbang\"", ""),
                reaction("eyes"),
                false,
            ),
            (
                "skin tone",
                automation(
                    "type = \"reaction_added\"\nemoji = [\"+1\", \"thumbsup\"]",
                    "",
                ),
                reaction("thumbsup::skin-tone-3"),
                true,
            ),
            (
                "wrong kind",
                automation("type = \"conversation_created\"", ""),
                reaction("eyes"),
                false,
            ),
            (
                "any field",
                automation("type = \"conversation_updated\"", ""),
                update(Field::Tags),
                true,
            ),
            (
                "that field",
                automation(
                    "type = \"conversation_updated\"\nfields = [\"priority\"]",
                    "",
                ),
                update(Field::Priority),
                true,
            ),
            (
                "other field",
                automation(
                    "type = \"conversation_updated\"\nfields = [\"priority\"]",
                    "",
                ),
                update(Field::Status),
                false,
            ),
            (
                "filter passes",
                automation(
                    "type = \"reaction_added\"",
                    "[filter]\nfield = \"priority\"\nis_not = \"critical\"",
                ),
                reaction("bangbang"),
                true,
            ),
            (
                "filter fails",
                automation(
                    "type = \"reaction_added\"",
                    "[filter]\nfield = \"priority\"\nis = \"critical\"",
                ),
                reaction("bangbang"),
                false,
            ),
            (
                "disabled",
                automation("type = \"reaction_added\"", "").with_enabled(false),
                reaction("bangbang"),
                false,
            ),
            (
                "approval of the named automation",
                automation(
                    "type = \"approval_response\"\nautomation = \"password-reset\"",
                    "",
                ),
                approval("password-reset", "approved"),
                true,
            ),
            (
                "approval of another automation",
                automation(
                    "type = \"approval_response\"\nautomation = \"password-reset\"",
                    "",
                ),
                approval("laptop-request", "approved"),
                false,
            ),
            (
                "approval filtered on its decision",
                automation(
                    "type = \"approval_response\"",
                    "[filter]\nfield = \"decision\"\nis = \"denied\"",
                ),
                approval("laptop-request", "approved"),
                false,
            ),
            (
                "a manual run of a manual automation",
                automation("type = \"manual\"", ""),
                manual(),
                true,
            ),
            (
                "a webhook automation is not run by hand",
                automation("type = \"webhook\"", ""),
                manual(),
                false,
            ),
            (
                "a manual run passes the automation's filter",
                automation(
                    "type = \"manual\"",
                    "[filter]\nfield = \"priority\"\nis = \"critical\"",
                ),
                manual(),
                false,
            ),
        ];
        for (name, automation, trigger, want) in cases {
            assert_eq!(matches(&automation, &trigger, Some(&c)), want, "{name}");
        }
        // Schedules and silences fire by time, not by matching; the kinds above cover
        // the rest.
        assert_eq!(TriggerKind::ALL.len(), 14);
    }

    impl Automation {
        fn with_enabled(mut self, enabled: bool) -> Self {
            self.enabled = enabled;
            self
        }
    }
}
