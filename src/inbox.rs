//! What a delivery from Slack does once its door has vouched for it (HTTP: a valid
//! signature; Socket Mode: the WebSocket switchboard opened with its app token).
//! Events go to the ingest, clicks and dialogs to the approvals or the manual-run
//! desk, `/switchboard` to the manual-run desk. Both doors decode, call these and
//! answer with what they return, so a delivery means the same whichever way it came.

use serde_json::{Value, json};

use crate::approvals::blocks;
use crate::approvals::desk::ApprovalDesk;
use crate::edits::EditDesk;
use crate::home::HomeDesk;
use crate::ingest::{IngestOutcome, Ingestor};
use crate::manual::home::HOME_RUN;
use crate::manual::{ManualDesk, modal};
use crate::slack::commands::SlashCommand;
use crate::slack::events::EventsPayload;
use crate::slack::interactions::Interaction;
use crate::trigger::Activity;

/// The delivery was not recorded (the database did not commit it); the door must not
/// acknowledge it, so that Slack delivers it again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotRecorded(pub String);

/// Where Slack's deliveries go.
#[derive(Debug, Clone)]
pub struct SlackInbox {
    ingestor: Ingestor,
    approvals: ApprovalDesk,
    manual: ManualDesk,
    edits: EditDesk,
    home: HomeDesk,
}

impl SlackInbox {
    /// An inbox handing over to these.
    pub fn new(
        ingestor: Ingestor,
        approvals: ApprovalDesk,
        manual: ManualDesk,
        edits: EditDesk,
        home: HomeDesk,
    ) -> Self {
        Self {
            ingestor,
            approvals,
            manual,
            edits,
            home,
        }
    }

    /// Records an Events API payload durably; returns the answer for Slack (after the
    /// commit).
    pub async fn event(&self, payload: EventsPayload) -> Result<Value, NotRecorded> {
        match payload {
            EventsPayload::UrlVerification { challenge } => {
                tracing::info!("answered Slack's url_verification");
                Ok(json!({ "challenge": challenge }))
            }
            EventsPayload::Event(mut event) => {
                let command = self.manual.take_message_command(&mut event);
                let refused = self.edits.screen(&mut event).await;
                let home = match &event.activity {
                    Activity::HomeOpened { user } => Some(user.clone()),
                    _ => None,
                };
                let outcome = self
                    .ingestor
                    .ingest(event)
                    .await
                    .map_err(|e| NotRecorded(e.to_string()))?;
                // A command typed to the bot is answered once, not again for Slack's retries.
                if let Some(command) =
                    command.filter(|_| !matches!(outcome, IngestOutcome::Duplicate))
                {
                    self.manual
                        .spawn_message_command(command, &outcome, refused);
                }
                if let Some(user) = home.filter(|_| !matches!(outcome, IngestOutcome::Duplicate)) {
                    self.home.opened(&user);
                }
                Ok(json!({ "ok": true }))
            }
            EventsPayload::AppRateLimited { team_id } => {
                tracing::warn!(team.id = %team_id, "Slack paused event delivery for a minute (app_rate_limited): answers were too slow or too many failed");
                Ok(json!({ "ok": true }))
            }
            EventsPayload::Unknown { envelope_type } => {
                tracing::info!(
                    envelope_type,
                    "ignored an Events API payload of unknown type"
                );
                Ok(json!({ "ok": true }))
            }
        }
    }

    /// Hands a click, shortcut or dialog submission to the desk it belongs to (approvals,
    /// manual runs, edits); returns the answer Slack shows (field errors of a form), if
    /// any.
    pub async fn interaction(
        &self,
        interaction: Interaction,
    ) -> Result<Option<Value>, NotRecorded> {
        if EditDesk::takes(&interaction) {
            return self.edits.handle(interaction).await;
        }
        let manual = match &interaction {
            Interaction::MessageShortcut { callback_id, .. } => callback_id == modal::SHORTCUT,
            Interaction::Submission { callback_id, .. } => modal::is_manual(callback_id),
            Interaction::Button { action_id, .. } => action_id == HOME_RUN,
            _ => false,
        };
        // A decision or a run started from the Home tab shows there.
        let refresh = match &interaction {
            Interaction::Button {
                action_id, user, ..
            } if [blocks::APPROVE, blocks::DENY, HOME_RUN].contains(&action_id.as_str()) => {
                Some(user.clone())
            }
            Interaction::Submission {
                callback_id, user, ..
            } if callback_id == blocks::REASON_DIALOG => Some(user.clone()),
            _ => None,
        };
        let answer = if manual {
            self.manual.handle(interaction).await
        } else {
            self.approvals.handle(interaction).await
        }
        .map_err(|e| NotRecorded(format!("{e:#}")))?;
        if let Some(user) = refresh {
            self.home.refresh(&user);
        }
        Ok(answer)
    }

    /// Takes `/switchboard …`; returns the ephemeral answer (a run is queued, or a form
    /// opened, before it).
    pub async fn command(&self, command: SlashCommand) -> Value {
        tracing::info!(user = %command.user, text = %command.text, "slash command");
        self.manual.command(command).await
    }
}
