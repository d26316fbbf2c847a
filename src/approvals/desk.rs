//! Clicks on approval buttons and reason dialogs, as `/slack/interactions` hands them
//! over. A click that counts is recorded (vote, decision, resumed run, queued
//! `approval_response` runs) in one transaction before Slack gets its answer; what the
//! clicker is told (ephemeral notes, dialogs, progress on the message) goes out after.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Verdict, blocks, judge};
use crate::db::{self, approvals::ApprovalRecord};
use crate::runs::RunEnv;
use crate::slack::client::object;
use crate::slack::interactions::Interaction;

/// Takes decisions on approval requests.
#[derive(Debug, Clone)]
pub struct ApprovalDesk {
    env: Arc<RunEnv>,
}

/// A click or dialog to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Click {
    approval_id: i64,
    user: String,
    approve: bool,
    channel: Option<String>,
}

impl ApprovalDesk {
    /// A desk over the run queue's environment.
    pub fn new(env: Arc<RunEnv>) -> Self {
        Self { env }
    }

    /// Handles a verified interaction; returns the body of the answer to Slack (`None`:
    /// an empty 200). Only database failures are errors: Slack will show the clicker
    /// that the click failed, and nothing was recorded.
    pub async fn handle(&self, interaction: Interaction) -> anyhow::Result<Option<Value>> {
        match interaction {
            Interaction::Button {
                action_id,
                value,
                user,
                trigger_id,
                channel,
            } => {
                let approve = match action_id.as_str() {
                    blocks::APPROVE => true,
                    blocks::DENY => false,
                    other => {
                        tracing::debug!(
                            action_id = other,
                            "ignored a button that is not an approval's"
                        );
                        return Ok(None);
                    }
                };
                let Ok(approval_id) = value.parse::<i64>() else {
                    tracing::warn!(value, "an approval button without a request id; ignored");
                    return Ok(None);
                };
                let click = Click {
                    approval_id,
                    user,
                    approve,
                    channel,
                };
                self.button(click, trigger_id).await.map(|()| None)
            }
            Interaction::Submission {
                callback_id,
                private_metadata,
                user,
                values,
                ..
            } if callback_id == blocks::REASON_DIALOG => {
                let Some((id, decision)) = private_metadata.split_once(':') else {
                    tracing::warn!(
                        private_metadata,
                        "a reason dialog without its request; ignored"
                    );
                    return Ok(None);
                };
                let Ok(approval_id) = id.parse::<i64>() else {
                    return Ok(None);
                };
                let click = Click {
                    approval_id,
                    user,
                    approve: decision == "approve",
                    channel: None,
                };
                let reason = values
                    .get(blocks::REASON_INPUT)
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                self.submission(click, reason).await
            }
            Interaction::Submission { callback_id, .. } => {
                tracing::debug!(callback_id, "ignored a dialog that is not switchboard's");
                Ok(None)
            }
            other => {
                tracing::debug!(interaction = ?other, "ignored an interaction switchboard does not use");
                Ok(None)
            }
        }
    }

    async fn button(&self, click: Click, trigger_id: Option<String>) -> anyhow::Result<()> {
        let record = db::approvals::get(self.env.db.reader(), click.approval_id).await?;
        let asks_reason = record.as_ref().is_some_and(|r| r.reason_mode != "none");
        if let (true, Some(record)) = (asks_reason, record) {
            // The vote counts only once the dialog is submitted; refuse now what
            // would be refused then.
            let verdict = self.preview(&record, &click).await?;
            let desk = self.clone();
            tokio::spawn(async move {
                match (&verdict, trigger_id) {
                    (Verdict::Counted { .. } | Verdict::Decides { .. }, Some(trigger)) => {
                        let view = blocks::reason_dialog(&record, click.approve);
                        let args = object(json!({ "trigger_id": trigger, "view": view }));
                        if let Err(e) = desk.env.slack.call("views.open", &args).await {
                            tracing::warn!(error = %e, approval.id = record.id, "could not open the reason dialog");
                        }
                    }
                    _ => desk.tell(&click, &verdict, Some(&record)).await,
                }
            });
            return Ok(());
        }
        let (verdict, record) = self.record(&click, None).await?;
        let desk = self.clone();
        tokio::spawn(async move { desk.follow_up(&click, &verdict, record.as_ref()).await });
        Ok(())
    }

    async fn submission(
        &self,
        click: Click,
        reason: Option<String>,
    ) -> anyhow::Result<Option<Value>> {
        let required = db::approvals::get(self.env.db.reader(), click.approval_id)
            .await?
            .is_some_and(|r| r.reason_mode == "required");
        if required && reason.is_none() {
            return Ok(Some(reason_error("Give a reason for your decision.")));
        }
        let (verdict, record) = self.record(&click, reason.as_deref()).await?;
        match verdict {
            Verdict::Counted { .. } | Verdict::Decides { .. } => {
                let desk = self.clone();
                tokio::spawn(
                    async move { desk.follow_up(&click, &verdict, record.as_ref()).await },
                );
                Ok(None)
            }
            // The dialog is the clicker's view: say there why nothing changed.
            refused => Ok(Some(reason_error(&refusal(&refused, record.as_ref())))),
        }
    }

