//! Durable ingest: an event's id, its conversation changes and the runs it causes are
//! committed in one transaction before the HTTP answer goes out.
//!
//! Requests hand their event to the batch writer (`db::writer`), which commits
//! whatever has arrived meanwhile in a single transaction (group commit), the events
//! of a batch applied together ([`apply`]), and before any other work. Under load this
//! turns many small commits (each an fsync) into few; at low load a batch is one
//! event and nothing waits. Runs that this process's free workers can take are handed
//! to them once committed.

mod apply;

pub use apply::activity_name;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::automations::Registry;
use crate::clock::Clock;
use crate::config::SupportConfig;
use crate::db::writer::{BatchKind, Class, Lane, Share, WriteError};
use crate::db::{Db, tx::Tx};
use crate::dispatch::{Queued, QueuedLater, Slots};
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
    /// Whose messages count as the team's answers, for silences.
    pub team: Arc<crate::team::SupportTeam>,
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

/// Hands events to the batch writer.
#[derive(Debug, Clone)]
pub struct Ingestor {
    lane: Lane<Events>,
}

impl Ingestor {
    /// Starts recording events through `db`'s batch writer; runs this process can take
    /// go to `slots`.
    pub fn start(db: &Db, ctx: Arc<IngestContext>, slots: Arc<Slots>) -> anyhow::Result<Self> {
        let share = Share {
            priority: 0,
            max: MAX_BATCH,
            depth: QUEUE_DEPTH,
        };
        let lane = db.lane(Class::Events, Events { ctx, slots }, share)?;
        Ok(Self { lane })
    }

    /// Records `event` durably; returns once it is committed (or failed).
    pub async fn ingest(&self, event: InboundEvent) -> Result<IngestOutcome, IngestError> {
        match self.lane.submit(event).await {
            Ok(recorded) => Ok(recorded.outcome),
            Err(WriteError::Database(e)) => Err(IngestError::Database(e)),
            Err(WriteError::Stopped) => Err(IngestError::Unavailable),
        }
    }
}

/// Events as the batch writer's jobs.
struct Events {
    ctx: Arc<IngestContext>,
    slots: Arc<Slots>,
}

/// An event's outcome, with the job itself for the log line after the commit.
struct Recorded {
    event: (String, &'static str),
    outcome: IngestOutcome,
    trigger: Option<usize>,
}

impl BatchKind for Events {
    type Job = InboundEvent;
    type Done = Recorded;
    type Pending = QueuedLater;

    fn run<'a>(
        &'a self,
        tx: &'a mut dyn Tx,
        jobs: &'a [InboundEvent],
    ) -> BoxFuture<'a, sqlx::Result<(Vec<Recorded>, QueuedLater)>> {
        Box::pin(async move {
            let now_ms = self.ctx.clock.now_ms();
            let (applied, queued) =
                apply::apply_batch(tx, &self.ctx, jobs, now_ms, Some(&self.slots)).await?;
            let recorded = jobs
                .iter()
                .zip(applied)
                .map(|(event, a)| Recorded {
                    event: (event.event_id.clone(), activity_name(&event.activity)),
                    outcome: a.outcome,
                    trigger: a.trigger,
                })
                .collect();
            Ok((recorded, queued))
        })
    }

    fn committed(&self, queued: QueuedLater, done: &mut [Recorded]) {
        let mut queued: Vec<Option<Queued>> = match queued.resolve() {
            Ok(q) => q.into_iter().map(Some).collect(),
            Err(e) => {
                // Committed, so the runs are queued; only their ids are unknown here.
                tracing::error!(error = %e, "runs were queued but their ids could not be read");
                Vec::new()
            }
        };
        let mut ring = false;
        for d in done.iter_mut() {
            let q = d
                .trigger
                .and_then(|i| queued.get_mut(i))
                .and_then(Option::take);
            if let (Some(q), IngestOutcome::Recorded { runs, .. }) = (q, &mut d.outcome) {
                ring |= q.waits_for_claimer();
                *runs = q.ids;
                for handoff in q.handoffs {
                    self.slots.hand_over(handoff);
                }
            }
            log_outcome(&d.event.0, d.event.1, &d.outcome);
        }
        if ring {
            self.slots.ring();
        }
    }
}

fn log_outcome(event_id: &str, kind: &str, outcome: &IngestOutcome) {
    match outcome {
        IngestOutcome::Duplicate => {
            tracing::info!(event.id = %event_id, event.kind = kind, "duplicate delivery: already recorded, nothing new")
        }
        IngestOutcome::Ignored(why) => {
            tracing::debug!(event.id = %event_id, event.kind = kind, why, "event recorded, no effect")
        }
        IngestOutcome::Recorded {
            trigger,
            conversation_id,
            runs,
        } => tracing::info!(
            event.id = %event_id,
            event.kind = kind,
            %trigger,
            conversation.id = ?conversation_id,
            runs = ?runs,
            "event recorded"
        ),
    }
}
