//! Decoding interactivity payloads (`POST /slack/interactions`: a form with one field,
//! `payload`, holding JSON; over Socket Mode the JSON itself) into [`Interaction`] values. Only the fields switchboard
//! uses are read. <https://api.slack.com/interactivity/handling#payloads>

use std::collections::HashMap;

use serde_json::Value;

/// A decoded interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// A button in a message was clicked (`block_actions`).
    Button {
        /// The button's `action_id`.
        action_id: String,
        /// The button's `value`.
        value: String,
        /// Who clicked.
        user: String,
        /// For opening a dialog, within 3 seconds.
        trigger_id: Option<String>,
        /// The channel of the message, for ephemeral answers.
        channel: Option<String>,
    },
    /// A dialog was submitted (`view_submission`).
    Submission {
        /// The view's id (one submission per view: it closes).
        view_id: String,
        /// The view's `callback_id`.
        callback_id: String,
        /// The view's `private_metadata`.
        private_metadata: String,
        /// Who submitted.
        user: String,
        /// Input values by block id.
        values: HashMap<String, String>,
    },
    /// A message shortcut was used on a message (`message_action`).
    MessageShortcut {
        /// The shortcut's `callback_id`.
        callback_id: String,
        /// Who used it.
        user: String,
        /// For opening a dialog, within 3 seconds.
        trigger_id: String,
        /// The message's channel.
        channel: String,
        /// The message's timestamp.
        message_ts: String,
        /// The thread it is in, if it is a reply.
        thread_ts: Option<String>,
    },
    /// Anything else (global shortcuts, closed dialogs…): acknowledged and ignored.
    Other {
        /// The payload's `type`.
        kind: String,
    },
}

/// Why a body is not an interaction payload.
#[derive(Debug, thiserror::Error)]
#[error("malformed interaction payload: {0}")]
pub struct InteractionError(String);

/// Decodes a verified request body.
pub fn decode(body: &[u8]) -> Result<Interaction, InteractionError> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| InteractionError("no `payload` field in the form".into()))?;
    let value: Value =
        serde_json::from_str(&payload).map_err(|e| InteractionError(e.to_string()))?;
    decode_payload(&value)
}

