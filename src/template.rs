//! Message templates: text with `{{fact}}` placeholders filled from the trigger and its
//! conversation (see `rules::facts` for the names).
//!
//! - `{{title}}`, `{{priority}}`, `{{permalink}}`… print the value.
//! - User facts (`requester`, `assignee`, `author`, `actor`, `user`) print as a mention
//!   (`<@U123>`); `{{requester.id}}` prints the bare id.
//! - `{{channel}}` prints as a channel link (`<#C123>`); `{{channel.id}}` the bare id.
//! - Lists (`tags`, `changed`) print comma-separated.
//! - A fact without a value (no assignee yet) prints as nothing.
//!
//! Unknown names, and names that do not exist for the automation's trigger, are errors
//! that `switchboard check` reports with their position.

use crate::rules::facts::{Fact, FactContext, FactShape, FactValue, fact_names};
use crate::trigger::TriggerKind;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Fact {
        fact: Fact,
        raw: bool,
        offset: usize,
    },
    /// `{{input.name}}`: an input field of a manual run.
    Input {
        name: String,
        offset: usize,
    },
}

/// A template that does not parse, with the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Byte offset within the template text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl Template {
    /// Parses `source`, reporting every bad placeholder.
    pub fn parse(source: &str) -> Result<Self, Vec<TemplateError>> {
        let (template, errors) = Self::parse_lenient(source);
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }

    /// Parses `source`, keeping the good placeholders and listing the bad ones, so that
    /// a checker can report everything in one go.
    pub fn parse_lenient(source: &str) -> (Self, Vec<TemplateError>) {
        let mut parts = Vec::new();
        let mut errors = Vec::new();
        let mut rest = source;
        let mut consumed = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let Some(close) = after_open.find("}}") else {
                errors.push(TemplateError {
                    offset: consumed + open,
                    message: "`{{` is not closed by `}}`".into(),
                });
                break;
            };
            let inner = &after_open[..close];
            let offset = consumed + open + 2 + (inner.len() - inner.trim_start().len());
            match parse_placeholder(inner.trim(), offset) {
                Ok(part) => parts.push(part),
                Err(e) => errors.push(e),
            }
            let used = open + 2 + close + 2;
            consumed += used;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let template = Self {
            source: source.to_owned(),
            parts,
        };
        (template, errors)
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Errors for placeholders that have no value for triggers of `kind`.
    pub fn check_for(&self, kind: TriggerKind) -> Vec<TemplateError> {
        self.check_in(kind, false)
    }

    /// Errors for placeholders that have no value in a step of an automation triggered
    /// by `kind`, after an approval step or not.
    pub fn check_in(&self, kind: TriggerKind, after_approval: bool) -> Vec<TemplateError> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Fact { fact, offset, .. } if !fact.is_available_in(kind, after_approval) => {
                    Some(TemplateError {
                        offset: *offset,
                        message: format!(
                            "`{}` has no value for {} triggers (it exists for: {})",
                            fact.name(),
                            kind,
                            fact.availability_text()
                        ),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Errors for `{{input.…}}` placeholders that name no declared input.
    pub fn check_inputs(&self, declared: &[String]) -> Vec<TemplateError> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Input { name, offset } if !declared.contains(name) => Some(TemplateError {
                    offset: *offset,
                    message: if declared.is_empty() {
                        format!("`input.{name}`: only manual automations have inputs, and this one declares none")
                    } else {
                        format!("`input.{name}` is not an input of this automation; its inputs: {}", declared.join(", "))
                    },
                }),
                _ => None,
            })
            .collect()
    }

    /// Fills the placeholders from `ctx`.
    pub fn render(&self, ctx: &FactContext<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 64);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Fact { fact, raw, .. } => {
                    print_value(&mut out, fact.shape(), *raw, &fact.value(ctx))
                }
                Part::Input { name, .. } => match ctx.input(name) {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(serde_json::Value::Null) | None => {}
                    Some(other) => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }
}

