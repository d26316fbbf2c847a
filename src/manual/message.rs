//! Commands typed to the bot in a message: `@switchboard run triage` in a
//! conversation's thread runs on that conversation. Slack does not send slash commands
//! from threads, so this is how a person starts a run from where the conversation is.
//! Recognising the command and reading its words are pure functions; the desk answers
//! privately in the thread.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{ManualDesk, ManualStart, UserError, start};
use crate::conversations::{ConversationPatch, edit};
use crate::ingest::IngestOutcome;
use crate::trigger::{Activity, InboundEvent};

/// A message that starts with a mention of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCommand {
    /// Who wrote it.
    pub user: String,
    /// Channel id.
    pub channel: String,
    /// The message's own timestamp.
    pub ts: String,
    /// The thread it is in, if any.
    pub thread_ts: Option<String>,
    /// What follows the mention, trimmed.
    pub text: String,
}

impl MessageCommand {
    /// The first message of its thread: the one a conversation is tracked by.
    pub fn thread(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }

    /// The change it asks of its conversation's fields, if it is an edit.
    pub fn edit(&self) -> Option<Result<ConversationPatch, String>> {
        let words = words(&self.text);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        edit::parse(&words, &self.user)
    }
}

/// The answer to an edit, from what the ingest made of it.
fn edited(
    command: &MessageCommand,
    edit: Result<ConversationPatch, String>,
    outcome: &IngestOutcome,
) -> Result<String, UserError> {
    let patch = edit.map_err(|e| {
        UserError(format!(
            "{e}.\nTo edit a conversation, mention me in its thread with {}.",
            edit::USAGE
        ))
    })?;
    if command.thread_ts.is_none() {
        return Err(UserError(
            "Edit a conversation from its thread: reply to the request and mention me there."
                .into(),
        ));
    }
    match outcome {
        IngestOutcome::Recorded {
            conversation_id: Some(id),
            ..
        } => Ok(format!(
            ":white_check_mark: Conversation #{id}: {}.",
            edit::describe(&patch)
        )),
        IngestOutcome::Ignored("edit changed nothing") => Ok(format!(
            "Nothing to change: the conversation already has {}.",
            edit::describe(&patch)
        )),
        _ => Err(UserError(
            "This thread is not a conversation switchboard tracks, so there is nothing to edit."
                .into(),
        )),
    }
}

/// Whether `activity` is a message that begins with a mention: the cheap test before
/// [`recognise`], which needs the bot's id.
pub fn may_be_command(activity: &Activity) -> bool {
    matches!(activity, Activity::Message { message, .. } if message.text.trim_start().starts_with("<@"))
}

/// The command in `activity`, when it is a person's message that begins with a
/// mention of `bot_user_id` (`<@U0BOT>` or `<@U0BOT|name>`).
pub fn recognise(activity: &Activity, bot_user_id: &str) -> Option<MessageCommand> {
    let Activity::Message { message, .. } = activity else {
        return None;
    };
    let rest = message.text.trim_start().strip_prefix("<@")?;
    let (mentioned, rest) = rest.split_once('>')?;
    let mentioned = mentioned.split('|').next().unwrap_or_default();
    if mentioned != bot_user_id || message.user == bot_user_id {
        return None;
    }
    Some(MessageCommand {
        user: message.user.clone(),
        channel: message.channel.clone(),
        ts: message.ts.clone(),
        thread_ts: message.thread_ts.clone(),
        text: rest.trim().to_owned(),
    })
}

/// Splits a command into words; `"…"` (straight or typographic quotes, as Slack's
/// clients may turn them) keeps spaces inside one word.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' | '“' | '”' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// `name=value` words as inputs, with Slack's markup of people and channels
/// (`<@U123>`, `<#C123|name>`) reduced to their ids; or the first word that is not
/// one.
pub fn inputs(words: &[&str]) -> Result<BTreeMap<String, Value>, String> {
    words
        .iter()
        .map(|w| {
            let (name, value) = w
                .split_once('=')
                .ok_or_else(|| format!("`{w}` is not an input: write name=value"))?;
            Ok((name.trim().to_owned(), Value::String(unwrap_markup(value))))
        })
        .collect()
}

fn unwrap_markup(value: &str) -> String {
    let value = value.trim();
    match value
        .strip_prefix("<@")
        .or_else(|| value.strip_prefix("<#"))
        .and_then(|v| v.strip_suffix('>'))
    {
        Some(inner) => inner.split('|').next().unwrap_or_default().to_owned(),
        None => value.to_owned(),
    }
}

impl ManualDesk {
    /// Takes a command typed to the bot at the start of `event`'s message (see
    /// [`recognise`]). Such a message is addressed to switchboard, not part of a support
    /// conversation: `event` is left with only its id to record, so that Slack's
    /// retries are recognised.
    ///
    /// An edit of a conversation in its thread (`@switchboard resolve`) becomes an
    /// [`Activity::Edit`] instead, which the ingest applies in the same transaction as
    /// it records the event: durable before the acknowledgement, and once.
    pub fn take_message_command(&self, event: &mut InboundEvent) -> Option<MessageCommand> {
        if !may_be_command(&event.activity) {
            return None;
        }
        let bot = self.env.workspaces.get(&event.team_id)?.bot_user_id;
        let command = recognise(&event.activity, &bot)?;
        event.activity = match (command.edit(), &command.thread_ts) {
            (Some(Ok(patch)), Some(thread_ts)) => Activity::Edit {
                user: command.user.clone(),
                channel: command.channel.clone(),
                thread_ts: thread_ts.clone(),
                patch: Box::new(patch),
            },
            _ => Activity::Ignored {
                event_type: "command to switchboard".into(),
            },
        };
        Some(command)
    }

