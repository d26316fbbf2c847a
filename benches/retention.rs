//! The worst pause retention causes: 1,000,000 finished runs (three steps and two log
//! lines each) past their period on SQLite, deleted by `retention::prune` while a
//! probe commits a small write every 5 ms; prints the batches' and the probe's
//! latencies. `cargo bench --bench retention [-- --runs N]`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchboard::config::{DatabaseConfig, RetentionConfig, SqliteSync};
use switchboard::db::Db;

fn main() {
    let runs: i64 = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("--runs N"));
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(measure(runs));
}

async fn measure(runs: i64) {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        url: format!("sqlite://{}/retention.db", dir.path().display()),
        sqlite_sync: SqliteSync::Full,
        max_connections: 4,
    };
    let db = Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    let seeded = Instant::now();
    seed(&db, runs).await;
    println!(
        "seeded {runs} runs in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );

    // The probe: what an ingest commit would wait for meanwhile.
    let probe = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut waits = Vec::new();
            let mut i = 0u64;
            while !DONE.load(Ordering::SeqCst) {
                i += 1;
                let started = Instant::now();
                let mut conn = db.write().await.unwrap();
                sqlx::query("INSERT INTO events (event_id, team_id, kind, received_at) VALUES ($1, 'T', 'probe', $2)")
                    .bind(format!("probe-{i}"))
                    .bind(i64::MAX)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                drop(conn);
                waits.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            waits
        })
    };
    let now = 400 * 86_400_000;
    let started = Instant::now();
    let pruned = switchboard::retention::prune(
        &db,
        &RetentionConfig::default(),
        now,
        Duration::from_millis(20),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    DONE.store(true, Ordering::SeqCst);
    let mut waits = probe.await.unwrap();
    waits.sort();
    let pct = |p: f64| waits[((waits.len() - 1) as f64 * p) as usize];
    println!(
        "deleted {} runs in {:.1} s ({:.0} runs/s); longest batch {:.1} ms",
        pruned.runs,
        took.as_secs_f64(),
        pruned.runs as f64 / took.as_secs_f64(),
        pruned.longest_batch.as_secs_f64() * 1e3
    );
    println!(
        "a write meanwhile ({} probes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        waits.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        waits.last().unwrap().as_secs_f64() * 1e3
    );
}

static DONE: AtomicBool = AtomicBool::new(false);

/// `runs` finished runs created on day 1, in one statement per table.
async fn seed(db: &Db, runs: i64) {
    let mut conn = db.write().await.unwrap();
    let statements = [
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO runs (automation_id, automation_version, event_id, trigger_kind, trigger_json,
                           depth, status, attempt, run_after, created_at, started_at, finished_at)
         SELECT 'escalate', 1, 'Ev' || i, 'reaction_added', '{\"emoji\":\"bangbang\"}', 0, 'succeeded', 1,
                86400000 + i, 86400000 + i, 86400000 + i, 86400000 + i FROM n",
        "INSERT INTO run_steps (run_id, step_index, action, status, output, attempts, started_at, finished_at)
         SELECT id, s.k, 'reply', 'succeeded', '{\"ts\":\"1700000000.000100\"}', 1, created_at, created_at
         FROM runs, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) s",
        "INSERT INTO run_log (run_id, at, level, message)
         SELECT id, created_at, 'info', 'step ' || s.k || ' succeeded' FROM runs,
         (SELECT 0 AS k UNION ALL SELECT 1) s",
    ];
    for (i, sql) in statements.into_iter().enumerate() {
        let query = sqlx::query(sql);
        let query = if i == 0 { query.bind(runs) } else { query };
        query.execute(&mut *conn).await.unwrap();
    }
}
