//! This process's free workers, and the hand-off of fresh runs to them.
//!
//! A run queued while a worker of its lane is free is inserted already leased to this
//! process and handed to that worker after the commit, with the conversation as the
//! transaction saw it: no claim, no read, no poll between the event and its first
//! step. Without a free worker the run waits in the database for a claimer, which
//! takes the oldest first. Permits are fair: when a claimer is waiting for a worker,
//! the next free one goes to it (and so to the oldest queued run), not to a newer run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::automations::{DEFAULT_LANE, SCRIPT_LANE};
use crate::conversations::Conversation;
use crate::db::runs::ClaimedRun;

/// A run inserted leased to this process, for one of its workers.
#[derive(Debug)]
pub struct Handoff {
    /// The run, attempt 1.
    pub run: ClaimedRun,
    /// Its conversation as of the transaction that queued it.
    pub conversation: Option<Conversation>,
    /// Its lane.
    pub lane: &'static str,
    /// The worker it holds.
    pub permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
struct Lane {
    workers: Arc<Semaphore>,
    inbox: mpsc::UnboundedSender<Handoff>,
}

/// The workers of this process, by lane.
#[derive(Debug)]
pub struct Slots {
    owner: String,
    lease: Duration,
    default: Lane,
    script: Lane,
    wake: Arc<Notify>,
}

/// Where handed-off runs arrive, by lane.
#[derive(Debug)]
pub struct Inboxes {
    /// Runs of built-in automations.
    pub default: mpsc::UnboundedReceiver<Handoff>,
    /// Runs of automations with scripts.
    pub script: mpsc::UnboundedReceiver<Handoff>,
}

impl Slots {
    /// `default` and `script` workers leasing runs as `owner`; `wake` rings the claimers
    /// when runs are queued in the database instead.
    pub fn new(
        owner: String,
        lease: Duration,
        default: usize,
        script: usize,
        wake: Arc<Notify>,
    ) -> (Arc<Self>, Inboxes) {
        let (default_tx, default_rx) = mpsc::unbounded_channel();
        let (script_tx, script_rx) = mpsc::unbounded_channel();
        let slots = Self {
            owner,
            lease,
            default: Lane {
                workers: Arc::new(Semaphore::new(default)),
                inbox: default_tx,
            },
            script: Lane {
                workers: Arc::new(Semaphore::new(script)),
                inbox: script_tx,
            },
            wake,
        };
        (
            Arc::new(slots),
            Inboxes {
                default: default_rx,
                script: script_rx,
            },
        )
    }

    fn lane(&self, lane: &str) -> &Lane {
        if lane == SCRIPT_LANE {
            &self.script
        } else {
            debug_assert_eq!(lane, DEFAULT_LANE);
            &self.default
        }
    }

    /// The lease owner name of this process.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// When a lease taken now ends.
    pub fn lease_until(&self, now_ms: i64) -> i64 {
        now_ms + i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// A free worker of `lane`, if there is one now.
    pub fn try_reserve(&self, lane: &str) -> Option<OwnedSemaphorePermit> {
        self.lane(lane).workers.clone().try_acquire_owned().ok()
    }

    /// Waits for a free worker of `lane`.
    pub async fn reserve(&self, lane: &str) -> OwnedSemaphorePermit {
        self.lane(lane)
            .workers
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// Hands a committed run to its worker.
    pub fn hand_over(&self, handoff: Handoff) {
        let lane = self.lane(handoff.lane);
        if let Err(e) = lane.inbox.send(handoff) {
            // Shutting down: the run keeps its lease, which expires, and another worker
            // (or this process, restarted) takes it up.
            tracing::debug!(
                run.id = e.0.run.id,
                "workers gone; the run waits for its lease to expire"
            );
        }
    }

    /// Tells the claimers that runs are waiting in the database.
    pub fn ring(&self) {
        self.wake.notify_waiters();
    }
}
