//! Interactivity payloads shaped like Slack's (`block_actions`, `view_submission`),
//! and reading the approval requests switchboard posted to the fake Slack.

use serde_json::{Value, json};

use super::fake_slack::{Call, FakeSlack, TEAM_ID};

/// An approval request as posted: the request id its buttons carry, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedRequest {
    pub approval_id: i64,
    pub channel: String,
    pub ts: String,
}

/// The approval requests posted so far (messages with Approve / Deny buttons).
pub fn posted_requests(slack: &FakeSlack) -> Vec<PostedRequest> {
    slack
        .calls_to("chat.postMessage")
        .iter()
        .filter_map(|call| {
            Some(PostedRequest {
                approval_id: request_id(call)?,
                channel: call.answer.get("channel")?.as_str()?.to_owned(),
                ts: call.answer.get("ts")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// The request id of an approval request message, if `call` posted one.
pub fn request_id(call: &Call) -> Option<i64> {
    call.json_arg("blocks")
        .as_array()?
        .iter()
        .filter_map(|b| b.get("elements")?.as_array())
        .flatten()
        .find(|e| e.get("action_id").and_then(Value::as_str) == Some("switchboard_approve"))?
        .get("value")?
        .as_str()?
        .parse()
        .ok()
}

/// A click on Approve (or Deny) of `request` by `user`.
pub fn click(request: &PostedRequest, user: &str, approve: bool) -> Value {
    let (action_id, label) = if approve {
        ("switchboard_approve", "Approve")
    } else {
        ("switchboard_deny", "Deny")
    };
    json!({
        "type": "block_actions",
        "user": { "id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID },
        "api_app_id": "A0SWITCHB1",
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "container": { "type": "message", "message_ts": request.ts, "channel_id": request.channel, "is_ephemeral": false },
        "trigger_id": "1700000000.123456.abcdef0123456789",
        "team": { "id": TEAM_ID, "domain": "acme-support" },
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": request.channel, "name": "directmessage" },
        "message": { "type": "message", "user": "U0BOT", "ts": request.ts, "bot_id": "B0BOT", "text": "Approval needed" },
        "state": { "values": {} },
        "response_url": "https://hooks.slack.com/actions/T0TEST/1/abc",
        "actions": [{
            "action_id": action_id,
            "block_id": "switchboard_approval",
            "text": { "type": "plain_text", "text": label, "emoji": true },
            "value": request.approval_id.to_string(),
            "style": if approve { "primary" } else { "danger" },
            "type": "button",
            "action_ts": "1700000001.000001"
        }]
    })
}

/// The reason dialog of `request` submitted by `user` with `reason`.
pub fn reason_submitted(request: &PostedRequest, user: &str, approve: bool, reason: &str) -> Value {
    let decision = if approve { "approve" } else { "deny" };
    json!({
        "type": "view_submission",
        "team": { "id": TEAM_ID, "domain": "acme-support" },
        "user": { "id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID },
        "api_app_id": "A0SWITCHB1",
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "trigger_id": "1700000000.654321.fedcba9876543210",
        "view": {
            "id": "V0VIEW0001",
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": "switchboard_approval_reason",
            "private_metadata": format!("{}:{decision}", request.approval_id),
            "state": { "values": { "reason": { "reason": { "type": "plain_text_input", "value": reason } } } },
            "hash": "1700000000.abcdef"
        },
        "response_urls": []
    })
}

/// The "Run automation" message shortcut used by `user` on a message.
pub fn message_shortcut(user: &str, channel: &str, message_ts: &str) -> Value {
    json!({
        "type": "message_action",
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "action_ts": "1700000002.000001",
        "team": { "id": TEAM_ID, "domain": "acme-support" },
        "user": { "id": user, "name": "someone" },
        "channel": { "id": channel, "name": "support" },
        "is_enterprise_install": false,
        "callback_id": "switchboard_run",
        "trigger_id": "1700000000.222222.shortcut0123456789",
        "response_url": "https://hooks.slack.com/app/T0TEST/1/xyz",
        "message_ts": message_ts,
        "message": { "type": "message", "user": "U0REQUEST1", "ts": message_ts, "text": "VPN is down" }
    })
}

/// A submission of view `view` (as switchboard opened it) by `user`, with `values`
/// typed as Slack types them: (block id, element type, value).
pub fn submitted(view: &Value, user: &str, values: &[(&str, &str, &str)]) -> Value {
    let mut state = serde_json::Map::new();
    for (block, kind, value) in values {
        let element = match *kind {
            "static_select" => {
                json!({ "type": kind, "selected_option": { "value": value, "text": { "type": "plain_text", "text": value } } })
            }
            "users_select" => json!({ "type": kind, "selected_user": value }),
            "channels_select" => json!({ "type": kind, "selected_channel": value }),
            "datepicker" => json!({ "type": kind, "selected_date": value }),
            _ => json!({ "type": kind, "value": value }),
        };
        state.insert((*block).to_owned(), json!({ *block: element }));
    }
    json!({
        "type": "view_submission",
        "team": { "id": TEAM_ID, "domain": "acme-support" },
        "user": { "id": user, "name": "someone", "team_id": TEAM_ID },
        "api_app_id": "A0SWITCHB1",
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "trigger_id": "1700000000.333333.submit0123456789",
        "view": {
            "id": "V0VIEW0002",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": { "values": state },
            "hash": "1700000000.abcdef"
        },
        "response_urls": []
    })
}
