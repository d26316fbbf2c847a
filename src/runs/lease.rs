//! Leases: this process renews the leases of the runs its workers hold (one statement
//! for all of them, every third of the lease time; every journal entry renews its
//! run's lease too). A lease that is not renewed expires, and the reaper puts the run
//! back in the queue for another worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::RunEnv;
use super::journal::{LeaseJob, Leased};
use crate::db;

/// The runs this process's workers hold, each with a token cancelled when another
/// worker took its lease over.
#[derive(Debug, Default)]
pub struct LeaseBook {
    held: Mutex<HashMap<i64, CancellationToken>>,
}

/// A run held by a worker; dropping it stops renewing the run's lease.
#[derive(Debug)]
pub struct Held<'a> {
    book: &'a LeaseBook,
    run_id: i64,
    lost: CancellationToken,
}

impl Held<'_> {
    /// Resolves when the lease turns out to be another worker's.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.book.lock().remove(&self.run_id);
    }
}

impl LeaseBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, CancellationToken>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renews `run_id`'s lease until the returned guard is dropped.
    pub fn hold(&self, run_id: i64) -> Held<'_> {
        let lost = CancellationToken::new();
        self.lock().insert(run_id, lost.clone());
        Held {
            book: self,
            run_id,
            lost,
        }
    }

    fn ids(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    fn lost(&self, run_id: i64) {
        if let Some(token) = self.lock().get(&run_id) {
            token.cancel();
        }
    }
}

/// Renews the leases of the runs held here, every third of the lease time.
pub async fn keep_alive(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = env.config.lease / 3;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let ids = env.leases.ids();
        if ids.is_empty() {
            continue;
        }
        match env.leasing.submit(LeaseJob::Renew(ids.clone())).await {
            Ok(Leased::Renewed(held)) => {
                for id in ids.into_iter().filter(|id| !held.contains(id)) {
                    tracing::warn!(run.id = id, "another worker took this run's lease over");
                    env.leases.lost(id);
                }
            }
            Ok(Leased::Claimed(_)) => unreachable!("a renewal renews"),
            // A passing database error: try again next time; the lease has slack.
            Err(e) => tracing::warn!(error = %e, "could not renew the leases of runs in flight"),
        }
    }
}

/// Requeues runs with expired leases, and runs whose `wait` is over, periodically,
/// until `stop`.
pub async fn reap_expired(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = (env.config.lease / 2).max(std::time::Duration::from_millis(200));
    loop {
        let now = env.clock.now_ms();
        let resumed = async { db::runs::resume_delays(&mut *env.db.write().await?, now).await };
        match resumed.await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(runs = ?ids, "runs whose wait is over are back in the queue");
                env.wake.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not resume runs whose wait is over"),
        }
        let requeued = async { db::runs::requeue_expired(&mut *env.db.write().await?, now).await };
        match requeued.await {
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
