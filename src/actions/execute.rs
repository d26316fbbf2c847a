//! Executing one action. Actions talk to Slack and return what they did; they never
//! write to the database themselves: conversation changes come back as a patch that the
//! run executor applies in the same transaction as the step's journal entry.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::runs::ClaimedRun;
use crate::runs::RunEnv;
use crate::script::pool::ConsoleLine;
use crate::secrets::run::RunSecrets;
use std::time::Duration;

use serde_json::{Value, json};

use super::patch::render_patch;
use super::{Action, SetFields};
use crate::conversations::{Conversation, ConversationPatch};
use crate::rules::facts::FactContext;
use crate::slack::{SlackClient, SlackError};
use crate::trigger::{ApprovalDecision, Trigger, TriggerEvent};

/// What a step may use.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// Clients, pools and settings of the run queue.
    pub env: &'a RunEnv,
    /// The run.
    pub run: &'a ClaimedRun,
    /// This step's position.
    pub step_index: usize,
    /// The run's conversation as of this step.
    pub conversation: Option<&'a Conversation>,
    /// Outputs of the steps before this one (`null` where none).
    pub outputs: &'a [Value],
    /// Console output of a script step, journaled with the step.
    pub console: &'a Mutex<Vec<ConsoleLine>>,
    /// The run's secrets.
    pub secrets: &'a RunSecrets,
    /// The run's latest decided approval, for the steps after it.
    pub approval: Option<&'a ApprovalDecision>,
    /// What the step recorded when it began to wait, if it waited before and now runs
    /// again.
    pub waited: Option<&'a Value>,
}

impl StepContext<'_> {
    fn slack(&self) -> &SlackClient {
        &self.env.slack
    }

    fn trigger(&self) -> &Trigger {
        &self.run.trigger
    }
}

/// What a successful step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// Journaled output, visible in `runs show`.
    pub output: Value,
    /// Conversation changes to apply with the journal entry.
    pub patch: Option<ConversationPatch>,
    /// The conversation as the step left it, when the step changed it itself.
    pub conversation: Option<Conversation>,
    /// Set when the step is not done but waits (for an approval): the run parks and
    /// the step runs again when it is resumed.
    pub wait: Option<Wait>,
}

impl StepOutcome {
    /// A finished step with `output` and no conversation changes.
    pub fn done(output: Value) -> Self {
        Self {
            output,
            patch: None,
            conversation: None,
            wait: None,
        }
    }
}

/// What a waiting step waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// For `runs show`, e.g. `approval 12`.
    pub waiting_for: String,
    /// When the wait ends by itself (the request expires), ms since the epoch.
    pub deadline: Option<i64>,
    /// The approval request waited for: if it is decided before the run is parked
    /// (a click right after the request went out), the run goes straight back to the
    /// queue instead of waiting for a resume that already happened.
    pub approval: Option<i64>,
}

/// Why a step did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// Worth retrying later (after `retry_after` if given).
    #[error("{reason}")]
    Transient {
        /// What happened.
        reason: String,
        /// How long the remote side asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Retrying will not help; the run fails with this message.
    #[error("{0}")]
    Permanent(String),
}

