//! Manual runs: an automation with a `manual` trigger started by a person — from
//! Slack (`/switchboard`, the "Run automation" message shortcut, a form for its
//! inputs) or from the command line (`switchboard run`).
//!
//! Who may: the global admins (`manual.admins`) and the automation's `allowed`
//! people; when neither names anyone, the workspace's admins and owners. Everything a
//! person is told comes back as a [`UserError`] (an ephemeral message, or an error on
//! the form), never an internal error.

mod access;
pub mod inputs;
pub mod message;
pub mod modal;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::automations::VersionedAutomation;
use crate::config::ManualConfig;
use crate::conversations::Conversation;
use crate::db;
use crate::launch::{self, Launched};
use crate::runs::RunEnv;
use crate::slack::client::object;
use crate::slack::commands::SlashCommand;
use crate::slack::interactions::Interaction;
use crate::trigger::{Activity, InboundEvent, Trigger, TriggerEvent, TriggerKind};
use message::MessageCommand;
use modal::Origin;

/// What a person is told when their manual run does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// A manual run to start.
#[derive(Debug, Clone)]
pub struct ManualStart {
    /// Who starts it.
    pub user: String,
    /// The filled-in inputs, unchecked.
    pub given: BTreeMap<String, Value>,
    /// The conversation it runs on.
    pub conversation: Option<Conversation>,
    /// `slash_command`, `shortcut`, `message` or `cli`.
    pub source: String,
    /// Where to tell the outcome: a channel,
    pub reply_to: Option<String>,
    /// and a thread in it.
    pub reply_thread: Option<String>,
}

/// Checks inputs and queues a manual run of `automation`.
pub async fn start(
    env: &RunEnv,
    automation: &VersionedAutomation,
    request: ManualStart,
) -> Result<i64, UserError> {
    let a = &automation.automation;
    let team = env.workspaces.primary().ok_or_else(|| {
        UserError("switchboard does not know its Slack workspace yet; try again in a minute".into())
    })?;
    let conversation = request.conversation.clone();
    let trigger = trigger(automation, request, team)?;
    match launch::launch(env, automation, &trigger, conversation.as_ref()).await {
        Ok(Launched::Queued(id)) => Ok(id),
        Ok(Launched::Filtered) => Err(filtered(automation)),
        Err(e) => {
            tracing::error!(error = %e, automation = %a.id, "manual run not queued");
            Err(UserError(
                "switchboard could not queue the run; try again in a moment".into(),
            ))
        }
    }
}

/// What a filter that does not pass tells the person.
pub fn filtered(automation: &VersionedAutomation) -> UserError {
    UserError(format!(
        "*{}* did not start: its filter does not pass for this conversation",
        automation.automation.name
    ))
}

/// The trigger of a manual run, once its rules and inputs check out.
pub fn trigger(
    automation: &VersionedAutomation,
    request: ManualStart,
    team: String,
) -> Result<Trigger, UserError> {
    let a = &automation.automation;
    let rule = a
        .trigger
        .manual
        .as_ref()
        .ok_or_else(|| UserError(format!("`{}` is not run by hand", a.id)))?;
    if rule.needs_conversation && request.conversation.is_none() {
        return Err(UserError(format!(
            "*{}* runs on a conversation: use the \"Run automation\" shortcut on one of its messages, mention me in its thread with `run {}`, or give its number after the command",
            a.name, a.id
        )));
    }
    let inputs = inputs::validate(&rule.inputs, &request.given).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|(k, v)| format!("`{k}`: {v}"))
            .collect();
        UserError(format!(
            "*{}* was not started: {}",
            a.name,
            lines.join("; ")
        ))
    })?;
    Ok(Trigger {
        event_id: format!("manual:{}", uuid::Uuid::now_v7()),
        team_id: team,
        actor: Some(request.user.clone()),
        conversation_id: request.conversation.as_ref().map(|c| c.id),
        depth: 0,
        event: TriggerEvent::Manual {
            user: request.user,
            inputs,
            source: request.source,
            reply_to: request.reply_to,
            reply_thread: request.reply_thread,
        },
    })
}

