//! What an agent's command in a conversation's thread asks of its fields:
//! `@switchboard resolve`, `assign @dana`, `priority high`, `tag billing`… (pure).
//! The change goes through the same path as an automation's `set_fields`.

use super::{ConversationPatch, Priority, Status};

/// The words that edit a conversation, for the help text.
pub const USAGE: &str = "`resolve`, `close`, `reopen`, `pending`, `status <open|pending|resolved|closed>`, `priority <low|medium|high|critical>`, `type <name>`, `assign <@person|me>`, `unassign`, `tag <tag>…`, `untag <tag>…`";

/// The patch `words` ask for, written by `author`; `None` when the first word is not
/// an edit (another command, such as `run`).
pub fn parse(words: &[&str], author: &str) -> Option<Result<ConversationPatch, String>> {
    let (verb, rest) = words.split_first()?;
    let verb = verb.to_ascii_lowercase();
    let nothing_after = || match rest {
        [] => Ok(()),
        _ => Err(format!("`{verb}` takes nothing after it")),
    };
    let one = |what: &str| match rest {
        [value] => Ok(*value),
        _ => Err(format!("`{verb}` takes one {what}: {USAGE}")),
    };
    let status = |status| {
        nothing_after().map(|()| ConversationPatch {
            status: Some(status),
            ..Default::default()
        })
    };
    let tags = || match rest {
        [] => Err(format!("`{verb}` needs at least one tag")),
        _ => Ok(rest.iter().map(|t| t.to_string()).collect::<Vec<_>>()),
    };
    let patch = match verb.as_str() {
        "resolve" => status(Status::Resolved),
        "close" => status(Status::Closed),
        "reopen" => status(Status::Open),
        "pending" => status(Status::Pending),
        "status" => one("status")
            .and_then(|s| s.to_ascii_lowercase().parse::<Status>())
            .map(|status| ConversationPatch {
                status: Some(status),
                ..Default::default()
            }),
        "priority" => one("priority")
            .and_then(|p| p.to_ascii_lowercase().parse::<Priority>())
            .map(|priority| ConversationPatch {
                priority: Some(priority),
                ..Default::default()
            }),
        "type" => one("ticket type").map(|t| ConversationPatch {
            ticket_type: Some(t.to_owned()),
            ..Default::default()
        }),
        "assign" => one("person")
            .and_then(|who| match who {
                "me" => Ok(author.to_owned()),
                _ => mentioned_user(who)
                    .ok_or_else(|| format!("`{who}` is not a person: mention them, as @dana")),
            })
            .map(|user| ConversationPatch {
                assignee: Some(Some(user)),
                ..Default::default()
            }),
        "unassign" => nothing_after().map(|()| ConversationPatch {
            assignee: Some(None),
            ..Default::default()
        }),
        "tag" => tags().map(|add_tags| ConversationPatch {
            add_tags,
            ..Default::default()
        }),
        "untag" => tags().map(|remove_tags| ConversationPatch {
            remove_tags,
            ..Default::default()
        }),
        _ => return None,
    };
    Some(patch)
}

/// What `patch` sets, for the person who asked: `status resolved, tags +billing`.
pub fn describe(patch: &ConversationPatch) -> String {
    let mut parts = Vec::new();
    if let Some(status) = patch.status {
        parts.push(format!("status *{status}*"));
    }
    if let Some(priority) = patch.priority {
        parts.push(format!("priority *{priority}*"));
    }
    if let Some(ticket_type) = &patch.ticket_type {
        parts.push(format!("type *{ticket_type}*"));
    }
    match &patch.assignee {
        Some(Some(user)) => parts.push(format!("assignee <@{user}>")),
        Some(None) => parts.push("no assignee".into()),
        None => {}
    }
    let tags: Vec<String> = (patch.add_tags.iter().map(|t| format!("+{t}")))
        .chain(patch.remove_tags.iter().map(|t| format!("-{t}")))
        .collect();
    if !tags.is_empty() {
        parts.push(format!("tags {}", tags.join(" ")));
    }
    parts.join(", ")
}

/// The user id of a mention as Slack writes it (`<@U123>` or `<@U123|dana>`).
fn mentioned_user(word: &str) -> Option<String> {
    let inner = word.strip_prefix("<@")?.strip_suffix('>')?;
    let id = inner.split('|').next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(text: &str) -> Option<Result<ConversationPatch, String>> {
        let words: Vec<&str> = text.split_whitespace().collect();
        parse(&words, "U0AGENT")
    }

    #[test]
    fn each_command_asks_for_its_change() {
        let status = |s| ConversationPatch {
            status: Some(s),
            ..Default::default()
        };
        let cases = [
            ("resolve", status(Status::Resolved)),
            ("Close", status(Status::Closed)),
            ("reopen", status(Status::Open)),
            ("status pending", status(Status::Pending)),
            (
                "priority HIGH",
                ConversationPatch {
                    priority: Some(Priority::High),
                    ..Default::default()
                },
            ),
            (
                "type incident",
                ConversationPatch {
                    ticket_type: Some("incident".into()),
                    ..Default::default()
                },
            ),
            (
                "assign <@U0DANA|dana>",
                ConversationPatch {
                    assignee: Some(Some("U0DANA".into())),
                    ..Default::default()
                },
            ),
            (
                "assign me",
                ConversationPatch {
                    assignee: Some(Some("U0AGENT".into())),
                    ..Default::default()
                },
            ),
            (
                "unassign",
                ConversationPatch {
                    assignee: Some(None),
                    ..Default::default()
                },
            ),
            (
                "tag billing vip",
                ConversationPatch {
                    add_tags: vec!["billing".into(), "vip".into()],
                    ..Default::default()
                },
            ),
            (
                "untag vip",
                ConversationPatch {
                    remove_tags: vec!["vip".into()],
                    ..Default::default()
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(patch(text), Some(Ok(expected)), "{text}");
        }
    }

    #[test]
    fn other_commands_are_not_edits_and_mistakes_say_why() {
        assert_eq!(patch("run triage"), None);
        assert_eq!(patch(""), None);
        for (text, says) in [
            (
                "priority urgent",
                "expected one of: low, medium, high, critical",
            ),
            ("priority", "takes one priority"),
            ("assign dana", "mention them"),
            ("resolve now", "takes nothing after it"),
            ("tag", "at least one tag"),
            ("status done", "expected one of: open, pending"),
        ] {
            let err = patch(text).unwrap().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
