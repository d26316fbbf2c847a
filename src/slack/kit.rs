//! Block Kit through slack-morphism's models: the few shapes switchboard builds again
//! and again, and the conversion to the JSON the Web API client sends. Only the
//! crate's models are used (`default-features = false`): no second HTTP or TLS stack.

use serde::Serialize;
use serde_json::Value;
use slack_morphism::blocks::{
    SlackBlock, SlackBlockMarkDownText, SlackBlockPlainText, SlackBlockPlainTextOnly,
    SlackBlockText, SlackContextBlock, SlackContextBlockElement, SlackSectionBlock, SlackView,
    SlackViewSubmissionErrorsResponse, SlackViewSubmissionResponse,
    SlackViewSubmissionUpdateResponse,
};

/// Section texts are limited to 3000 characters.
const SECTION_MAX: usize = 3000;

/// Plain text of at most `max` characters (never empty: Slack refuses empty texts).
pub fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    let mut t: String = text.chars().take(max).collect();
    if t.is_empty() {
        t.push(' ');
    }
    SlackBlockPlainText::new(t).into()
}

/// A section of mrkdwn, cut at Slack's limit.
pub fn section(text: &str) -> SlackBlock {
    let text: String = text.chars().take(SECTION_MAX).collect();
    SlackSectionBlock::new()
        .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text)))
        .into()
}

/// A context line of mrkdwn.
pub fn context(text: &str) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(text.to_owned()),
    )])
    .into()
}

/// The answer to a `view_submission` that shows `errors` (block id → message) on the
/// open form's fields.
pub fn form_errors(errors: impl IntoIterator<Item = (String, String)>) -> Value {
    json(&SlackViewSubmissionResponse::Errors(
        SlackViewSubmissionErrorsResponse::new(errors.into_iter().collect()),
    ))
}

/// The answer to a `view_submission` that replaces the open form by `view`.
pub fn replace_form(view: SlackView) -> Value {
    json(&SlackViewSubmissionResponse::Update(
        SlackViewSubmissionUpdateResponse::new(view),
    ))
}

/// The JSON of a model, as the Web API takes it.
pub fn json<T: Serialize>(model: &T) -> Value {
    serde_json::to_value(model).expect("Block Kit models serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shapes_serialize_as_slack_documents_them() {
        assert_eq!(
            json(&section("*hi*")),
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": "*hi*" } })
        );
        assert_eq!(
            json(&context("a · b")),
            json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": "a · b" }] })
        );
        assert_eq!(
            json(&plain("", 24)),
            json!({ "type": "plain_text", "text": " " })
        );
        assert_eq!(json(&plain("abcdef", 3))["text"], "abc");
        assert_eq!(
            form_errors([("days".to_owned(), "a number".to_owned())]),
            json!({ "response_action": "errors", "errors": { "days": "a number" } })
        );
        let long = "x".repeat(4000);
        assert_eq!(
            json(&section(&long))["text"]["text"]
                .as_str()
                .unwrap()
                .len(),
            3000
        );
    }
}
