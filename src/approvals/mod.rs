//! Approvals: a step that asks people to decide, and a run that waits for them.
//!
//! A request (the `approval` action, or `approvals.request` in a script) resolves its
//! approvers to user ids, posts a Block Kit message with Approve / Deny buttons, and
//! parks the run (`waiting`): no worker, thread or sandbox is held. A click arrives at
//! `/slack/interactions`; [`desk::ApprovalDesk::click`] checks who may decide, records
//! the vote and, when it decides, puts the run back in the queue, all in one
//! transaction before the answer to Slack. The resumed step updates the messages in
//! place, tells the requester's thread, and continues with the decision. Deadlines and
//! reminders are kept by [`sweeper`].

pub mod audit;
pub mod blocks;
pub mod desk;
pub mod step;
pub mod sweeper;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::principal::Principal;

use sqlx::AnyConnection;

use crate::db::{self, approvals::ApprovalRecord, approvals::Vote};
use crate::dispatch::queue_runs;
use crate::runs::RunEnv;
use crate::trigger::{ApprovalDecision, Trigger, TriggerEvent};

/// Whether deciders give a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonMode {
    /// The buttons decide at once.
    None,
    /// A dialog asks for a reason, which may be left empty.
    Optional,
    /// A dialog asks for a reason, which must be given.
    Required,
}

impl ReasonMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// How a request is decided, and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Whether deciders give a reason.
    pub reason: ReasonMode,
    /// Approvals needed.
    pub quorum: u32,
    /// Whether the requester may approve their own request.
    pub allow_self_approval: bool,
    /// Whether one deny decides (else only when approval has become impossible).
    pub first_deny_wins: bool,
    /// Expiry.
    pub expires_in: Option<Duration>,
    /// When to remind the approvers.
    pub remind_after: Option<Duration>,
}

/// What to ask, with its text already rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Who may decide.
    pub approvers: Vec<Principal>,
    /// Where to post the request (else DMs to users and posts in approver channels).
    pub channel: Option<String>,
    /// Headline.
    pub title: String,
    /// Details (mrkdwn).
    pub text: String,
    /// How it is decided.
    pub rules: Rules,
}

/// What a click does, decided from the request and the votes before it (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The request is not open (yet, or any more): `status` says which.
    Closed {
        /// `opening`, `approved`, `denied` or `expired`.
        status: String,
    },
    /// The clicker may not decide.
    NotAnApprover,
    /// The requester tried to approve their own request.
    OwnRequest,
    /// The clicker already voted.
    AlreadyVoted,
    /// The vote counts; the request stays open.
    Counted {
        /// Approvals so far, this one included.
        approvals: usize,
    },
    /// The vote decides the request.
    Decides {
        /// `approved` or `denied`.
        status: &'static str,
    },
}

/// A decided request as the steps after it and `approval_response` automations see it.
pub fn decision(record: &ApprovalRecord) -> ApprovalDecision {
    ApprovalDecision {
        approval_id: record.id,
        automation_id: record.automation_id.clone(),
        title: record.title.clone(),
        decision: record.status.clone(),
        decided_by: record.decided_by.clone(),
        reason: record.decision_reason.clone(),
        requester: record.requester.clone(),
    }
}

/// What follows a decision, in the transaction that records it: the waiting run goes
/// back to the queue and `approval_response` automations are queued. Returns whether
/// anything was queued (then wake the workers after the commit).
pub async fn on_decided(
    env: &RunEnv,
    conn: &mut AnyConnection,
    record: &ApprovalRecord,
) -> anyhow::Result<bool> {
    let now = env.clock.now_ms();
    let resumed = db::runs::resume(conn, record.run_id, now).await?;
    let conversation = match record.conversation_id {
        Some(id) => db::conversations::get(conn, id).await?,
        None => None,
    };
    let trigger = Trigger {
        event_id: format!("approval:{}", record.id),
        team_id: record.team_id.clone(),
        actor: record.decided_by.clone(),
        conversation_id: record.conversation_id,
        depth: 1,
        event: TriggerEvent::ApprovalResponse {
            approval: decision(record),
        },
    };
    let automations = env.registry.current();
    let queued = queue_runs(
        conn,
        &automations,
        &trigger,
        conversation.as_ref(),
        env.config.max_depth,
        now,
    )
    .await?;
    tracing::info!(
        approval.id = record.id,
        decision = %record.status,
        run.id = record.run_id,
        resumed,
        approval_response_runs = ?queued,
        "approval decided"
    );
    Ok(resumed || !queued.is_empty())
}

/// How many approvers may approve: all, less the requester unless self-approval is
/// allowed.
pub fn eligible(request: &ApprovalRecord) -> usize {
    request
        .approvers
        .iter()
        .filter(|a| request.allow_self || request.requester.as_deref() != Some(a.as_str()))
        .count()
}

