//! The ticket model: a Slack thread tracked as a conversation with status, priority,
//! type, customer, assignee and tags. Everything here is pure: decisions take values
//! and return values; `db::conversations` stores them.

pub mod edit;
mod patch;
pub mod sla;

pub use patch::{ConversationPatch, Field, FieldChange};

use serde::{Deserialize, Serialize};

use crate::trigger::Message;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the support team.
    Open,
    /// Waiting for the requester or a third party.
    Pending,
    /// Answered; may reopen.
    Resolved,
    /// Done.
    Closed,
}

/// How urgent a conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever there is time.
    Low,
    /// The default.
    Medium,
    /// Before medium ones.
    High,
    /// Drop everything: pages the on-call group in the shipped example.
    Critical,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The name used in files, the database and templates.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            /// Every value's name, for error messages.
            pub const NAMES: &'static [&'static str] = &[$($name),*];
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Self::$variant),)*
                    other => Err(format!(
                        "unknown value {other:?}, expected one of: {}",
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(Status { Open => "open", Pending => "pending", Resolved => "resolved", Closed => "closed" });
str_enum!(Priority { Low => "low", Medium => "medium", High => "high", Critical => "critical" });

/// A tracked support conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Database id.
    pub id: i64,
    /// Workspace id.
    pub team_id: String,
    /// Channel id.
    pub channel: String,
    /// Timestamp of the thread's first message.
    pub thread_ts: String,
    /// Who asked.
    pub requester: String,
    /// Customer, from the channel → customer mapping.
    pub customer: Option<String>,
    /// The first line of the first message.
    pub title: String,
    /// Where it stands.
    pub status: Status,
    /// How urgent it is.
    pub priority: Priority,
    /// Free-form type, e.g. `question`, `incident`, `password_reset`.
    pub ticket_type: String,
    /// Who handles it.
    pub assignee: Option<String>,
    /// Labels, sorted and unique.
    pub tags: Vec<String>,
    /// Link to the thread.
    pub permalink: String,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Its SLA clocks, by target (empty when no policy applies).
    #[serde(default)]
    pub sla: sla::Sla,
}

/// A conversation about to be created from its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    /// Workspace id.
    pub team_id: String,
    /// Channel id.
    pub channel: String,
    /// The first message's timestamp.
    pub thread_ts: String,
    /// The first message's author.
    pub requester: String,
    /// From the channel → customer mapping.
    pub customer: Option<String>,
    /// First line of the message.
    pub title: String,
    /// The configured default ticket type.
    pub ticket_type: String,
    /// Link to the thread.
    pub permalink: String,
}

/// Longest title kept, in characters.
const TITLE_MAX_CHARS: usize = 150;

impl NewConversation {
    /// The conversation a top-level message opens.
    pub fn from_message(
        team_id: &str,
        message: &Message,
        customer: Option<String>,
        ticket_type: &str,
        workspace_url: &str,
    ) -> Self {
        Self {
            team_id: team_id.to_owned(),
            channel: message.channel.clone(),
            thread_ts: message.ts.clone(),
            requester: message.user.clone(),
            customer,
            title: title_from(&message.text),
            ticket_type: ticket_type.to_owned(),
            permalink: permalink(workspace_url, &message.channel, &message.ts),
        }
    }
}

/// The first non-empty line of `text`, shortened to a readable length.
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "(no text)".to_owned();
    }
    if line.chars().count() <= TITLE_MAX_CHARS {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(TITLE_MAX_CHARS - 1).collect();
    short.push('…');
    short
}

/// A message's permalink in Slack's documented form, built without an API call so
/// that ingest never waits for Slack.
pub fn permalink(workspace_url: &str, channel: &str, ts: &str) -> String {
    let base = workspace_url.trim_end_matches('/');
    format!("{base}/archives/{channel}/p{}", ts.replace('.', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_non_empty_line() {
        let cases = [
            ("VPN is down\nsince 9am", "VPN is down"),
            ("\n\n  hello  \nworld", "hello"),
            ("", "(no text)"),
            ("   \n ", "(no text)"),
        ];
        for (text, want) in cases {
            assert_eq!(title_from(text), want, "{text:?}");
        }
        let long = "x".repeat(400);
        let title = title_from(&long);
        assert_eq!(title.chars().count(), TITLE_MAX_CHARS);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn permalinks_follow_slacks_format() {
        assert_eq!(
            permalink("https://acme.slack.com/", "C123", "1712345678.000100"),
            "https://acme.slack.com/archives/C123/p1712345678000100"
        );
    }

    #[test]
    fn names_round_trip() {
        for name in Priority::NAMES {
            assert_eq!(name.parse::<Priority>().unwrap().as_str(), *name);
        }
        for name in Status::NAMES {
            assert_eq!(name.parse::<Status>().unwrap().as_str(), *name);
        }
        assert!(
            "urgent"
                .parse::<Priority>()
                .unwrap_err()
                .contains("critical")
        );
    }
}
