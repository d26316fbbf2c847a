//! Load generator for approvals: starts `switchboard serve` (the release binary) with an
//! automation that asks one approver for every new conversation, opens N conversations,
//! then clicks Approve on every request at a fixed rate, and prints:
//!
//! - how fast requests are opened (event → Block Kit message posted, runs parked);
//! - click ack latency p50/p99 (the decision is committed before the ack);
//! - click → request message updated and click → the run's next step, p50/p99.
//!
//! ```text
//! cargo bench --bench approvals                    # SQLite, and PostgreSQL if TEST_DATABASE_URL is set
//! cargo bench --bench approvals -- --backend sqlite --requests 1000 --click-rate 200
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
#[path = "../tests/api/helpers/interactions.rs"]
#[allow(dead_code)]
mod interactions;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use support::{blast, conversation_event, ms, percentile, post_signed, start_server, stop_server};

const APPROVER: &str = "U0ITMGR001";

const AUTOMATION: &str = r#"[trigger]
type = "conversation_created"

[[actions]]
type = "approval"
approvers = ["U0ITMGR001"]
expires_in = "1d"

[[actions.on_approved]]
type = "reply"
text = "Approved by {{decided_by}}"
"#;

fn main() {
    let backends = support::backends();
    let requests: usize = support::arg("--requests")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rate: u64 = support::arg("--click-rate")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    support::runtime().block_on(async {
        println!(
            "switchboard approvals benchmark: {} logical CPUs, release build",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for backend in &backends {
            bench_backend(backend, requests, rate).await;
        }
    });
}

async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn click(
    client: &reqwest::Client,
    base: &str,
    request: &interactions::PostedRequest,
) -> Duration {
    let payload = interactions::click(request, APPROVER, true).to_string();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let form = "application/x-www-form-urlencoded";
    post_signed(client, base, "/slack/interactions", form, body.into_bytes()).await
}

async fn bench_backend(backend: &str, n: usize, rate: u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let slack = FakeSlack::start().await;
    let env = [("SWITCHBOARD_WORKERS", "16".to_owned())];
    let server = start_server(
        backend,
        &slack,
        &[("ask.toml", AUTOMATION.to_owned())],
        &env,
    )
    .await;

    // 1. Open n requests.
    let start = Instant::now();
    blast(
        &client,
        &server.base,
        (0..n).map(conversation_event).collect(),
        32,
    )
    .await;
    wait_until("the requests", Duration::from_secs(120), || {
        interactions::posted_requests(&slack).len() >= n
    })
    .await;
    let opened = start.elapsed();
    println!(
        "[{backend}] {n} conversations → {n} approval requests posted and runs parked in {:.2} s = {:.0} requests/s",
        opened.as_secs_f64(),
        n as f64 / opened.as_secs_f64()
    );
    // Let the last runs park before clicking.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. Click Approve on each at a fixed rate.
    let requests = interactions::posted_requests(&slack);
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(n);
    for request in requests.clone() {
        interval.tick().await;
        let (client, base) = (client.clone(), server.base.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ack = click(&client, &base, &request).await;
            (request, sent, ack)
        }));
    }
    let mut clicks = Vec::with_capacity(n);
    for t in tasks {
        clicks.push(t.await.unwrap());
    }
    let mut acks: Vec<Duration> = clicks.iter().map(|(_, _, d)| *d).collect();
    acks.sort();
    println!(
        "[{backend}] {n} clicks at {rate}/s: ack p50 {} p99 {} max {}",
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        ms(*acks.last().unwrap()),
    );

    // 3. Click → message updated, click → the approved branch's reply.
    wait_until("the continuations", Duration::from_secs(120), || {
        slack.calls_to("chat.update").len() >= n
            && slack
                .calls_to("chat.postMessage")
                .iter()
                .filter(|c| c.arg("text").starts_with("Approved by"))
                .count()
                >= n
    })
    .await;
    let updated: HashMap<(String, String), Instant> = slack
        .calls_to("chat.update")
        .iter()
        .map(|c| ((c.arg("channel").to_owned(), c.arg("ts").to_owned()), c.at))
        .collect();
    let mut to_update: Vec<Duration> = clicks
        .iter()
        .filter_map(|(r, sent, _)| {
            updated
                .get(&(r.channel.clone(), r.ts.clone()))
                .map(|at| at.duration_since(*sent))
        })
        .collect();
    to_update.sort();
    // Replies are in the conversations' threads, in the order the runs continued;
    // their latency is measured against the click of the same conversation.
    let thread_of: HashMap<String, Instant> = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("text").starts_with("Approved by"))
        .map(|c| (c.arg("thread_ts").to_owned(), c.at))
        .collect();
    let request_thread: HashMap<i64, String> = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter_map(|c| {
            let blocks = c.json_arg("blocks").to_string();
            let id = interactions::request_id(c)?;
            let link = blocks.split("/p").nth(1)?.split('|').next()?.to_owned();
            let ts = format!("{}.{}", &link[..link.len() - 6], &link[link.len() - 6..]);
            Some((id, ts))
        })
        .collect();
    let mut to_reply: Vec<Duration> = clicks
        .iter()
        .filter_map(|(r, sent, _)| {
            let thread = request_thread.get(&r.approval_id)?;
            thread_of.get(thread).map(|at| at.duration_since(*sent))
        })
        .collect();
    to_reply.sort();
    println!(
        "[{backend}] click → request updated in place p50 {} p99 {}; click → next step's reply p50 {} p99 {} ({} of {n} matched)",
        ms(percentile(&to_update, 0.5)),
        ms(percentile(&to_update, 0.99)),
        ms(percentile(&to_reply, 0.5)),
        ms(percentile(&to_reply, 0.99)),
        to_reply.len(),
    );
    stop_server(server).await;
}
