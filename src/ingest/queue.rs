//! Queuing the runs a trigger causes. Shared by ingest (triggers from Slack) and by
//! workers (the `conversation_updated` an automation's own change causes), so the
//! matching and the loop limit live in one place.

use sqlx::AnyConnection;

use crate::automations::VersionedAutomation;
use crate::conversations::Conversation;
use crate::db;
use crate::rules;
use crate::trigger::Trigger;

/// Inserts one run per matching automation; returns the new run ids. A trigger deeper
/// than `max_depth` (automations triggering each other) queues nothing and says so.
pub async fn queue_runs(
    conn: &mut AnyConnection,
    automations: &[VersionedAutomation],
    trigger: &Trigger,
    conversation: Option<&Conversation>,
    max_depth: u32,
    now_ms: i64,
) -> sqlx::Result<Vec<i64>> {
    let matching: Vec<&VersionedAutomation> = automations
        .iter()
        .filter(|a| rules::matches(&a.automation, trigger, conversation))
        .collect();
    if matching.is_empty() {
        return Ok(Vec::new());
    }
    if trigger.depth > max_depth {
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
        return Ok(Vec::new());
    }
    let mut ids = Vec::with_capacity(matching.len());
    for a in matching {
        if let Some(id) = db::runs::insert(
            conn,
            &a.automation.id,
            a.version,
            a.automation.lane(),
            trigger,
            now_ms,
        )
        .await?
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
