//! Memory over time.

use super::*;

pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) phase: &'static str,
    pub(crate) acked: usize,
    pub(crate) runs: i64,
    pub(crate) queued: i64,
    /// Runs still `running` whose lease expired long enough ago that a server's
    /// reaper should have put them back in the queue (see `overdue`).
    pub(crate) stale: usize,
    /// Per server: RSS (MiB) and age, `None` while it restarts.
    pub(crate) servers: Vec<Option<(f64, Duration)>>,
    pub(crate) sandboxes: usize,
    pub(crate) sandbox_mib: f64,
    pub(crate) database_mib: f64,
}

pub(crate) struct Sampler {
    pub(crate) phase: Arc<Mutex<&'static str>>,
    pub(crate) stop: tokio_util::sync::CancellationToken,
    pub(crate) task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Samples every `o.sample_every` what `load`'s servers and database hold.
    pub(crate) fn start(load: Arc<Load>, o: &Options, start: Instant) -> Sampler {
        let (every, lease) = (o.sample_every, Duration::from_secs(o.lease_seconds));
        let phase = Arc::new(Mutex::new("load"));
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn({
            let (phase, stop) = (phase.clone(), stop.clone());
            async move {
                let mut samples = Vec::new();
                loop {
                    let done = tokio::select! {
                        () = stop.cancelled() => true,
                        () = tokio::time::sleep(every) => false,
                    };
                    let p = *phase.lock().unwrap();
                    samples.push(sample(&load, start, lease, p).await);
                    if done {
                        return samples;
                    }
                }
            }
        });
        Sampler { phase, stop, task }
    }

    pub(crate) fn phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap() = phase;
    }

    /// Takes a last sample and returns them all.
    pub(crate) async fn stop(self) -> Vec<Sample> {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

pub(crate) async fn sample(
    load: &Load,
    start: Instant,
    lease: Duration,
    phase: &'static str,
) -> Sample {
    let (fleet, db) = (&load.fleet, &load.db);
    let mut servers = Vec::new();
    let (mut sandboxes, mut sandbox_mib) = (0, 0.0);
    for slot in &fleet.slots {
        let slot = slot.lock().unwrap();
        servers.push(slot.server.as_ref().map(|s| {
            let children = s.sandboxes();
            sandboxes += children.len();
            sandbox_mib += children.iter().map(|(_, rss)| rss).sum::<f64>();
            (s.rss_mib(), s.started.elapsed())
        }));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs")
        .fetch_one(db.reader())
        .await
        .unwrap_or(-1);
    let queued = switchboard::db::runs::backlog(db.reader(), now)
        .await
        .map_or(-1, |b| b.due);
    let expired: Vec<i64> = sqlx::query_scalar(
        "SELECT lease_expires_at FROM runs WHERE status = 'running' AND lease_expires_at < $1",
    )
    .bind(now)
    .fetch_all(db.reader())
    .await
    .unwrap_or_default();
    let ages: Vec<Duration> = servers.iter().flatten().map(|(_, age)| *age).collect();
    let stale = expired
        .iter()
        .filter(|at| overdue(Duration::from_millis((now - **at) as u64), &ages, lease))
        .count();
    let acked = load.acknowledged();
    Sample {
        at: start.elapsed(),
        phase,
        acked,
        runs,
        queued,
        stale,
        servers,
        sandboxes,
        sandbox_mib,
        database_mib: fleet.site.database_bytes().await as f64 / (1024.0 * 1024.0),
    }
}

/// Whether a run whose lease expired `since` ago should have been requeued by now by
/// one of the servers up, `ages` old: each server's reaper passes at its start and
/// every half lease (`runs/lease.rs`); three seconds of slack for a busy machine.
pub(crate) fn overdue(since: Duration, ages: &[Duration], lease: Duration) -> bool {
    let slack = Duration::from_secs(3);
    ages.iter().any(|&age| {
        if age < since {
            age > slack
        } else {
            since > lease / 2 + slack
        }
    })
}
