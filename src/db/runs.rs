//! The run queue, its leases, the step journal and the run log.
//!
//! State changes are guarded by `WHERE status = … AND lease_owner = …`, so a worker
//! that lost its lease cannot write, and a final state is written once.

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row as _};

use super::Backend;
use super::tx::{Arg, Later, Row, Shape, Tx};
use crate::trigger::Trigger;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Waiting for a worker (possibly until `run_after`).
    Queued,
    /// Leased by a worker.
    Running,
    /// Paused until something resumes it.
    Waiting,
    /// Every step finished.
    Succeeded,
    /// A step failed for good.
    Failed,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Waiting,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A run to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// Automation id.
    pub automation_id: &'a str,
    /// The version that matched.
    pub automation_version: i64,
    /// Queue lane.
    pub lane: &'a str,
    /// What caused it.
    pub trigger: &'a Trigger,
    /// Set when this process takes the run at once: inserted as running, leased to
    /// `owner` until `until_ms`, its first attempt begun.
    pub leased: Option<(&'a str, i64)>,
}

/// Inserts runs; says for each, once the statement has run, its id, or `None` if its
/// (event, automation) already has a run (then nothing is inserted for it).
pub async fn insert_many(
    tx: &mut dyn Tx,
    runs: &[NewRun<'_>],
    now_ms: i64,
) -> sqlx::Result<Later<Vec<Option<i64>>>> {
    let mut rows = Vec::with_capacity(runs.len() * 16);
    for run in runs {
        let trigger_json =
            serde_json::to_string(run.trigger).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let (status, attempt, owner, until, started) = match run.leased {
            Some((owner, until)) => ("running", 1, Some(owner), Some(until), Some(now_ms)),
            None => ("queued", 0, None, None, None),
        };
        rows.extend(crate::args![
            run.automation_id,
            run.automation_version,
            &run.trigger.event_id,
            run.trigger.kind().as_str(),
            trigger_json,
            run.trigger.conversation_id,
            i64::from(run.trigger.depth),
            status,
            attempt,
            now_ms,
            now_ms,
            run.lane,
            owner,
            until,
            started,
            run.trigger.actor.as_deref(),
        ]);
    }
    let inserted = tx
        .expand_deferred_fetch(
            "INSERT INTO runs (automation_id, automation_version, event_id, trigger_kind, trigger_json,
                 conversation_id, depth, status, attempt, run_after, created_at, lane, lease_owner,
                 lease_expires_at, started_at, actor)
             VALUES {}
             ON CONFLICT (event_id, automation_id) DO NOTHING
             RETURNING id, event_id, automation_id",
            vec![],
            Shape::Rows(16),
            rows,
        )
        .await?;
    let keys: Vec<(String, String)> = runs
        .iter()
        .map(|r| (r.trigger.event_id.clone(), r.automation_id.to_owned()))
        .collect();
    Ok(Later::new(inserted, move |rows| {
        let mut ids: HashMap<(String, String), i64> = HashMap::new();
        for row in rows {
            ids.insert((row.text(1)?, row.text(2)?), row.int(0)?);
        }
        // A run inserted twice in one call is reported once.
        Ok(keys.iter().map(|k| ids.remove(k)).collect())
    }))
}

/// Queues a run for `trigger` in `lane`; returns `None` if this (event, automation)
/// already has one.
pub async fn insert(
    tx: &mut dyn Tx,
    automation_id: &str,
    automation_version: i64,
    lane: &str,
    trigger: &Trigger,
    now_ms: i64,
) -> sqlx::Result<Option<i64>> {
    let run = NewRun {
        automation_id,
        automation_version,
        lane,
        trigger,
        leased: None,
    };
    let inserted = insert_many(tx, &[run], now_ms).await?;
    tx.sync().await?;
    Ok(inserted.resolve()?.pop().flatten())
}

/// The run of `automation_id` for `event_id`, if there is one.
pub async fn find_by_event(
    conn: &mut AnyConnection,
    event_id: &str,
    automation_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM runs WHERE event_id = $1 AND automation_id = $2")
        .bind(event_id)
        .bind(automation_id)
        .fetch_optional(conn)
        .await
}

