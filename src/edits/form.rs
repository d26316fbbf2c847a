//! The "Edit conversation" form: a modal with the conversation's fields as they are,
//! and what a submission of it asks to change (pure).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::conversations::{Conversation, ConversationPatch, Priority, Status};

/// `callback_id` of the message shortcut, as in `manifest.yml`.
pub const SHORTCUT: &str = "switchboard_edit";
/// `callback_id` of the form.
pub const FORM: &str = "switchboard_edit_form";

const STATUS: &str = "status";
const PRIORITY: &str = "priority";
const TICKET_TYPE: &str = "ticket_type";
const ASSIGNEE: &str = "assignee";
const TAGS: &str = "tags";

/// Which conversation the form edits, carried in its `private_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Conversation id.
    pub conversation: i64,
    /// Workspace.
    pub team_id: String,
    /// Its channel.
    pub channel: String,
    /// Its thread.
    pub thread_ts: String,
}

impl Target {
    /// The target of `conversation`.
    pub fn of(conversation: &Conversation) -> Self {
        Self {
            conversation: conversation.id,
            team_id: conversation.team_id.clone(),
            channel: conversation.channel.clone(),
            thread_ts: conversation.thread_ts.clone(),
        }
    }

    /// From `private_metadata`.
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

fn select(block: &str, label: &str, names: &[&str], current: &str) -> Value {
    let option = |name: &&str| json!({ "text": plain(name), "value": name });
    let current = names.iter().find(|n| **n == current).unwrap_or(&names[0]);
    json!({
        "type": "input", "block_id": block, "label": plain(label),
        "element": {
            "type": "static_select", "action_id": block,
            "options": names.iter().map(option).collect::<Vec<_>>(),
            "initial_option": option(current)
        }
    })
}

/// The form, filled with `conversation`'s fields.
pub fn view(conversation: &Conversation) -> Value {
    let mut assignee =
        json!({ "type": "users_select", "action_id": ASSIGNEE, "placeholder": plain("Nobody") });
    if let Some(user) = &conversation.assignee {
        assignee["initial_user"] = json!(user);
    }
    let title: String = conversation.title.chars().take(150).collect();
    json!({
        "type": "modal",
        "callback_id": FORM,
        "private_metadata": serde_json::to_string(&Target::of(conversation)).unwrap_or_default(),
        "title": plain(&format!("Conversation #{}", conversation.id).chars().take(24).collect::<String>()),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "context", "elements": [{ "type": "mrkdwn", "text": format!("*{title}* · <{}|thread>", conversation.permalink) }] },
            select(STATUS, "Status", Status::NAMES, conversation.status.as_str()),
            select(PRIORITY, "Priority", Priority::NAMES, conversation.priority.as_str()),
            {
                "type": "input", "block_id": TICKET_TYPE, "label": plain("Type"),
                "element": { "type": "plain_text_input", "action_id": TICKET_TYPE, "initial_value": conversation.ticket_type }
            },
            { "type": "input", "block_id": ASSIGNEE, "optional": true, "label": plain("Assignee"), "element": assignee },
            {
                "type": "input", "block_id": TAGS, "optional": true, "label": plain("Tags"),
                "hint": plain("Separated by commas or spaces"),
                "element": { "type": "plain_text_input", "action_id": TAGS, "initial_value": conversation.tags.join(", ") }
            }
        ]
    })
}

/// What a submission sets: every field of the form (an empty assignee unassigns, empty
/// tags remove them all); or the problems to show on its fields.
pub fn submitted(
    values: &HashMap<String, String>,
) -> Result<ConversationPatch, BTreeMap<String, String>> {
    let mut problems = BTreeMap::new();
    let value = |block: &str| values.get(block).map(|v| v.trim()).unwrap_or_default();
    let status = value(STATUS)
        .parse::<Status>()
        .map_err(|e| problems.insert(STATUS.to_owned(), e))
        .ok();
    let priority = value(PRIORITY)
        .parse::<Priority>()
        .map_err(|e| problems.insert(PRIORITY.to_owned(), e))
        .ok();
    let ticket_type = value(TICKET_TYPE);
    if ticket_type.is_empty() {
        problems.insert(TICKET_TYPE.to_owned(), "a conversation has a type".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let assignee = Some(value(ASSIGNEE))
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    let tags = value(TAGS)
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(ConversationPatch {
        status,
        priority,
        ticket_type: Some(ticket_type.to_owned()),
        assignee: Some(assignee),
        tags: Some(tags),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_submission_sets_every_field_of_the_form() {
        let patch = submitted(&values(&[
            ("status", "resolved"),
            ("priority", "high"),
            ("ticket_type", " incident "),
            ("tags", "billing, vip  urgent"),
        ]))
        .unwrap();
        assert_eq!(patch.status, Some(Status::Resolved));
        assert_eq!(patch.priority, Some(Priority::High));
        assert_eq!(patch.ticket_type.as_deref(), Some("incident"));
        assert_eq!(patch.assignee, Some(None), "no one chosen: unassigned");
        assert_eq!(
            patch.tags,
            Some(vec!["billing".into(), "vip".into(), "urgent".into()])
        );
    }

    #[test]
    fn problems_are_shown_on_their_fields() {
        let problems = submitted(&values(&[("status", "done"), ("priority", "low")])).unwrap_err();
        assert!(
            problems["status"].contains("expected one of"),
            "{problems:?}"
        );
        assert_eq!(problems["ticket_type"], "a conversation has a type");
        assert!(!problems.contains_key("priority"));
    }

    #[test]
    fn the_target_round_trips_through_private_metadata() {
        let target = Target {
            conversation: 7,
            team_id: "T1".into(),
            channel: "C1".into(),
            thread_ts: "1.2".into(),
        };
        assert_eq!(
            Target::decode(&serde_json::to_string(&target).unwrap()),
            Some(target)
        );
        assert_eq!(Target::decode("7:approve"), None);
    }
}
