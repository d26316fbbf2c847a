//! The runs' journal through the batch writer: a step's record, its log lines, the
//! conversation changes it made (and the runs they trigger) and the run's new state
//! go to the database as one [`Entry`], committed with the entries of other runs that
//! arrived meanwhile. A run waits for its entry's commit before its next step, so a
//! step's record is durable before the next step's side effect starts; entries of
//! different runs share commits.
//!
//! Every write is guarded by the run's lease: an entry of a run whose lease another
//! worker took over writes nothing and says so ([`Written::held`]). Writing an entry
//! also extends the lease.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::automations::Registry;
use crate::clock::Clock;
use crate::conversations::{Conversation, ConversationPatch};
use crate::db;
use crate::db::runs::{ClaimedRun, RunStatus, StepRecord};
use crate::db::tx::{Later, Tx};
use crate::db::writer::BatchKind;
use crate::dispatch::{self, QueuedLater, Slots, ToQueue};
use crate::sla::Happened;
use crate::sla::track::ClockMoves;
use crate::trigger::{Trigger, TriggerEvent};

/// What a run writes at one point of its progress.
#[derive(Debug)]
pub struct Entry {
    /// The run.
    pub run_id: i64,
    /// A step's latest attempt, redacted.
    pub step: Option<StepRecord>,
    /// Log lines `(at_ms, level, message)`, redacted.
    pub lines: Vec<(i64, String, String)>,
    /// Conversation changes, applied to the conversation as it is in the database.
    pub patch: Option<Patch>,
    /// The run's new state.
    pub end: End,
}

/// Conversation changes made by a run, producing `conversation_updated` one level
/// deeper.
#[derive(Debug)]
pub struct Patch {
    /// The conversation.
    pub conversation_id: i64,
    /// The changes asked for.
    pub patch: ConversationPatch,
    /// `run:<id>/step:<n>…`: the history's cause and the new trigger's event id, so a
    /// retried step queues nothing twice.
    pub cause: String,
    /// The run's workspace.
    pub team_id: String,
    /// The run's trigger depth; the new trigger is one deeper.
    pub depth: u32,
}

/// Where a run goes after an entry.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// It goes on.
    Continue,
    /// Its final state.
    Finish {
        /// `succeeded` or `failed`.
        status: RunStatus,
        /// Why it failed (redacted).
        error: Option<String>,
    },
    /// Back to the queue until `run_after` (a retry).
    Requeue {
        /// Not before.
        run_after: i64,
        /// The attempt's error.
        error: Option<String>,
    },
    /// It waits; no worker holds it.
    Park {
        /// For `runs show`.
        waiting_for: String,
        /// When the wait ends by itself.
        deadline: Option<i64>,
        /// The approval request waited for: if it is decided already, the run goes
        /// straight back to the queue instead.
        approval: Option<i64>,
    },
}

/// What an entry did.
#[derive(Debug, Default)]
pub struct Written {
    /// The run's lease was still this worker's, and the entry was written.
    pub held: bool,
    /// The run was parked, but its approval was decided meanwhile: it is queued again.
    pub requeued_instead: bool,
    /// The conversation after the patch.
    pub conversation: Option<Conversation>,
    /// Runs the patch's `conversation_updated` queued.
    pub queued: Vec<i64>,
    run_id: i64,
}

/// Journal entries as the batch writer's jobs.
pub struct Journal {
    /// Automations, for the runs a patch triggers.
    pub registry: Arc<Registry>,
    /// The loop limit.
    pub max_depth: u32,
    /// This process's workers: owner name, leases, hand-off.
    pub slots: Arc<Slots>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Which runs' leases a batch found held, known now or once committed.
enum Held {
    Known(HashSet<i64>),
    Later(Later<HashSet<i64>>),
}

/// What a batch of entries learns once it is committed.
pub struct Owed {
    held: Held,
    /// The runs the patches' triggers queued, and the entry of each trigger.
    queued: Option<(QueuedLater, Vec<usize>)>,
}

impl BatchKind for Journal {
    type Job = Entry;
    type Done = Written;
    type Pending = Owed;

    fn run<'a>(
        &'a self,
        tx: &'a mut dyn Tx,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, sqlx::Result<(Vec<Written>, Owed)>> {
        Box::pin(self.write(tx, entries))
    }