/// A run a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    /// Run id.
    pub id: i64,
    /// Automation id.
    pub automation_id: String,
    /// The version matched at ingest.
    pub automation_version: i64,
    /// What caused the run.
    pub trigger: Trigger,
    /// 1 for the first execution, 2 for the first retry…
    pub attempt: i64,
}

/// Leases up to `max` queued runs of `lane` that are due, oldest first.
pub async fn claim_due(
    tx: &mut dyn Tx,
    lane: &str,
    max: usize,
    owner: &str,
    now_ms: i64,
    lease_until_ms: i64,
) -> sqlx::Result<Vec<ClaimedRun>> {
    // PostgreSQL: concurrent claimers skip each other's locked rows. SQLite: the single
    // writer makes the UPDATE … RETURNING atomic on its own.
    let lock = match tx.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE runs SET status = 'running', lease_owner = $1, lease_expires_at = $2,
             attempt = attempt + 1, started_at = COALESCE(started_at, $3)
         WHERE id IN (SELECT id FROM runs WHERE status = 'queued' AND lane = $4 AND run_after <= $3
                      ORDER BY run_after, id LIMIT $5{lock})
         RETURNING id, automation_id, automation_version, trigger_json, attempt"
    );
    let rows = tx
        .fetch_all(
            &sql,
            crate::args![owner, lease_until_ms, now_ms, lane, max as i64],
        )
        .await?;
    let mut runs = rows
        .iter()
        .map(claimed_from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    runs.sort_by_key(|r| r.id);
    Ok(runs)
}

fn claimed_from_row(row: &Row) -> sqlx::Result<ClaimedRun> {
    let trigger_json = row.text(3)?;
    Ok(ClaimedRun {
        id: row.int(0)?,
        automation_id: row.text(1)?,
        automation_version: row.int(2)?,
        trigger: serde_json::from_str(&trigger_json).map_err(|e| sqlx::Error::ColumnDecode {
            index: "trigger_json".into(),
            source: e.into(),
        })?,
        attempt: row.int(4)?,
    })
}

/// Extends the leases `owner` holds on `run_ids` to `lease_until_ms`; says, once the
/// statement has run, which ids it still held (the others were taken over: their
/// worker must stop).
pub async fn touch_leases(
    tx: &mut dyn Tx,
    run_ids: &[i64],
    owner: &str,
    lease_until_ms: i64,
) -> sqlx::Result<Later<HashSet<i64>>> {
    let ids = run_ids.iter().map(|id| Arg::from(*id)).collect();
    let touched = tx
        .expand_deferred_fetch(
            "UPDATE runs SET lease_expires_at = $1
             WHERE lease_owner = $2 AND status = 'running' AND id IN ({})
             RETURNING id",
            crate::args![lease_until_ms, owner],
            Shape::List,
            ids,
        )
        .await?;
    Ok(Later::new(touched, |rows| {
        rows.iter().map(|r| r.int(0)).collect()
    }))
}

/// The earliest `run_after` of a queued run, to know when to look again.
pub async fn next_due(pool: &AnyPool) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(run_after) FROM runs WHERE status = 'queued'")
        .fetch_one(pool)
        .await
}

/// Requeues runs whose worker stopped renewing its lease; returns how many.
pub async fn requeue_expired(conn: &mut AnyConnection, now_ms: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_after = $1
         WHERE status = 'running' AND lease_expires_at < $1
         RETURNING id",
    )
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await
}

/// Puts back in the queue the runs waiting for time to pass (`wait` steps) whose time
/// has come; returns their ids.
pub async fn resume_delays(conn: &mut AnyConnection, now_ms: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE runs SET status = 'queued', run_after = $1, waiting_for = NULL, wait_deadline = NULL,
             attempt = 0
         WHERE status = 'waiting' AND waiting_for LIKE 'delay%' AND wait_deadline <= $1
         RETURNING id",
    )
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await
}

