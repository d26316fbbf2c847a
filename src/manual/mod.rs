//! Manual runs: an automation with a `manual` trigger started by a person — from
//! Slack (`/switchboard` in [`slash`], `@switchboard run` in a thread in [`message`],
//! the "Run automation" shortcut and the inputs form in [`forms`]) or from the command
//! line (`switchboard run`). Inputs are checked in [`inputs`], permissions in
//! [`access`].
//!
//! Who may: the global admins (`manual.admins`) and the automation's `allowed`
//! people; when neither names anyone, the workspace's admins and owners. Everything a
//! person is told comes back as a [`UserError`] (an ephemeral message, or an error on
//! the form), never an internal error.

mod access;
mod forms;
pub mod home;
pub mod inputs;
pub mod message;
pub mod modal;
mod slash;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::automations::VersionedAutomation;
use crate::config::ManualConfig;
use crate::conversations::Conversation;
use crate::db;
use crate::launch::{self, Launched};
use crate::runs::RunEnv;
use crate::trigger::{Trigger, TriggerEvent, TriggerKind};
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

fn busy() -> UserError {
    UserError("switchboard's database is busy; try again in a moment".into())
}
