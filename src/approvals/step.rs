//! The approval step as a run executes it: open the request (resolve approvers, post
//! the message), wait, and once decided, update the messages in place, tell the
//! requester's thread and hand the decision to the next steps.

use serde_json::{Value, json};

use super::{Principal, RequestSpec, blocks};
use crate::actions::StepError;
use crate::conversations::Conversation;
use crate::db::approvals::{ApprovalRecord, NewApproval, Posted};
use crate::db::{self, runs::ClaimedRun};
use crate::principal;
use crate::runs::RunEnv;

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
    let record = match find(env, slot).await? {
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
    let mut conn = env.db.write().await.map_err(db_error)?;
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
    let approvers = principal::members(&env.slack, &env.groups, &spec.approvers).await?;
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
        quorum: i64::from(spec.rules.quorum.max(1)),
        allow_self: spec.rules.allow_self_approval,
        first_deny_wins: spec.rules.first_deny_wins,
        reason_mode: spec.rules.reason.as_str(),
        deadline: spec.rules.expires_in.map(in_ms),
        remind_at: spec.rules.remind_after.map(in_ms),
        now_ms: now,
    };
    let eligible = approvers
        .iter()
        .filter(|a| spec.rules.allow_self_approval || requester != Some(a.as_str()))
        .count();
    if eligible < spec.rules.quorum as usize {
        return Err(StepError::Permanent(format!(
            "the approval needs {} approvals but only {eligible} of its approvers may approve (the requester may not approve their own request unless allow_self_approval is set)",
            spec.rules.quorum
        )));
    }
    let id = {
        let mut conn = env.db.write().await.map_err(db_error)?;
        db::approvals::insert_opening(&mut conn, &new)
            .await
            .map_err(db_error)?
    };
    find(env, slot)
        .await?
        .filter(|r| r.id == id)
        .ok_or_else(|| StepError::Transient {
            reason: "the approval request vanished while it was being created".into(),
            retry_after: None,
        })
}

/// The request of `slot`, if it has one (read from the writer: it must see the
/// latest decision).
async fn find(env: &RunEnv, slot: Slot<'_>) -> Result<Option<ApprovalRecord>, StepError> {
    let mut conn = env.db.write().await.map_err(db_error)?;
    let (run, step) = (slot.run.id, slot.step_index as i64);
    db::approvals::find(&mut conn, run, step, slot.call_index)
        .await
        .map_err(db_error)
}

/// Posts the request: in the given channel; else to each approver channel and, by DM,
/// to each approver named directly or through a group. Each message is recorded as it
/// is posted, so a retry after a failure part-way does not post the others twice.
async fn post_request(
    env: &RunEnv,
    record: &ApprovalRecord,
    spec: &RequestSpec,
) -> Result<Vec<Posted>, StepError> {
    let (text, blocks) = blocks::request(record, &[]);
    let mut posted = record.messages.clone();
    for destination in destinations(env, record, spec).await? {
        if posted.iter().any(|p| p.channel == destination) {
            continue;
        }
        posted.push(env.slack.post_blocks(&destination, &text, &blocks).await?);
        let mut conn = env.db.write().await.map_err(db_error)?;
        db::approvals::set_messages(&mut conn, record.id, &posted)
            .await
            .map_err(db_error)?;
    }
    Ok(posted)
}

/// Where the request goes: channel ids, and DM channels of approvers.
async fn destinations(
    env: &RunEnv,
    record: &ApprovalRecord,
    spec: &RequestSpec,
) -> Result<Vec<String>, StepError> {
    if let Some(channel) = &spec.channel {
        return Ok(vec![channel.clone()]);
    }
    let mut destinations: Vec<String> = spec
        .approvers
        .iter()
        .filter_map(|a| match a {
            Principal::Channel(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let channels = !destinations.is_empty();
    // Members of an approver channel see the request there; others get a DM.
    let direct: Vec<&String> = record
        .approvers
        .iter()
        .filter(|user| !channels || is_named_directly(spec, user))
        .collect();
    if direct.len() > MAX_DIRECT {
        tracing::warn!(
            approval.id = record.id,
            approvers = direct.len(),
            "too many approvers to DM; the first {MAX_DIRECT} get the request (all may decide)"
        );
    }
    for user in direct.into_iter().take(MAX_DIRECT) {
        destinations.push(env.slack.open_dm(user).await?);
    }
    Ok(destinations)
}

fn is_named_directly(spec: &RequestSpec, user: &str) -> bool {
    spec.approvers
        .iter()
        .any(|a| matches!(a, Principal::User(u) if u == user))
}

/// Updates the messages of a decided request, tells the requester's thread (once), and
/// returns the decision as the step's output.
pub async fn finalize(
    env: &RunEnv,
    record: ApprovalRecord,
    conversation: Option<&Conversation>,
) -> Result<Value, StepError> {
    let votes = {
        let mut conn = env.db.write().await.map_err(db_error)?;
        db::approvals::votes(&mut conn, record.id)
            .await
            .map_err(db_error)?
    };
    if record.finalized_at.is_none() {
        let (text, blocks) = blocks::decided(&record, &votes);
        for message in &record.messages {
            match env.slack.update_message(message, &text, &blocks).await {
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
        let mut conn = env.db.write().await.map_err(db_error)?;
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