/// Takes manual runs from Slack.
#[derive(Debug, Clone)]
pub struct ManualDesk {
    env: Arc<RunEnv>,
    config: ManualConfig,
}

impl ManualDesk {
    /// A desk over the run queue's environment.
    pub fn new(env: Arc<RunEnv>, config: ManualConfig) -> Self {
        Self { env, config }
    }

    /// Answers `/switchboard [list | run ID [conversation]]` with an ephemeral message,
    /// within Slack's 3 seconds: when the work takes longer (Slack slow to say who may
    /// run what), the answer says so and the outcome follows through `response_url`.
    pub async fn command(&self, command: SlashCommand) -> Value {
        let response_url = command.response_url.clone();
        let desk = self.clone();
        let mut work = tokio::spawn(async move { desk.answer_command(command).await });
        match tokio::time::timeout(COMMAND_DEADLINE, &mut work).await {
            Ok(answer) => answer.unwrap_or_else(|e| {
                tracing::error!(error = %e, "slash command failed");
                json!({ "response_type": "ephemeral", "text": ":warning: switchboard failed to answer; try again." })
            }),
            Err(_) => {
                let slack = self.env.slack.clone();
                tokio::spawn(async move {
                    let Ok(answer) = work.await else { return };
                    let Some(url) = response_url else { return };
                    if let Err(e) = slack.respond(&url, &answer).await {
                        tracing::warn!(error = %e, "could not answer a slash command late");
                    }
                });
                json!({ "response_type": "ephemeral", "text": "Working on it…" })
            }
        }
    }

    async fn answer_command(&self, command: SlashCommand) -> Value {
        let words: Vec<&str> = command.text.split_whitespace().collect();
        let text = match words.as_slice() {
            [] | ["list"] | ["help"] => self.list(&command.user, usage(&command.command)).await,
            ["run", id, rest @ ..] => self.run_command(&command, id, rest).await,
            _ => Ok(format!(
                "I don't know `{} {}`.\n{}",
                command.command,
                command.text.trim(),
                usage(&command.command)
            )),
        };
        let text = text.unwrap_or_else(|e| format!(":warning: {e}"));
        json!({ "response_type": "ephemeral", "text": text })
    }

    /// Takes a command typed to the bot at the start of `event`'s message (see
    /// [`message`]). Such a message is addressed to switchboard, not part of a support
    /// conversation: `event` is left with only its id to record, so that Slack's
    /// retries are recognised.
    pub fn take_message_command(&self, event: &mut InboundEvent) -> Option<MessageCommand> {
        if !message::may_be_command(&event.activity) {
            return None;
        }
        let bot = self.env.workspaces.get(&event.team_id)?.bot_user_id;
        let command = message::recognise(&event.activity, &bot)?;
        event.activity = Activity::Ignored {
            event_type: "command to switchboard".into(),
        };
        Some(command)
    }

    /// Answers a command typed to the bot, privately in its thread. It runs after the
    /// event is acknowledged: checking permissions may take Slack calls.
    pub fn spawn_message_command(&self, command: MessageCommand) {
        let desk = self.clone();
        tokio::spawn(async move {
            tracing::info!(user = %command.user, channel = %command.channel, "command in a message");
            tracing::debug!(text = %command.text, "command text");
            let text = desk
                .message_answer(&command)
                .await
                .unwrap_or_else(|e| format!(":warning: {e}"));
            let (channel, thread) = (Some(command.channel.as_str()), Some(command.thread()));
            crate::runs::notify::tell(&desk.env, &command.user, channel, thread, &text).await;
        });
    }