    /// Answers a command typed to the bot, privately in its thread, once its event is
    /// recorded as `outcome`. It runs after the event is acknowledged: running an
    /// automation checks permissions, which may take Slack calls.
    /// `refused` says why an edit was not allowed.
    pub fn spawn_message_command(
        &self,
        command: MessageCommand,
        outcome: &IngestOutcome,
        refused: Option<String>,
    ) {
        let desk = self.clone();
        let outcome = outcome.clone();
        tokio::spawn(async move {
            tracing::info!(user = %command.user, channel = %command.channel, "command in a message");
            tracing::debug!(text = %command.text, "command text");
            let answer = match (command.edit(), refused) {
                (Some(_), Some(refused)) => Err(UserError(refused)),
                (Some(edit), None) => edited(&command, edit, &outcome),
                (None, _) => desk.message_answer(&command).await,
            };
            let text = answer.unwrap_or_else(|e| format!(":warning: {e}"));
            let (channel, thread) = (Some(command.channel.as_str()), Some(command.thread()));
            crate::runs::notify::tell(&desk.env, &command.user, channel, thread, &text).await;
        });
    }

    async fn message_answer(&self, command: &MessageCommand) -> Result<String, UserError> {
        let words = words(&command.text);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            [] | ["list"] | ["help"] => self.list(&command.user, message_usage()).await,
            ["run", id, rest @ ..] => self.run_from_message(command, id, rest).await,
            _ => Ok(format!(
                "I don't know `{}`.\n{}",
                command.text,
                message_usage()
            )),
        }
    }

    async fn run_from_message(
        &self,
        command: &MessageCommand,
        id: &str,
        rest: &[&str],
    ) -> Result<String, UserError> {
        let automation = self.automation(id)?;
        self.check_allowed(&command.user, &automation).await?;
        let given = inputs(rest).map_err(UserError)?;
        let request = ManualStart {
            user: command.user.clone(),
            given,
            conversation: self.tracked(&command.channel, command.thread()).await?,
            source: "message".into(),
            reply_to: Some(command.channel.clone()),
            reply_thread: Some(command.thread().to_owned()),
        };
        match start(&self.env, &automation, request).await {
            Ok(run) => Ok(self.started(&automation, run)),
            Err(e) if self.has_inputs(&automation) => Err(UserError(format!(
                "{e}\nGive inputs as `name=value` after the automation's id, or use the \"Run automation\" shortcut on a message to fill in a form."
            ))),
            Err(e) => Err(e),
        }
    }
}

fn message_usage() -> String {
    format!(
        "Mention me at the start of a message: `list`, or `run <automation> [name=value]…`; in a conversation's thread, the run is on that conversation, and {} change its fields.",
        edit::USAGE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trigger::Message;

    fn message(user: &str, text: &str, thread_ts: Option<&str>) -> Activity {
        Activity::Message {
            message: Message {
                channel: "C0SUPPORT1".into(),
                ts: "1700000000.000200".into(),
                thread_ts: thread_ts.map(Into::into),
                user: user.into(),
                text: text.into(),
            },
            channel_type: Some("channel".into()),
        }
    }

    #[test]
    fn only_messages_that_begin_by_mentioning_the_bot_are_commands() {
        let cases = [
            ("<@U0BOT> run triage", Some("run triage")),
            ("  <@U0BOT|switchboard>   list ", Some("list")),
            ("<@U0BOT>", Some("")),
            ("hey <@U0BOT> run triage", None),
            ("<@U0OTHER> run triage", None),
            ("run triage", None),
            ("<@U0BOT run", None),
        ];
        for (text, expected) in cases {
            let got = recognise(
                &message("U0AGENT", text, Some("1700000000.000100")),
                "U0BOT",
            );
            assert_eq!(got.as_ref().map(|c| c.text.as_str()), expected, "{text:?}");
        }
        let top = recognise(&message("U0AGENT", "<@U0BOT> list", None), "U0BOT").unwrap();
        assert_eq!(top.thread(), "1700000000.000200");
        let threaded = recognise(
            &message("U0AGENT", "<@U0BOT> list", Some("1700000000.000100")),
            "U0BOT",
        );
        assert_eq!(threaded.unwrap().thread(), "1700000000.000100");
        assert_eq!(
            recognise(&message("U0BOT", "<@U0BOT> list", None), "U0BOT"),
            None
        );
    }

    #[test]
    fn words_keep_quoted_spaces() {
        assert_eq!(
            words("run laptop note=\"two words\" count=2  who=“<@U1> x”"),
            ["run", "laptop", "note=two words", "count=2", "who=<@U1> x"]
        );
        assert_eq!(words("title=\"\""), ["title="]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn inputs_read_people_and_channels_as_ids() {
        let got = inputs(&["who=<@U0NEWBIE01>", "room=<#C0IT000001|it>", "count=3"]).unwrap();
        assert_eq!(got["who"], "U0NEWBIE01");
        assert_eq!(got["room"], "C0IT000001");
        assert_eq!(got["count"], "3");
        let err = inputs(&["count=3", "please"]).unwrap_err();
        assert!(err.contains("`please` is not an input"), "{err}");
    }
}
