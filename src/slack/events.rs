//! Decoding Events API payloads into [`Activity`] values.
//!
//! Only the fields switchboard uses are read, and unknown fields are ignored: a message
//! whose blocks or attachments have a shape nobody modelled yet must still open its
//! conversation. (This is why the full payload models of slack-morphism are not used
//! here: one unmodelled block anywhere would turn a support request into "unknown".)
//! <https://api.slack.com/apis/events-api#callback-field>

use serde::Deserialize;
use serde_json::Value;

use crate::trigger::{Activity, InboundEvent, JoinedUser, Message};

/// A decoded Events API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsPayload {
    /// Slack checks the request URL; answer with the challenge.
    UrlVerification {
        /// Echoed back.
        challenge: String,
    },
    /// An event to ingest.
    Event(InboundEvent),
    /// Slack stopped sending events for a minute because we were too slow.
    AppRateLimited {
        /// Workspace.
        team_id: String,
    },
    /// An envelope type this version does not know; acknowledged and logged.
    Unknown {
        /// Its `type`.
        envelope_type: String,
    },
}

/// Why a body is not an Events API payload.
#[derive(Debug, thiserror::Error)]
#[error("malformed Events API payload: {0}")]
pub struct DecodeError(String);

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    event_id: Option<String>,
    event: Option<Value>,
}

/// Decodes a verified request body.
pub fn decode(body: &[u8]) -> Result<EventsPayload, DecodeError> {
    from_envelope(serde_json::from_slice(body).map_err(|e| DecodeError(e.to_string()))?)
}

/// Decodes the `payload` of a Socket Mode `events_api` envelope (the same JSON as an
/// HTTP request's body).
pub fn decode_payload(payload: serde_json::Value) -> Result<EventsPayload, DecodeError> {
    from_envelope(serde_json::from_value(payload).map_err(|e| DecodeError(e.to_string()))?)
}

fn from_envelope(envelope: Envelope) -> Result<EventsPayload, DecodeError> {
    let missing = |field: &str| DecodeError(format!("`{}` without `{field}`", envelope.kind));
    match envelope.kind.as_str() {
        "url_verification" => Ok(EventsPayload::UrlVerification {
            challenge: envelope
                .challenge
                .clone()
                .ok_or_else(|| missing("challenge"))?,
        }),
        "app_rate_limited" => Ok(EventsPayload::AppRateLimited {
            team_id: envelope.team_id.clone().unwrap_or_default(),
        }),
        "event_callback" => {
            let event_id = envelope
                .event_id
                .clone()
                .ok_or_else(|| missing("event_id"))?;
            let team_id = envelope.team_id.clone().ok_or_else(|| missing("team_id"))?;
            let event = envelope.event.as_ref().ok_or_else(|| missing("event"))?;
            Ok(EventsPayload::Event(InboundEvent {
                event_id,
                team_id,
                activity: decode_activity(event)?,
            }))
        }
        other => Ok(EventsPayload::Unknown {
            envelope_type: other.to_owned(),
        }),
    }
}

#[derive(Deserialize)]
struct MessageEvent {
    channel: String,
    channel_type: Option<String>,
    user: Option<String>,
    #[serde(default)]
    text: String,
    ts: String,
    thread_ts: Option<String>,
    subtype: Option<String>,
    bot_id: Option<String>,
    #[serde(default)]
    hidden: bool,
}

#[derive(Deserialize)]
struct ReactionEvent {
    user: String,
    reaction: String,
    item: ReactionItem,
}

#[derive(Deserialize)]
struct ReactionItem {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    ts: Option<String>,
}

#[derive(Deserialize)]
struct TeamJoinEvent {
    user: SlackUser,
}

#[derive(Deserialize)]
struct SlackUser {
    id: String,
    #[serde(default)]
    name: String,
    real_name: Option<String>,
    #[serde(default)]
    is_bot: bool,
    #[serde(default)]
    profile: SlackProfile,
}

#[derive(Deserialize, Default)]
struct SlackProfile {
    email: Option<String>,
    title: Option<String>,
    real_name: Option<String>,
}

fn decode_activity(event: &Value) -> Result<Activity, DecodeError> {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError("event without `type`".into()))?;
    let parse = |what: &str| {
        let what = what.to_owned();
        move |e: serde_json::Error| DecodeError(format!("{what} event: {e}"))
    };
    match kind {
        "message" => {
            let m: MessageEvent =
                serde_json::from_value(event.clone()).map_err(parse("message"))?;
            Ok(message_activity(m))
        }
        "reaction_added" => {
            let r: ReactionEvent =
                serde_json::from_value(event.clone()).map_err(parse("reaction_added"))?;
            match (r.item.kind.as_str(), r.item.channel, r.item.ts) {
                ("message", Some(channel), Some(ts)) => Ok(Activity::ReactionAdded {
                    user: r.user,
                    emoji: r.reaction,
                    channel,
                    message_ts: ts,
                }),
                _ => Ok(Activity::Ignored {
                    event_type: format!("reaction_added/{}", r.item.kind),
                }),
            }
        }
        "app_home_opened" => {
            let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
            match (text("tab"), text("user")) {
                ("home", user) if !user.is_empty() => Ok(Activity::HomeOpened {
                    user: user.to_owned(),
                }),
                (tab, _) => Ok(Activity::Ignored {
                    event_type: format!("app_home_opened/{tab}"),
                }),
            }
        }
        "team_join" => {
            let j: TeamJoinEvent =
                serde_json::from_value(event.clone()).map_err(parse("team_join"))?;
            let u = j.user;
            Ok(Activity::UserJoined(JoinedUser {
                id: u.id,
                name: u.name,
                real_name: u
                    .real_name
                    .or(u.profile.real_name)
                    .filter(|s| !s.is_empty()),
                email: u.profile.email.filter(|s| !s.is_empty()),
                title: u.profile.title.filter(|s| !s.is_empty()),
                is_bot: u.is_bot,
            }))
        }
        other => Ok(Activity::Ignored {
            event_type: other.to_owned(),
        }),
    }
}

