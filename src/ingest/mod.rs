//! Durable ingest: an event's id, its conversation changes and the runs it causes are
//! committed in one transaction before the HTTP answer goes out.
//!
//! Requests hand their event to one writer task, which commits whatever has arrived
//! meanwhile in a single transaction (group commit), each event in its own savepoint so
//! that one bad event fails alone. Under load this turns many small commits (each an
//! fsync) into few; at low load a batch is one event and nothing waits.

mod apply;
mod queue;

pub use apply::activity_name;
pub use queue::queue_runs;

use std::sync::Arc;

use sqlx::Acquire;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::automations::Registry;
use crate::clock::Clock;
use crate::config::SupportConfig;
use crate::db::Db;
use crate::trigger::{InboundEvent, TriggerKind};
use crate::workspace::Workspaces;

/// Most events committed in one transaction.
const MAX_BATCH: usize = 256;
/// Events waiting for the writer before requests wait to hand theirs over.
const QUEUE_DEPTH: usize = 8192;

/// What ingest needs besides the database.
#[derive(Debug)]
pub struct IngestContext {
    /// Automations in force.
    pub registry: Arc<Registry>,
    /// Support channels and defaults.
    pub support: SupportConfig,
    /// Workspace URLs for permalinks.
    pub workspaces: Arc<Workspaces>,
    /// Loop limit for automation-caused triggers.
    pub max_depth: u32,
    /// Time source.
    pub clock: Arc<dyn Clock>,
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Its id was seen before: nothing new was created.
    Duplicate,
    /// Recorded, with no effect (and why).
    Ignored(&'static str),
    /// Recorded; it triggered `trigger` and queued `runs`.
    Recorded {
        /// The trigger it produced.
        trigger: TriggerKind,
        /// Its conversation.
        conversation_id: Option<i64>,
        /// Runs queued.
        runs: Vec<i64>,
    },
}

/// Why an event could not be recorded; Slack should retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The database refused or failed.
    #[error("database error while recording the event: {0}")]
    Database(String),
    /// The writer has stopped (shutting down).
    #[error("switchboard is shutting down")]
    Unavailable,
}

struct Job {
    event: InboundEvent,
    reply: oneshot::Sender<Result<IngestOutcome, IngestError>>,
}

/// Hands events to the writer task.
#[derive(Debug, Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("event", &self.event.event_id)
            .finish()
    }
}

impl Ingestor {
    /// Starts the writer task. `wake` is notified when runs were queued.
    pub fn start(db: Db, ctx: Arc<IngestContext>, wake: Arc<Notify>) -> (Self, JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(writer(db, ctx, wake, rx));
        (Self { jobs }, task)
    }

    /// Records `event` durably; returns once it is committed (or failed).
    pub async fn ingest(&self, event: InboundEvent) -> Result<IngestOutcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { event, reply })
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.map_err(|_| IngestError::Unavailable)?
    }
}

async fn writer(db: Db, ctx: Arc<IngestContext>, wake: Arc<Notify>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(&db, &ctx, &batch).await;
        let queued = results
            .iter()
            .any(|r| matches!(r, Ok(IngestOutcome::Recorded { runs, .. }) if !runs.is_empty()));
        if queued {
            wake.notify_waiters();
        }
        for (job, result) in batch.drain(..).zip(results) {
            // The request may have gone (client hung up); the event is recorded anyway.
            let _ = job.reply.send(result);
        }
    }
}

async fn commit_batch(
    db: &Db,
    ctx: &IngestContext,
    batch: &[Job],
) -> Vec<Result<IngestOutcome, IngestError>> {
    let failed_all = |e: &sqlx::Error| {
        tracing::error!(error = %e, events = batch.len(), "ingest transaction failed; answering 503 so Slack retries");
        batch
            .iter()
            .map(|_| Err(IngestError::Database(e.to_string())))
            .collect()
    };
    let now_ms = ctx.clock.now_ms();
    let mut tx = match db.begin().await {
        Ok(tx) => tx,
        Err(e) => return failed_all(&e),
    };
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        // A lone event needs no savepoint: if it fails, the whole transaction is
        // rolled back below, so that nothing of it (not even its id) is kept.
        let result = if batch.len() == 1 {
            apply::apply(&mut tx, ctx, &job.event, now_ms).await
        } else {
            apply_in_savepoint(&mut tx, ctx, &job.event, now_ms).await
        };
        if let Err(e) = &result {
            tracing::error!(event.id = %job.event.event_id, error = %e, "event could not be recorded; answering 503 so Slack retries");
        }
        results.push(result.map_err(|e| IngestError::Database(e.to_string())));
    }
    if results.iter().all(Result::is_err) {
        let _ = tx.rollback().await;
        return results;
    }
    if let Err(e) = tx.commit().await {
        return failed_all(&e);
    }
    for (job, result) in batch.iter().zip(&results) {
        log_outcome(&job.event, result);
    }
    results
}

async fn apply_in_savepoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ctx: &IngestContext,
    event: &InboundEvent,
    now_ms: i64,
) -> sqlx::Result<IngestOutcome> {
    let mut savepoint = tx.begin().await?;
    match apply::apply(&mut savepoint, ctx, event, now_ms).await {
        Ok(outcome) => {
            savepoint.commit().await?;
            Ok(outcome)
        }
        Err(e) => {
            savepoint.rollback().await?;
            Err(e)
        }
    }
}

fn log_outcome(event: &InboundEvent, result: &Result<IngestOutcome, IngestError>) {
    let kind = activity_name(&event.activity);
    match result {
        Ok(IngestOutcome::Duplicate) => {
            tracing::info!(event.id = %event.event_id, event.kind = kind, "duplicate delivery: already recorded, nothing new")
        }
        Ok(IngestOutcome::Ignored(why)) => {
            tracing::debug!(event.id = %event.event_id, event.kind = kind, why, "event recorded, no effect")
        }
        Ok(IngestOutcome::Recorded {
            trigger,
            conversation_id,
            runs,
        }) => tracing::info!(
            event.id = %event.event_id,
            event.kind = kind,
            %trigger,
            conversation.id = ?conversation_id,
            runs = ?runs,
            "event recorded"
        ),
        Err(_) => {}
    }
}
