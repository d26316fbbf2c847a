//! The ‼️ story end to end, as Slack would drive it: a top-level message opens a
//! conversation, then a `reaction_added` ‼️ on it runs the shipped automation
//! (`set_fields`, `page`, `reply`) against a fake Slack Web API (rate limiting off).
//! A story is done when the fake Slack has both messages (the page and the reply).
//!
//! Prints, per backend:
//!
//! - a closed loop: `--senders` (32) senders each send a story, wait for its two Slack
//!   calls, and start the next: stories/s, ack and end-to-end (reaction sent → both
//!   Slack calls received) latency p50/p99;
//! - an open-loop ladder (`--ladder 200,1000,2000,5000` events/s offered, each for
//!   `--step-seconds`): events alternate between a story's message and its reaction,
//!   so N events/s are N/2 stories/s. For each step: ack p50/p99, end-to-end p50/p99,
//!   runs completed per second during the step, the queue's depth and the age of its
//!   oldest due run when the step ends, and the server's RSS and CPU.
//!
//! ```text
//! cargo bench --bench stories                                  # SQLite FULL (+ PostgreSQL with TEST_DATABASE_URL)
//! cargo bench --bench stories -- --backend sqlite --sqlite-sync normal
//! cargo bench --bench stories -- --closed-seconds 20 --ladder 200,1000 --step-seconds 10
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_slack::{Call, FakeSlack};
use support::{Server, arg, conversation_event, message_ts, ms, percentile, post, reaction_event};
use tokio::sync::oneshot;

struct Options {
    senders: usize,
    closed_seconds: u64,
    ladder: Vec<u64>,
    step_seconds: u64,
    workers: Option<String>,
}

fn options() -> Options {
    let parse =
        |name: &str, default: u64| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    Options {
        senders: parse("--senders", 32) as usize,
        closed_seconds: parse("--closed-seconds", 15),
        ladder: arg("--ladder")
            .unwrap_or_else(|| "200,1000,2000,5000".into())
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| {
                r.trim()
                    .parse()
                    .expect("--ladder takes rates like 200,1000")
            })
            .collect(),
        step_seconds: parse("--step-seconds", 10),
        workers: arg("--workers"),
    }
}

fn main() {
    let options = options();
    let syncs: Vec<String> = arg("--sqlite-sync")
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| vec!["full".into()]);
    support::runtime().block_on(async {
        println!(
            "switchboard stories benchmark: {} logical CPUs, release build, {} senders (closed loop), ladder {:?} events/s × {} s",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            options.senders,
            options.ladder,
            options.step_seconds,
        );
        for backend in support::backends() {
            if backend == "sqlite" {
                for sync in &syncs {
                    bench(&backend, sync, &options).await;
                }
            } else {
                bench(&backend, "full", &options).await;
            }
        }
    });
}

/// Which stories are waiting for their Slack calls, by conversation.
#[derive(Default)]
struct Waiting {
    stories: Mutex<HashMap<String, Story>>,
}

#[derive(Default)]
struct Story {
    calls: u8,
    done: Option<oneshot::Sender<Instant>>,
}

impl Waiting {
    fn expect(&self, key: String) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        let mut stories = self.stories.lock().unwrap();
        let story = stories.entry(key.clone()).or_default();
        if story.calls >= 2 {
            stories.remove(&key);
            let _ = tx.send(Instant::now());
        } else {
            story.done = Some(tx);
        }
        rx
    }

    fn arrived(&self, key: String, at: Instant) {
        let mut stories = self.stories.lock().unwrap();
        let story = stories.entry(key.clone()).or_default();
        story.calls += 1;
        if story.calls >= 2
            && let Some(done) = story.done.take()
        {
            stories.remove(&key);
            let _ = done.send(at);
        }
    }
}

/// The conversation a Slack call of the story belongs to: the reply names its thread,
/// the page carries the thread's permalink (`…/p1600000000000123`).
fn story_key(call: &Call) -> Option<String> {
    if call.method != "chat.postMessage" {
        return None;
    }
    let thread = call.arg("thread_ts");
    if !thread.is_empty() {
        return Some(thread.replace('.', ""));
    }
    call.arg("text")
        .split_whitespace()
        .find(|w| w.contains("/archives/"))
        .and_then(|link| link.rsplit('/').next())
        .map(|p| p.trim_start_matches('p').to_owned())
}

