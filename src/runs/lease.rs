//! Leases: this process renews the leases of the runs its workers hold (one statement
//! for all of them, every third of the lease time; every journal entry renews its
//! run's lease too). A lease that is not renewed expires, and the reaper puts the run
//! back in the queue for another worker.

use std::collections::{HashMap, HashSet};
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

    fn holds(&self, run_id: i64) -> bool {
        self.lock().contains_key(&run_id)
    }

    fn lost(&self, run_id: i64) {
        if let Some(token) = self.lock().get(&run_id) {
            token.cancel();
        }
    }
}

/// Renews the leases of the runs held here, every third of the lease time.
///
/// A run missing from a renewal may only have finished while the renewal was on its
/// way (its last entry committed on another connection): it counts as taken over when
/// it is still held and missing from two renewals in a row.
pub async fn keep_alive(env: Arc<RunEnv>, stop: CancellationToken) {
    let every = env.config.lease / 3;
    let mut missing = HashSet::new();
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
            Ok(Leased::Renewed(renewed)) => {
                let lost;
                (lost, missing) = taken_over(&ids, &renewed, &missing, |id| env.leases.holds(id));
                for id in lost {
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

/// Of the runs a renewal asked for (`asked`), those it did not renew and that are still
/// held: the ones also `missing_before` are lost; all are missing now.
fn taken_over(
    asked: &[i64],
    renewed: &HashSet<i64>,
    missing_before: &HashSet<i64>,
    still_held: impl Fn(i64) -> bool,
) -> (Vec<i64>, HashSet<i64>) {
    let missing: HashSet<i64> = asked
        .iter()
        .copied()
        .filter(|id| !renewed.contains(id) && still_held(*id))
        .collect();
    let mut lost: Vec<i64> = missing.intersection(missing_before).copied().collect();
    lost.sort_unstable();
    (lost, missing)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_lost_when_missing_from_two_renewals_while_still_held() {
        let asked = [1, 2, 3];
        let renewed = HashSet::from([1]);
        // 2 finished while the renewal was on its way (no longer held); 3 is still held.
        let (lost, missing) = taken_over(&asked, &renewed, &HashSet::new(), |id| id == 3);
        assert!(lost.is_empty(), "one miss is not enough");
        assert_eq!(missing, HashSet::from([3]));
        let (lost, missing) = taken_over(&[1, 3], &renewed, &missing, |id| id == 3);
        assert_eq!(lost, vec![3]);
        assert_eq!(missing, HashSet::from([3]));
        // Renewed again in between: the count starts over.
        let (lost, _) = taken_over(&[1, 3], &HashSet::from([1, 3]), &missing, |_| true);
        assert!(lost.is_empty());
    }
}