/// Puts back in the queue the runs waiting, with an `until`, on one of
/// `conversation_ids`: something happened there, and their wait step decides whether
/// it ends the wait (deferred: sent with the batch's next statement).
pub async fn wake_waiting_on(
    tx: &mut dyn Tx,
    conversation_ids: &[i64],
    now_ms: i64,
) -> sqlx::Result<()> {
    if conversation_ids.is_empty() {
        return Ok(());
    }
    let ids = conversation_ids.iter().map(|id| Arg::from(*id)).collect();
    tx.expand_deferred(
        "UPDATE runs SET status = 'queued', run_after = $1, waiting_for = NULL, wait_deadline = NULL,
             attempt = 0
         WHERE status = 'waiting' AND waiting_for LIKE 'delay% until %' AND conversation_id IN ({})",
        crate::args![now_ms],
        Shape::List,
        ids,
    )
    .await
}

/// Writes the final state of the runs `owner` holds among `run_ids` (a run whose lease
/// was lost is not this worker's to finish, and is left alone).
pub async fn finish_many(
    tx: &mut dyn Tx,
    run_ids: &[i64],
    owner: &str,
    status: RunStatus,
    error: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<()> {
    debug_assert!(matches!(status, RunStatus::Succeeded | RunStatus::Failed));
    let ids = run_ids.iter().map(|id| Arg::from(*id)).collect();
    tx.expand_deferred(
        "UPDATE runs SET status = $1, error = $2, finished_at = $3, lease_owner = NULL,
             lease_expires_at = NULL
         WHERE lease_owner = $4 AND status = 'running' AND id IN ({})",
        crate::args![status.as_str(), error, now_ms, owner],
        Shape::List,
        ids,
    )
    .await
}

/// Puts a run `owner` holds back in the queue until `run_after_ms` (a retry).
pub async fn requeue(
    tx: &mut dyn Tx,
    run_id: i64,
    owner: &str,
    run_after_ms: i64,
    error: Option<&str>,
) -> sqlx::Result<()> {
    tx.defer(
        "UPDATE runs SET status = 'queued', run_after = $1, error = $2, lease_owner = NULL,
             lease_expires_at = NULL
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        crate::args![run_after_ms, error, run_id, owner],
    )
    .await
}

/// One entry of the step journal.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Position in the automation, from 0.
    pub index: i64,
    /// Action type name.
    pub action: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// JSON output of a succeeded step.
    pub output: Option<String>,
    /// Error of a failed attempt.
    pub error: Option<String>,
    /// How many times the step was attempted.
    pub attempts: i64,
    /// When the last attempt started.
    pub started_at: i64,
    /// When it ended.
    pub finished_at: i64,
}

impl StepRecord {
    /// Whether the step's side effects are done.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }

    /// Whether the step needs no more work: it succeeded, or was skipped (a branch
    /// the approval did not take).
    pub fn is_done(&self) -> bool {
        self.status == "succeeded" || self.status == "skipped"
    }
}

/// Records the latest attempts of steps of runs `owner` holds, `(run id, step)` (a
/// success is final; a failure may be retried). Each (run, step) appears at most once.
pub async fn record_steps(
    tx: &mut dyn Tx,
    owner: &str,
    steps: &[(i64, &StepRecord)],
) -> sqlx::Result<()> {
    let mut rows = Vec::with_capacity(steps.len() * 9);
    for (run_id, step) in steps {
        rows.extend(crate::args![
            *run_id,
            step.index,
            &step.action,
            &step.status,
            &step.output,
            &step.error,
            step.attempts,
            step.started_at,
            step.finished_at,
        ]);
    }
    tx.expand_deferred(
        "INSERT INTO run_steps (run_id, step_index, action, status, output, error, attempts, started_at, finished_at)
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9
         FROM (SELECT $1 AS owner) AS o CROSS JOIN (VALUES {}) AS v
         WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = v.column1 AND r.lease_owner = o.owner AND r.status = 'running')
         ON CONFLICT (run_id, step_index) DO UPDATE SET status = excluded.status,
             output = excluded.output, error = excluded.error, attempts = excluded.attempts,
             started_at = excluded.started_at, finished_at = excluded.finished_at
         WHERE run_steps.status <> 'succeeded'",
        crate::args![owner],
        Shape::Rows(9),
        rows,
    )
    .await?;
    Ok(())
}

