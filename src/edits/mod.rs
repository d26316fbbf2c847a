//! Agents edit a conversation's fields from Slack with the "Edit conversation" message
//! shortcut: a form with the fields as they are; its submission becomes the same
//! [`Activity::Edit`] as a thread command (`@switchboard resolve`) and goes through the
//! ingest like one: recorded before the form closes, once per submission, with the
//! agent as actor and a `conversation_updated` for the automations.

pub mod form;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::EditsConfig;
use crate::db;
use crate::inbox::NotRecorded;
use crate::ingest::{IngestOutcome, Ingestor};
use crate::principal::{self, Principal};
use crate::runs::RunEnv;
use crate::runs::notify::tell;
use crate::slack::client::object;
use crate::slack::interactions::Interaction;
use crate::slack::kit;
use crate::trigger::{Activity, InboundEvent};

/// How long asking Slack whether someone is an editor may take: the answer to Slack
/// waits for it.
const CHECK_DEADLINE: Duration = Duration::from_millis(1500);

/// Takes the shortcut and its form, and says who may edit.
#[derive(Debug, Clone)]
pub struct EditDesk {
    env: Arc<RunEnv>,
    ingestor: Ingestor,
    config: EditsConfig,
}

impl EditDesk {
    /// A desk that hands edits to `ingestor`.
    pub fn new(env: Arc<RunEnv>, ingestor: Ingestor, config: EditsConfig) -> Self {
        Self {
            env,
            ingestor,
            config,
        }
    }

    /// Whether `user` may edit conversations: anyone who may post in a support
    /// channel's thread, unless `SWITCHBOARD_EDITORS` names who may; otherwise what to
    /// tell them.
    pub async fn may_edit(&self, user: &str) -> Result<(), String> {
        let editors = &self.config.editors;
        if editors.is_empty() || editors.contains(&Principal::User(user.to_owned())) {
            return Ok(());
        }
        let members = principal::members(&self.env.slack, &self.env.groups, editors);
        match tokio::time::timeout(CHECK_DEADLINE, members).await {
            Ok(Ok(members)) if members.iter().any(|m| m == user) => Ok(()),
            Ok(Ok(_)) => Err("You may not edit conversations: ask an admin to add you to `SWITCHBOARD_EDITORS`.".into()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not check who may edit conversations");
                Err("switchboard could not check your permissions with Slack; try again in a moment.".into())
            }
            Err(_) => Err("switchboard could not check your permissions with Slack in time; try again in a moment.".into()),
        }
    }

    /// Turns an edit by someone who may not edit into an event that changes nothing;
    /// returns what to tell them.
    pub async fn screen(&self, event: &mut InboundEvent) -> Option<String> {
        let Activity::Edit { user, .. } = &event.activity else {
            return None;
        };
        let refusal = self.may_edit(user).await.err()?;
        tracing::info!(user = %user, "edit refused");
        event.activity = Activity::Ignored {
            event_type: "edit refused".into(),
        };
        Some(refusal)
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
                if let Err(refusal) = self.may_edit(&user).await {
                    return Ok(Some(status_error(refusal)));
                }
                // The view's id names the edit: without one, submissions could not be
                // told apart.
                let target =
                    form::Target::decode(&private_metadata).filter(|_| !view_id.is_empty());
                let Some(target) = target else {
                    return Ok(Some(status_error(
                        "This form is out of date: close it and use the shortcut again.".into(),
                    )));
                };
                let patch = match form::submitted(&values) {
                    Ok(patch) => patch,
                    Err(problems) => {
                        return Ok(Some(kit::form_errors(problems)));
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
        if let Err(refusal) = self.may_edit(user).await {
            return tell(&self.env, user, Some(channel), None, &refusal).await;
        }
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

/// A problem with the whole form, shown on its first field.
fn status_error(message: String) -> Value {
    kit::form_errors([("status".to_owned(), message)])
}
