//! Leases: a worker renews its run's lease while it executes; a lease that is not
//! renewed expires, and the reaper puts the run back in the queue for another worker.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::RunEnv;
use crate::db;

/// Renews the lease of `run_id` every third of the lease time; cancels `lost` if the
/// lease turns out to belong to someone else.
pub async fn keep_alive(env: Arc<RunEnv>, run_id: i64, lost: CancellationToken) {
    let every = env.config.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let until = env.clock.now_ms() + env.config.lease.as_millis() as i64;
        match db::runs::renew_lease(env.db.writer(), run_id, &env.owner, until).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            // A passing database error: try again next time; the lease has slack.
            Err(e) => {
                tracing::warn!(run.id = run_id, error = %e, "could not renew the run's lease")
            }
        }
    }
}

/// Requeues runs with expired leases, and runs whose `wait` is over, periodically,
/// until `stop`.
pub async fn reap_expired(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = (env.config.lease / 2).max(std::time::Duration::from_millis(200));
    loop {
        match db::runs::resume_delays(env.db.writer(), env.clock.now_ms()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(runs = ?ids, "runs whose wait is over are back in the queue");
                env.wake.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not resume runs whose wait is over"),
        }
        match db::runs::requeue_expired(env.db.writer(), env.clock.now_ms()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(runs = ?ids, "requeued runs whose worker stopped renewing its lease");
                env.wake.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not requeue expired runs"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
