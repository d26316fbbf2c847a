//! What the benchmarks share: the release server as a child process, signed events,
//! and latency statistics.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::fake_slack::{self, FakeSlack};

pub const SECRET: &str = "bench-signing-secret";

/// The value after `name` on the bench's command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The backends to measure: `--backend`, else SQLite and, when TEST_DATABASE_URL is
/// set, PostgreSQL.
pub fn backends() -> Vec<String> {
    match arg("--backend") {
        Some(b) => vec![b],
        None if std::env::var("TEST_DATABASE_URL").is_ok() => {
            vec!["sqlite".into(), "postgres".into()]
        }
        None => vec!["sqlite".into()],
    }
}

/// The load generator's runtime: one thread, so the server keeps the other core.
pub fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The example automation file `name`.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/automations/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub struct Server {
    child: Child,
    pub base: String,
    /// The server's database.
    pub database_url: String,
    /// Its secrets key (a file of its own).
    pub secrets: switchboard::config::SecretsConfig,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, in MiB (from /proc).
    pub fn rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// The server's automations directory (it reloads what is written there).
    pub fn automations_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("automations")
    }

    /// CPU time the server has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        process_cpu_time(self.pid())
    }
}

/// CPU time this process (the load generator) has used so far.
pub fn own_cpu_time() -> Duration {
    process_cpu_time(std::process::id())
}

/// CPU time process `pid` has used so far (user + system), from /proc.
fn process_cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let hz = 100; // sysconf(_SC_CLK_TCK) on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the release binary with `files` in its automations directory.
pub async fn start_server(
    backend: &str,
    slack: &FakeSlack,
    files: &[(&str, String)],
    env: &[(&str, String)],
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let automations = dir.path().join("automations");
    std::fs::create_dir(&automations).unwrap();
    for (name, text) in files {
        std::fs::write(automations.join(name), text).unwrap();
    }
    let (url, pg) = match backend {
        "postgres" => {
            let admin =
                std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL for PostgreSQL");
            let name = format!("switchboard_bench_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            (url.to_string(), Some((admin, name)))
        }
        _ => (format!("sqlite://{}/bench.db", dir.path().display()), None),
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let key_file = dir.path().join("switchboard.key");
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command
        .arg("serve")
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", fake_slack::TOKEN)
        .env("SLACK_API_URL", slack.api_url())
        .env("DATABASE_URL", &url)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_AUTOMATIONS", &automations)
        .env("SWITCHBOARD_SECRET_KEY_FILE", &key_file)
        // The fake Slack is not rate limited, and paging one channel 100 times a
        // second is what this measures.
        .env("SWITCHBOARD_SLACK_RATE_LIMITS", "false")
        // BENCH_SERVER_LOG=warn,switchboard::db::writer=debug shows the batch writer.
        .env(
            "RUST_LOG",
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the release binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server {
        child,
        base,
        database_url: url,
        secrets: switchboard::config::SecretsConfig::Local {
            key: None,
            key_file,
        },
        _dir: dir,
        pg,
    }
}

pub async fn stop_server(server: Server) {
    let pg = server.pg.clone();
    drop(server);
    if let Some((admin, name)) = pg {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

pub fn envelope(event_id: &str, event: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "token": "x", "team_id": fake_slack::TEAM_ID, "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000, "event": event
    }))
    .unwrap()
}

pub fn message_ts(i: usize) -> String {
    format!("{}.{:06}", 1_600_000_000 + i / 1000, i % 1000)
}

pub fn conversation_event(i: usize) -> Vec<u8> {
    let ts = message_ts(i);
    envelope(
        &format!("EvMSG{i}"),
        json!({ "type": "message", "channel": "C0SUPPORT1", "user": "U0REQUEST1", "text": format!("request {i}"),
                "ts": ts, "event_ts": ts, "channel_type": "channel" }),
    )
}

pub fn reaction_event(i: usize, conversation: usize) -> Vec<u8> {
    envelope(
        &format!("EvREACT{i}"),
        json!({ "type": "reaction_added", "user": "U0AGENT001", "reaction": "bangbang", "item_user": "U0REQUEST1",
                "item": { "type": "message", "channel": "C0SUPPORT1", "ts": message_ts(conversation) },
                "event_ts": "1700000000.000100" }),
    )
}

/// Posts a signed Events API body; returns the time to the answer.
pub async fn post(client: &reqwest::Client, base: &str, body: Vec<u8>) -> Duration {
    post_signed(client, base, "/slack/events", "application/json", body).await
}

/// Posts `body` to `path`, signed as Slack signs it; returns the time to the answer.
pub async fn post_signed(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Duration {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = switchboard::slack::signature::sign(SECRET.as_bytes(), &ts, &body);
    let start = Instant::now();
    let response = client
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body)
        .send()
        .await
        .expect("request sent");
    assert!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    start.elapsed()
}

/// Posts `bodies` with `in_flight` concurrent requests; returns (elapsed, latencies).
pub async fn blast(
    client: &reqwest::Client,
    base: &str,
    bodies: Vec<Vec<u8>>,
    in_flight: usize,
) -> (Duration, Vec<Duration>) {
    use futures::StreamExt;
    let start = Instant::now();
    let latencies: Vec<Duration> = futures::stream::iter(bodies)
        .map(|b| post(client, base, b))
        .buffer_unordered(in_flight)
        .collect()
        .await;
    (start.elapsed(), latencies)
}

/// Posts one body every 1/rate seconds (open loop) for `seconds`.
pub async fn at_rate(
    client: &reqwest::Client,
    base: &str,
    bodies: Vec<Vec<u8>>,
    rate: u64,
) -> (Vec<(Instant, Duration)>, Duration) {
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(bodies.len());
    let start = Instant::now();
    for body in bodies {
        interval.tick().await;
        let client = client.clone();
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            (sent, post(&client, &base, body).await)
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    (out, start.elapsed())
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A connection to the server's database, for what a bench reads or prepares there.
pub async fn open_db(server: &Server) -> switchboard::db::Db {
    switchboard::db::Db::connect(&switchboard::config::DatabaseConfig {
        url: server.database_url.clone(),
        sqlite_sync: switchboard::config::SqliteSync::Normal,
        max_connections: 2,
    })
    .await
    .unwrap()
}