fn key_of(story: usize) -> String {
    message_ts(story).replace('.', "")
}

async fn start(backend: &str, slack: &FakeSlack, sync: &str, o: &Options) -> Server {
    let files = [(
        "escalate-bangbang.toml",
        support::example("escalate-bangbang.toml"),
    )];
    let mut env = vec![("SWITCHBOARD_SQLITE_SYNC", sync.to_owned())];
    if let Some(w) = &o.workers {
        env.push(("SWITCHBOARD_WORKERS", w.clone()));
    }
    support::start_server(backend, slack, &files, &env).await
}

async fn bench(backend: &str, sync: &str, o: &Options) {
    let label = if backend == "sqlite" {
        format!("sqlite {sync}")
    } else {
        backend.to_owned()
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let slack = FakeSlack::start().await;
    let waiting = Arc::new(Waiting::default());
    let mut calls = slack.watch();
    let follower = waiting.clone();
    tokio::spawn(async move {
        while let Some(call) = calls.recv().await {
            if let Some(key) = story_key(&call) {
                follower.arrived(key, call.at);
            }
        }
    });
    let server = start(backend, &slack, sync, o).await;
    let next = Arc::new(AtomicUsize::new(0));

    // Warm up: connections, the group cache, the automation version.
    closed_loop(&client, &server, &waiting, &next, 8, Duration::from_secs(2)).await;
    slack.forget_calls();

    let cpu = server.cpu_time();
    let own = support::own_cpu_time();
    let closed = closed_loop(
        &client,
        &server,
        &waiting,
        &next,
        o.senders,
        Duration::from_secs(o.closed_seconds),
    )
    .await;
    let cpu = server.cpu_time() - cpu;
    let own = support::own_cpu_time() - own;
    slack.forget_calls();
    println!(
        "[{label}] closed loop, {} senders, {} s: {:.0} stories/s; reaction ack p50 {} p99 {}; end to end p50 {} p99 {}; server CPU {:.0}% of one core ({:.0} µs per story), load generator and fake Slack {:.0}%; RSS {:.0} MiB",
        o.senders,
        o.closed_seconds,
        closed.stories as f64 / closed.elapsed.as_secs_f64(),
        ms(percentile(&closed.acks, 0.5)),
        ms(percentile(&closed.acks, 0.99)),
        ms(percentile(&closed.e2e, 0.5)),
        ms(percentile(&closed.e2e, 0.99)),
        cpu.as_secs_f64() * 100.0 / closed.elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / closed.stories.max(1) as f64,
        own.as_secs_f64() * 100.0 / closed.elapsed.as_secs_f64(),
        server.rss_mib(),
    );

    for &rate in &o.ladder {
        let step = open_step(&client, &server, &waiting, &next, rate, o.step_seconds).await;
        println!(
            "[{label}] {rate} events/s offered for {} s (achieved {:.0}/s): ack p50 {} p99 {} max {}; end to end p50 {} p99 {} ({} of {} stories); {:.0} runs/s completed during the step; at its end {} runs queued, oldest due {}; server CPU {:.0}%, RSS {:.0} MiB",
            o.step_seconds,
            step.sent as f64 / step.send_time.as_secs_f64(),
            ms(percentile(&step.acks, 0.5)),
            ms(percentile(&step.acks, 0.99)),
            ms(step.acks.last().copied().unwrap_or_default()),
            ms(percentile(&step.e2e, 0.5)),
            ms(percentile(&step.e2e, 0.99)),
            step.e2e.len(),
            step.stories,
            step.completed_in_step as f64 / o.step_seconds as f64,
            step.queued,
            ms(step.oldest_due),
            step.cpu.as_secs_f64() * 100.0 / step.send_time.as_secs_f64(),
            step.rss_mib,
        );
        slack.forget_calls();
    }
    support::stop_server(server).await;
}

struct Closed {
    stories: usize,
    elapsed: Duration,
    acks: Vec<Duration>,
    e2e: Vec<Duration>,
}

/// `senders` loops of: message, reaction, wait for both Slack calls; for `length`.
async fn closed_loop(
    client: &reqwest::Client,
    server: &Server,
    waiting: &Arc<Waiting>,
    next: &Arc<AtomicUsize>,
    senders: usize,
    length: Duration,
) -> Closed {
    let start = Instant::now();
    let end = start + length;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, base, waiting, next) = (
            client.clone(),
            server.base.clone(),
            waiting.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut e2e = Vec::new();
            while Instant::now() < end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                post(&client, &base, conversation_event(i)).await;
                let done = waiting.expect(key_of(i));
                let sent = Instant::now();
                acks.push(post(&client, &base, reaction_event(i, i)).await);
                match tokio::time::timeout(Duration::from_secs(30), done).await {
                    Ok(Ok(at)) => e2e.push(at.saturating_duration_since(sent)),
                    _ => panic!("story {i} did not reach Slack within 30 s"),
                }
            }
            (acks, e2e)
        }));
    }
    let (mut acks, mut e2e) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, e) = t.await.unwrap();
        acks.extend(a);
        e2e.extend(e);
    }
    let elapsed = start.elapsed();
    acks.sort();
    e2e.sort();
    Closed {
        stories: e2e.len(),
        elapsed,
        acks,
        e2e,
    }
}

