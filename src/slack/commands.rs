//! Decoding slash command requests (`POST /slack/commands`, form-encoded; over Socket
//! Mode the same fields as JSON).
//! <https://api.slack.com/interactivity/slash-commands#app_command_handling>

use std::collections::HashMap;

/// A slash command, as far as switchboard uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// The command, e.g. `/switchboard`.
    pub command: String,
    /// What was typed after it.
    pub text: String,
    /// Who typed it.
    pub user: String,
    /// Where.
    pub channel: String,
    /// For opening a dialog, within 3 seconds.
    pub trigger_id: String,
    /// Where a late answer goes (for 30 minutes after the command).
    pub response_url: Option<String>,
}

/// Why a body is not a slash command.
#[derive(Debug, thiserror::Error)]
#[error("malformed slash command: missing `{0}`")]
pub struct CommandError(&'static str);

/// Decodes a verified request body.
pub fn decode(body: &[u8]) -> Result<SlashCommand, CommandError> {
    from_fields(url::form_urlencoded::parse(body).into_owned().collect())
}

/// Decodes the `payload` of a Socket Mode `slash_commands` envelope: the same fields
/// as the form, as a JSON object of strings.
pub fn decode_payload(payload: &serde_json::Value) -> Result<SlashCommand, CommandError> {
    let fields = payload
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    from_fields(fields)
}

fn from_fields(fields: HashMap<String, String>) -> Result<SlashCommand, CommandError> {
    // Slack always fills these; an empty one is as missing (a form without a trigger id
    // cannot be opened, a reply without a channel goes nowhere).
    let get = |name: &'static str| {
        fields
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or(CommandError(name))
    };
    Ok(SlashCommand {
        command: get("command")?,
        text: fields.get("text").cloned().unwrap_or_default(),
        user: get("user_id")?,
        channel: get("channel_id")?,
        trigger_id: get("trigger_id")?,
        response_url: fields.get("response_url").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_and_a_broken_one() {
        let body = b"token=x&team_id=T1&team_domain=acme&channel_id=C1&channel_name=support&user_id=U1&user_name=ada&command=%2Fswitchboard&text=run+laptop+42&api_app_id=A1&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.abc";
        assert_eq!(
            decode(body).unwrap(),
            SlashCommand {
                command: "/switchboard".into(),
                text: "run laptop 42".into(),
                user: "U1".into(),
                channel: "C1".into(),
                trigger_id: "1.2.abc".into(),
                response_url: Some("https://hooks.slack.com/commands/1".into()),
            }
        );
        assert!(
            decode(b"command=%2Fswitchboard&text=")
                .unwrap_err()
                .to_string()
                .contains("user_id")
        );
    }
}
