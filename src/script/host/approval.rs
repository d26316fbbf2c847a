//! `approvals.request` for scripts: open the request (or find it decided), and when it
//! must be waited for, seal the journal and suspend the script.

use serde::Deserialize;
use serde_json::Value;

use super::{Args, HostError, ScriptHost, lock, type_error};
use crate::actions::{StepError, Wait};
use crate::approvals::step::{self, Progress, Slot};
use crate::approvals::{Principal, ReasonMode, RequestSpec, Rules};
use crate::automations::duration;
use crate::db;
use crate::script::journal;
use crate::script::pool::Halt;

const NAME: &str = "approvals.request";

/// The request as a script writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestArgs {
    approvers: Vec<String>,
    title: String,
    text: Option<String>,
    channel: Option<String>,
    reason: Option<ReasonMode>,
    quorum: Option<u32>,
    allow_self_approval: Option<bool>,
    first_deny_wins: Option<bool>,
    expires_in: Option<String>,
    remind_after: Option<String>,
}

impl ScriptHost<'_> {
    /// The `index`th approval request of this step.
    /// `position` is the call's place in the journal.
    pub(super) async fn request_approval(
        &self,
        args: &Value,
        index: i64,
        position: Option<usize>,
    ) -> Result<Value, HostError> {
        let spec = self.request_spec(args)?;
        let conversation = self.current_conversation();
        let slot = Slot {
            run: self.run,
            step_index: self.step,
            call_index: index,
            conversation: conversation.as_ref(),
        };
        match step::request(self.env, slot, &spec)
            .await
            .map_err(step_failure)?
        {
            Progress::Decided(decision) => Ok(decision),
            Progress::Waiting {
                approval_id,
                deadline,
            } => {
                self.save_journal(position.unwrap_or_default()).await?;
                *lock(&self.wait) = Some(Wait {
                    waiting_for: format!("approval {approval_id}"),
                    deadline,
                    approval: Some(approval_id),
                });
                self.stop_after_this_call(Halt::Suspend);
                Ok(Value::Null)
            }
        }
    }

    fn request_spec(&self, args: &Value) -> Result<RequestSpec, HostError> {
        let args = Args {
            function: NAME,
            value: args.clone(),
        };
        let request: RequestArgs = args.parse()?;
        let approvers = request
            .approvers
            .iter()
            .map(|a| a.parse::<Principal>().map_err(|e| type_error(NAME, &e)))
            .collect::<Result<Vec<_>, _>>()?;
        if approvers.is_empty() {
            return Err(type_error(
                NAME,
                "`approvers` must name at least one approver",
            ));
        }
        let quorum = request.quorum.unwrap_or(1);
        if quorum == 0 {
            return Err(type_error(NAME, "`quorum` must be at least 1"));
        }
        let parse = |text: Option<&str>| {
            text.map(|t| duration::parse(t).map_err(|e| type_error(NAME, &e)))
                .transpose()
        };
        let text = match (request.text, self.current_conversation()) {
            (Some(text), _) => text,
            (None, Some(c)) => format!(
                "> {}\n<{}|Open the conversation> in <#{}>",
                c.title, c.permalink, c.channel
            ),
            (None, None) => String::new(),
        };
        Ok(RequestSpec {
            approvers,
            channel: request.channel,
            title: request.title,
            text,
            rules: Rules {
                reason: request.reason.unwrap_or(ReasonMode::None),
                quorum,
                allow_self_approval: request.allow_self_approval.unwrap_or(false),
                first_deny_wins: request.first_deny_wins.unwrap_or(true),
                expires_in: parse(request.expires_in.as_deref())?,
                remind_after: parse(request.remind_after.as_deref())?,
            },
        })
    }

    /// Seals and stores the calls made so far, up to the one waiting at `position`, for
    /// the script's next run.
    pub(super) async fn save_journal(&self, position: usize) -> Result<(), HostError> {
        let entries = lock(&self.journal).up_to(position);
        let bytes = serde_json::to_vec(&entries).unwrap_or_default();
        let aad = journal::associated_data(self.run.id, self.step);
        let unavailable = |what: String| {
            tracing::error!(
                error = what,
                "could not save the journal of a waiting script"
            );
            HostError::new(
                "Error",
                "the script's progress could not be saved before it waits; it will be retried",
                true,
            )
        };
        let sealed = self
            .env
            .secrets
            .seal(&bytes, &aad)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut conn = self
            .env
            .db
            .write()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        db::script_journals::save(
            &mut conn,
            self.run.id,
            self.step as i64,
            &sealed,
            self.env.clock.now_ms(),
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
        tracing::info!(
            calls = entries.len(),
            "script suspended until what it waits for"
        );
        Ok(())
    }
}

fn step_failure(e: StepError) -> HostError {
    match e {
        StepError::Transient { reason, .. } => {
            HostError::new("Error", format!("{NAME}: {reason}"), true)
        }
        StepError::Permanent(reason) => HostError::new("Error", format!("{NAME}: {reason}"), false),
    }
}