/// A run's journal, in step order.
pub async fn steps(pool: &AnyPool, run_id: i64) -> sqlx::Result<Vec<StepRecord>> {
    let rows = sqlx::query(
        "SELECT step_index, action, status, output, error, attempts, started_at, finished_at
         FROM run_steps WHERE run_id = $1 ORDER BY step_index",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StepRecord {
                index: r.try_get(0)?,
                action: r.try_get(1)?,
                status: r.try_get(2)?,
                output: r.try_get(3)?,
                error: r.try_get(4)?,
                attempts: r.try_get(5)?,
                started_at: r.try_get(6)?,
                finished_at: r.try_get(7)?,
            })
        })
        .collect()
}

/// Appends lines `(run id, at_ms, level, message)` to the logs of runs `owner` holds,
/// in order.
pub async fn log_many(
    tx: &mut dyn Tx,
    owner: &str,
    lines: &[(i64, i64, &str, &str)],
) -> sqlx::Result<()> {
    let mut rows = Vec::with_capacity(lines.len() * 4);
    for (run_id, at, level, message) in lines {
        rows.extend(crate::args![*run_id, *at, *level, *message]);
    }
    tx.expand_deferred(
        "INSERT INTO run_log (run_id, at, level, message)
         SELECT v.column1, v.column2, v.column3, v.column4
         FROM (SELECT $1 AS owner) AS o CROSS JOIN (VALUES {}) AS v
         WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = v.column1 AND r.lease_owner = o.owner AND r.status = 'running')",
        crate::args![owner],
        Shape::Rows(4),
        rows,
    )
    .await?;
    Ok(())
}

/// A line of a run's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When.
    pub at: i64,
    /// `info`, `warn` or `error`.
    pub level: String,
    /// What happened.
    pub message: String,
}

/// A run's log, oldest first.
pub async fn log_lines(pool: &AnyPool, run_id: i64) -> sqlx::Result<Vec<LogLine>> {
    let rows = sqlx::query("SELECT at, level, message FROM run_log WHERE run_id = $1 ORDER BY id")
        .bind(run_id)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LogLine {
                at: r.try_get(0)?,
                level: r.try_get(1)?,
                message: r.try_get(2)?,
            })
        })
        .collect()
}

/// A run as listed and shown.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Automation id.
    pub automation_id: String,
    /// Automation version.
    pub automation_version: i64,
    /// Event that caused it.
    pub event_id: String,
    /// Trigger kind name.
    pub trigger_kind: String,
    /// The trigger, as JSON.
    pub trigger_json: String,
    /// The conversation, if any.
    pub conversation_id: Option<i64>,
    /// Chain depth.
    pub depth: i64,
    /// Status name.
    pub status: String,
    /// Attempts so far.
    pub attempt: i64,
    /// Not before this time.
    pub run_after: i64,
    /// Last error.
    pub error: Option<String>,
    /// Queued at.
    pub created_at: i64,
    /// First claimed at.
    pub started_at: Option<i64>,
    /// Final state written at.
    pub finished_at: Option<i64>,
    /// What a waiting run waits for (`approval 12`).
    pub waiting_for: Option<String>,
    /// When its wait ends by itself.
    pub wait_deadline: Option<i64>,
}

const RUN_COLUMNS: &str = "id, automation_id, automation_version, event_id, trigger_kind, trigger_json, \
     conversation_id, depth, status, attempt, run_after, error, created_at, started_at, finished_at, \
     waiting_for, wait_deadline";