fn parse_placeholder(inner: &str, offset: usize) -> Result<Part, TemplateError> {
    let (name, suffix) = match inner.split_once('.') {
        Some((name, suffix)) => (name, Some(suffix)),
        None => (inner, None),
    };
    if let ("input", Some(input)) = (name, suffix) {
        let valid =
            !input.is_empty() && input.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(TemplateError {
                offset,
                message: format!("`input.{input}` is not an input name"),
            });
        }
        return Ok(Part::Input {
            name: input.to_owned(),
            offset,
        });
    }
    let fact = Fact::from_name(name).ok_or_else(|| TemplateError {
        offset,
        message: if name.is_empty() {
            "empty placeholder `{{}}`".to_owned()
        } else {
            format!("unknown field `{name}`; known fields: {}", fact_names())
        },
    })?;
    let raw = match suffix {
        None => false,
        Some("id") if matches!(fact.shape(), FactShape::User | FactShape::Channel) => true,
        Some(other) => {
            return Err(TemplateError {
                offset,
                message: format!(
                    "`{name}.{other}`: only user and channel fields take a suffix, and only `.id`"
                ),
            });
        }
    };
    Ok(Part::Fact { fact, raw, offset })
}

fn print_value(out: &mut String, shape: FactShape, raw: bool, value: &FactValue) {
    for (i, item) in value.items().iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match (shape, raw) {
            (FactShape::User, false) => {
                out.push_str("<@");
                out.push_str(item);
                out.push('>');
            }
            (FactShape::Channel, false) => {
                out.push_str("<#");
                out.push_str(item);
                out.push('>');
            }
            _ => out.push_str(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::{Conversation, Priority, Status};
    use crate::trigger::{Trigger, TriggerEvent};

    fn conversation() -> Conversation {
        Conversation {
            id: 7,
            team_id: "T1".into(),
            channel: "C1".into(),
            thread_ts: "1.0".into(),
            requester: "U1".into(),
            customer: Some("Acme".into()),
            title: "VPN down".into(),
            status: Status::Open,
            priority: Priority::Critical,
            ticket_type: "incident".into(),
            assignee: None,
            tags: vec!["net".into(), "vpn".into()],
            permalink: "https://x.slack.com/archives/C1/p10".into(),
            created_at: 0,
            updated_at: 0,
            sla: Default::default(),
        }
    }

    fn reaction() -> Trigger {
        Trigger {
            event_id: "Ev1".into(),
            team_id: "T1".into(),
            actor: Some("U2".into()),
            conversation_id: Some(7),
            depth: 0,
            event: TriggerEvent::ReactionAdded {
                emoji: "bangbang".into(),
                message_ts: "1.0".into(),
            },
        }
    }

    #[test]
    fn renders_table() {
        let c = conversation();
        let t = reaction();
        let ctx = FactContext::new(&t, Some(&c));
        let cases = [
            ("plain text", "plain text"),
            ("{{title}}", "VPN down"),
            ("{{ priority }}!", "critical!"),
            ("by {{actor}} for {{requester.id}}", "by <@U2> for U1"),
            ("in {{channel}} ({{channel.id}})", "in <#C1> (C1)"),
            ("[{{assignee}}]", "[]"),
            ("{{tags}}", "net, vpn"),
            (
                ":{{emoji}}: {{permalink}}",
                ":bangbang: https://x.slack.com/archives/C1/p10",
            ),
            (
                "{{customer}} #{{id}} {{ticket_type}} {{status}}",
                "Acme #7 incident open",
            ),
            ("ünïcode {{title}} ✓", "ünïcode VPN down ✓"),
        ];
        for (source, want) in cases {
            let template = Template::parse(source).unwrap();
            assert_eq!(template.render(&ctx), want, "{source}");
        }
    }

    #[test]
    fn parse_errors_point_at_the_problem() {
        let cases = [
            ("Hi {{nope}}", 5, "unknown field `nope`"),
            ("Hi {{title", 3, "not closed"),
            ("{{}}", 2, "empty placeholder"),
            ("{{title.id}}", 2, "only user and channel"),
            ("{{requester.name}}", 2, "only `.id`"),
        ];
        for (source, offset, message) in cases {
            let err = Template::parse(source).unwrap_err().remove(0);
            assert_eq!(err.offset, offset, "{source}");
            assert!(err.message.contains(message), "{source}: {}", err.message);
        }
    }

    #[test]
    fn every_bad_placeholder_is_reported() {
        let errors = Template::parse("{{a}} and {{b}} and {{title}} and {{c").unwrap_err();
        let offsets: Vec<usize> = errors.iter().map(|e| e.offset).collect();
        assert_eq!(offsets, [2, 12, 34]);
    }

    #[test]
    fn facts_missing_for_a_trigger_are_reported() {
        let template = Template::parse("{{emoji}} {{title}}").unwrap();
        assert!(template.check_for(TriggerKind::ReactionAdded).is_empty());
        let errors = template.check_for(TriggerKind::ConversationCreated);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].offset, 2);
        assert!(errors[0].message.contains("reaction_added"));
        let errors = template.check_for(TriggerKind::UserJoined);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