    async fn message_answer(&self, command: &MessageCommand) -> Result<String, UserError> {
        let words = message::words(&command.text);
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
        let given = message::inputs(rest).map_err(UserError)?;
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

    async fn list(&self, user: &str, usage: String) -> Result<String, UserError> {
        let runnable = self.runnable_by(user).await?;
        if runnable.is_empty() {
            return Ok("There are no automations you may run by hand.".into());
        }
        let lines: Vec<String> = runnable
            .iter()
            .map(|a| {
                let a = &a.automation;
                let description = a
                    .description
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default();
                format!("• `{}` *{}*{description}", a.id, a.name)
            })
            .collect();
        Ok(format!(
            "Automations you may run:\n{}\n{usage}",
            lines.join("\n"),
        ))
    }

    async fn run_command(
        &self,
        command: &SlashCommand,
        id: &str,
        rest: &[&str],
    ) -> Result<String, UserError> {
        let automation = self.automation(id)?;
        self.check_allowed(&command.user, &automation).await?;
        let conversation = match rest {
            [] => None,
            [reference] => Some(self.conversation(reference).await?),
            _ => return Err(UserError(usage(&command.command))),
        };
        if let Some(c) = &conversation {
            self.check_can_see(&command.user, c).await?;
        }
        let origin = Origin {
            automation: Some(automation.automation.id.clone()),
            conversation: conversation.as_ref().map(|c| c.id),
            channel: Some(command.channel.clone()),
            source: "slash_command".into(),
        };
        if self.has_inputs(&automation) {
            self.open_form(&automation, &origin, &command.trigger_id, &command.user);
            return Ok(format!(
                "Opening the form of *{}*…",
                automation.automation.name
            ));
        }
        let run = start(
            &self.env,
            &automation,
            self.request(&command.user, BTreeMap::new(), conversation, &origin),
        )
        .await?;
        Ok(self.started(&automation, run))
    }

    /// Handles the message shortcut and the submissions of the picker and the form.
    pub async fn handle(&self, interaction: Interaction) -> anyhow::Result<Option<Value>> {
        match interaction {
            Interaction::MessageShortcut {
                user,
                trigger_id,
                channel,
                message_ts,
                thread_ts,
                ..
            } => {
                // Answered at once; the picker opens after (the trigger id lives 3 s).
                let desk = self.clone();
                tokio::spawn(async move {
                    let thread = thread_ts.as_deref().unwrap_or(&message_ts);
                    desk.shortcut(&user, &trigger_id, &channel, thread).await;
                });
                Ok(None)
            }
            Interaction::Submission {
                callback_id,
                private_metadata,
                user,
                values,
            } => {
                let Some(origin) = Origin::decode(&private_metadata) else {
                    return Ok(Some(close_with_error(
                        "This form is out of date; start again.",
                    )));
                };
                let answer = match callback_id.as_str() {
                    modal::PICK => self.picked(&user, origin, &values).await,
                    _ => self.submitted(&user, origin, &values).await,
                };
                Ok(answer)
            }
            _ => Ok(None),
        }
    }

    async fn shortcut(&self, user: &str, trigger_id: &str, channel: &str, thread_ts: &str) {
        let conversation = match self.tracked(channel, thread_ts).await {
            Ok(c) => c,
            Err(e) => return self.tell(user, channel, &e.0).await,
        };
        let runnable = match self.runnable_by(user).await {
            Ok(r) => r,
            Err(e) => return self.tell(user, channel, &e.0).await,
        };
        if runnable.is_empty() {
            return self
                .tell(
                    user,
                    channel,
                    "There are no automations you may run by hand.",
                )
                .await;
        }
        let Some(conversation) = conversation else {
            return self
                .tell(user, channel, "This message is not part of a conversation switchboard tracks, so there is nothing to run on.")
                .await;
        };
        let origin = Origin {
            automation: None,
            conversation: Some(conversation.id),
            channel: Some(channel.to_owned()),
            source: "shortcut".into(),
        };
        let automations: Vec<_> = runnable.iter().map(|a| a.automation.as_ref()).collect();
        self.open_view(
            trigger_id,
            modal::picker(&automations, &origin),
            user,
            channel,
        )
        .await;
    }

    async fn picked(
        &self,
        user: &str,
        mut origin: Origin,
        values: &std::collections::HashMap<String, String>,
    ) -> Option<Value> {
        let id = values.get(modal::AUTOMATION).cloned().unwrap_or_default();
        let automation = match self.automation(&id) {
            Ok(a) => a,
            Err(e) => return Some(field_error(modal::AUTOMATION, &e.0)),
        };
        if let Err(e) = self.check_allowed(user, &automation).await {
            return Some(field_error(modal::AUTOMATION, &e.0));
        }
        origin.automation = Some(id);
        if self.has_inputs(&automation) {
            let rule = automation.automation.trigger.manual.as_ref()?;
            let view = modal::inputs_form(&automation.automation, &rule.inputs, &origin);
            return Some(json!({ "response_action": "update", "view": view }));
        }
        self.start_from_form(
            user,
            &automation,
            BTreeMap::new(),
            origin,
            modal::AUTOMATION,
        )
        .await
    }

    async fn submitted(
        &self,
        user: &str,
        origin: Origin,
        values: &std::collections::HashMap<String, String>,
    ) -> Option<Value> {
        let id = origin.automation.clone().unwrap_or_default();
        let automation = match self.automation(&id) {
            Ok(a) => a,
            Err(e) => return Some(close_with_error(&e.0)),
        };
        let rule = automation.automation.trigger.manual.as_ref()?;
        let given: BTreeMap<String, Value> =
            values.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        if let Err(problems) = inputs::validate(&rule.inputs, &given) {
            return Some(modal::errors(&problems));
        }
        if let Err(e) = self.check_allowed(user, &automation).await {
            return Some(close_with_error(&e.0));
        }
        let first = rule
            .inputs
            .first()
            .map(|i| i.name.clone())
            .unwrap_or_default();
        self.start_from_form(user, &automation, given, origin, &first)
            .await
    }

    /// Starts the run of a submitted view; closes it, or shows why on `block`.
    async fn start_from_form(
        &self,
        user: &str,
        automation: &VersionedAutomation,
        given: BTreeMap<String, Value>,
        origin: Origin,
        block: &str,
    ) -> Option<Value> {
        let conversation = match origin.conversation {
            Some(id) => match self.conversation_by_id(id).await {
                Ok(c) => Some(c),
                Err(e) => return Some(field_error(block, &e.0)),
            },
            None => None,
        };
        let request = self.request(user, given, conversation, &origin);
        match start(&self.env, automation, request).await {
            Ok(run) => {
                if let Some(channel) = origin.channel {
                    // Told after the form closes: Slack's answer must not wait for it.
                    let (desk, user) = (self.clone(), user.to_owned());
                    let text = self.started(automation, run);
                    tokio::spawn(async move { desk.tell(&user, &channel, &text).await });
                }
                None
            }
            Err(e) => Some(field_error(block, &e.0)),
        }
    }

    fn request(
        &self,
        user: &str,
        given: BTreeMap<String, Value>,
        conversation: Option<Conversation>,
        origin: &Origin,
    ) -> ManualStart {
        ManualStart {
            user: user.to_owned(),
            given,
            conversation,
            source: origin.source.clone(),
            reply_to: origin.channel.clone(),
            reply_thread: None,
        }
    }

    fn automation(&self, id: &str) -> Result<VersionedAutomation, UserError> {
        launch::automation(&self.env, id, TriggerKind::Manual).map_err(|e| UserError(e.to_string()))
    }

    fn has_inputs(&self, automation: &VersionedAutomation) -> bool {
        automation
            .automation
            .trigger
            .manual
            .as_ref()
            .is_some_and(|m| !m.inputs.is_empty())
    }

    /// A conversation by `42`, `#42` or a Slack permalink to one of its messages.
    async fn conversation(&self, reference: &str) -> Result<Conversation, UserError> {
        if let Ok(id) = reference.trim_start_matches('#').parse::<i64>() {
            return self.conversation_by_id(id).await;
        }
        let link = reference.trim_matches(|c| c == '<' || c == '>');
        let parsed = link
            .split("/archives/")
            .nth(1)
            .and_then(|rest| rest.split_once("/p"))
            .map(|(channel, p)| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                let ts = if digits.len() > 6 {
                    format!(
                        "{}.{}",
                        &digits[..digits.len() - 6],
                        &digits[digits.len() - 6..]
                    )
                } else {
                    digits
                };
                let thread = link
                    .split("thread_ts=")
                    .nth(1)
                    .map(|t| t.split('&').next().unwrap_or(t).to_owned());
                (channel.to_owned(), thread.unwrap_or(ts))
            });
        let Some((channel, ts)) = parsed else {
            return Err(UserError(format!(
                "{reference:?} is not a conversation: give its number or a link to one of its messages"
            )));
        };
        let mut conn = self.env.db.reader().acquire().await.map_err(|_| busy())?;
        db::conversations::find_by_message(&mut conn, &channel, &ts)
            .await
            .map_err(|_| busy())?
            .ok_or_else(|| UserError(format!("no conversation is tracked for {reference}")))
    }

