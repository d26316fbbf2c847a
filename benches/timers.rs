//! Time-based rules at scale: 100,000 open conversations, each with a running
//! `no_response` timer (30 days away), then 1,000 more whose one-minute silence falls
//! due within the same 30 seconds.
//!
//! Prints the server's idle CPU (share of one core, over `--idle-seconds`) with the
//! 100,000 timers waiting, and the lag from each deadline to the first Slack call of
//! its run (p50, p99, max). Targets (issue 13): idle CPU under 2 % of a core; lag p99
//! at most 1 s.
//!
//! ```text
//! cargo bench --bench timers
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench timers
//! cargo bench --bench timers -- --conversations 20000 --due 500 --idle-seconds 10
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
mod support;

use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use support::{
    arg, at_rate, blast, conversation_event, message_ts, ms, open_db, percentile, start_server,
    stop_server,
};

const AGENT: &str = "U0AGENT001";

const BACKGROUND: &str = r#"[trigger]
type = "no_response"
after = "30d"

[[actions]]
type = "reply"
text = "nobody answered for a month"
"#;

const DUE: &str = r#"[trigger]
type = "no_response"
after = "1m"

[[actions]]
type = "reply"
text = "nobody answered for a minute"
"#;

fn number(name: &str, default: usize) -> usize {
    arg(name).map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let conversations = number("--conversations", 100_000);
    let due = number("--due", 1_000);
    let idle_seconds = number("--idle-seconds", 30) as u64;
    support::runtime().block_on(async {
        println!(
            "switchboard timers benchmark: {} logical CPUs, release build, {conversations} open conversations with timers, {due} deadlines within 30 s",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        for backend in support::backends() {
            bench(&backend, conversations, due, idle_seconds).await;
        }
    });
}

async fn bench(backend: &str, conversations: usize, due: usize, idle_seconds: u64) {
    let slack = FakeSlack::start().await;
    let server = start_server(
        backend,
        &slack,
        &[("background.toml", BACKGROUND.to_owned())],
        &[("SWITCHBOARD_SUPPORT_TEAM", AGENT.to_owned())],
    )
    .await;
    let client = reqwest::Client::new();

    let bodies = (0..conversations).map(conversation_event).collect();
    let (took, _) = blast(&client, &server.base, bodies, 64).await;
    let db = open_db(&server).await;
    let timers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers WHERE due_at IS NOT NULL")
        .fetch_one(db.reader())
        .await
        .unwrap();
    println!(
        "{backend}: {conversations} conversations opened in {:.1} s ({:.0}/s); {timers} timers running",
        took.as_secs_f64(),
        conversations as f64 / took.as_secs_f64()
    );

    // Idle, with every timer waiting: what does the server spend?
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu0, t0) = (server.cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    let idle = (server.cpu_time() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    println!(
        "{backend}: idle CPU {:.2} % of a core over {idle_seconds} s (RSS {:.0} MiB)",
        idle * 100.0,
        server.rss_mib()
    );

    // A one-minute silence for the next conversations only: timers are set when a
    // conversation moves, so the 100,000 keep just their 30-day ones.
    write_automation(&server, "due.toml", DUE);
    tokio::time::sleep(Duration::from_secs(2)).await;
    slack.forget_calls();

    let first = conversations;
    let bodies: Vec<Vec<u8>> = (first..first + due).map(conversation_event).collect();
    let rate = (due as u64).div_ceil(30).max(1);
    let (sent, _) = at_rate(&client, &server.base, bodies, rate).await;
    let cpu_due0 = server.cpu_time();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lags: Vec<Duration> = Vec::with_capacity(due);
    loop {
        let calls = slack.calls_to("chat.postMessage");
        if calls.len() >= due || Instant::now() > deadline {
            let mut first_call = std::collections::HashMap::new();
            for c in &calls {
                first_call
                    .entry(c.arg("thread_ts").to_owned())
                    .or_insert(c.at);
            }
            for (i, (at, _)) in sent.iter().enumerate() {
                let ts = message_ts(first + i);
                if let Some(called) = first_call.get(&ts) {
                    let falls_due = *at + Duration::from_secs(60);
                    lags.push(called.saturating_duration_since(falls_due));
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let spent = server.cpu_time() - cpu_due0;
    lags.sort();
    println!(
        "{backend}: {} of {due} deadlines ran; lag from deadline to first Slack call p50 {} p99 {} max {} (server CPU {:.1} s while they fell due)",
        lags.len(),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        ms(lags.last().copied().unwrap_or_default()),
        spent.as_secs_f64(),
    );
    drop(db);
    stop_server(server).await;
}

fn write_automation(server: &support::Server, name: &str, text: &str) {
    std::fs::write(server.automations_dir().join(name), text).unwrap();
}
