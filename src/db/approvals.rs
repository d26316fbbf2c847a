//! Approval requests and their votes.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::Backend;
use super::tx::Tx;

/// Where a request message was posted (stored as JSON in `messages`).
pub use crate::slack::client::PostedMessage as Posted;

/// A new request.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    /// The waiting run.
    pub run_id: i64,
    /// Its step.
    pub step_index: i64,
    /// 0 for the built-in step; the nth `approvals.request` of a script.
    pub call_index: i64,
    /// Automation id.
    pub automation_id: &'a str,
    /// Workspace.
    pub team_id: &'a str,
    /// Conversation, if any.
    pub conversation_id: Option<i64>,
    /// Who asked.
    pub requester: Option<&'a str>,
    /// Title.
    pub title: &'a str,
    /// Text.
    pub body: &'a str,
    /// User ids allowed to decide.
    pub approvers: &'a [String],
    /// The approvers as written.
    pub approver_spec: &'a Value,
    /// Approvals needed.
    pub quorum: i64,
    /// Whether the requester may approve.
    pub allow_self: bool,
    /// Whether one deny decides.
    pub first_deny_wins: bool,
    /// `none`, `optional`, `required`.
    pub reason_mode: &'a str,
    /// Expiry.
    pub deadline: Option<i64>,
    /// When to remind.
    pub remind_at: Option<i64>,
    /// Now.
    pub now_ms: i64,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// Id (the buttons carry it).
    pub id: i64,
    /// The waiting run.
    pub run_id: i64,
    /// Its step.
    pub step_index: i64,
    /// Which request of the step.
    pub call_index: i64,
    /// Automation id.
    pub automation_id: String,
    /// Workspace.
    pub team_id: String,
    /// Conversation.
    pub conversation_id: Option<i64>,
    /// Who asked.
    pub requester: Option<String>,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// User ids allowed to decide.
    pub approvers: Vec<String>,
    /// The approvers as written.
    pub approver_spec: Value,
    /// Approvals needed.
    pub quorum: i64,
    /// Whether the requester may approve.
    pub allow_self: bool,
    /// Whether one deny decides.
    pub first_deny_wins: bool,
    /// `none`, `optional`, `required`.
    pub reason_mode: String,
    /// `opening`, `pending`, `approved`, `denied`, `expired`.
    pub status: String,
    /// Posted request messages.
    pub messages: Vec<Posted>,
    /// Expiry.
    pub deadline: Option<i64>,
    /// When to remind.
    pub remind_at: Option<i64>,
    /// When reminded.
    pub reminded_at: Option<i64>,
    /// Who decided (the deciding vote).
    pub decided_by: Option<String>,
    /// Their reason.
    pub decision_reason: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// When the messages were updated and the thread told.
    pub finalized_at: Option<i64>,
    /// Created.
    pub created_at: i64,
}

/// A counted click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Who.
    pub user_id: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// Why, if asked.
    pub reason: Option<String>,
    /// When.
    pub voted_at: i64,
}

const COLUMNS: &str = "id, run_id, step_index, call_index, automation_id, team_id, conversation_id, requester, \
     title, body, approvers, approver_spec, quorum, allow_self, first_deny_wins, reason_mode, status, messages, \
     deadline, remind_at, reminded_at, decided_by, decision_reason, decided_at, finalized_at, created_at";

fn json<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> sqlx::Result<T> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.into(),
    })
}

fn from_row(r: &AnyRow) -> sqlx::Result<ApprovalRecord> {
    let approvers: String = r.try_get(10)?;
    let spec: String = r.try_get(11)?;
    let messages: String = r.try_get(17)?;
    Ok(ApprovalRecord {
        id: r.try_get(0)?,
        run_id: r.try_get(1)?,
        step_index: r.try_get(2)?,
        call_index: r.try_get(3)?,
        automation_id: r.try_get(4)?,
        team_id: r.try_get(5)?,
        conversation_id: r.try_get(6)?,
        requester: r.try_get(7)?,
        title: r.try_get(8)?,
        body: r.try_get(9)?,
        approvers: json(&approvers, "approvers")?,
        approver_spec: json(&spec, "approver_spec")?,
        quorum: r.try_get(12)?,
        allow_self: r.try_get::<i64, _>(13)? != 0,
        first_deny_wins: r.try_get::<i64, _>(14)? != 0,
        reason_mode: r.try_get(15)?,
        status: r.try_get(16)?,
        messages: json(&messages, "messages")?,
        deadline: r.try_get(18)?,
        remind_at: r.try_get(19)?,
        reminded_at: r.try_get(20)?,
        decided_by: r.try_get(21)?,
        decision_reason: r.try_get(22)?,
        decided_at: r.try_get(23)?,
        finalized_at: r.try_get(24)?,
        created_at: r.try_get(25)?,
    })
}

/// Creates a request in state `opening` (messages not posted yet); returns its id, or
/// the id of the request this step already has.
pub async fn insert_opening(conn: &mut AnyConnection, new: &NewApproval<'_>) -> sqlx::Result<i64> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO approvals (run_id, step_index, call_index, automation_id, team_id, conversation_id,
             requester, title, body, approvers, approver_spec, quorum, allow_self, first_deny_wins,
             reason_mode, status, messages, deadline, remind_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'opening', '[]', $16, $17, $18)
         ON CONFLICT (run_id, step_index, call_index) DO NOTHING
         RETURNING id",
    )
    .bind(new.run_id)
    .bind(new.step_index)
    .bind(new.call_index)
    .bind(new.automation_id)
    .bind(new.team_id)
    .bind(new.conversation_id)
    .bind(new.requester)
    .bind(new.title)
    .bind(new.body)
    .bind(serde_json::to_string(new.approvers).unwrap_or_default())
    .bind(new.approver_spec.to_string())
    .bind(new.quorum)
    .bind(i64::from(new.allow_self))
    .bind(i64::from(new.first_deny_wins))
    .bind(new.reason_mode)
    .bind(new.deadline)
    .bind(new.remind_at)
    .bind(new.now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => sqlx::query_scalar(
            "SELECT id FROM approvals WHERE run_id = $1 AND step_index = $2 AND call_index = $3",
        )
        .bind(new.run_id)
        .bind(new.step_index)
        .bind(new.call_index)
        .fetch_one(conn)
        .await,
    }
}

