//! What the benchmarks share: the server binary as a child process (one, several on
//! one database, or one restarted), signed events, and latency statistics.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
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

/// Where servers run: their automations directory, database and secrets key. Every
/// server started on a site shares them, as replicas (PostgreSQL) or as one server
/// restarted (SQLite).
pub struct Site {
    dir: tempfile::TempDir,
    /// The site's database.
    pub database_url: String,
    /// Its secrets key (a file of its own).
    pub secrets: switchboard::config::SecretsConfig,
    slack_api_url: String,
    env: Vec<(String, String)>,
    /// The server binary as it was when the site was made (see `pin_binary`).
    binary: std::path::PathBuf,
    /// Asks new servers whether they are up.
    client: reqwest::Client,
    /// Where the servers' stderr goes; the bench's own stderr when `None`.
    log: Option<std::path::PathBuf>,
    pg: Option<(String, String)>,
}

impl Site {
    /// A fresh database (`backend`) and automations directory holding `files`; servers
    /// started here get `env` and talk to `slack`.
    pub async fn create(
        backend: &str,
        slack: &FakeSlack,
        files: &[(&str, String)],
        env: &[(&str, String)],
    ) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let automations = dir.path().join("automations");
        std::fs::create_dir(&automations).unwrap();
        for (name, text) in files {
            std::fs::write(automations.join(name), text).unwrap();
        }
        let (database_url, pg) = match backend {
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
        let key_file = dir.path().join("switchboard.key");
        let binary = pin_binary(dir.path());
        Site {
            dir,
            database_url,
            secrets: switchboard::config::SecretsConfig::Local {
                key: None,
                key_file,
            },
            slack_api_url: slack.api_url(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            binary,
            client: reqwest::Client::new(),
            log: None,
            pg,
        }
    }

    /// Sends the servers' stderr to the end of `path` instead of the bench's stderr.
    pub fn log_to(&mut self, path: std::path::PathBuf) {
        self.log = Some(path);
    }

    /// The automations directory (servers reload what is written there).
    pub fn automations_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("automations")
    }

    /// Starts a server on a free port.
    pub async fn start(&self) -> anyhow::Result<Server> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        self.start_on(port).await
    }

    /// Starts a server on `port` (a restarted server keeps its address); returns once
    /// it answers `/healthz`.
    pub async fn start_on(&self, port: u16) -> anyhow::Result<Server> {
        let switchboard::config::SecretsConfig::Local { key_file, .. } = &self.secrets else {
            unreachable!("sites use a local key file")
        };
        let stderr = match &self.log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => Stdio::inherit(),
        };
        let mut command = Command::new(&self.binary);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let child = command
            .arg("serve")
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("SLACK_BOT_TOKEN", fake_slack::TOKEN)
            .env("SLACK_API_URL", &self.slack_api_url)
            .env("DATABASE_URL", &self.database_url)
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_AUTOMATIONS", self.automations_dir())
            .env("SWITCHBOARD_SECRET_KEY_FILE", key_file)
            // The fake Slack is not rate limited, and paging one channel 100 times a
            // second is what this measures.
            .env("SWITCHBOARD_SLACK_RATE_LIMITS", "false")
            // BENCH_SERVER_LOG=warn,switchboard::db::writer=debug shows the batch writer.
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("the server binary starts")?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            started: Instant::now(),
            database_url: self.database_url.clone(),
            secrets: self.secrets.clone(),
            automations: self.automations_dir(),
            site: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err()
        {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("the server exited at start: {status}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the server did not start in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(server)
    }

    /// The database's size on disk, in bytes: SQLite's file with its WAL, or what
    /// PostgreSQL reports for the database.
    pub async fn database_bytes(&self) -> u64 {
        match &self.pg {
            Some((admin, name)) => {
                let Ok(mut conn) = sqlx::PgConnection::connect(admin).await else {
                    return 0;
                };
                let size: Option<i64> = sqlx::query_scalar("SELECT pg_database_size($1)")
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await
                    .ok();
                let _ = conn.close().await;
                size.unwrap_or(0) as u64
            }
            None => ["bench.db", "bench.db-wal", "bench.db-shm"]
                .iter()
                .filter_map(|f| std::fs::metadata(self.dir.path().join(f)).ok())
                .map(|m| m.len())
                .sum(),
        }
    }

    /// Drops the site's PostgreSQL database (the directory goes with the value).
    pub async fn remove(self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

/// A link to (or else a copy of) the server binary in `dir`, so that every server of
/// a site runs the same build, whatever cargo writes to `target/` meanwhile (another
/// build in the same checkout relinks `target/*/switchboard` in place of the old one).
fn pin_binary(dir: &std::path::Path) -> std::path::PathBuf {
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_switchboard"));
    let pinned = dir.join("switchboard");
    if std::fs::hard_link(built, &pinned).is_err() {
        std::fs::copy(built, &pinned).expect("a copy of the server binary");
    }
    pinned
}

/// A running `switchboard serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    /// When it was started.
    pub started: Instant,
    /// The server's database.
    pub database_url: String,
    /// Its secrets key.
    pub secrets: switchboard::config::SecretsConfig,
    automations: std::path::PathBuf,
    /// The site, when the server has one of its own (`start_server`).
    site: Option<Site>,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, in MiB (from /proc).
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.pid())
    }

    /// The server's script sandboxes (its child processes) and their resident memory,
    /// in MiB.
    pub fn sandboxes(&self) -> Vec<(u32, f64)> {
        children(self.pid())
            .into_iter()
            .map(|pid| (pid, rss_mib(pid)))
            .collect()
    }

    /// The server's automations directory (it reloads what is written there).
    pub fn automations_dir(&self) -> std::path::PathBuf {
        self.automations.clone()
    }

    /// CPU time the server has used so far (user + system), from /proc.
    pub fn cpu_time(&self) -> Duration {
        process_cpu_time(self.pid())
    }

    /// Kills the server with SIGKILL, as a crash or the OOM killer would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, in MiB (0 when it is gone).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A process, told apart from a later one that got the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    /// When it started, in clock ticks since boot (`/proc/PID/stat`, field 22).
    started: u64,
}