    fn committed(&self, owed: Owed, done: &mut [Written]) {
        let held = match owed.held {
            Held::Known(held) => held,
            Held::Later(later) => later.resolve().unwrap_or_else(|e| {
                // Committed, so what was held is written; the workers just cannot
                // know it and stop, to be retried when their leases expire.
                tracing::error!(error = %e, "the journal's leases could not be read back");
                HashSet::new()
            }),
        };
        let mut ring = false;
        for w in done.iter_mut() {
            w.held = held.contains(&w.run_id);
            ring |= w.held && w.requeued_instead;
        }
        if let Some((queued, of)) = owed.queued {
            match queued.resolve() {
                Ok(queued) => {
                    for (q, i) in queued.into_iter().zip(of) {
                        ring |= q.waits_for_claimer();
                        done[i].queued = q.ids;
                        for handoff in q.handoffs {
                            self.slots.hand_over(handoff);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "runs were queued but their ids could not be read");
                    ring = true;
                }
            }
        }
        if ring {
            self.slots.ring();
        }
    }
}

impl Journal {
    /// The entries' statements. Most are sent without waiting for an answer (on
    /// PostgreSQL they go out with the commit): each one checks the run's lease
    /// itself, so a worker whose lease was taken over writes nothing.
    async fn write(
        &self,
        tx: &mut dyn Tx,
        entries: &[Entry],
    ) -> sqlx::Result<(Vec<Written>, Owed)> {
        let now = self.clock.now_ms();
        let owner = self.slots.owner();
        let ids: Vec<i64> = entries.iter().map(|e| e.run_id).collect();
        let touched = db::runs::touch_leases(tx, &ids, owner, self.slots.lease_until(now)).await?;
        let mut written: Vec<Written> = entries
            .iter()
            .map(|e| Written {
                run_id: e.run_id,
                ..Written::default()
            })
            .collect();
        let (held, queued) = if entries.iter().any(|e| e.patch.is_some()) {
            // Changes need the conversations, and only the runs still held make them.
            let conversations = self.conversations(tx, entries).await?;
            let held = touched.resolve()?;
            let queued = self
                .apply_patches(tx, entries, &held, conversations, &mut written, now)
                .await?;
            (Held::Known(held), queued)
        } else {
            (Held::Later(touched), None)
        };

        let steps: Vec<(i64, &StepRecord)> = entries
            .iter()
            .filter_map(|e| e.step.as_ref().map(|s| (e.run_id, s)))
            .collect();
        db::runs::record_steps(tx, owner, &steps).await?;
        let lines: Vec<(i64, i64, &str, &str)> = entries
            .iter()
            .flat_map(|e| {
                e.lines
                    .iter()
                    .map(|(at, level, message)| (e.run_id, *at, level.as_str(), message.as_str()))
            })
            .collect();
        db::runs::log_many(tx, owner, &lines).await?;

        let succeeded = End::Finish {
            status: RunStatus::Succeeded,
            error: None,
        };
        let finished: Vec<i64> = entries
            .iter()
            .filter(|e| e.end == succeeded)
            .map(|e| e.run_id)
            .collect();
        db::runs::finish_many(tx, &finished, owner, RunStatus::Succeeded, None, now).await?;
        for (e, w) in entries.iter().zip(&mut written) {
            match &e.end {
                End::Continue => {}
                end if *end == succeeded => {}
                End::Finish { status, error } => {
                    db::runs::finish_many(tx, &[e.run_id], owner, *status, error.as_deref(), now)
                        .await?;
                }
                End::Requeue { run_after, error } => {
                    db::runs::requeue(tx, e.run_id, owner, *run_after, error.as_deref()).await?;
                }
                End::Park {
                    waiting_for,
                    deadline,
                    approval,
                } => {
                    // A decision recorded while the step was still running found no
                    // waiting run to resume. The request is read locked (on
                    // PostgreSQL) so that a decision either happened before, and is
                    // seen here, or happens after, and finds the run waiting.
                    let decided = match approval {
                        Some(id) => db::approvals::decided(tx, *id).await?,
                        None => false,
                    };
                    if decided {
                        db::runs::requeue(tx, e.run_id, owner, now, None).await?;
                        w.requeued_instead = true;
                    } else {
                        db::runs::park(tx, e.run_id, owner, waiting_for, *deadline).await?;
                    }
                }
            }
        }
        Ok((written, Owed { held, queued }))
    }

    async fn conversations(
        &self,
        tx: &mut dyn Tx,
        entries: &[Entry],
    ) -> sqlx::Result<HashMap<i64, Conversation>> {
        let ids: Vec<i64> = entries
            .iter()
            .filter_map(|e| e.patch.as_ref().map(|p| p.conversation_id))
            .collect();
        db::conversations::get_many(tx, &ids).await
    }

