//! Overload shows in the queue, not in acks: when more arrives than the workers can
//! execute, runs wait in the queue. This watcher says so in the log (a warning while
//! the oldest due run has waited longer than `BEHIND`, a line when the queue has caught
//! up), so an operator sees the backlog and its age without a dashboard.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::RunEnv;
use crate::db;

/// How often the queue is looked at.
const EVERY: Duration = Duration::from_secs(10);
/// A due run waiting longer than this means the workers are behind.
const BEHIND: Duration = Duration::from_secs(5);

/// Watches the queue until `stop`.
pub async fn watch(env: Arc<RunEnv>, stop: CancellationToken) {
    if env.config.workers == 0 {
        return; // this process executes nothing: the processes that do watch
    }
    let mut behind = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        let now = env.clock.now_ms();
        let backlog = match db::runs::backlog(env.db.reader(), now).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the queue's backlog");
                continue;
            }
        };
        let waited = Duration::from_millis(
            backlog
                .oldest_due_at
                .map_or(0, |at| (now - at).max(0) as u64),
        );
        if waited > BEHIND {
            behind = true;
            tracing::warn!(
                queued = backlog.due,
                oldest_due_s = waited.as_secs(),
                workers = env.config.workers,
                "runs are waiting for a worker: more arrives than the workers execute \
                 (raise runs.workers if the database and Slack keep up)"
            );
        } else if behind {
            behind = false;
            tracing::info!(queued = backlog.due, "the run queue has caught up");
        }
    }
}
