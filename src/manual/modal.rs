//! The Block Kit of manual runs: the "Run automation" picker and the form of an
//! automation's inputs. Their `private_metadata` carries where the run was asked for.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::blocks::{
    SlackBlock, SlackBlockChannelsSelectElement, SlackBlockChoiceItem, SlackBlockDatePickerElement,
    SlackBlockNumberInputElement, SlackBlockPlainTextInputElement, SlackBlockStaticSelectElement,
    SlackBlockUsersSelectElement, SlackInputBlock, SlackInputBlockElement, SlackModalView,
    SlackView,
};

use crate::automations::Automation;
use crate::automations::definition::{InputKind, InputSpec};
use crate::slack::kit::{self, plain};

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

/// The picker: which automation to run on this message's conversation.
pub fn picker(automations: &[&Automation], origin: &Origin) -> Value {
    let options = automations
        .iter()
        .take(100)
        .map(|a| SlackBlockChoiceItem::new(plain(&a.name, 75), a.id.clone()))
        .collect();
    let select = SlackBlockStaticSelectElement::new()
        .with_action_id(AUTOMATION.into())
        .with_options(options);
    let block = SlackInputBlock::new(plain("Automation", 2000), select.into())
        .with_block_id(AUTOMATION.into());
    kit::json(&modal(
        PICK,
        origin,
        "Run automation",
        "Next",
        vec![block.into()],
    ))
}

fn modal(
    callback_id: &str,
    origin: &Origin,
    title: &str,
    submit: &str,
    blocks: Vec<SlackBlock>,
) -> SlackView {
    let view = SlackModalView::new(plain(title, 24), blocks)
        .with_callback_id(callback_id.into())
        .with_private_metadata(origin.encode())
        .with_submit(plain(submit, 24))
        .with_close(plain("Cancel", 24));
    SlackView::Modal(view)
}

/// The form of `automation`'s inputs.
pub fn inputs_form(automation: &Automation, inputs: &[InputSpec], origin: &Origin) -> SlackView {
    let mut blocks = Vec::with_capacity(inputs.len() + 1);
    if let Some(d) = &automation.description {
        blocks.push(kit::context(d));
    }
    blocks.extend(inputs.iter().map(input_block));
    modal(INPUTS, origin, &automation.name, "Run", blocks)
}

fn input_block(input: &InputSpec) -> SlackBlock {
    let initial = input.default.as_ref().map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let action_id = || input.name.as_str().into();
    let placeholder = input.placeholder.as_deref().map(|p| plain(p, 150));
    let element: SlackInputBlockElement = match input.kind {
        InputKind::Text | InputKind::Multiline => SlackBlockPlainTextInputElement {
            action_id: Some(action_id()),
            placeholder,
            initial_value: initial,
            multiline: Some(input.kind == InputKind::Multiline),
            ..SlackBlockPlainTextInputElement::new()
        }
        .into(),
        InputKind::Number => SlackBlockNumberInputElement {
            action_id: Some(action_id()),
            placeholder,
            initial_value: initial,
            min_value: input.min.map(|m| m.to_string()),
            max_value: input.max.map(|m| m.to_string()),
            ..SlackBlockNumberInputElement::new(true)
        }
        .into(),
        InputKind::Select => {
            let option = |o: &String| SlackBlockChoiceItem::new(plain(o, 75), o.clone());
            SlackBlockStaticSelectElement {
                action_id: Some(action_id()),
                placeholder,
                options: Some(input.options.iter().map(option).collect()),
                initial_option: initial
                    .as_ref()
                    .and_then(|t| input.options.iter().find(|o| *o == t))
                    .map(option),
                ..SlackBlockStaticSelectElement::new()
            }
            .into()
        }
        InputKind::User => SlackBlockUsersSelectElement {
            action_id: Some(action_id()),
            initial_user: initial,
            ..SlackBlockUsersSelectElement::new()
        }
        .into(),
        InputKind::Channel => SlackBlockChannelsSelectElement {
            action_id: Some(action_id()),
            initial_channel: initial.map(Into::into),
            ..SlackBlockChannelsSelectElement::new()
        }
        .into(),
        InputKind::Date => SlackBlockDatePickerElement {
            action_id: Some(action_id()),
            initial_date: initial,
            ..SlackBlockDatePickerElement::new()
        }
        .into(),
    };
    SlackInputBlock::new(
        plain(input.label.as_deref().unwrap_or(&input.name), 2000),
        element,
    )
    .with_block_id(input.name.as_str().into())
    .with_optional(!input.required)
    .into()
}

/// The answer that shows `problems` on their fields of the open form.
pub fn errors(problems: &std::collections::BTreeMap<String, String>) -> Value {
    kit::form_errors(problems.clone())
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
