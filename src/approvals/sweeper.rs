//! Deadlines and reminders of open requests: expired requests are closed and their
//! runs resumed (they take the expired branch, and the messages say so); due reminders
//! are posted under each request message, once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::blocks;
use crate::db;
use crate::runs::RunEnv;

/// Sweeps every `poll_interval` until `stop`.
pub async fn run(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = env.config.poll_interval.max(Duration::from_millis(50));
    loop {
        if let Err(e) = sweep(&env).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not sweep approval deadlines; trying again"
            );
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// One pass: expire what is due, then remind.
pub async fn sweep(env: &RunEnv) -> anyhow::Result<()> {
    let now = env.clock.now_ms();
    let mut tx = env.db.begin().await?;
    let expired = db::approvals::expire_due(&mut tx, now).await?;
    let mut wake = false;
    for record in &expired {
        tracing::info!(
            approval.id = record.id,
            run.id = record.run_id,
            "approval request expired"
        );
        wake |= super::on_decided(env, &mut tx, record).await?;
    }
    tx.commit().await?;
    if wake {
        env.wake.notify_waiters();
    }
    let reminders = db::approvals::claim_reminders(&mut *env.db.write().await?, now).await?;
    for record in reminders {
        let text = blocks::reminder(&record);
        for message in &record.messages {
            if let Err(e) = env
                .slack
                .post_message(&message.channel, &text, Some(&message.ts))
                .await
            {
                tracing::warn!(error = %e, approval.id = record.id, "could not post a reminder");
            }
        }
        tracing::info!(approval.id = record.id, "reminded the approvers");
    }
    Ok(())
}
