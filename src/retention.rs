//! Keeping history as long as the operator chose (`retention.*`) and no longer: finished
//! runs, approval records, message copies, and the event ids deduplication no longer
//! needs. Deleted oldest first, in small transactions with a pause between them, so
//! that the ingest and the runs' journal never wait long for the writer.

use std::time::{Duration, Instant};

use sqlx::AnyConnection;

use crate::config::RetentionConfig;
use crate::db::{self, Db};

/// Rows deleted per transaction. With 100,000 runs to delete a batch holds SQLite's
/// writer for at most about 70 ms whether it is 50 or 500 runs; with 1,000,000, 553 ms
/// (`benches/retention.rs`, BENCHMARKS.md): what grows is not the batch.
pub const BATCH: i64 = 500;

/// How long redeliveries are recognised by their event id. Slack retries an
/// unacknowledged event three times within about five minutes (and Socket Mode
/// redelivers what was not acked when a connection comes back); webhook callers that
/// send an idempotency key may retry for longer. Two days covers both with room.
pub const EVENT_ID_WINDOW: Duration = Duration::from_secs(48 * 3600);

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Finished runs, with their steps, log lines and stored triggers.
    pub runs: u64,
    /// Approval requests, with their votes.
    pub approvals: u64,
    /// Copies of Slack messages.
    pub messages: u64,
    /// Event ids past the deduplication window.
    pub event_ids: u64,
    /// The longest a single batch held the writer.
    pub longest_batch: Duration,
}

impl Pruned {
    /// Whether anything was deleted.
    pub fn is_empty(&self) -> bool {
        self.runs + self.approvals + self.messages + self.event_ids == 0
    }
}

/// Deletes what `policy` no longer keeps at `now_ms`, waiting `pace` between batches.
pub async fn prune(
    db: &Db,
    policy: &RetentionConfig,
    now_ms: i64,
    pace: Duration,
) -> sqlx::Result<Pruned> {
    let cutoff = |period: Option<Duration>| {
        period.map(|p| now_ms.saturating_sub(i64::try_from(p.as_millis()).unwrap_or(i64::MAX)))
    };
    let mut pruned = Pruned::default();
    let mut longest = Duration::ZERO;
    // Approval records first: a run is kept while its approval records are.
    if let Some(before) = cutoff(policy.approvals) {
        pruned.approvals = in_batches(db, pace, &mut longest, Chore::Approvals { before }).await?;
    }
    if let Some(before) = cutoff(policy.runs) {
        pruned.runs = prune_runs(db, before, pace, &mut longest).await?;
    }
    if let Some(before) = cutoff(policy.messages) {
        pruned.messages = in_batches(db, pace, &mut longest, Chore::Messages { before }).await?;
    }
    let before = cutoff(Some(EVENT_ID_WINDOW)).unwrap_or(now_ms);
    pruned.event_ids = in_batches(db, pace, &mut longest, Chore::EventIds { before }).await?;
    pruned.longest_batch = longest;
    Ok(pruned)
}

/// Deletes finished runs created before `before_ms`; returns how many.
pub async fn prune_runs(
    db: &Db,
    before_ms: i64,
    pace: Duration,
    longest: &mut Duration,
) -> sqlx::Result<u64> {
    let chore = Chore::Runs {
        before: before_ms,
        from: i64::MIN,
    };
    in_batches(db, pace, longest, chore).await
}

/// One kind of deletion, done a batch at a time.
enum Chore {
    Approvals {
        before: i64,
    },
    /// Runs that must stay (waiting, or kept for their approvals) are passed over
    /// once: each batch starts where the previous one ended (`from`).
    Runs {
        before: i64,
        from: i64,
    },
    Messages {
        before: i64,
    },
    EventIds {
        before: i64,
    },
}

impl Chore {
    async fn batch(&mut self, conn: &mut AnyConnection) -> sqlx::Result<Batch> {
        match self {
            Self::Approvals { before } => {
                db::retention::delete_expired_approvals(conn, *before, BATCH)
                    .await
                    .map(Batch::of)
            }
            Self::Runs { before, from } => {
                let seen = db::retention::runs_created_before(conn, *before, *from, BATCH).await?;
                let Some(&(_, last, _)) = seen.last() else {
                    return Ok(Batch::of(0));
                };
                let ids: Vec<i64> = seen.iter().filter(|r| r.2).map(|r| r.0).collect();
                let deleted = db::retention::delete_runs(conn, &ids).await?;
                // The next batch starts at the last one seen (runs created in the same
                // millisecond may follow), or past it when nothing moved.
                *from = if deleted == 0 && last == *from {
                    last + 1
                } else {
                    last
                };
                Ok(Batch {
                    deleted,
                    more: seen.len() as i64 == BATCH,
                })
            }
            Self::Messages { before } => {
                db::retention::delete_expired_messages(conn, *before, BATCH)
                    .await
                    .map(Batch::of)
            }
            Self::EventIds { before } => db::events::purge_before(conn, *before, BATCH)
                .await
                .map(Batch::of),
        }
    }
}

/// What one batch did.
struct Batch {
    deleted: u64,
    more: bool,
}

impl Batch {
    /// A batch that deleted `deleted` rows: there may be more when it was full.
    fn of(deleted: u64) -> Self {
        Self {
            deleted,
            more: deleted >= BATCH as u64,
        }
    }
}

/// Does `chore` a batch at a time, each in its own transaction, until it is done.
async fn in_batches(
    db: &Db,
    pace: Duration,
    longest: &mut Duration,
    mut chore: Chore,
) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let started = Instant::now();
        let mut tx = db.begin().await?;
        let done = chore.batch(&mut tx).await?;
        tx.commit().await?;
        *longest = (*longest).max(started.elapsed());
        total += done.deleted;
        if !done.more {
            return Ok(total);
        }
        tokio::time::sleep(pace).await;
    }
}
