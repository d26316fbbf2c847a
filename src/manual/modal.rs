//! The Block Kit of manual runs: the "Run automation" picker and the form of an
//! automation's inputs. Their `private_metadata` carries where the run was asked for.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::automations::Automation;
use crate::automations::definition::{InputKind, InputSpec};

/// `callback_id` of the picker (message shortcut).
pub const PICK: &str = "switchboard_run_pick";
/// `callback_id` of the inputs form.
pub const INPUTS: &str = "switchboard_run_inputs";
/// `callback_id` of the message shortcut, as in `manifest.yml`.
pub const SHORTCUT: &str = "switchboard_run";
/// `block_id` and `action_id` of the picker's select.
pub const AUTOMATION: &str = "automation";

/// Whether a view's `callback_id` is a manual run's.
pub fn is_manual(callback_id: &str) -> bool {
    callback_id == PICK || callback_id == INPUTS
}

/// Where a run was asked for, carried through the views.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The automation (once chosen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation: Option<String>,
    /// The conversation it runs on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<i64>,
    /// The channel to tell the outcome in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `slash_command` or `shortcut`.
    pub source: String,
}

impl Origin {
    /// As `private_metadata`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From `private_metadata`.
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

fn plain(text: &str, max: usize) -> Value {
    let mut t: String = text.chars().take(max).collect();
    if t.is_empty() {
        t.push(' ');
    }
    json!({ "type": "plain_text", "text": t })
}

/// The picker: which automation to run on this message's conversation.
pub fn picker(automations: &[&Automation], origin: &Origin) -> Value {
    let options: Vec<Value> = automations
        .iter()
        .take(100)
        .map(|a| json!({ "text": plain(&a.name, 75), "value": a.id }))
        .collect();
    json!({
        "type": "modal",
        "callback_id": PICK,
        "private_metadata": origin.encode(),
        "title": plain("Run automation", 24),
        "submit": plain("Next", 24),
        "close": plain("Cancel", 24),
        "blocks": [{
            "type": "input",
            "block_id": AUTOMATION,
            "label": plain("Automation", 2000),
            "element": { "type": "static_select", "action_id": AUTOMATION, "options": options }
        }]
    })
}

/// The form of `automation`'s inputs.
pub fn inputs_form(automation: &Automation, inputs: &[InputSpec], origin: &Origin) -> Value {
    let mut blocks = Vec::with_capacity(inputs.len() + 1);
    if let Some(d) = &automation.description {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": d }] }));
    }
    blocks.extend(inputs.iter().map(input_block));
    json!({
        "type": "modal",
        "callback_id": INPUTS,
        "private_metadata": origin.encode(),
        "title": plain(&automation.name, 24),
        "submit": plain("Run", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks
    })
}

fn input_block(input: &InputSpec) -> Value {
    let initial = input.default.as_ref();
    let initial_text = initial.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mut element = match input.kind {
        InputKind::Text | InputKind::Multiline => {
            let mut e = json!({ "type": "plain_text_input", "multiline": input.kind == InputKind::Multiline });
            if let Some(t) = &initial_text {
                e["initial_value"] = json!(t);
            }
            e
        }
        InputKind::Number => {
            let mut e = json!({ "type": "number_input", "is_decimal_allowed": true });
            if let Some(t) = &initial_text {
                e["initial_value"] = json!(t);
            }
            if let Some(min) = input.min {
                e["min_value"] = json!(min.to_string());
            }
            if let Some(max) = input.max {
                e["max_value"] = json!(max.to_string());
            }
            e
        }
        InputKind::Select => {
            let option = |o: &String| json!({ "text": plain(o, 75), "value": o });
            let mut e = json!({ "type": "static_select", "options": input.options.iter().map(option).collect::<Vec<_>>() });
            if let Some(t) = initial_text
                .as_ref()
                .and_then(|t| input.options.iter().find(|o| *o == t))
            {
                e["initial_option"] = option(t);
            }
            e
        }
        InputKind::User => initial_field(
            json!({ "type": "users_select" }),
            "initial_user",
            &initial_text,
        ),
        InputKind::Channel => initial_field(
            json!({ "type": "channels_select" }),
            "initial_channel",
            &initial_text,
        ),
        InputKind::Date => initial_field(
            json!({ "type": "datepicker" }),
            "initial_date",
            &initial_text,
        ),
    };
    element["action_id"] = json!(input.name);
    if let Some(p) = &input.placeholder
        && matches!(
            input.kind,
            InputKind::Text | InputKind::Multiline | InputKind::Number | InputKind::Select
        )
    {
        element["placeholder"] = plain(p, 150);
    }
    json!({
        "type": "input",
        "block_id": input.name,
        "optional": !input.required,
        "label": plain(input.label.as_deref().unwrap_or(&input.name), 2000),
        "element": element
    })
}

fn initial_field(mut element: Value, key: &str, initial: &Option<String>) -> Value {
    if let Some(t) = initial {
        element[key] = json!(t);
    }
    element
}

/// The answer that shows `problems` on their fields of the open form.
pub fn errors(problems: &std::collections::BTreeMap<String, String>) -> Value {
    json!({ "response_action": "errors", "errors": problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_through_private_metadata() {
        let origin = Origin {
            automation: Some("laptop".into()),
            conversation: Some(7),
            channel: Some("C1".into()),
            source: "shortcut".into(),
        };
        assert_eq!(Origin::decode(&origin.encode()), Some(origin));
        assert_eq!(Origin::decode("7:approve"), None);
    }
}
