//! Load generator for the event pipeline: starts `switchboard serve` (the release binary)
//! as its own process against a fresh database and a fake Slack, posts signed
//! `reaction_added` events, and prints:
//!
//! - acked events/s at maximum rate (64 requests in flight), runs queued but not executed;
//! - ack latency p50/p99 at a fixed rate (default 1,000 events/s);
//! - event-to-Slack-call latency p50/p99 at 100 events/s with the ‼️ automation running.
//!
//! ```text
//! cargo bench --bench ingest                       # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
//! cargo bench --bench ingest -- --backend sqlite --max-events 20000 --fixed-rate 1000
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use serde_json::{Value, json};
use sqlx::Connection;

const SECRET: &str = "bench-signing-secret";

struct Options {
    backends: Vec<String>,
    max_events: usize,
    fixed_rate: u64,
    fixed_seconds: u64,
    slack_rate: u64,
    slack_seconds: u64,
    sqlite_sync: String,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let pg = std::env::var("TEST_DATABASE_URL").is_ok();
    let backends = match get("--backend") {
        Some(b) => vec![b],
        None if pg => vec!["sqlite".into(), "postgres".into()],
        None => vec!["sqlite".into()],
    };
    Options {
        backends,
        max_events: get("--max-events")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000),
        fixed_rate: get("--fixed-rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000),
        fixed_seconds: get("--fixed-seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        slack_rate: get("--slack-rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100),
        slack_seconds: get("--slack-seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        sqlite_sync: get("--sqlite-sync").unwrap_or_else(|| "full".into()),
    }
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "switchboard ingest benchmark: {} logical CPUs, release build, SQLite synchronous={}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            options.sqlite_sync
        );
        for backend in &options.backends {
            bench_backend(backend, &options).await;
        }
    });
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(backend: &str, slack: &FakeSlack, workers: usize, sync: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let automations = dir.path().join("automations");
    std::fs::create_dir(&automations).unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/automations/escalate-bangbang.toml"
    ))
    .unwrap();
    std::fs::write(automations.join("escalate-bangbang.toml"), example).unwrap();
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
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", fake_slack::TOKEN)
        .env("SLACK_API_URL", slack.api_url())
        .env("DATABASE_URL", &url)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_AUTOMATIONS", &automations)
        .env("SWITCHBOARD_WORKERS", workers.to_string())
        .env("SWITCHBOARD_SQLITE_SYNC", sync)
        // The fake Slack is not rate limited, and paging one channel 100 times a
        // second is what this measures.
        .env("SWITCHBOARD_SLACK_RATE_LIMITS", "false")
        .env("RUST_LOG", "warn")
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
        _dir: dir,
        pg,
    }
}

async fn stop_server(server: Server) {
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

fn envelope(event_id: &str, event: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "token": "x", "team_id": fake_slack::TEAM_ID, "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000, "event": event
    }))
    .unwrap()
}

fn message_ts(i: usize) -> String {
    format!("{}.{:06}", 1_600_000_000 + i / 1000, i % 1000)
}

fn conversation_event(i: usize) -> Vec<u8> {
    let ts = message_ts(i);
    envelope(
        &format!("EvMSG{i}"),
        json!({ "type": "message", "channel": "C0SUPPORT1", "user": "U0REQUEST1", "text": format!("request {i}"),
                "ts": ts, "event_ts": ts, "channel_type": "channel" }),
    )
}

fn reaction_event(i: usize, conversation: usize) -> Vec<u8> {
    envelope(
        &format!("EvREACT{i}"),
        json!({ "type": "reaction_added", "user": "U0AGENT001", "reaction": "bangbang", "item_user": "U0REQUEST1",
                "item": { "type": "message", "channel": "C0SUPPORT1", "ts": message_ts(conversation) },
                "event_ts": "1700000000.000100" }),
    )
}

async fn post(client: &reqwest::Client, base: &str, body: Vec<u8>) -> Duration {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = switchboard::slack::signature::sign(SECRET.as_bytes(), &ts, &body);
    let start = Instant::now();
    let response = client
        .post(format!("{base}/slack/events"))
        .header("content-type", "application/json")
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
async fn blast(
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
async fn at_rate(
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn bench_backend(backend: &str, o: &Options) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let slack = FakeSlack::start().await;

    // 1. Maximum rate, runs queued only.
    let server = start_server(backend, &slack, 0, &o.sqlite_sync).await;
    let conversations = 1000;
    blast(
        &client,
        &server.base,
        (0..conversations).map(conversation_event).collect(),
        32,
    )
    .await;
    let bodies = (0..o.max_events)
        .map(|i| reaction_event(i, i % conversations))
        .collect();
    let (elapsed, mut latencies) = blast(&client, &server.base, bodies, 64).await;
    latencies.sort();
    println!(
        "[{backend}] max rate: {} events acked in {:.2} s = {:.0} events/s (64 in flight); ack p50 {} p99 {}",
        o.max_events,
        elapsed.as_secs_f64(),
        o.max_events as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
    );
    stop_server(server).await;

    // 2. Fixed rate, runs queued only.
    let server = start_server(backend, &slack, 0, &o.sqlite_sync).await;
    blast(
        &client,
        &server.base,
        (0..conversations).map(conversation_event).collect(),
        32,
    )
    .await;
    let n = (o.fixed_rate * o.fixed_seconds) as usize;
    let bodies = (0..n)
        .map(|i| reaction_event(i, i % conversations))
        .collect();
    let (results, elapsed) = at_rate(&client, &server.base, bodies, o.fixed_rate).await;
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    println!(
        "[{backend}] fixed {} events/s for {} s (achieved {:.0}/s): ack p50 {} p99 {} max {}",
        o.fixed_rate,
        o.fixed_seconds,
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
    );
    stop_server(server).await;

    // 3. Event to Slack call, the ‼️ automation running, one conversation per event.
    let slack = FakeSlack::start().await;
    let server = start_server(backend, &slack, 16, &o.sqlite_sync).await;
    let n = (o.slack_rate * o.slack_seconds) as usize;
    blast(
        &client,
        &server.base,
        (0..n).map(conversation_event).collect(),
        32,
    )
    .await;
    let bodies = (0..n).map(|i| reaction_event(i, i)).collect();
    let (results, _) = at_rate(&client, &server.base, bodies, o.slack_rate).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while slack.calls_to("chat.postMessage").len() < 2 * n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The page is the run's first message; its permalink names the conversation.
    let mut page_at: HashMap<String, Instant> = HashMap::new();
    for call in slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("channel") == "#oncall")
    {
        if let Some(link) = call
            .arg("text")
            .split_whitespace()
            .find(|w| w.contains("/archives/"))
        {
            page_at.insert(
                link.rsplit('/').next().unwrap_or_default().to_owned(),
                call.at,
            );
        }
    }
    let mut to_slack: Vec<Duration> = results
        .iter()
        .enumerate()
        .filter_map(|(i, (sent, _))| {
            let key = format!("p{}", message_ts(i).replace('.', ""));
            page_at.get(&key).map(|at| at.duration_since(*sent))
        })
        .collect();
    to_slack.sort();
    println!(
        "[{backend}] {} events/s for {} s with the automation running: {} of {n} pages; event → Slack call p50 {} p99 {}",
        o.slack_rate,
        o.slack_seconds,
        to_slack.len(),
        ms(percentile(&to_slack, 0.5)),
        ms(percentile(&to_slack, 0.99)),
    );
    stop_server(server).await;
}
