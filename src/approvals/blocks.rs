//! The Block Kit of approvals: the request with its buttons, the request once decided
//! (buttons gone, who decided what and when), and the reason dialog.

use serde_json::Value;
use slack_morphism::blocks::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement,
    SlackBlockButtonStyle, SlackBlockPlainTextInputElement, SlackInputBlock, SlackModalView,
    SlackView,
};

use crate::db::approvals::{ApprovalRecord, Vote};
use crate::slack::kit::{self, plain, section};

/// `action_id` of the Approve button.
pub const APPROVE: &str = "switchboard_approve";
/// `action_id` of the Deny button.
pub const DENY: &str = "switchboard_deny";
/// `callback_id` of the reason dialog.
pub const REASON_DIALOG: &str = "switchboard_approval_reason";
/// `block_id` and `action_id` of the reason input.
pub const REASON_INPUT: &str = "reason";

fn when(ms: i64) -> String {
    let secs = ms / 1000;
    let fallback = crate::clock::format_ms(ms);
    format!("<!date^{secs}^{{date_short_pretty}} at {{time}}|{fallback}>")
}

fn context(record: &ApprovalRecord) -> SlackBlock {
    let mut parts = Vec::new();
    if let Some(r) = &record.requester {
        parts.push(format!("Requested by <@{r}>"));
    }
    if let Some(d) = record.deadline {
        parts.push(format!("expires {}", when(d)));
    }
    if record.quorum > 1 {
        parts.push(format!("needs {} approvals", record.quorum));
    }
    kit::context(&parts.join(" · "))
}

fn votes_line(votes: &[Vote]) -> Option<SlackBlock> {
    if votes.is_empty() {
        return None;
    }
    let text = votes
        .iter()
        .map(|v| {
            let icon = if v.decision == "approve" {
                ":white_check_mark:"
            } else {
                ":x:"
            };
            let reason = v
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            format!("{icon} <@{}>{reason}", v.user_id)
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some(section(&text))
}

/// The title (mrkdwn, so mentions render), the details and the context line.
fn head(record: &ApprovalRecord) -> Vec<SlackBlock> {
    vec![
        section(&format!(":raised_hand: *{}*", record.title)),
        section(&record.body),
        context(record),
    ]
}

fn button(
    action_id: &str,
    label: &str,
    style: SlackBlockButtonStyle,
    value: &str,
) -> SlackActionBlockElement {
    SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(plain(label, 75))
            .with_action_id(action_id.into())
            .with_value(value.to_owned())
            .with_style(style),
    )
}

/// The open request's blocks: text, votes so far, and the buttons (also shown on the
/// Home tab).
pub fn request_blocks(record: &ApprovalRecord, votes: &[Vote]) -> Vec<SlackBlock> {
    let mut blocks = head(record);
    blocks.extend(votes_line(votes));
    let value = record.id.to_string();
    blocks.push(
        SlackActionsBlock::new(vec![
            button(APPROVE, "Approve", SlackBlockButtonStyle::Primary, &value),
            button(DENY, "Deny", SlackBlockButtonStyle::Danger, &value),
        ])
        .with_block_id("switchboard_approval".into())
        .into(),
    );
    blocks
}

/// The open request: its text and blocks.
pub fn request(record: &ApprovalRecord, votes: &[Vote]) -> (String, Value) {
    (
        format!("Approval needed: {}", record.title),
        kit::json(&request_blocks(record, votes)),
    )
}

/// What the request ended with, in one line.
pub fn outcome(record: &ApprovalRecord) -> String {
    let reason = record
        .decision_reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let at = record.decided_at.map(when).unwrap_or_default();
    match (record.status.as_str(), &record.decided_by) {
        ("approved", Some(by)) => format!(":white_check_mark: Approved by <@{by}> {at}{reason}"),
        ("denied", Some(by)) => format!(":x: Denied by <@{by}> {at}{reason}"),
        ("expired", _) => format!(":hourglass: Expired {at}: nobody decided in time"),
        (status, _) => format!("{status} {at}"),
    }
}

/// The decided request: no buttons, the outcome instead.
pub fn decided(record: &ApprovalRecord, votes: &[Vote]) -> (String, Value) {
    let mut blocks = head(record);
    blocks.extend(votes_line(votes));
    let line = outcome(record);
    blocks.push(section(&line));
    (format!("{}: {line}", record.title), kit::json(&blocks))
}

/// The dialog asking for a reason before the decision counts.
pub fn reason_dialog(record: &ApprovalRecord, approve: bool) -> Value {
    let verb = if approve { "Approve" } else { "Deny" };
    let required = record.reason_mode == "required";
    let reason = SlackInputBlock::new(
        plain("Reason", 2000),
        SlackBlockPlainTextInputElement::new()
            .with_action_id(REASON_INPUT.into())
            .with_multiline(true)
            .into(),
    )
    .with_block_id(REASON_INPUT.into())
    .with_optional(!required);
    let view = SlackModalView::new(
        plain(&format!("{verb} request"), 24),
        vec![section(&format!("*{}*", record.title)), reason.into()],
    )
    .with_callback_id(REASON_DIALOG.into())
    .with_private_metadata(format!(
        "{}:{}",
        record.id,
        if approve { "approve" } else { "deny" }
    ))
    .with_submit(plain(verb, 24))
    .with_close(plain("Cancel", 24));
    kit::json(&SlackView::Modal(view))
}

/// The reminder posted under a request.
pub fn reminder(record: &ApprovalRecord) -> String {
    let deadline = record
        .deadline
        .map(|d| format!(" It expires {}.", when(d)))
        .unwrap_or_default();
    format!(":bell: Reminder: this request is still waiting for a decision.{deadline}")
}
