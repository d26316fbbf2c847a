//! Starting a run of one named automation — for the doors that name it: manual runs,
//! webhooks and schedules. (Slack events go through `ingest` and match every
//! automation.) The run is queued in one transaction, and the workers woken.

use crate::automations::VersionedAutomation;
use crate::conversations::Conversation;
use crate::db::{self, Db};
use crate::rules;
use crate::runs::RunEnv;
use crate::trigger::{Trigger, TriggerKind};

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// No automation has this id (or its file does not check out).
    #[error("there is no automation `{0}` (see `switchboard check`)")]
    Unknown(String),
    /// It is switched off.
    #[error("automation `{0}` is disabled (`enabled = false` in its file)")]
    Disabled(String),
    /// It is not started this way.
    #[error("automation `{id}` has a {has} trigger, so it cannot be started as a {wanted} run")]
    WrongTrigger {
        /// The automation.
        id: String,
        /// Its trigger.
        has: TriggerKind,
        /// The door used.
        wanted: TriggerKind,
    },
    /// The database failed; nothing was queued.
    #[error("the run could not be queued: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a launch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launched {
    /// A run was queued (or existed already for this event).
    Queued(i64),
    /// The automation's filter does not pass for this trigger: nothing was queued.
    Filtered,
}

/// The automation `id` in force, if it can be started by `kind`.
pub fn automation(
    env: &RunEnv,
    id: &str,
    kind: TriggerKind,
) -> Result<VersionedAutomation, LaunchError> {
    let found = env
        .registry
        .current()
        .iter()
        .find(|a| a.automation.id == id)
        .cloned()
        .ok_or_else(|| LaunchError::Unknown(id.to_owned()))?;
    if found.automation.trigger.kind != kind {
        return Err(LaunchError::WrongTrigger {
            id: id.to_owned(),
            has: found.automation.trigger.kind,
            wanted: kind,
        });
    }
    if !found.automation.enabled {
        return Err(LaunchError::Disabled(id.to_owned()));
    }
    Ok(found)
}

/// Queues a run of `automation` for `trigger` and wakes the workers. A trigger whose
/// event id already has a run of this automation returns that run (an idempotent
/// retry).
pub async fn launch(
    env: &RunEnv,
    automation: &VersionedAutomation,
    trigger: &Trigger,
    conversation: Option<&Conversation>,
) -> Result<Launched, LaunchError> {
    let now = env.clock.now_ms();
    let (launched, new) = queue(&env.db, now, automation, trigger, conversation).await?;
    if new {
        env.wake.notify_waiters();
    }
    Ok(launched)
}

/// Queues the run in the database only (the command line has no workers to wake);
/// also says whether the run is new.
pub async fn queue(
    db: &Db,
    now_ms: i64,
    automation: &VersionedAutomation,
    trigger: &Trigger,
    conversation: Option<&Conversation>,
) -> Result<(Launched, bool), LaunchError> {
    let a = &automation.automation;
    if !rules::matches(a, trigger, conversation) {
        tracing::info!(automation = %a.id, trigger = %trigger.kind(), "filter did not pass; no run");
        return Ok((Launched::Filtered, false));
    }
    let mut tx = db.begin().await?;
    let inserted = db::runs::insert(
        &mut tx,
        &a.id,
        automation.version,
        a.lane(),
        trigger,
        now_ms,
    )
    .await?;
    let id = match inserted {
        Some(id) => id,
        None => db::runs::find_by_event(&mut tx, &trigger.event_id, &a.id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?,
    };
    tx.commit().await?;
    if inserted.is_some() {
        tracing::info!(run.id = id, automation = %a.id, trigger = %trigger.kind(), event.id = %trigger.event_id, "run queued");
    }
    Ok((Launched::Queued(id), inserted.is_some()))
}