    /// What a click would do now, without recording it.
    async fn preview(&self, record: &ApprovalRecord, click: &Click) -> anyhow::Result<Verdict> {
        let mut conn = self.env.db.reader().acquire().await?;
        let votes = db::approvals::votes(&mut conn, record.id).await?;
        Ok(judge(record, &votes, &click.user, click.approve))
    }

    /// Judges and records a click in one transaction.
    async fn record(
        &self,
        click: &Click,
        reason: Option<&str>,
    ) -> anyhow::Result<(Verdict, Option<ApprovalRecord>)> {
        let env = &self.env;
        let now = env.clock.now_ms();
        let mut tx = env.db.begin().await?;
        let Some(mut record) =
            db::approvals::get_for_decision(&mut tx, env.db.backend(), click.approval_id).await?
        else {
            return Ok((
                Verdict::Closed {
                    status: "unknown".into(),
                },
                None,
            ));
        };
        let votes = db::approvals::votes(&mut tx, record.id).await?;
        let mut verdict = judge(&record, &votes, &click.user, click.approve);
        let mut wake = false;
        if matches!(verdict, Verdict::Counted { .. } | Verdict::Decides { .. }) {
            let decision = if click.approve { "approve" } else { "deny" };
            if !db::approvals::insert_vote(&mut tx, record.id, &click.user, decision, reason, now)
                .await?
            {
                verdict = Verdict::AlreadyVoted;
            } else if let Verdict::Decides { status } = verdict {
                db::approvals::decide(&mut tx, record.id, status, Some(&click.user), reason, now)
                    .await?;
                record.status = status.to_owned();
                record.decided_by = Some(click.user.clone());
                record.decision_reason = reason.map(str::to_owned);
                record.decided_at = Some(now);
                wake = super::on_decided(env, &mut tx, &record).await?;
            }
        }
        tx.commit().await?;
        if wake {
            env.wake.notify_waiters();
        }
        tracing::info!(
            approval.id = record.id,
            user = %click.user,
            approve = click.approve,
            verdict = ?verdict,
            "approval click"
        );
        Ok((verdict, Some(record)))
    }

    /// After the answer to Slack: progress on the request's messages, or a note to the
    /// clicker. A decision needs nothing here: the resumed run updates the messages.
    async fn follow_up(&self, click: &Click, verdict: &Verdict, record: Option<&ApprovalRecord>) {
        match (verdict, record) {
            (Verdict::Decides { .. }, _) => {}
            (Verdict::Counted { approvals }, Some(record)) => {
                self.show_progress(record).await;
                let note = format!(
                    "Your vote is counted ({approvals} of {} approvals needed).",
                    record.quorum
                );
                self.ephemeral(click, &note).await;
            }
            _ => self.tell(click, verdict, record).await,
        }
    }

    async fn show_progress(&self, record: &ApprovalRecord) {
        let votes = match self.env.db.reader().acquire().await {
            Ok(mut conn) => db::approvals::votes(&mut conn, record.id)
                .await
                .unwrap_or_default(),
            Err(_) => return,
        };
        let (text, blocks) = blocks::request(record, &votes);
        for message in &record.messages {
            if let Err(e) = self.env.slack.update_message(message, &text, &blocks).await {
                tracing::warn!(error = %e, approval.id = record.id, "could not show the votes on the request");
            }
        }
    }

    /// Tells the clicker why their click changed nothing.
    async fn tell(&self, click: &Click, verdict: &Verdict, record: Option<&ApprovalRecord>) {
        self.ephemeral(click, &refusal(verdict, record)).await;
    }

    async fn ephemeral(&self, click: &Click, text: &str) {
        let result = match &click.channel {
            Some(channel) => {
                let args = object(json!({ "channel": channel, "user": click.user, "text": text }));
                self.env.slack.call("chat.postEphemeral", &args).await
            }
            None => match self.env.slack.open_dm(&click.user).await {
                Ok(dm) => self
                    .env
                    .slack
                    .post_message(&dm, text, None)
                    .await
                    .map(|_| Value::Null),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, user = %click.user, "could not tell the clicker");
        }
    }
}

/// Why a click changed nothing, for the clicker.
fn refusal(verdict: &Verdict, record: Option<&ApprovalRecord>) -> String {
    match verdict {
        Verdict::NotAnApprover => {
            "You are not an approver for this request, so your click changed nothing.".into()
        }
        Verdict::OwnRequest => {
            "You asked for this yourself, so you cannot approve it: another approver must decide."
                .into()
        }
        Verdict::AlreadyVoted => {
            "Your vote was already counted; the request waits for the other approvers.".into()
        }
        Verdict::Closed { status } => match (status.as_str(), record) {
            ("opening", _) => "This request is still being sent; try again in a moment.".into(),
            ("unknown", _) | (_, None) => {
                "switchboard does not know this request any more; nothing changed.".into()
            }
            (_, Some(record)) => format!(
                "This request is already closed ({}), so your click changed nothing.",
                blocks::outcome(record)
            ),
        },
        Verdict::Counted { .. } | Verdict::Decides { .. } => String::new(),
    }
}

fn reason_error(message: &str) -> Value {
    crate::slack::kit::form_errors([(blocks::REASON_INPUT.to_owned(), message.to_owned())])
}