struct Step {
    sent: usize,
    stories: usize,
    send_time: Duration,
    acks: Vec<Duration>,
    e2e: Vec<Duration>,
    completed_in_step: usize,
    queued: i64,
    oldest_due: Duration,
    cpu: Duration,
    rss_mib: f64,
}

/// Offers `rate` events/s (a story's message, then its reaction) for `seconds`, then
/// waits for the stories to finish.
async fn open_step(
    client: &reqwest::Client,
    server: &Server,
    waiting: &Arc<Waiting>,
    next: &Arc<AtomicUsize>,
    rate: u64,
    seconds: u64,
) -> Step {
    let events = (rate * seconds) as usize;
    let stories = events / 2;
    let first = next.fetch_add(stories, Ordering::Relaxed);
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let cpu = server.cpu_time();
    let start = Instant::now();
    let step_end = start + Duration::from_secs(seconds);
    let mut acks = Vec::with_capacity(events);
    let mut sends = Vec::with_capacity(stories);
    let tick = Duration::from_nanos(1_000_000_000 / rate);
    for k in 0..stories {
        // The message at its tick; the reaction one tick later, or once the message is
        // acknowledged if that takes longer (Slack sends a reaction on a message it has
        // delivered).
        interval.tick().await;
        let story = first + k;
        let reaction_at = tokio::time::Instant::now() + tick;
        let (client, base, waiting) = (client.clone(), server.base.clone(), waiting.clone());
        sends.push(tokio::spawn(async move {
            let message_ack = post(&client, &base, conversation_event(story)).await;
            tokio::time::sleep_until(reaction_at).await;
            let done = waiting.expect(key_of(story));
            let sent = Instant::now();
            let reaction_ack = post(&client, &base, reaction_event(story, story)).await;
            (message_ack, reaction_ack, sent, done)
        }));
        interval.tick().await;
    }
    let send_time = start.elapsed();
    let (queued, oldest_due) = queue_depth(server).await;
    let cpu = server.cpu_time() - cpu;
    let rss_mib = server.rss_mib();
    let mut done = Vec::new();
    for s in sends {
        let (message_ack, reaction_ack, sent, rx) = s.await.unwrap();
        acks.push(message_ack);
        acks.push(reaction_ack);
        done.push((sent, rx));
    }
    let mut e2e = Vec::with_capacity(done.len());
    let mut completed_in_step = 0;
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    for (sent, rx) in done {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        if let Ok(Ok(at)) = tokio::time::timeout(left, rx).await {
            e2e.push(at.saturating_duration_since(sent));
            if at <= step_end {
                completed_in_step += 1;
            }
        }
    }
    acks.sort();
    e2e.sort();
    Step {
        sent: events,
        stories,
        send_time,
        acks,
        e2e,
        completed_in_step,
        queued,
        oldest_due,
        cpu,
        rss_mib,
    }
}

/// Runs queued and the age of the oldest one that is due, read from the database.
async fn queue_depth(server: &Server) -> (i64, Duration) {
    let db = support::open_db(server).await;
    let now = chrono::Utc::now().timestamp_millis();
    let backlog = switchboard::db::runs::backlog(db.reader(), now)
        .await
        .unwrap();
    db.close().await;
    let age = backlog
        .oldest_due_at
        .map_or(0, |oldest| (now - oldest).max(0));
    (backlog.due, Duration::from_millis(age as u64))
}
