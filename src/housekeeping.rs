//! The background chores every server does: history past its retention period and old
//! event ids (hourly, the first time at start), schedule ticks no schedule needs, and
//! the key-value store's expired keys (every minute; they are invisible from the moment
//! they expire).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::RetentionConfig;
use crate::db::{self, Db};
use crate::kv::KvStore;
use crate::retention;

/// The pause between two batches of deletions, so that the writer serves the ingest
/// and the runs in between.
const PACE: Duration = Duration::from_millis(20);

/// Does the chores until `stop`.
pub async fn run(
    db: Db,
    kv: KvStore,
    policy: RetentionConfig,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) {
    let mut minute = 0u32;
    loop {
        if minute.is_multiple_of(60) {
            let started = std::time::Instant::now();
            match retention::prune(&db, &policy, clock.now_ms(), PACE).await {
                Ok(p) if p.is_empty() => {}
                Ok(p) => tracing::info!(
                    runs = p.runs,
                    approvals = p.approvals,
                    messages = p.messages,
                    event_ids = p.event_ids,
                    took_ms = started.elapsed().as_millis() as u64,
                    longest_batch_ms = p.longest_batch.as_millis() as u64,
                    "deleted history past its retention period"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete old history; trying again in an hour")
                }
            }
            let before = clock.now_ms() - retention::EVENT_ID_WINDOW.as_millis() as i64;
            match async { db::doors::prune_ticks(&mut *db.write().await?, before).await }.await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "forgot old schedule ticks"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not forget old schedule ticks"),
            }
        }
        match kv.purge_expired().await {
            Ok(n) if n > 0 => tracing::debug!(purged = n, "purged expired keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired keys"),
        }
        minute = minute.wrapping_add(1);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}