fn message_activity(m: MessageEvent) -> Activity {
    if m.bot_id.is_some() || m.subtype.as_deref() == Some("bot_message") {
        return Activity::BotMessage { channel: m.channel };
    }
    // Plain messages, and the subtypes that are still a person writing.
    let written_by_a_person = matches!(
        m.subtype.as_deref(),
        None | Some("thread_broadcast") | Some("file_share") | Some("me_message")
    );
    match m.user {
        Some(user) if written_by_a_person && !m.hidden => Activity::Message {
            message: Message {
                channel: m.channel,
                ts: m.ts,
                // Slack sets thread_ts on the first message of a thread too.
                thread_ts: m.thread_ts,
                user,
                text: m.text,
            },
            channel_type: m.channel_type,
        },
        _ => Activity::Ignored {
            event_type: format!("message/{}", m.subtype.as_deref().unwrap_or("without user")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callback(event: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "token": "XXYYZZ",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": "Ev0001",
            "event_time": 1_700_000_000,
            "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": true}]
        }))
        .unwrap()
    }

    fn activity(event: Value) -> Activity {
        match decode(&callback(event)).unwrap() {
            EventsPayload::Event(e) => {
                assert_eq!(e.event_id, "Ev0001");
                assert_eq!(e.team_id, "T0001");
                e.activity
            }
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn url_verification() {
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            decode(body).unwrap(),
            EventsPayload::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            }
        );
    }

    #[test]
    fn a_person_s_message_with_rich_text_blocks() {
        let a = activity(json!({
            "type": "message", "channel": "C024BE91L", "user": "U2147483697",
            "text": "VPN is down", "ts": "1355517523.000005", "channel_type": "channel",
            "client_msg_id": "a1b2", "team": "T0001",
            "blocks": [{"type": "rich_text", "block_id": "x", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "VPN is down"}, {"type": "some_future_element", "data": 1}]}]}],
            "event_ts": "1355517523.000005"
        }));
        assert_eq!(
            a,
            Activity::Message {
                message: Message {
                    channel: "C024BE91L".into(),
                    ts: "1355517523.000005".into(),
                    thread_ts: None,
                    user: "U2147483697".into(),
                    text: "VPN is down".into(),
                },
                channel_type: Some("channel".into()),
            }
        );
    }

    #[test]
    fn message_kinds_table() {
        let base =
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "2.0"});
        let with = |extra: Value| {
            let mut v = base.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let cases = [
            ("bot_id", with(json!({"bot_id": "B1"})), "bot"),
            (
                "bot_message",
                with(json!({"subtype": "bot_message"})),
                "bot",
            ),
            ("thread reply", with(json!({"thread_ts": "1.0"})), "message"),
            (
                "broadcast reply",
                with(json!({"subtype": "thread_broadcast", "thread_ts": "1.0"})),
                "message",
            ),
            (
                "file share",
                with(json!({"subtype": "file_share"})),
                "message",
            ),
            (
                "edit",
                with(json!({"subtype": "message_changed"})),
                "ignored",
            ),
            (
                "channel join",
                with(json!({"subtype": "channel_join"})),
                "ignored",
            ),
            ("hidden", with(json!({"hidden": true})), "ignored"),
        ];
        for (name, event, want) in cases {
            let got = match activity(event) {
                Activity::BotMessage { .. } => "bot",
                Activity::Message { .. } => "message",
                Activity::Ignored { .. } => "ignored",
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn reaction_added_on_a_message() {
        let a = activity(json!({
            "type": "reaction_added", "user": "U024BE7LH", "reaction": "bangbang",
            "item_user": "U0G9QF9C6",
            "item": {"type": "message", "channel": "C0G9QF9GZ", "ts": "1360782400.498405"},
            "event_ts": "1360782804.083113"
        }));
        assert_eq!(
            a,
            Activity::ReactionAdded {
                user: "U024BE7LH".into(),
                emoji: "bangbang".into(),
                channel: "C0G9QF9GZ".into(),
                message_ts: "1360782400.498405".into(),
            }
        );
        let on_file = activity(json!({
            "type": "reaction_added", "user": "U1", "reaction": "eyes",
            "item": {"type": "file", "file": "F1"}, "event_ts": "1.0"
        }));
        assert!(matches!(on_file, Activity::Ignored { .. }));
    }

    #[test]
    fn team_join() {
        let a = activity(json!({
            "type": "team_join",
            "user": {"id": "U9", "team_id": "T0001", "name": "ada", "real_name": "Ada Lovelace",
                     "is_bot": false, "profile": {"email": "ada@example.com", "title": "Engineer", "real_name": "Ada Lovelace"}}
        }));
        let Activity::UserJoined(u) = a else { panic!() };
        assert_eq!(u.email.as_deref(), Some("ada@example.com"));
        assert_eq!(u.title.as_deref(), Some("Engineer"));
    }

    #[test]
    fn other_events_are_ignored_and_garbage_is_an_error() {
        assert!(matches!(
            activity(json!({"type": "channel_rename", "channel": {"id": "C1"}})),
            Activity::Ignored { .. }
        ));
        for body in [
            &b"not json"[..],
            br#"{"type": "event_callback", "team_id": "T1"}"#,
            br#"{"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": {"type": "message"}}"#,
            br#"{"no_type": 1}"#,
        ] {
            assert!(decode(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(matches!(
            decode(br#"{"type": "something_new"}"#).unwrap(),
            EventsPayload::Unknown { .. }
        ));
    }
}
