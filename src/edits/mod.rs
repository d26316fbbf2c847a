//! Agents edit a conversation's fields from Slack with the "Edit conversation" message
//! shortcut: a form with the fields as they are; its submission becomes the same
//! [`Activity::Edit`] as a thread command (`@switchboard resolve`) and goes through the
//! ingest like one: recorded before the form closes, once per submission, with the
//! agent as actor and a `conversation_updated` for the automations.

pub mod form;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::db;
use crate::inbox::NotRecorded;
use crate::ingest::{IngestOutcome, Ingestor};
use crate::runs::RunEnv;
use crate::runs::notify::tell;
use crate::slack::client::object;
use crate::slack::interactions::Interaction;
use crate::trigger::{Activity, InboundEvent};

/// Takes the shortcut and its form.
#[derive(Debug, Clone)]
pub struct EditDesk {
    env: Arc<RunEnv>,
    ingestor: Ingestor,
}

impl EditDesk {
    /// A desk that hands edits to `ingestor`.
    pub fn new(env: Arc<RunEnv>, ingestor: Ingestor) -> Self {
        Self { env, ingestor }
    }

    /// Whether `interaction` is the shortcut or a submission of its form.
    pub fn takes(interaction: &Interaction) -> bool {
        match interaction {
            Interaction::MessageShortcut { callback_id, .. } => callback_id == form::SHORTCUT,
            Interaction::Submission { callback_id, .. } => callback_id == form::FORM,
            _ => false,
        }
    }

    /// Opens the form (after the answer: Slack's trigger id lives 3 s), or records a
    /// submission; returns the answer that shows a submission's problems.
    pub async fn handle(&self, interaction: Interaction) -> Result<Option<Value>, NotRecorded> {
        match interaction {
            Interaction::MessageShortcut {
                user,
                trigger_id,
                channel,
                message_ts,
                thread_ts,
                ..
            } => {
                let desk = self.clone();
                tokio::spawn(async move {
                    let thread = thread_ts.unwrap_or(message_ts);
                    desk.open(&user, &trigger_id, &channel, &thread).await;
                });
                Ok(None)
            }
            Interaction::Submission {
                view_id,
                private_metadata,
                user,
                values,
                ..
            } => {
                let Some(target) = form::Target::decode(&private_metadata) else {
                    return Ok(Some(
                        json!({ "response_action": "errors", "errors": { "status": "This form is out of date: close it and use the shortcut again." } }),
                    ));
                };
                let patch = match form::submitted(&values) {
                    Ok(patch) => patch,
                    Err(problems) => {
                        return Ok(Some(
                            json!({ "response_action": "errors", "errors": problems }),
                        ));
                    }
                };
                let event = InboundEvent {
                    // A view is submitted once (it closes): its id names the edit, so a
                    // redelivered submission changes nothing twice.
                    event_id: format!("edit:{view_id}"),
                    team_id: target.team_id.clone(),
                    activity: Activity::Edit {
                        user: user.clone(),
                        channel: target.channel.clone(),
                        thread_ts: target.thread_ts.clone(),
                        patch: Box::new(patch),
                    },
                };
                let outcome = self
                    .ingestor
                    .ingest(event)
                    .await
                    .map_err(|e| NotRecorded(e.to_string()))?;
                tracing::info!(
                    user,
                    conversation = target.conversation,
                    "conversation edited with the form"
                );
                if let IngestOutcome::Recorded { .. } = outcome {
                    let desk = self.clone();
                    tokio::spawn(async move {
                        let text = format!(
                            ":white_check_mark: Conversation #{} saved.",
                            target.conversation
                        );
                        tell(
                            &desk.env,
                            &user,
                            Some(&target.channel),
                            Some(&target.thread_ts),
                            &text,
                        )
                        .await;
                    });
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    async fn open(&self, user: &str, trigger_id: &str, channel: &str, thread_ts: &str) {
        let found = match self.env.db.reader().acquire().await {
            Ok(mut conn) => db::conversations::find_by_message(&mut conn, channel, thread_ts).await,
            Err(e) => Err(e),
        };
        let conversation = match found {
            Ok(Some(c)) => c,
            Ok(None) => {
                let text = "This message is not part of a conversation switchboard tracks, so there is nothing to edit.";
                return tell(&self.env, user, Some(channel), None, text).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not look up the conversation to edit");
                let text = ":warning: switchboard's database is busy; try again in a moment.";
                return tell(&self.env, user, Some(channel), None, text).await;
            }
        };
        let args = object(json!({ "trigger_id": trigger_id, "view": form::view(&conversation) }));
        if let Err(e) = self.env.slack.call("views.open", &args).await {
            tracing::warn!(error = %e, "could not open the edit form");
            let text = format!(":warning: Slack did not open the form ({e}); try again.");
            tell(&self.env, user, Some(channel), None, &text).await;
        }
    }
}
