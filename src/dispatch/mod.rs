//! Where the runs a trigger causes go. Shared by ingest (triggers from Slack), by the
//! runs' journal (the `conversation_updated` an automation's own change causes) and by
//! approvals, so matching and the loop limit live in one place.
//!
//! Each matching automation gets one run row; when this process has a free worker for
//! it, the row is inserted already leased and the run is handed to that worker after
//! the commit ([`slots`]).

pub mod slots;

pub use slots::{Handoff, Inboxes, Slots};

use crate::automations::VersionedAutomation;
use crate::conversations::Conversation;
use crate::db::runs::{ClaimedRun, NewRun};
use crate::db::{self, tx::Tx};
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
) -> sqlx::Result<Vec<Queued>> {
    struct Planned<'a> {
        of: usize,
        automation: &'a VersionedAutomation,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    }
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
        for automation in matching {
            let permit = slots.and_then(|s| s.try_reserve(automation.automation.lane()));
            planned.push(Planned {
                of,
                automation,
                permit,
            });
        }
    }
    let mut queued: Vec<Queued> = triggers.iter().map(|_| Queued::default()).collect();
    if planned.is_empty() {
        return Ok(queued);
    }
    let lease = slots.map(|s| (s.owner(), s.lease_until(now_ms)));
    let rows: Vec<NewRun<'_>> = planned
        .iter()
        .map(|p| NewRun {
            automation_id: &p.automation.automation.id,
            automation_version: p.automation.version,
            lane: p.automation.automation.lane(),
            trigger: triggers[p.of].trigger,
            leased: p.permit.as_ref().and(lease),
        })
        .collect();
    let ids = db::runs::insert_many(tx, &rows, now_ms).await?;
    for (p, id) in planned.into_iter().zip(ids) {
        let Some(id) = id else { continue };
        let q = &mut queued[p.of];
        q.ids.push(id);
        if let Some(permit) = p.permit {
            let t = triggers[p.of];
            q.handoffs.push(Handoff {
                run: ClaimedRun {
                    id,
                    automation_id: p.automation.automation.id.clone(),
                    automation_version: p.automation.version,
                    trigger: t.trigger.clone(),
                    attempt: 1,
                },
                conversation: t.conversation.cloned(),
                lane: p.automation.automation.lane(),
                permit,
            });
        }
    }
    Ok(queued)
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
    let mut queued = queue_many(tx, automations, &[one], max_depth, now_ms, None).await?;
    Ok(queued.pop().map(|q| q.ids).unwrap_or_default())
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
