//! The "Edit conversation" form: a modal with the conversation's fields as they are,
//! and what a submission of it asks to change (pure).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::blocks::{
    SlackBlock, SlackBlockChoiceItem, SlackBlockPlainTextInputElement,
    SlackBlockStaticSelectElement, SlackBlockUsersSelectElement, SlackInputBlock,
    SlackInputBlockElement, SlackModalView, SlackView,
};

use crate::conversations::{Conversation, ConversationPatch, Priority, Status};
use crate::slack::kit::{self, plain};

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

fn input(block: &str, label: &str, element: SlackInputBlockElement) -> SlackInputBlock {
    SlackInputBlock::new(plain(label, 2000), element).with_block_id(block.into())
}

fn select(block: &str, label: &str, names: &[&str], current: &str) -> SlackBlock {
    let option = |name: &str| SlackBlockChoiceItem::new(plain(name, 75), name.to_owned());
    let current = names.iter().find(|n| **n == current).unwrap_or(&names[0]);
    let element = SlackBlockStaticSelectElement::new()
        .with_action_id(block.into())
        .with_options(names.iter().map(|n| option(n)).collect())
        .with_initial_option(option(current));
    input(block, label, element.into()).into()
}

fn text_input(block: &str, initial: String) -> SlackBlockPlainTextInputElement {
    SlackBlockPlainTextInputElement::new()
        .with_action_id(block.into())
        .with_initial_value(initial)
}

/// The form, filled with `conversation`'s fields.
pub fn view(conversation: &Conversation) -> Value {
    let mut assignee = SlackBlockUsersSelectElement::new()
        .with_action_id(ASSIGNEE.into())
        .with_placeholder(plain("Nobody", 150));
    assignee.initial_user = conversation.assignee.clone();
    let title: String = conversation.title.chars().take(150).collect();
    let blocks = vec![
        kit::context(&format!("*{title}* · <{}|thread>", conversation.permalink)),
        select(
            STATUS,
            "Status",
            Status::NAMES,
            conversation.status.as_str(),
        ),
        select(
            PRIORITY,
            "Priority",
            Priority::NAMES,
            conversation.priority.as_str(),
        ),
        input(
            TICKET_TYPE,
            "Type",
            text_input(TICKET_TYPE, conversation.ticket_type.clone()).into(),
        )
        .into(),
        input(ASSIGNEE, "Assignee", assignee.into())
            .with_optional(true)
            .into(),
        input(
            TAGS,
            "Tags",
            text_input(TAGS, conversation.tags.join(", ")).into(),
        )
        .with_optional(true)
        .with_hint(plain("Separated by commas or spaces", 2000))
        .into(),
    ];
    let view = SlackModalView::new(
        plain(&format!("Conversation #{}", conversation.id), 24),
        blocks,
    )
    .with_callback_id(FORM.into())
    .with_private_metadata(serde_json::to_string(&Target::of(conversation)).unwrap_or_default())
    .with_submit(plain("Save", 24))
    .with_close(plain("Cancel", 24));
    kit::json(&SlackView::Modal(view))
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