    /// Applies the held entries' patches in order, each to the conversation as the
    /// entries before it left it, and queues the runs their `conversation_updated`
    /// triggers.
    async fn apply_patches(
        &self,
        tx: &mut dyn Tx,
        entries: &[Entry],
        held: &HashSet<i64>,
        mut conversations: HashMap<i64, Conversation>,
        written: &mut [Written],
        now: i64,
    ) -> sqlx::Result<Option<(QueuedLater, Vec<usize>)>> {
        let mut triggers: Vec<(usize, Trigger, Conversation)> = Vec::new();
        let (policies, calendars) = (self.registry.slas(), self.registry.calendars());
        let mut clocks = ClockMoves::new(&policies, &calendars);
        let patched: Vec<i64> = entries
            .iter()
            .filter(|e| held.contains(&e.run_id))
            .filter_map(|e| e.patch.as_ref().map(|p| p.conversation_id))
            .collect();
        clocks.lock(tx, &patched).await?;
        for (i, e) in entries.iter().enumerate() {
            let Some(p) = e.patch.as_ref().filter(|_| held.contains(&e.run_id)) else {
                continue;
            };
            let Some(current) = conversations.get_mut(&p.conversation_id) else {
                continue;
            };
            let changes = p.patch.apply(current);
            written[i].conversation = Some(current.clone());
            if changes.is_empty() {
                continue;
            }
            let cause = db::conversations::ChangeCause {
                cause: &p.cause,
                actor: None,
                at_ms: now,
            };
            db::conversations::save_changes(tx, current, &changes, cause).await?;
            clocks.apply(current, Happened::Changed, now);
            written[i].conversation = Some(current.clone());
            let trigger = Trigger {
                event_id: p.cause.clone(),
                team_id: p.team_id.clone(),
                actor: None,
                conversation_id: Some(current.id),
                depth: p.depth + 1,
                event: TriggerEvent::ConversationUpdated { changes },
            };
            triggers.push((i, trigger, current.clone()));
        }
        clocks.save(tx).await?;
        let automations = self.registry.current();
        if crate::automations::wait_until_something(&automations) {
            let moved: Vec<i64> = triggers.iter().map(|(_, _, c)| c.id).collect();
            db::runs::wake_waiting_on(tx, &moved, now).await?;
        }
        if triggers.is_empty() {
            return Ok(None);
        }
        let to_queue: Vec<ToQueue<'_>> = triggers
            .iter()
            .map(|(_, trigger, conversation)| ToQueue {
                trigger,
                conversation: Some(conversation),
            })
            .collect();
        let queued = dispatch::queue_many(
            tx,
            &automations,
            &to_queue,
            self.max_depth,
            now,
            Some(&self.slots),
        )
        .await?;
        Ok(Some((
            queued,
            triggers.iter().map(|(i, _, _)| *i).collect(),
        )))
    }
}

/// A request to lease queued runs.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest {
    /// The lane.
    pub lane: &'static str,
    /// At most this many.
    pub max: usize,
}

/// Claims and lease renewals as the batch writer's jobs.
pub struct Leases {
    /// This process's owner name and lease length.
    pub slots: Arc<Slots>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// A job of [`Leases`].
#[derive(Debug, Clone)]
pub enum LeaseJob {
    /// Lease due runs.
    Claim(ClaimRequest),
    /// Extend the leases of these runs.
    Renew(Vec<i64>),
}

/// What a [`LeaseJob`] did.
#[derive(Debug)]
pub enum Leased {
    /// The runs now leased.
    Claimed(Vec<ClaimedRun>),
    /// The runs whose lease was still held.
    Renewed(HashSet<i64>),
}

impl BatchKind for Leases {
    type Job = LeaseJob;
    type Done = Leased;
    type Pending = ();

    fn run<'a>(
        &'a self,
        tx: &'a mut dyn Tx,
        jobs: &'a [LeaseJob],
    ) -> BoxFuture<'a, sqlx::Result<(Vec<Leased>, ())>> {
        Box::pin(async move {
            let now = self.clock.now_ms();
            let until = self.slots.lease_until(now);
            let owner = self.slots.owner();
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(match job {
                    LeaseJob::Claim(c) => Leased::Claimed(
                        db::runs::claim_due(tx, c.lane, c.max, owner, now, until).await?,
                    ),
                    LeaseJob::Renew(ids) => {
                        let touched = db::runs::touch_leases(tx, ids, owner, until).await?;
                        tx.sync().await?;
                        Leased::Renewed(touched.resolve()?)
                    }
                });
            }
            Ok((out, ()))
        })
    }

    fn committed(&self, (): (), _done: &mut [Leased]) {}
}

impl Patch {
    /// `patch` of `run`'s conversation `conversation_id`, caused by `cause`.
    pub fn of(
        run: &ClaimedRun,
        conversation_id: i64,
        patch: ConversationPatch,
        cause: String,
    ) -> Self {
        Self {
            conversation_id,
            patch,
            cause,
            team_id: run.trigger.team_id.clone(),
            depth: run.trigger.depth,
        }
    }
}
