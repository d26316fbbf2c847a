//! Socket Mode's wire format: the messages Slack sends over the WebSocket and the
//! acknowledgement switchboard sends back (pure).
//! <https://api.slack.com/apis/socket-mode>

use serde::Deserialize;
use serde_json::{Value, json};

/// What an envelope carries; its payload is what the HTTP endpoint of the same name
/// would receive (as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// `events_api`: an Events API callback (`/slack/events`).
    Events,
    /// `interactive`: a click, shortcut or dialog (`/slack/interactions`).
    Interactive,
    /// `slash_commands`: a slash command (`/slack/commands`).
    Command,
}

impl EnvelopeKind {
    /// Slack's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events_api",
            Self::Interactive => "interactive",
            Self::Command => "slash_commands",
        }
    }
}

/// A delivery to acknowledge.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Echoed in the acknowledgement.
    pub id: String,
    /// What it carries.
    pub kind: EnvelopeKind,
    /// The delivery itself.
    pub payload: Value,
    /// Whether the acknowledgement may carry an answer (a form's errors, a command's
    /// reply).
    pub accepts_response_payload: bool,
    /// 0 for the first delivery, then 1, 2, 3 for Slack's retries.
    pub retry_attempt: u32,
    /// Why Slack retried (`timeout`…), empty for a first delivery.
    pub retry_reason: String,
}

/// Why Slack closes a connection, from its `disconnect` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// `warning` (about ten seconds ahead) or `refresh_requested`: the connection is
    /// old; open a new one and let this one go.
    Refresh,
    /// `link_disabled`: Socket Mode was turned off for the app; reconnecting fails
    /// until someone turns it on again.
    Disabled,
    /// `too_many_websockets` or a reason this version does not know.
    Other(String),
}

/// One message from Slack.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// The connection is ready.
    Hello {
        /// How many connections the app has open now, as Slack counts them.
        connections: u32,
    },
    /// Slack is about to close the connection.
    Disconnect(Disconnect),
    /// A delivery.
    Envelope(Envelope),
    /// A message of a type this version does not know (it has no envelope id to
    /// acknowledge).
    Unknown {
        /// Its `type`.
        kind: String,
    },
}

/// Why a frame is not a Socket Mode message.
#[derive(Debug, thiserror::Error)]
#[error("malformed Socket Mode message: {0}")]
pub struct FrameError(String);

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    envelope_id: Option<String>,
    payload: Option<Value>,
    #[serde(default)]
    accepts_response_payload: bool,
    #[serde(default)]
    retry_attempt: u32,
    retry_reason: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    num_connections: u32,
}

/// Decodes a text frame.
pub fn decode(text: &str) -> Result<Inbound, FrameError> {
    let frame: Frame = serde_json::from_str(text).map_err(|e| FrameError(e.to_string()))?;
    let kind = match frame.kind.as_str() {
        "hello" => {
            return Ok(Inbound::Hello {
                connections: frame.num_connections,
            });
        }
        "disconnect" => {
            let reason = frame.reason.unwrap_or_default();
            return Ok(Inbound::Disconnect(match reason.as_str() {
                "warning" | "refresh_requested" => Disconnect::Refresh,
                "link_disabled" => Disconnect::Disabled,
                _ => Disconnect::Other(reason),
            }));
        }
        "events_api" => EnvelopeKind::Events,
        "interactive" => EnvelopeKind::Interactive,
        "slash_commands" => EnvelopeKind::Command,
        _ => return Ok(Inbound::Unknown { kind: frame.kind }),
    };
    let id = frame
        .envelope_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FrameError(format!("`{}` without `envelope_id`", frame.kind)))?;
    let payload = frame
        .payload
        .ok_or_else(|| FrameError(format!("`{}` {id} without `payload`", frame.kind)))?;
    Ok(Inbound::Envelope(Envelope {
        id,
        kind,
        payload,
        accepts_response_payload: frame.accepts_response_payload,
        retry_attempt: frame.retry_attempt,
        retry_reason: frame.retry_reason.unwrap_or_default(),
    }))
}

/// The acknowledgement of `envelope`, with `answer` where Slack takes one.
pub fn ack(envelope: &Envelope, answer: Option<Value>) -> String {
    match answer.filter(|_| envelope.accepts_response_payload) {
        Some(payload) => json!({ "envelope_id": envelope.id, "payload": payload }),
        None => json!({ "envelope_id": envelope.id }),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_messages_decode() {
        let hello = r#"{"type":"hello","num_connections":2,"debug_info":{"host":"applink-1","build_number":10,"approximate_connection_time":18060},"connection_info":{"app_id":"A1"}}"#;
        assert_eq!(decode(hello).unwrap(), Inbound::Hello { connections: 2 });
        let cases = [
            ("warning", Disconnect::Refresh),
            ("refresh_requested", Disconnect::Refresh),
            ("link_disabled", Disconnect::Disabled),
            (
                "too_many_websockets",
                Disconnect::Other("too_many_websockets".into()),
            ),
        ];
        for (reason, expected) in cases {
            let text = format!(
                r#"{{"type":"disconnect","reason":"{reason}","debug_info":{{"host":"applink-1"}}}}"#
            );
            assert_eq!(decode(&text).unwrap(), Inbound::Disconnect(expected));
        }
        let event = r#"{"envelope_id":"57d6a792-4d35-4d0b-b6aa-3361493e1caf","payload":{"type":"event_callback","event_id":"Ev1"},"type":"events_api","accepts_response_payload":false,"retry_attempt":1,"retry_reason":"timeout"}"#;
        let Inbound::Envelope(envelope) = decode(event).unwrap() else {
            panic!("an envelope")
        };
        assert_eq!(envelope.kind, EnvelopeKind::Events);
        assert_eq!(
            (envelope.retry_attempt, envelope.retry_reason.as_str()),
            (1, "timeout")
        );
        assert_eq!(envelope.payload["event_id"], "Ev1");
        assert_eq!(
            decode(r#"{"type":"something_new"}"#).unwrap(),
            Inbound::Unknown {
                kind: "something_new".into()
            }
        );
    }

    #[test]
    fn broken_envelopes_say_what_is_missing() {
        for (text, named) in [
            (r#"{"type":"interactive","payload":{}}"#, "envelope_id"),
            (r#"{"type":"slash_commands","envelope_id":"e1"}"#, "payload"),
            (r#"{"envelope_id":"e1"}"#, "type"),
            ("not json", "malformed"),
        ] {
            let err = decode(text).unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
    }

    #[test]
    fn acks_carry_an_answer_only_where_slack_takes_one() {
        let mut envelope = Envelope {
            id: "e1".into(),
            kind: EnvelopeKind::Interactive,
            payload: Value::Null,
            accepts_response_payload: true,
            retry_attempt: 0,
            retry_reason: String::new(),
        };
        let errors = json!({ "response_action": "errors", "errors": { "days": "a number" } });
        let with: Value = serde_json::from_str(&ack(&envelope, Some(errors.clone()))).unwrap();
        assert_eq!(with, json!({ "envelope_id": "e1", "payload": errors }));
        envelope.accepts_response_payload = false;
        let without: Value = serde_json::from_str(&ack(&envelope, Some(errors))).unwrap();
        assert_eq!(without, json!({ "envelope_id": "e1" }));
    }
}
