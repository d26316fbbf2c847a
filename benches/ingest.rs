//! Load generator for the event pipeline: starts `switchboard serve` (the release binary)
//! as its own process against a fresh database and a fake Slack, posts signed
//! `reaction_added` events, and prints:
//!
//! - acked events/s at maximum rate (64 requests in flight), runs queued but not executed;
//! - ack latency p50/p99 at a fixed rate (default 1,000 events/s);
//! - event-to-Slack-call latency p50/p99 at 100 events/s with the ‼️ automation running;
//! - the first two again over Socket Mode (two connections to a fake Socket Mode
//!   server): envelopes/s acknowledged, and ack latency at the fixed rate.
//!
//! ```text
//! cargo bench --bench ingest                       # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
//! cargo bench --bench ingest -- --backend sqlite --max-events 20000 --fixed-rate 1000
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use support::{
    Server, at_rate, blast, conversation_event, message_ts, ms, percentile, reaction_event,
    start_server, stop_server,
};

/// The ‼️ example, and the server settings of a scenario.
async fn ingest_server(backend: &str, slack: &FakeSlack, workers: usize, sync: &str) -> Server {
    let files = [(
        "escalate-bangbang.toml",
        support::example("escalate-bangbang.toml"),
    )];
    let env = [
        ("SWITCHBOARD_WORKERS", workers.to_string()),
        ("SWITCHBOARD_SQLITE_SYNC", sync.to_owned()),
        // Socket Mode too (the HTTP door stays on: the signing secret is set).
        ("SLACK_APP_TOKEN", fake_socket::APP_TOKEN.to_owned()),
    ];
    start_server(backend, slack, &files, &env).await
}

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

async fn bench_backend(backend: &str, o: &Options) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let slack = FakeSlack::start().await;

    // 1. Maximum rate, runs queued only.
    let server = ingest_server(backend, &slack, 0, &o.sqlite_sync).await;
    let conversations = 1000;
    open_conversations(&client, &server, conversations).await;
    let bodies = (0..o.max_events)
        .map(|i| reaction_event(i, i % conversations))
        .collect();
    let cpu = server.cpu_time();
    let (elapsed, mut latencies) = blast(&client, &server.base, bodies, 64).await;
    let cpu = server.cpu_time() - cpu;
    latencies.sort();
    print_max_rate(
        &format!("[{backend}] max rate"),
        "events acked",
        "events/s (64 in flight)",
        elapsed,
        &latencies,
        cpu,
    );
    stop_server(server).await;

    // 2. Fixed rate, runs queued only.
    let server = ingest_server(backend, &slack, 0, &o.sqlite_sync).await;
    open_conversations(&client, &server, conversations).await;
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

    // 4. and 5. The same over Socket Mode: maximum rate, then the fixed rate.
    let server = ingest_server(backend, &slack, 0, &o.sqlite_sync).await;
    let socket = &slack.socket;
    let live = socket
        .wait_for_connections(2, Duration::from_secs(10))
        .await;
    open_conversations(&client, &server, conversations).await;
    let payloads: Vec<_> = (0..o.max_events)
        .map(|i| json_of(reaction_event(o.max_events + i, i % conversations)))
        .collect();
    let cpu = server.cpu_time();
    let (elapsed, mut latencies) = socket_blast(socket, &live, payloads, 64).await;
    let cpu = server.cpu_time() - cpu;
    latencies.sort();
    print_max_rate(
        &format!("[{backend}] Socket Mode max rate"),
        "envelopes acked",
        "envelopes/s (64 in flight, 2 connections)",
        elapsed,
        &latencies,
        cpu,
    );
    let n = (o.fixed_rate * o.fixed_seconds) as usize;
    let payloads: Vec<_> = (0..n)
        .map(|i| json_of(reaction_event(2 * o.max_events + i, i % conversations)))
        .collect();
    let (mut latencies, elapsed) = socket_at_rate(socket, &live, payloads, o.fixed_rate).await;
    latencies.sort();
    println!(
        "[{backend}] Socket Mode fixed {} events/s for {} s (achieved {:.0}/s): ack p50 {} p99 {} max {}",
        o.fixed_rate,
        o.fixed_seconds,
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    socket.forget();
    stop_server(server).await;

    // 3. Event to Slack call, the ‼️ automation running, one conversation per event.
    let slack = FakeSlack::start().await;
    let server = ingest_server(backend, &slack, 16, &o.sqlite_sync).await;
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

fn json_of(body: Vec<u8>) -> serde_json::Value {
    serde_json::from_slice(&body).unwrap()
}

/// Sends `payloads` as `events_api` envelopes over `live` connections in turn, with
/// `in_flight` unacknowledged at most; returns (elapsed, ack latencies).
async fn socket_blast(
    socket: &fake_socket::FakeSocket,
    live: &[usize],
    payloads: Vec<serde_json::Value>,
    in_flight: usize,
) -> (Duration, Vec<Duration>) {
    let mut acks = socket.watch_acks();
    let total = payloads.len();
    let mut payloads = payloads.into_iter().enumerate();
    let start = Instant::now();
    for (i, payload) in payloads.by_ref().take(in_flight) {
        socket.event(live[i % live.len()], &payload);
    }
    let mut latencies = Vec::with_capacity(total);
    while latencies.len() < total {
        let ack = acks.recv().await.expect("acknowledgements keep coming");
        latencies.push(ack.latency);
        if let Some((i, payload)) = payloads.next() {
            socket.event(live[i % live.len()], &payload);
        }
    }
    (start.elapsed(), latencies)
}

/// Sends one envelope every 1/rate seconds (open loop); returns the ack latencies and
/// the time taken to send them all.
async fn socket_at_rate(
    socket: &fake_socket::FakeSocket,
    live: &[usize],
    payloads: Vec<serde_json::Value>,
    rate: u64,
) -> (Vec<Duration>, Duration) {
    let mut acks = socket.watch_acks();
    let total = payloads.len();
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    for (i, payload) in payloads.iter().enumerate() {
        interval.tick().await;
        socket.event(live[i % live.len()], payload);
    }
    let elapsed = start.elapsed();
    let mut latencies = Vec::with_capacity(total);
    while latencies.len() < total {
        latencies.push(
            acks.recv()
                .await
                .expect("acknowledgements keep coming")
                .latency,
        );
    }
    (latencies, elapsed)
}

/// One line for a maximum-rate run: `latencies` sorted, one per event.
fn print_max_rate(
    label: &str,
    what: &str,
    unit: &str,
    elapsed: Duration,
    latencies: &[Duration],
    cpu: Duration,
) {
    let n = latencies.len();
    println!(
        "{label}: {n} {what} in {:.2} s = {:.0} {unit}; ack p50 {} p99 {}; server CPU {:.0} µs per event",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(latencies, 0.5)),
        ms(percentile(latencies, 0.99)),
        cpu.as_secs_f64() * 1e6 / n as f64,
    );
}

/// Opens conversations 0..n, which the reactions then name.
async fn open_conversations(client: &reqwest::Client, server: &Server, n: usize) {
    blast(
        client,
        &server.base,
        (0..n).map(conversation_event).collect(),
        32,
    )
    .await;
}
