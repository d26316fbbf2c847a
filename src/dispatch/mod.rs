//! Where the runs a trigger causes go. Shared by ingest (triggers from Slack), by the
//! runs' journal (the `conversation_updated` an automation's own change causes) and by
//! approvals, so matching and the loop limit live in one place.
//!
//! Each matching automation gets one run row; when this process has a free worker for
//! it, the row is inserted already leased and the run is handed to that worker after
//! the commit ([`slots`]).

pub mod slots;

pub use slots::{Handoff, Inboxes, Slots};

use tokio::sync::OwnedSemaphorePermit;

use crate::automations::VersionedAutomation;
use crate::conversations::Conversation;
use crate::db;
use crate::db::runs::{ClaimedRun, NewRun};
use crate::db::tx::{Later, Tx};
use crate::rules;
use crate::trigger::Trigger;

/// What one trigger queued.
#[derive(Debug, Default)]
pub struct Queued {
    /// The new runs' ids.
    pub ids: Vec<i64>,
    /// Those taken by this process's workers: hand them over after the commit.
    pub handoffs: Vec<Handoff>,
}

impl Queued {
    /// Whether some run waits in the database for a claimer.
    pub fn waits_for_claimer(&self) -> bool {
        self.ids.len() > self.handoffs.len()
    }
}

/// A trigger to queue runs for, with its conversation as it is now.
#[derive(Debug, Clone, Copy)]
pub struct ToQueue<'a> {
    /// The trigger.
    pub trigger: &'a Trigger,
    /// Its conversation.
    pub conversation: Option<&'a Conversation>,
}

/// A run planned for a trigger, waiting for its row's id.
#[derive(Debug)]
struct Planned {
    of: usize,
    automation_id: String,
    version: i64,
    lane: &'static str,
    /// The worker that takes it, with the trigger and conversation to hand over.
    taken: Option<(OwnedSemaphorePermit, Trigger, Option<Conversation>)>,
}

/// The runs of [`queue_many`], once their insert has run (after the connection's next
/// sync, or the commit).
#[derive(Debug)]
pub struct QueuedLater {
    triggers: usize,
    planned: Vec<Planned>,
    ids: Option<Later<Vec<Option<i64>>>>,
}

impl QueuedLater {
    /// What each trigger queued.
    pub fn resolve(self) -> sqlx::Result<Vec<Queued>> {
        let mut queued: Vec<Queued> = (0..self.triggers).map(|_| Queued::default()).collect();
        let ids = match self.ids {
            Some(ids) => ids.resolve()?,
            None => return Ok(queued),
        };
        for (p, id) in self.planned.into_iter().zip(ids) {
            let Some(id) = id else { continue };
            let q = &mut queued[p.of];
            q.ids.push(id);
            if let Some((permit, trigger, conversation)) = p.taken {
                q.handoffs.push(Handoff {
                    run: ClaimedRun {
                        id,
                        automation_id: p.automation_id,
                        automation_version: p.version,
                        trigger,
                        attempt: 1,
                    },
                    conversation,
                    lane: p.lane,
                    permit,
                });
            }
        }
        Ok(queued)
    }
}

/// Inserts one run per matching automation of each trigger; a trigger deeper than
/// `max_depth` (automations triggering each other) queues nothing and says so. With
/// `slots`, runs are taken by this process's free workers where there are some.
pub async fn queue_many(
    tx: &mut dyn Tx,
    automations: &[VersionedAutomation],
    triggers: &[ToQueue<'_>],
    max_depth: u32,
    now_ms: i64,
    slots: Option<&Slots>,
) -> sqlx::Result<QueuedLater> {
    let mut planned = Vec::new();
    for (of, t) in triggers.iter().enumerate() {
        let matching: Vec<&VersionedAutomation> = automations
            .iter()
            .filter(|a| rules::matches(&a.automation, t.trigger, t.conversation))
            .collect();
        if matching.is_empty() {
            continue;
        }
        if t.trigger.depth > max_depth {
            loop_stopped(t.trigger, &matching, max_depth);
            continue;
        }
        for a in matching {
            let lane = a.automation.lane();
            let taken = slots
                .and_then(|s| s.try_reserve(lane))
                .map(|permit| (permit, t.trigger.clone(), t.conversation.cloned()));
            planned.push(Planned {
                of,
                automation_id: a.automation.id.clone(),
                version: a.version,
                lane,
                taken,
            });
        }
    }
    if planned.is_empty() {
        return Ok(QueuedLater {
            triggers: triggers.len(),
            planned,
            ids: None,
        });
    }
    let lease = slots.map(|s| (s.owner(), s.lease_until(now_ms)));
    let rows: Vec<NewRun<'_>> = planned
        .iter()
        .map(|p| NewRun {
            automation_id: &p.automation_id,
            automation_version: p.version,
            lane: p.lane,
            trigger: triggers[p.of].trigger,
            leased: p.taken.as_ref().and(lease),
        })
        .collect();
    let ids = db::runs::insert_many(tx, &rows, now_ms).await?;
    Ok(QueuedLater {
        triggers: triggers.len(),
        planned,
        ids: Some(ids),
    })
}

/// Queues the runs of one trigger in the database (no hand-off); returns their ids.
pub async fn queue_runs(
    tx: &mut dyn Tx,
    automations: &[VersionedAutomation],
    trigger: &Trigger,
    conversation: Option<&Conversation>,
    max_depth: u32,
    now_ms: i64,
) -> sqlx::Result<Vec<i64>> {
    let one = ToQueue {
        trigger,
        conversation,
    };
    let queued = queue_many(tx, automations, &[one], max_depth, now_ms, None).await?;
    tx.sync().await?;
    Ok(queued.resolve()?.pop().map(|q| q.ids).unwrap_or_default())
}

fn loop_stopped(trigger: &Trigger, matching: &[&VersionedAutomation], max_depth: u32) {
    tracing::warn!(
        event.id = %trigger.event_id,
        trigger = %trigger.kind(),
        depth = trigger.depth,
        max_depth,
        automations = ?matching.iter().map(|a| a.automation.id.as_str()).collect::<Vec<_>>(),
        "automation loop stopped: this trigger was caused by {} automation steps in a row \
         (limit runs.max_depth = {max_depth}); no runs were queued for it",
        trigger.depth
    );
}
