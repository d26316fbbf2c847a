//! Conversation changes made by a run: the `set_fields` action and scripts'
//! `ctx.conversation.update()` both come here, so both record history and produce the
//! same `conversation_updated` trigger, one level deeper.

use sqlx::AnyConnection;

use super::RunEnv;
use crate::conversations::{Conversation, ConversationPatch};
use crate::db::{self, runs::ClaimedRun};
use crate::ingest::queue_runs;
use crate::trigger::{Trigger, TriggerEvent};

/// Applies `patch` to the conversation (as it is now in the database), records the
/// changes under `cause` (which is also the new trigger's event id, so a retried step
/// queues nothing twice) and queues the runs they trigger. Returns the conversation.
pub async fn apply_patch(
    env: &RunEnv,
    conn: &mut AnyConnection,
    run: &ClaimedRun,
    cause: &str,
    patch: &ConversationPatch,
    stale: Conversation,
) -> anyhow::Result<Conversation> {
    // Read the conversation again inside the transaction: another run may have changed it.
    let mut current = db::conversations::get(conn, stale.id)
        .await?
        .unwrap_or(stale);
    let changes = patch.apply(&mut current);
    if changes.is_empty() {
        return Ok(current);
    }
    let now = env.clock.now_ms();
    db::conversations::save_changes(
        conn,
        &current,
        &changes,
        db::conversations::ChangeCause {
            cause,
            actor: None,
            at_ms: now,
        },
    )
    .await?;
    let trigger = Trigger {
        event_id: cause.to_owned(),
        team_id: run.trigger.team_id.clone(),
        actor: None,
        conversation_id: Some(current.id),
        depth: run.trigger.depth + 1,
        event: TriggerEvent::ConversationUpdated { changes },
    };
    let automations = env.registry.current();
    let queued = queue_runs(
        conn,
        &automations,
        &trigger,
        Some(&current),
        env.config.max_depth,
        now,
    )
    .await?;
    if !queued.is_empty() {
        tracing::info!(runs = ?queued, "conversation_updated queued more runs");
        env.wake.notify_waiters();
    }
    Ok(current)
}
