//! Load generator for webhook URLs: starts `switchboard serve` (the release binary)
//! with an automation whose webhook posts to Slack, calls its URL at a fixed rate, and
//! prints the ack latency (the run is committed before the 202) and the latency from
//! the call to the Slack message.
//!
//! ```text
//! cargo bench --bench webhooks                     # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
//! cargo bench --bench webhooks -- --backend sqlite --rate 500 --seconds 10
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
use support::{ms, percentile, start_server, stop_server};

const AUTOMATION: &str = r#"[trigger]
type = "webhook"

[[actions]]
type = "post"
channel = "C0ALERTS01"
text = "alert"
"#;

fn main() {
    let backends = support::backends();
    let rate: u64 = support::arg("--rate")
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let seconds: u64 = support::arg("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    support::runtime().block_on(async {
        println!(
            "switchboard webhook benchmark: {} logical CPUs, release build",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for backend in &backends {
            bench_backend(backend, rate, seconds).await;
        }
    });
}

async fn bench_backend(backend: &str, rate: u64, seconds: u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let slack = FakeSlack::start().await;
    // No rate limit in the way of the measurement.
    let env = [
        ("SWITCHBOARD_WORKERS", "16".to_owned()),
        ("SWITCHBOARD_WEBHOOK_PER_MINUTE", "1000000".to_owned()),
        ("SWITCHBOARD_WEBHOOK_BURST", "100000".to_owned()),
    ];
    let server = start_server(
        backend,
        &slack,
        &[("alert.toml", AUTOMATION.to_owned())],
        &env,
    )
    .await;
    let db = support::open_db(&server).await;
    let secrets = switchboard::secrets::SecretStore::new(
        db.clone(),
        switchboard::secrets::open_provider(&server.secrets)
            .await
            .unwrap(),
    );
    let (token, _) = switchboard::webhooks::reveal(&db, &secrets, "alert")
        .await
        .unwrap()
        .expect("a token");
    db.close().await;
    let url = format!("{}/hooks/{token}", server.base);

    let n = (rate * seconds) as usize;
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        interval.tick().await;
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"n":{i}}}"#))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status().as_u16(), 202);
            let body: serde_json::Value = response.json().await.unwrap();
            (body["run_id"].as_i64().unwrap(), sent, sent.elapsed())
        }));
    }
    let mut calls = Vec::with_capacity(n);
    for t in tasks {
        calls.push(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    let mut acks: Vec<Duration> = calls.iter().map(|(_, _, d)| *d).collect();
    acks.sort();
    println!(
        "[{backend}] {n} webhook calls at {rate}/s (achieved {:.0}/s): 202 p50 {} p99 {} max {}",
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        ms(*acks.last().unwrap()),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while slack.calls_to("chat.postMessage").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Posts arrive in run order closely enough to pair by rank: runs are claimed in id
    // order, so the k-th post belongs (within a few) to the k-th run.
    let posts: Vec<Instant> = slack
        .calls_to("chat.postMessage")
        .iter()
        .map(|c| c.at)
        .collect();
    let mut by_run: Vec<(i64, Instant)> = calls.iter().map(|(id, sent, _)| (*id, *sent)).collect();
    by_run.sort_by_key(|(id, _)| *id);
    let sent_at: HashMap<usize, Instant> = by_run
        .iter()
        .enumerate()
        .map(|(k, (_, s))| (k, *s))
        .collect();
    let mut to_slack: Vec<Duration> = posts
        .iter()
        .enumerate()
        .filter_map(|(k, at)| sent_at.get(&k).map(|s| at.saturating_duration_since(*s)))
        .collect();
    to_slack.sort();
    println!(
        "[{backend}] call → Slack message p50 {} p99 {} ({} of {n} posted)",
        ms(percentile(&to_slack, 0.5)),
        ms(percentile(&to_slack, 0.99)),
        posts.len(),
    );
    stop_server(server).await;
}
