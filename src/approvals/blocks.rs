//! The Block Kit of approvals: the request with its buttons, the request once decided
//! (buttons gone, who decided what and when), and the reason dialog.

use serde_json::{Value, json};

use crate::db::approvals::{ApprovalRecord, Vote};

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

fn context(record: &ApprovalRecord) -> Value {
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
    json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": parts.join(" · ") }] })
}

fn votes_line(votes: &[Vote]) -> Option<Value> {
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

/// Section texts are limited to 3000 characters.
fn section(text: &str) -> Value {
    let text: String = text.chars().take(3000).collect();
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// The title (mrkdwn, so mentions render), the details and the context line.
fn head(record: &ApprovalRecord) -> Vec<Value> {
    vec![
        section(&format!(":raised_hand: *{}*", record.title)),
        section(&record.body),
        context(record),
    ]
}

/// The open request: text, votes so far, and the buttons.
pub fn request(record: &ApprovalRecord, votes: &[Vote]) -> (String, Value) {
    let mut blocks = head(record);
    blocks.extend(votes_line(votes));
    let value = record.id.to_string();
    blocks.push(json!({
        "type": "actions",
        "block_id": "switchboard_approval",
        "elements": [
            { "type": "button", "action_id": APPROVE, "style": "primary", "value": value,
              "text": { "type": "plain_text", "text": "Approve" } },
            { "type": "button", "action_id": DENY, "style": "danger", "value": value,
              "text": { "type": "plain_text", "text": "Deny" } }
        ]
    }));
    (
        format!("Approval needed: {}", record.title),
        Value::Array(blocks),
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
    (format!("{}: {line}", record.title), Value::Array(blocks))
}

/// The dialog asking for a reason before the decision counts.
pub fn reason_dialog(record: &ApprovalRecord, approve: bool) -> Value {
    let verb = if approve { "Approve" } else { "Deny" };
    let required = record.reason_mode == "required";
    json!({
        "type": "modal",
        "callback_id": REASON_DIALOG,
        "private_metadata": format!("{}:{}", record.id, if approve { "approve" } else { "deny" }),
        "title": { "type": "plain_text", "text": format!("{verb} request") },
        "submit": { "type": "plain_text", "text": verb },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!("*{}*", record.title) } },
            {
                "type": "input",
                "block_id": REASON_INPUT,
                "optional": !required,
                "label": { "type": "plain_text", "text": "Reason" },
                "element": { "type": "plain_text_input", "action_id": REASON_INPUT, "multiline": true }
            }
        ]
    })
}

/// The reminder posted under a request.
pub fn reminder(record: &ApprovalRecord) -> String {
    let deadline = record
        .deadline
        .map(|d| format!(" It expires {}.", when(d)))
        .unwrap_or_default();
    format!(":bell: Reminder: this request is still waiting for a decision.{deadline}")
}