/// Decodes the payload itself: the JSON in the form's `payload` field, or the
/// `payload` of a Socket Mode `interactive` envelope.
pub fn decode_payload(value: &Value) -> Result<Interaction, InteractionError> {
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let kind = text("/type").ok_or_else(|| InteractionError("payload without `type`".into()))?;
    // Slack always names who acted; an empty id is as missing (a Home tab published for
    // nobody, a vote cast by nobody).
    let user = || {
        text("/user/id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| InteractionError(format!("`{kind}` without user.id")))
    };
    match kind.as_str() {
        "block_actions" => {
            let action = value
                .pointer("/actions/0")
                .ok_or_else(|| InteractionError("block_actions without actions".into()))?;
            let field = |k: &str| {
                action
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Ok(Interaction::Button {
                action_id: field("action_id"),
                value: field("value"),
                user: user()?,
                trigger_id: text("/trigger_id"),
                channel: text("/channel/id").or_else(|| text("/container/channel_id")),
            })
        }
        "view_submission" => {
            let mut values = HashMap::new();
            if let Some(blocks) = value
                .pointer("/view/state/values")
                .and_then(Value::as_object)
            {
                for (block_id, actions) in blocks {
                    let Some(actions) = actions.as_object() else {
                        continue;
                    };
                    for input in actions.values() {
                        if let Some(v) = input_value(input) {
                            values.insert(block_id.clone(), v.to_owned());
                        }
                    }
                }
            }
            Ok(Interaction::Submission {
                view_id: text("/view/id").unwrap_or_default(),
                callback_id: text("/view/callback_id").unwrap_or_default(),
                private_metadata: text("/view/private_metadata").unwrap_or_default(),
                user: user()?,
                values,
            })
        }
        "message_action" => {
            let required = |pointer: &str, what: &str| {
                text(pointer)
                    .ok_or_else(|| InteractionError(format!("message_action without {what}")))
            };
            Ok(Interaction::MessageShortcut {
                callback_id: text("/callback_id").unwrap_or_default(),
                user: user()?,
                trigger_id: required("/trigger_id", "trigger_id")?,
                channel: required("/channel/id", "channel.id")?,
                message_ts: required("/message/ts", "message.ts")?,
                thread_ts: text("/message/thread_ts"),
            })
        }
        _ => Ok(Interaction::Other { kind }),
    }
}

/// The value of one input element of a submitted view, whatever its kind.
fn input_value(input: &Value) -> Option<&str> {
    [
        "/value",
        "/selected_option/value",
        "/selected_user",
        "/selected_channel",
        "/selected_conversation",
        "/selected_date",
    ]
    .iter()
    .find_map(|p| input.pointer(p).and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(payload: Value) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes()
    }

    #[test]
    fn a_button_click() {
        let body = form(json!({
            "type": "block_actions", "user": { "id": "U1", "username": "ada", "team_id": "T1" },
            "api_app_id": "A1", "token": "x", "trigger_id": "123.456.abc",
            "team": { "id": "T1", "domain": "acme" },
            "container": { "type": "message", "message_ts": "1.2", "channel_id": "D1", "is_ephemeral": false },
            "channel": { "id": "D1", "name": "directmessage" },
            "message": { "type": "message", "ts": "1.2", "text": "Approval needed" },
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{ "action_id": "switchboard_approve", "block_id": "switchboard_approval", "value": "7",
                          "type": "button", "action_ts": "1.3", "text": { "type": "plain_text", "text": "Approve" } }]
        }));
        assert_eq!(
            decode(&body).unwrap(),
            Interaction::Button {
                action_id: "switchboard_approve".into(),
                value: "7".into(),
                user: "U1".into(),
                trigger_id: Some("123.456.abc".into()),
                channel: Some("D1".into()),
            }
        );
    }

    #[test]
    fn a_dialog_submission() {
        let body = form(json!({
            "type": "view_submission", "user": { "id": "U2" }, "team": { "id": "T1" },
            "view": { "id": "V1", "callback_id": "switchboard_approval_reason", "private_metadata": "7:deny",
                      "state": { "values": { "reason": { "reason": { "type": "plain_text_input", "value": "not now" } } } } }
        }));
        let Interaction::Submission {
            callback_id,
            private_metadata,
            user,
            values,
            ..
        } = decode(&body).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                callback_id.as_str(),
                private_metadata.as_str(),
                user.as_str()
            ),
            ("switchboard_approval_reason", "7:deny", "U2")
        );
        assert_eq!(values["reason"], "not now");
    }

    #[test]
    fn a_message_shortcut_and_typed_inputs() {
        let body = form(json!({
            "type": "message_action", "callback_id": "switchboard_run", "trigger_id": "1.2.x",
            "user": { "id": "U1" }, "channel": { "id": "C1", "name": "support" },
            "message": { "type": "message", "ts": "1.5", "thread_ts": "1.0", "text": "hi" },
            "response_url": "https://hooks.slack.com/app/x"
        }));
        assert_eq!(
            decode(&body).unwrap(),
            Interaction::MessageShortcut {
                callback_id: "switchboard_run".into(),
                user: "U1".into(),
                trigger_id: "1.2.x".into(),
                channel: "C1".into(),
                message_ts: "1.5".into(),
                thread_ts: Some("1.0".into()),
            }
        );
        let body = form(json!({
            "type": "view_submission", "user": { "id": "U2" },
            "view": { "callback_id": "c", "private_metadata": "", "state": { "values": {
                "who": { "who": { "type": "users_select", "selected_user": "U9" } },
                "when": { "when": { "type": "datepicker", "selected_date": "2026-12-01" } },
                "where": { "where": { "type": "channels_select", "selected_channel": "C9" } },
                "size": { "size": { "type": "static_select", "selected_option": { "value": "l" } } },
                "empty": { "empty": { "type": "plain_text_input", "value": null } }
            } } }
        }));
        let Interaction::Submission { values, .. } = decode(&body).unwrap() else {
            panic!()
        };
        assert_eq!(
            (values["who"].as_str(), values["when"].as_str()),
            ("U9", "2026-12-01")
        );
        assert_eq!(
            (values["where"].as_str(), values["size"].as_str()),
            ("C9", "l")
        );
        assert!(!values.contains_key("empty"));
    }

    #[test]
    fn garbage_is_an_error_and_others_are_ignored() {
        assert!(decode(b"payload=not-json").is_err());
        assert!(decode(b"nothing=here").is_err());
        assert!(decode(&form(json!({ "user": { "id": "U1" } }))).is_err());
        // Found by the fuzz target slack_doors: a click by nobody published a Home tab
        // for nobody.
        let nobody = json!({ "type": "block_actions", "user": { "id": "" },
                             "actions": [{ "action_id": "switchboard_approve", "value": "1" }] });
        assert!(decode(&form(nobody)).is_err());
        assert_eq!(
            decode(&form(json!({ "type": "shortcut", "user": { "id": "U1" } }))).unwrap(),
            Interaction::Other {
                kind: "shortcut".into()
            }
        );
    }
}