    /// The conversation tracked by the thread that starts at `thread_ts`, if any.
    async fn tracked(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Option<Conversation>, UserError> {
        let mut conn = self.env.db.reader().acquire().await.map_err(|_| busy())?;
        db::conversations::find_by_message(&mut conn, channel, thread_ts)
            .await
            .map_err(|_| busy())
    }

    async fn conversation_by_id(&self, id: i64) -> Result<Conversation, UserError> {
        let mut conn = self.env.db.reader().acquire().await.map_err(|_| busy())?;
        db::conversations::get(&mut conn, id)
            .await
            .map_err(|_| busy())?
            .ok_or_else(|| UserError(format!("there is no conversation #{id}")))
    }

    fn open_form(
        &self,
        automation: &VersionedAutomation,
        origin: &Origin,
        trigger_id: &str,
        user: &str,
    ) {
        let Some(rule) = &automation.automation.trigger.manual else {
            return;
        };
        let view = modal::inputs_form(&automation.automation, &rule.inputs, origin);
        let desk = self.clone();
        let trigger_id = trigger_id.to_owned();
        // Slack's trigger ids live 3 seconds: open the form now, after the answer.
        let (user, channel) = (user.to_owned(), origin.channel.clone().unwrap_or_default());
        tokio::spawn(async move { desk.open_view(&trigger_id, view, &user, &channel).await });
    }

    /// Opens a form; when Slack refuses, tells `user` why instead of leaving them
    /// waiting for a form that never comes.
    async fn open_view(&self, trigger_id: &str, view: Value, user: &str, channel: &str) {
        let args = object(json!({ "trigger_id": trigger_id, "view": view }));
        if let Err(e) = self.env.slack.call("views.open", &args).await {
            tracing::warn!(error = %e, "could not open a manual run form");
            let text = format!(":warning: Slack did not open the form ({e}); try again.");
            self.tell(user, channel, &text).await;
        }
    }

    /// The answer to a started run: where to follow it, and that its end will be told.
    fn started(&self, automation: &VersionedAutomation, run: i64) -> String {
        let follow = match self.env.links.url(run, self.env.clock.now()) {
            Some(url) => format!("<{url}|Follow it here>"),
            None => format!("`switchboard runs show {run}` has the details"),
        };
        format!(
            ":arrow_forward: Started *{}* (run {run}). {follow}; I'll tell you here when it has finished.",
            automation.automation.name
        )
    }

    async fn tell(&self, user: &str, channel: &str, text: &str) {
        let channel = Some(channel).filter(|c| !c.is_empty());
        crate::runs::notify::tell(&self.env, user, channel, None, text).await;
    }
}

/// How long a slash command's answer may take before it is sent late instead (Slack
/// shows an error after 3 seconds).
const COMMAND_DEADLINE: std::time::Duration = std::time::Duration::from_millis(2500);

fn busy() -> UserError {
    UserError("switchboard's database is busy; try again in a moment".into())
}

fn message_usage() -> String {
    "Mention me at the start of a message: `list`, or `run <automation> [name=value]…`; in a conversation's thread, the run is on that conversation.".into()
}

fn usage(command: &str) -> String {
    format!(
        "Use `{command}` to list what you may run, and `{command} run <automation> [conversation number or link]` to run one."
    )
}

fn field_error(block: &str, message: &str) -> Value {
    modal::errors(&BTreeMap::from([(block.to_owned(), message.to_owned())]))
}

/// Replaces the open form by one that says `message` (used when the form itself is
/// stale, so there is no field to show an error on).
fn close_with_error(message: &str) -> Value {
    json!({
        "response_action": "update",
        "view": {
            "type": "modal",
            "title": { "type": "plain_text", "text": "switchboard" },
            "close": { "type": "plain_text", "text": "Close" },
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": format!(":warning: {message}") } }]
        }
    })
}