fn run_from_row(r: &AnyRow) -> sqlx::Result<RunRecord> {
    Ok(RunRecord {
        id: r.try_get(0)?,
        automation_id: r.try_get(1)?,
        automation_version: r.try_get(2)?,
        event_id: r.try_get(3)?,
        trigger_kind: r.try_get(4)?,
        trigger_json: r.try_get(5)?,
        conversation_id: r.try_get(6)?,
        depth: r.try_get(7)?,
        status: r.try_get(8)?,
        attempt: r.try_get(9)?,
        run_after: r.try_get(10)?,
        error: r.try_get(11)?,
        created_at: r.try_get(12)?,
        started_at: r.try_get(13)?,
        finished_at: r.try_get(14)?,
        waiting_for: r.try_get(15)?,
        wait_deadline: r.try_get(16)?,
    })
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only this automation.
    pub automation_id: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Runs, newest first.
pub async fn list(pool: &AnyPool, q: &RunQuery) -> sqlx::Result<Vec<RunRecord>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR automation_id = $2)
         ORDER BY id DESC LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&q.status)
        .bind(&q.automation_id)
        .bind(q.limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// The latest `limit` runs about conversation `id`, newest first (reads every run:
/// for people, not for the event path).
pub async fn of_conversation(pool: &AnyPool, id: i64, limit: i64) -> sqlx::Result<Vec<RunRecord>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// The latest `limit` runs `actor` caused, newest first.
pub async fn by_actor(pool: &AnyPool, actor: &str, limit: i64) -> sqlx::Result<Vec<RunRecord>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE actor = $1 ORDER BY id DESC LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(actor)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// The latest `limit` runs that failed since `since_ms`, newest first.
pub async fn failed_since(
    pool: &AnyPool,
    since_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<RunRecord>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'failed' AND finished_at >= $1
         ORDER BY id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(since_ms)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// One run.
pub async fn get(pool: &AnyPool, run_id: i64) -> sqlx::Result<Option<RunRecord>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(run_from_row)
        .transpose()
}

/// Runs caused by one event.
pub async fn for_event(pool: &AnyPool, event_id: &str) -> sqlx::Result<Vec<RunRecord>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE event_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(event_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// How many runs are in each status.
pub async fn count_by_status(pool: &AnyPool) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Requeues every run leased by `owner` (a process shutting down).
pub async fn requeue_owned(
    conn: &mut AnyConnection,
    owner: &str,
    now_ms: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_after = $1
         WHERE status = 'running' AND lease_owner = $2
         RETURNING id",
    )
    .bind(now_ms)
    .bind(owner)
    .fetch_all(&mut *conn)
    .await
}

/// Parks a run `owner` holds until something resumes it (an approval, a delay); the
/// lease is released and no worker holds it.
pub async fn park(
    tx: &mut dyn Tx,
    run_id: i64,
    owner: &str,
    waiting_for: &str,
    deadline_ms: Option<i64>,
) -> sqlx::Result<()> {
    tx.defer(
        "UPDATE runs SET status = 'waiting', waiting_for = $1, wait_deadline = $2, lease_owner = NULL,
             lease_expires_at = NULL
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        crate::args![waiting_for, deadline_ms, run_id, owner],
    )
    .await
}

/// Puts a waiting run back in the queue; `false` if it was not waiting. The
/// continuation gets a fresh budget of attempts: waiting was not a failure.
pub async fn resume(conn: &mut AnyConnection, run_id: i64, now_ms: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE runs SET status = 'queued', run_after = $1, waiting_for = NULL, wait_deadline = NULL,
             attempt = 0
         WHERE id = $2 AND status = 'waiting'",
    )
    .bind(now_ms)
    .bind(run_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// How many runs are due and waiting for a worker, and since when the oldest has been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Queued runs that are due.
    pub due: i64,
    /// The `run_after` of the oldest of them.
    pub oldest_due_at: Option<i64>,
}

/// The runs due and still queued at `now_ms`.
pub async fn backlog(pool: &AnyPool, now_ms: i64) -> sqlx::Result<Backlog> {
    let (due, oldest_due_at): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(run_after) FROM runs WHERE status = 'queued' AND run_after <= $1",
    )
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    Ok(Backlog { due, oldest_due_at })
}
