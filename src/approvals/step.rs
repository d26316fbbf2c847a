//! The approval step as a run executes it: open the request (resolve approvers, post
//! the message), wait, and once decided, update the messages in place, tell the
//! requester's thread and hand the decision to the next steps.

use serde_json::{Value, json};

use super::{Approver, RequestSpec, blocks};
use crate::actions::StepError;
use crate::conversations::Conversation;
use crate::db::approvals::{ApprovalRecord, NewApproval, Posted};
use crate::db::{self, runs::ClaimedRun};
use crate::runs::RunEnv;
use crate::slack::client::object;

/// Most people a request is sent to directly.
const MAX_DIRECT: usize = 50;

/// Where a request stands for its step.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Open: the run waits.
    Waiting {
        /// The request.
        approval_id: i64,
        /// When it expires.
        deadline: Option<i64>,
    },
    /// Decided (or expired): the step's output.
    Decided(Value),
}

/// Which request of which step.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// The run.
    pub run: &'a ClaimedRun,
    /// Its step.
    pub step_index: usize,
    /// 0 for the built-in step; the nth request of a script.
    pub call_index: i64,
    /// The run's conversation.
    pub conversation: Option<&'a Conversation>,
}

/// Opens the request of `slot` or, if it exists, reports where it stands.
pub async fn request(
    env: &RunEnv,
    slot: Slot<'_>,
    spec: &RequestSpec,
) -> Result<Progress, StepError> {
    let existing = {
        let mut conn = env.db.writer().acquire().await.map_err(db_error)?;
        db::approvals::find(
            &mut conn,
            slot.run.id,
            slot.step_index as i64,
            slot.call_index,
        )
        .await
        .map_err(db_error)?
    };
    let record = match existing {
        Some(r) if r.status == "pending" => {
            return Ok(Progress::Waiting {
                approval_id: r.id,
                deadline: r.deadline,
            });
        }
        Some(r) if r.status != "opening" => {
            return finalize(env, r, slot.conversation)
                .await
                .map(Progress::Decided);
        }
        // Opening: a crash came between creating the request and posting it.
        Some(r) => r,
        None => create(env, slot, spec).await?,
    };
    let posted = post_request(env, &record, spec).await?;
    let mut conn = env.db.writer().acquire().await.map_err(db_error)?;
    db::approvals::open(&mut conn, record.id, &posted)
        .await
        .map_err(db_error)?;
    tracing::info!(
        approval.id = record.id,
        approvers = record.approvers.len(),
        messages = posted.len(),
        "approval requested; the run waits"
    );
    Ok(Progress::Waiting {
        approval_id: record.id,
        deadline: record.deadline,
    })
}

async fn create(
    env: &RunEnv,
    slot: Slot<'_>,
    spec: &RequestSpec,
) -> Result<ApprovalRecord, StepError> {
    let approvers = resolve_approvers(env, &spec.approvers).await?;
    if approvers.is_empty() {
        return Err(StepError::Permanent(
            "the approval has no approvers: the groups and channels named are empty".into(),
        ));
    }
    let now = env.clock.now_ms();
    let in_ms = |d: std::time::Duration| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
    let requester =
        slot.conversation
            .map(|c| c.requester.as_str())
            .or(slot.run.trigger.actor.as_deref());
    let spec_json = serde_json::to_value(&spec.approvers).unwrap_or(Value::Null);
    let new = NewApproval {
        run_id: slot.run.id,
        step_index: slot.step_index as i64,
        call_index: slot.call_index,
        automation_id: &slot.run.automation_id,
        team_id: &slot.run.trigger.team_id,
        conversation_id: slot.conversation.map(|c| c.id),
        requester,
        title: &spec.title,
        body: &spec.text,
        approvers: &approvers,
        approver_spec: &spec_json,
        quorum: i64::from(spec.quorum.max(1)),
        allow_self: spec.allow_self_approval,
        first_deny_wins: spec.first_deny_wins,
        reason_mode: spec.reason.as_str(),
        deadline: spec.expires_in.map(in_ms),
        remind_at: spec.remind_after.map(in_ms),
        now_ms: now,
    };
    let mut conn = env.db.writer().acquire().await.map_err(db_error)?;
    let id = db::approvals::insert_opening(&mut conn, &new)
        .await
        .map_err(db_error)?;
    db::approvals::find(
        &mut conn,
        slot.run.id,
        slot.step_index as i64,
        slot.call_index,
    )
    .await
    .map_err(db_error)?
    .filter(|r| r.id == id)
    .ok_or_else(|| StepError::Transient {
        reason: "the approval request vanished while it was being created".into(),
        retry_after: None,
    })
}