/// The request of a run's step, if it has one.
pub async fn find(
    conn: &mut AnyConnection,
    run_id: i64,
    step_index: i64,
    call_index: i64,
) -> sqlx::Result<Option<ApprovalRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE run_id = $1 AND step_index = $2 AND call_index = $3"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .bind(step_index)
        .bind(call_index)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A request by id; on PostgreSQL locked until the transaction ends, so that two
/// clicks at once are decided one after the other.
pub async fn get_for_decision(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
) -> sqlx::Result<Option<ApprovalRecord>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = $1{lock}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Whether request `id` is decided (or gone), read locked on PostgreSQL so that a
/// decision either happened before this transaction or waits for it.
pub async fn decided(tx: &mut dyn Tx, id: i64) -> sqlx::Result<bool> {
    let lock = match tx.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!("SELECT status FROM approvals WHERE id = $1{lock}");
    let status = match tx.fetch_optional(&sql, crate::args![id]).await? {
        Some(row) => row.text(0)?,
        None => return Ok(true),
    };
    Ok(!matches!(status.as_str(), "opening" | "pending"))
}

/// A request by id.
pub async fn get(pool: &AnyPool, id: i64) -> sqlx::Result<Option<ApprovalRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Records the messages posted so far, while the request is being sent.
pub async fn set_messages(
    conn: &mut AnyConnection,
    id: i64,
    messages: &[Posted],
) -> sqlx::Result<()> {
    sqlx::query("UPDATE approvals SET messages = $1 WHERE id = $2 AND status = 'opening'")
        .bind(serde_json::to_string(messages).unwrap_or_else(|_| "[]".into()))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the posted messages and opens the request for decisions.
pub async fn open(conn: &mut AnyConnection, id: i64, messages: &[Posted]) -> sqlx::Result<()> {
    sqlx::query("UPDATE approvals SET messages = $1, status = 'pending' WHERE id = $2 AND status = 'opening'")
        .bind(serde_json::to_string(messages).unwrap_or_else(|_| "[]".into()))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a vote; `false` if this user already voted.
pub async fn insert_vote(
    conn: &mut AnyConnection,
    approval_id: i64,
    user_id: &str,
    decision: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO approval_votes (approval_id, user_id, decision, reason, voted_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (approval_id, user_id) DO NOTHING",
    )
    .bind(approval_id)
    .bind(user_id)
    .bind(decision)
    .bind(reason)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A request's votes, in order.
pub async fn votes(conn: &mut AnyConnection, approval_id: i64) -> sqlx::Result<Vec<Vote>> {
    let rows = sqlx::query(
        "SELECT user_id, decision, reason, voted_at FROM approval_votes WHERE approval_id = $1 ORDER BY voted_at, user_id",
    )
    .bind(approval_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Vote {
                user_id: r.try_get(0)?,
                decision: r.try_get(1)?,
                reason: r.try_get(2)?,
                voted_at: r.try_get(3)?,
            })
        })
        .collect()
}

/// Decides a pending request; `false` if it was no longer pending.
pub async fn decide(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    decided_by: Option<&str>,
    reason: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE approvals SET status = $1, decided_by = $2, decision_reason = $3, decided_at = $4
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(status)
    .bind(decided_by)
    .bind(reason)
    .bind(now_ms)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Expires pending requests past their deadline; returns them.
pub async fn expire_due(
    conn: &mut AnyConnection,
    now_ms: i64,
) -> sqlx::Result<Vec<ApprovalRecord>> {
    let sql = format!(
        "UPDATE approvals SET status = 'expired', decided_at = $1
         WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= $1
         RETURNING {COLUMNS}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_ms)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Claims the reminders that are due (each is claimed by one process only).
pub async fn claim_reminders(
    conn: &mut AnyConnection,
    now_ms: i64,
) -> sqlx::Result<Vec<ApprovalRecord>> {
    let sql = format!(
        "UPDATE approvals SET reminded_at = $1
         WHERE status = 'pending' AND remind_at IS NOT NULL AND remind_at <= $1 AND reminded_at IS NULL
         RETURNING {COLUMNS}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Marks a decided request's messages as updated and its thread as told.
pub async fn mark_finalized(conn: &mut AnyConnection, id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE approvals SET finalized_at = $1 WHERE id = $2 AND finalized_at IS NULL")
        .bind(now_ms)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Requests, newest first, optionally only those in `status` or of `run_id`.
pub async fn list(
    pool: &AnyPool,
    status: Option<&str>,
    run_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<ApprovalRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR run_id = $2)
         ORDER BY id DESC LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(run_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The pending requests `user` may decide, oldest first.
pub async fn pending_for(
    pool: &AnyPool,
    user: &str,
    limit: i64,
) -> sqlx::Result<Vec<ApprovalRecord>> {
    // `approvers` is a JSON list of user ids: a quoted id matches one whole entry.
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE status = 'pending' AND approvers LIKE $1
         ORDER BY id LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(format!("%\"{user}\"%"))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}