impl From<SlackError> for StepError {
    fn from(e: SlackError) -> Self {
        if e.is_transient() {
            StepError::Transient {
                retry_after: e.retry_after(),
                reason: e.to_string(),
            }
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

/// User group handle → id, filled from `usergroups.list` on first use.
#[derive(Debug, Default)]
pub struct GroupCache {
    ids: Mutex<HashMap<String, String>>,
}

impl GroupCache {
    /// The id of user group `group` (an id already, or a handle).
    pub async fn resolve(&self, slack: &SlackClient, group: &str) -> Result<String, StepError> {
        if looks_like_group_id(group) {
            return Ok(group.to_owned());
        }
        if let Some(id) = self.lookup(group) {
            return Ok(id);
        }
        let groups = slack.user_groups().await?;
        {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            for (id, handle) in groups {
                ids.insert(handle, id);
            }
        }
        self.lookup(group).ok_or_else(|| {
            StepError::Permanent(format!(
                "no user group with the handle @{group} (usergroups.list does not list it)"
            ))
        })
    }

    fn lookup(&self, handle: &str) -> Option<String> {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(handle)
            .cloned()
    }
}

fn looks_like_group_id(group: &str) -> bool {
    group.len() >= 9
        && group.starts_with('S')
        && group
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Executes `action`.
pub async fn execute(action: &Action, ctx: &StepContext<'_>) -> Result<StepOutcome, StepError> {
    let facts = FactContext {
        trigger: ctx.trigger(),
        conversation: ctx.conversation,
        approval: ctx.approval,
    };
    let no_patch = StepOutcome::done;
    match action {
        Action::Reply { text } => {
            let c = conversation(ctx)?;
            let posted = ctx
                .slack()
                .post_message(&c.channel, &text.render(&facts), Some(&c.thread_ts))
                .await?;
            Ok(no_patch(
                json!({ "channel": posted.channel, "ts": posted.ts }),
            ))
        }
        Action::Post { channel, text } => {
            let channel = non_empty(channel.render(&facts), "channel")?;
            let posted = ctx
                .slack()
                .post_message(&channel, &text.render(&facts), None)
                .await?;
            Ok(no_patch(
                json!({ "channel": posted.channel, "ts": posted.ts }),
            ))
        }
        Action::Dm { user, text } => {
            let user = non_empty(user.render(&facts), "user")?;
            let dm = ctx.slack().open_dm(&user).await?;
            let posted = ctx
                .slack()
                .post_message(&dm, &text.render(&facts), None)
                .await?;
            Ok(no_patch(
                json!({ "user": user, "channel": posted.channel, "ts": posted.ts }),
            ))
        }
        Action::React { emoji } => {
            let c = conversation(ctx)?;
            let ts = reaction_target(ctx.trigger(), c);
            ctx.slack().add_reaction(&c.channel, &ts, emoji).await?;
            Ok(no_patch(
                json!({ "channel": c.channel, "ts": ts, "emoji": emoji }),
            ))
        }
        Action::SetFields(set) => {
            conversation(ctx)?;
            let patch = render_patch(set, &facts);
            let summary = patch_summary(set, &patch);
            Ok(StepOutcome {
                patch: Some(patch),
                ..StepOutcome::done(summary)
            })
        }
        Action::Code(code) => super::code::execute(code, ctx).await,
        Action::Approval(approval) => super::approval::execute(approval, ctx, &facts).await,
        Action::Wait { duration, until } => {
            super::wait::execute(*duration, until.as_ref(), ctx).await
        }
        Action::Page {
            group,
            channel,
            text,
        } => {
            let group_id = ctx.env.groups.resolve(ctx.slack(), group).await?;
            let channel = non_empty(channel.render(&facts), "channel")?;
            let message = format!("<!subteam^{group_id}> {}", text.render(&facts));
            let posted = ctx.slack().post_message(&channel, &message, None).await?;
            Ok(no_patch(
                json!({ "group": group_id, "channel": posted.channel, "ts": posted.ts }),
            ))
        }
    }
}

fn conversation<'a>(ctx: &StepContext<'a>) -> Result<&'a Conversation, StepError> {
    ctx.conversation.ok_or_else(|| {
        StepError::Permanent("this action needs a conversation and the trigger has none".into())
    })
}

fn non_empty(value: String, what: &str) -> Result<String, StepError> {
    if value.trim().is_empty() {
        Err(StepError::Permanent(format!(
            "the {what} template rendered to nothing"
        )))
    } else {
        Ok(value.trim().to_owned())
    }
}

/// The message a `react` step reacts to: the one that triggered, else the first one.
fn reaction_target(trigger: &Trigger, conversation: &Conversation) -> String {
    match &trigger.event {
        TriggerEvent::ReactionAdded { message_ts, .. } => message_ts.clone(),
        TriggerEvent::MessageReceived { message }
        | TriggerEvent::ConversationCreated { message } => message.ts.clone(),
        _ => conversation.thread_ts.clone(),
    }
}

fn patch_summary(set: &SetFields, patch: &ConversationPatch) -> Value {
    let mut summary = serde_json::Map::new();
    if let Some(s) = patch.status {
        summary.insert("status".into(), s.as_str().into());
    }
    if let Some(p) = patch.priority {
        summary.insert("priority".into(), p.as_str().into());
    }
    if let Some(t) = &patch.ticket_type {
        summary.insert("ticket_type".into(), t.clone().into());
    }
    if set.assignee.is_some() {
        summary.insert("assignee".into(), json!(patch.assignee.clone().flatten()));
    }
    if let Some(tags) = &patch.tags {
        summary.insert("tags".into(), json!(tags));
    }
    if !patch.add_tags.is_empty() {
        summary.insert("add_tags".into(), json!(patch.add_tags));
    }
    if !patch.remove_tags.is_empty() {
        summary.insert("remove_tags".into(), json!(patch.remove_tags));
    }
    Value::Object(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_are_recognized() {
        assert!(looks_like_group_id("S0614TZR7"));
        assert!(!looks_like_group_id("oncall"));
        assert!(!looks_like_group_id("Support"));
    }
}