/// The user ids behind the approvers as written.
async fn resolve_approvers(env: &RunEnv, approvers: &[Approver]) -> Result<Vec<String>, StepError> {
    let mut users: Vec<String> = Vec::new();
    for approver in approvers {
        let found: Vec<String> = match approver {
            Approver::User(id) => vec![id.clone()],
            Approver::Group(group) => {
                let id = env.groups.resolve(&env.slack, group).await?;
                let body = env
                    .slack
                    .call("usergroups.users.list", &object(json!({ "usergroup": id })))
                    .await?;
                strings(body.get("users"))
            }
            Approver::Channel(channel) => {
                let body = env
                    .slack
                    .call(
                        "conversations.members",
                        &object(json!({ "channel": channel, "limit": 1000 })),
                    )
                    .await?;
                strings(body.get("members"))
            }
        };
        for user in found {
            if !users.contains(&user) {
                users.push(user);
            }
        }
    }
    Ok(users)
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

/// Posts the request: in the given channel; else to each approver channel and, by DM,
/// to each approver named directly or through a group.
async fn post_request(
    env: &RunEnv,
    record: &ApprovalRecord,
    spec: &RequestSpec,
) -> Result<Vec<Posted>, StepError> {
    let (text, blocks) = blocks::request(record, &[]);
    let mut destinations: Vec<String> = Vec::new();
    match &spec.channel {
        Some(channel) => destinations.push(channel.clone()),
        None => {
            for approver in &spec.approvers {
                if let Approver::Channel(c) = approver {
                    destinations.push(c.clone());
                }
            }
            let only_channels = spec
                .approvers
                .iter()
                .all(|a| matches!(a, Approver::Channel(_)));
            if !only_channels {
                for user in record.approvers.iter().take(MAX_DIRECT) {
                    let in_channel = spec
                        .approvers
                        .iter()
                        .any(|a| matches!(a, Approver::Channel(_)));
                    // Members of an approver channel see the request there.
                    if in_channel && !is_named_directly(spec, user) {
                        continue;
                    }
                    destinations.push(env.slack.open_dm(user).await?);
                }
            }
        }
    }
    let mut posted = Vec::with_capacity(destinations.len());
    for channel in destinations {
        let args = object(json!({ "channel": channel, "text": text, "blocks": blocks }));
        let body = env.slack.call("chat.postMessage", &args).await?;
        posted.push(Posted {
            channel: body
                .get("channel")
                .and_then(Value::as_str)
                .unwrap_or(&channel)
                .to_owned(),
            ts: body
                .get("ts")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(posted)
}

fn is_named_directly(spec: &RequestSpec, user: &str) -> bool {
    spec.approvers
        .iter()
        .any(|a| matches!(a, Approver::User(u) if u == user))
}

/// Updates the messages of a decided request, tells the requester's thread (once), and
/// returns the decision as the step's output.
pub async fn finalize(
    env: &RunEnv,
    record: ApprovalRecord,
    conversation: Option<&Conversation>,
) -> Result<Value, StepError> {
    let votes = {
        let mut conn = env.db.writer().acquire().await.map_err(db_error)?;
        db::approvals::votes(&mut conn, record.id)
            .await
            .map_err(db_error)?
    };
    if record.finalized_at.is_none() {
        let (text, blocks) = blocks::decided(&record, &votes);
        for message in &record.messages {
            let args = object(
                json!({ "channel": message.channel, "ts": message.ts, "text": text, "blocks": blocks }),
            );
            match env.slack.call("chat.update", &args).await {
                Ok(_) => {}
                // A deleted request message is no reason to hold the run.
                Err(e) if e.code() == Some("message_not_found") => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(c) = conversation {
            let line = format!("{} — {}", record.title, blocks::outcome(&record));
            env.slack
                .post_message(&c.channel, &line, Some(&c.thread_ts))
                .await?;
        }
        let mut conn = env.db.writer().acquire().await.map_err(db_error)?;
        db::approvals::mark_finalized(&mut conn, record.id, env.clock.now_ms())
            .await
            .map_err(db_error)?;
    }
    tracing::info!(approval.id = record.id, decision = %record.status, "approval decided; the run continues");
    Ok(output(&record, &votes))
}

/// The step's output: the decision (see [`ApprovalDecision`]) and the votes.
pub fn output(record: &ApprovalRecord, votes: &[crate::db::approvals::Vote]) -> Value {
    let mut output = serde_json::to_value(super::decision(record)).unwrap_or(Value::Null);
    output["votes"] = votes
        .iter()
        .map(|v| json!({ "user": v.user_id, "decision": v.decision, "reason": v.reason }))
        .collect();
    output
}

fn db_error(e: sqlx::Error) -> StepError {
    StepError::Transient {
        reason: format!("database: {e}"),
        retry_after: None,
    }
}
