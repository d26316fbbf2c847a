//! People as automation files name them — approvers of a request, who may run an
//! automation by hand — and the user ids behind them, resolved through Slack.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::actions::{GroupCache, StepError};
use crate::slack::SlackClient;
use crate::slack::client::object;

/// Most pages of channel members read (1000 each).
const MAX_PAGES: usize = 20;

/// People, as automation files name them: a user, the members of a user group, or the
/// members of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A user (`U…`).
    User(String),
    /// A user group (`S…` or `@handle`): its members.
    Group(String),
    /// A channel (`C…`, `G…`): its members; the request is posted there.
    Channel(String),
}

impl std::str::FromStr for Principal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let id = |rest: &str| {
            rest.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && rest.len() >= 8
        };
        if let Some(handle) = s.strip_prefix('@') {
            if !handle.is_empty()
                && handle
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Ok(Self::Group(handle.to_owned()));
            }
        } else if id(s) {
            match s.as_bytes()[0] {
                b'U' | b'W' => return Ok(Self::User(s.to_owned())),
                b'S' => return Ok(Self::Group(s.to_owned())),
                b'C' | b'G' => return Ok(Self::Channel(s.to_owned())),
                _ => {}
            }
        }
        Err(format!(
            "{s:?} names nobody: use a user id (U0123ABCD), a user group (@it-managers or S0123ABCD) or a channel id (C0123ABCD)"
        ))
    }
}

/// The user ids behind `principals`, in order, without repeats: users as they are,
/// user groups through `usergroups.users.list`, channels through
/// `conversations.members`.
pub async fn members(
    slack: &SlackClient,
    groups: &GroupCache,
    principals: &[Principal],
) -> Result<Vec<String>, StepError> {
    let mut users: Vec<String> = Vec::new();
    for principal in principals {
        let found: Vec<String> = match principal {
            Principal::User(id) => vec![id.clone()],
            Principal::Group(group) => {
                let id = groups.resolve(slack, group).await?;
                let body = slack
                    .call("usergroups.users.list", &object(json!({ "usergroup": id })))
                    .await?;
                strings(body.get("users"))
            }
            Principal::Channel(channel) => channel_members(slack, channel).await?,
        };
        for user in found {
            if !users.contains(&user) {
                users.push(user);
            }
        }
    }
    Ok(users)
}

/// Every member of `channel`, page by page.
async fn channel_members(slack: &SlackClient, channel: &str) -> Result<Vec<String>, StepError> {
    let mut members = Vec::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let mut args = json!({ "channel": channel, "limit": 1000 });
        if !cursor.is_empty() {
            args["cursor"] = cursor.clone().into();
        }
        let body = slack.call("conversations.members", &object(args)).await?;
        members.extend(strings(body.get("members")));
        cursor = body
            .pointer("/response_metadata/next_cursor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    Ok(members)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_parse() {
        assert_eq!("U0123ABCD".parse(), Ok(Principal::User("U0123ABCD".into())));
        assert_eq!(
            "@it-managers".parse(),
            Ok(Principal::Group("it-managers".into()))
        );
        assert_eq!(
            "S0123ABCD".parse(),
            Ok(Principal::Group("S0123ABCD".into()))
        );
        assert_eq!(
            "C0123ABCD".parse(),
            Ok(Principal::Channel("C0123ABCD".into()))
        );
        assert!("#it".parse::<Principal>().is_err());
        assert!("bob".parse::<Principal>().is_err());
    }
}
