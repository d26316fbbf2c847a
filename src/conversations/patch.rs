//! Field changes: a patch applied to a conversation yields the list of real changes,
//! each with its before and after value. A patch that changes nothing yields nothing,
//! which is also what keeps automations from re-triggering themselves forever.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Conversation, Priority, Status};

/// A field of a conversation that automations and people can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `open`, `pending`, `resolved`, `closed`.
    Status,
    /// `low`, `medium`, `high`, `critical`.
    Priority,
    /// Free-form ticket type.
    TicketType,
    /// A user id, or none.
    Assignee,
    /// Labels.
    Tags,
}

impl Field {
    /// Every changeable field.
    pub const ALL: [Field; 5] = [
        Self::Status,
        Self::Priority,
        Self::TicketType,
        Self::Assignee,
        Self::Tags,
    ];

    /// The field's name in files and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Priority => "priority",
            Self::TicketType => "ticket_type",
            Self::Assignee => "assignee",
            Self::Tags => "tags",
        }
    }

    /// Looks a field up by its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Which field.
    pub field: Field,
    /// Value before (JSON `null` for none).
    pub before: Value,
    /// Value after.
    pub after: Value,
}

/// Requested changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPatch {
    /// New status.
    pub status: Option<Status>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New ticket type.
    pub ticket_type: Option<String>,
    /// New assignee; `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to remove.
    pub remove_tags: Vec<String>,
}

impl ConversationPatch {
    /// Applies the patch, returning the changes that actually happened.
    pub fn apply(&self, conversation: &mut Conversation) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        if let Some(status) = self.status
            && status != conversation.status
        {
            changes.push(change(
                Field::Status,
                conversation.status.as_str(),
                status.as_str(),
            ));
            conversation.status = status;
        }
        if let Some(priority) = self.priority
            && priority != conversation.priority
        {
            changes.push(change(
                Field::Priority,
                conversation.priority.as_str(),
                priority.as_str(),
            ));
            conversation.priority = priority;
        }
        if let Some(ticket_type) = &self.ticket_type
            && *ticket_type != conversation.ticket_type
        {
            changes.push(change(
                Field::TicketType,
                &conversation.ticket_type,
                ticket_type,
            ));
            conversation.ticket_type.clone_from(ticket_type);
        }
        if let Some(assignee) = &self.assignee
            && *assignee != conversation.assignee
        {
            changes.push(change(Field::Assignee, &conversation.assignee, assignee));
            conversation.assignee.clone_from(assignee);
        }
        let tags = self.new_tags(&conversation.tags);
        if tags != conversation.tags {
            changes.push(change(Field::Tags, &conversation.tags, &tags));
            conversation.tags = tags;
        }
        changes
    }

    fn new_tags(&self, current: &[String]) -> Vec<String> {
        let mut tags: Vec<String> = self.tags.clone().unwrap_or_else(|| current.to_vec());
        tags.extend(self.add_tags.iter().cloned());
        tags.retain(|t| !self.remove_tags.contains(t));
        normalize_tags(tags)
    }
}

/// Tags are stored sorted, trimmed and without duplicates.
pub fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut tags: Vec<String> = tags
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn change(field: Field, before: impl Serialize, after: impl Serialize) -> FieldChange {
    FieldChange {
        field,
        before: json!(before),
        after: json!(after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> Conversation {
        Conversation {
            id: 1,
            team_id: "T1".into(),
            channel: "C1".into(),
            thread_ts: "1.0".into(),
            requester: "U1".into(),
            customer: None,
            title: "help".into(),
            status: Status::Open,
            priority: Priority::Medium,
            ticket_type: "question".into(),
            assignee: None,
            tags: vec!["vpn".into()],
            permalink: String::new(),
            created_at: 0,
            updated_at: 0,
            sla: Default::default(),
        }
    }

    #[test]
    fn patches_report_only_real_changes() {
        struct Case {
            name: &'static str,
            patch: ConversationPatch,
            want: Vec<(Field, Value, Value)>,
        }
        let cases = [
            Case {
                name: "nothing",
                patch: ConversationPatch::default(),
                want: vec![],
            },
            Case {
                name: "same priority is no change",
                patch: ConversationPatch {
                    priority: Some(Priority::Medium),
                    ..Default::default()
                },
                want: vec![],
            },
            Case {
                name: "escalate",
                patch: ConversationPatch {
                    priority: Some(Priority::Critical),
                    ..Default::default()
                },
                want: vec![(Field::Priority, json!("medium"), json!("critical"))],
            },
            Case {
                name: "assign and resolve",
                patch: ConversationPatch {
                    status: Some(Status::Resolved),
                    assignee: Some(Some("U9".into())),
                    ..Default::default()
                },
                want: vec![
                    (Field::Status, json!("open"), json!("resolved")),
                    (Field::Assignee, Value::Null, json!("U9")),
                ],
            },
            Case {
                name: "add an existing tag is no change",
                patch: ConversationPatch {
                    add_tags: vec!["vpn".into()],
                    ..Default::default()
                },
                want: vec![],
            },
            Case {
                name: "add and remove tags",
                patch: ConversationPatch {
                    add_tags: vec!["urgent".into(), " billing ".into()],
                    remove_tags: vec!["vpn".into()],
                    ..Default::default()
                },
                want: vec![(Field::Tags, json!(["vpn"]), json!(["billing", "urgent"]))],
            },
            Case {
                name: "ticket type",
                patch: ConversationPatch {
                    ticket_type: Some("incident".into()),
                    ..Default::default()
                },
                want: vec![(Field::TicketType, json!("question"), json!("incident"))],
            },
        ];
        for case in cases {
            let mut c = conversation();
            let got: Vec<_> = case
                .patch
                .apply(&mut c)
                .into_iter()
                .map(|ch| (ch.field, ch.before, ch.after))
                .collect();
            assert_eq!(got, case.want, "{}", case.name);
            // Applying the same patch again changes nothing.
            assert!(case.patch.apply(&mut c).is_empty(), "{} twice", case.name);
        }
    }
}