impl ProcessId {
    /// Process `pid` as it is now, if it exists and is not a zombie.
    pub fn of(pid: u32) -> Option<ProcessId> {
        let fields = stat_fields(pid)?;
        let state = fields.first()?;
        let started = fields.get(19)?.parse().ok()?;
        (state != "Z").then_some(ProcessId { pid, started })
    }

    /// Whether this process still runs (not a zombie, not replaced by another).
    pub fn alive(&self) -> bool {
        ProcessId::of(self.pid) == Some(*self)
    }
}

/// The fields of `/proc/PID/stat` after the command name (which is in parentheses
/// and may hold spaces): the state first, then the parent's pid…
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The live child processes of `parent`, from /proc.
pub fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|f| {
                f.len() > 1 && f[0] != "Z" && f[1].parse::<u32>().ok() == Some(parent)
            })
        })
        .collect()
}

/// CPU time this process (the load generator) has used so far.
pub fn own_cpu_time() -> Duration {
    process_cpu_time(std::process::id())
}

/// CPU time process `pid` has used so far (user + system), from /proc.
fn process_cpu_time(pid: u32) -> Duration {
    let fields = stat_fields(pid).unwrap_or_default();
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
        self.kill();
    }
}

/// Starts the server binary with `files` in its automations directory, on a site of
/// its own.
pub async fn start_server(
    backend: &str,
    slack: &FakeSlack,
    files: &[(&str, String)],
    env: &[(&str, String)],
) -> Server {
    let site = Site::create(backend, slack, files, env).await;
    let mut server = site.start().await.expect("the server starts");
    server.site = Some(site);
    server
}

/// Stops `server` and removes its site.
pub async fn stop_server(mut server: Server) {
    let site = server.site.take();
    drop(server);
    if let Some(site) = site {
        site.remove().await;
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
    let start = Instant::now();
    let response = signed(client, base, path, content_type, body, 0)
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

/// A POST of `body` to `path`, signed as Slack signs it; `retry` > 0 marks it as Slack's
/// `retry`th redelivery of an unacknowledged request.
pub fn signed(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    retry: u32,
) -> reqwest::RequestBuilder {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = switchboard::slack::signature::sign(SECRET.as_bytes(), &ts, &body);
    let request = client
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body);
    if retry == 0 {
        return request;
    }
    request
        .header("x-slack-retry-num", retry.to_string())
        .header("x-slack-retry-reason", "http_error")
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
    connect_db(&server.database_url).await
}

/// A connection to the database at `url` (a site's), for what a bench reads there.
pub async fn connect_db(url: &str) -> switchboard::db::Db {
    switchboard::db::Db::connect(&switchboard::config::DatabaseConfig {
        url: url.to_owned(),
        sqlite_sync: switchboard::config::SqliteSync::Normal,
        max_connections: 2,
    })
    .await
    .unwrap()
}

/// A length of time as benches take it: `90s`, `10m`, `1h`, `500ms`, or seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" | "min" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}