/// Judges a click of `user` deciding `approve` (or deny) on `request`, given the votes
/// counted before it.
pub fn judge(request: &ApprovalRecord, votes: &[Vote], user: &str, approve: bool) -> Verdict {
    if request.status != "pending" {
        return Verdict::Closed {
            status: request.status.clone(),
        };
    }
    if !request.approvers.iter().any(|a| a == user) {
        return Verdict::NotAnApprover;
    }
    if approve && !request.allow_self && request.requester.as_deref() == Some(user) {
        return Verdict::OwnRequest;
    }
    if votes.iter().any(|v| v.user_id == user) {
        return Verdict::AlreadyVoted;
    }
    let approvals = votes.iter().filter(|v| v.decision == "approve").count() + usize::from(approve);
    let denials = votes.iter().filter(|v| v.decision == "deny").count() + usize::from(!approve);
    let quorum = usize::try_from(request.quorum.max(1)).unwrap_or(1);
    if !approve && request.first_deny_wins {
        return Verdict::Decides { status: "denied" };
    }
    if approvals >= quorum {
        return Verdict::Decides { status: "approved" };
    }
    // Enough denials that the quorum can no longer be reached.
    if eligible(request).saturating_sub(denials) < quorum {
        return Verdict::Decides { status: "denied" };
    }
    Verdict::Counted { approvals }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(quorum: i64, first_deny_wins: bool) -> ApprovalRecord {
        ApprovalRecord {
            id: 1,
            run_id: 1,
            step_index: 0,
            call_index: 0,
            automation_id: "a".into(),
            team_id: "T".into(),
            conversation_id: None,
            requester: Some("UREQUESTER".into()),
            title: "t".into(),
            body: "b".into(),
            approvers: vec![
                "UALICE0001".into(),
                "UBOB000002".into(),
                "UREQUESTER".into(),
            ],
            approver_spec: json!([]),
            quorum,
            allow_self: false,
            first_deny_wins,
            reason_mode: "none".into(),
            status: "pending".into(),
            messages: vec![],
            deadline: None,
            remind_at: None,
            reminded_at: None,
            decided_by: None,
            decision_reason: None,
            decided_at: None,
            finalized_at: None,
            created_at: 0,
        }
    }

    fn vote(user: &str, decision: &str) -> Vote {
        Vote {
            user_id: user.into(),
            decision: decision.into(),
            reason: None,
            voted_at: 0,
        }
    }

    /// Name, request, votes before, clicker, approve?, expected verdict.
    type Case = (
        &'static str,
        ApprovalRecord,
        Vec<Vote>,
        &'static str,
        bool,
        Verdict,
    );

    #[test]
    fn verdicts_table() {
        let mut expired = request(1, true);
        expired.status = "expired".into();
        let cases: Vec<Case> = vec![
            (
                "approve decides",
                request(1, true),
                vec![],
                "UALICE0001",
                true,
                Verdict::Decides { status: "approved" },
            ),
            (
                "deny decides",
                request(1, true),
                vec![],
                "UALICE0001",
                false,
                Verdict::Decides { status: "denied" },
            ),
            (
                "stranger",
                request(1, true),
                vec![],
                "UMALLORY01",
                true,
                Verdict::NotAnApprover,
            ),
            (
                "own request",
                request(1, true),
                vec![],
                "UREQUESTER",
                true,
                Verdict::OwnRequest,
            ),
            (
                "own request may be withdrawn",
                request(1, true),
                vec![],
                "UREQUESTER",
                false,
                Verdict::Decides { status: "denied" },
            ),
            (
                "closed",
                expired,
                vec![],
                "UALICE0001",
                true,
                Verdict::Closed {
                    status: "expired".into(),
                },
            ),
            (
                "first of two",
                request(2, true),
                vec![],
                "UALICE0001",
                true,
                Verdict::Counted { approvals: 1 },
            ),
            (
                "second of two",
                request(2, true),
                vec![vote("UALICE0001", "approve")],
                "UBOB000002",
                true,
                Verdict::Decides { status: "approved" },
            ),
            (
                "double click",
                request(2, true),
                vec![vote("UALICE0001", "approve")],
                "UALICE0001",
                true,
                Verdict::AlreadyVoted,
            ),
            (
                "deny does not win",
                request(1, false),
                vec![],
                "UALICE0001",
                false,
                Verdict::Counted { approvals: 0 },
            ),
            (
                // The requester may not approve: one deny of the two others settles it.
                "quorum impossible without the requester",
                request(2, false),
                vec![],
                "UALICE0001",
                false,
                Verdict::Decides { status: "denied" },
            ),
            (
                "quorum impossible",
                request(2, false),
                vec![vote("UALICE0001", "deny")],
                "UBOB000002",
                false,
                Verdict::Decides { status: "denied" },
            ),
        ];
        for (name, request, votes, user, approve, want) in cases {
            assert_eq!(judge(&request, &votes, user, approve), want, "{name}");
        }
    }
}
