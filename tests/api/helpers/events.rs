//! Events API payloads shaped exactly like Slack's, and signing as Slack signs.

use serde_json::{Value, json};

use super::fake_slack::TEAM_ID;

pub const SUPPORT_CHANNEL: &str = "C0SUPPORT1";
pub const OTHER_CHANNEL: &str = "C0RANDOM01";
pub const REQUESTER: &str = "U0REQUEST1";
pub const AGENT: &str = "U0AGENT001";

/// Wraps an inner event in Slack's `event_callback` envelope.
pub fn callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": "A0SWITCHB1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "authorizations": [
            { "enterprise_id": null, "team_id": TEAM_ID, "user_id": "U0BOT", "is_bot": true, "is_enterprise_install": false }
        ],
        "is_ext_shared_channel": false,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"
    })
}

/// A person's top-level message in a channel.
pub fn message(event_id: &str, channel: &str, user: &str, ts: &str, text: &str) -> Value {
    callback(
        event_id,
        json!({
            "client_msg_id": uuid::Uuid::now_v7().to_string(),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "blocks": [{
                "type": "rich_text", "block_id": "b1",
                "elements": [{ "type": "rich_text_section", "elements": [{ "type": "text", "text": text }] }]
            }],
            "team": TEAM_ID,
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel"
        }),
    )
}

/// A person's reply in a thread.
pub fn reply(
    event_id: &str,
    channel: &str,
    user: &str,
    thread_ts: &str,
    ts: &str,
    text: &str,
) -> Value {
    let mut event = message(event_id, channel, user, ts, text);
    event["event"]["thread_ts"] = json!(thread_ts);
    event["event"]["parent_user_id"] = json!(REQUESTER);
    event
}

/// A bot's message (switchboard's own look the same).
pub fn bot_message(event_id: &str, channel: &str, ts: &str, text: &str) -> Value {
    callback(
        event_id,
        json!({
            "type": "message", "subtype": "bot_message", "text": text, "ts": ts,
            "bot_id": "B0BOT", "username": "switchboard", "channel": channel,
            "event_ts": ts, "channel_type": "channel"
        }),
    )
}

/// An emoji reaction on a message.
pub fn reaction_added(event_id: &str, user: &str, emoji: &str, channel: &str, ts: &str) -> Value {
    callback(
        event_id,
        json!({
            "type": "reaction_added",
            "user": user,
            "reaction": emoji,
            "item_user": REQUESTER,
            "item": { "type": "message", "channel": channel, "ts": ts },
            "event_ts": "1700000999.000100"
        }),
    )
}

/// A new workspace member.
pub fn team_join(event_id: &str, user: &str, email: &str, title: &str) -> Value {
    callback(
        event_id,
        json!({
            "type": "team_join",
            "user": {
                "id": user, "team_id": TEAM_ID, "name": "newbie", "deleted": false,
                "real_name": "New Person", "tz": "Europe/Amsterdam", "is_bot": false,
                "profile": { "title": title, "real_name": "New Person", "email": email, "display_name": "newbie" }
            },
            "cache_ts": 1_700_000_000,
            "event_ts": "1700000000.000200"
        }),
    )
}
