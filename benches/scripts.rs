//! TypeScript action benchmarks:
//!
//! - transpile time of the shipped example scripts, cold and from the cache;
//! - the per-run cost of a fresh sandbox context, in process (Boa alone) and through a
//!   sandbox process (what a step pays);
//! - script runs per second end to end: signed `reaction_added` events, each running a
//!   script that reads the conversation and posts one Slack message, until the fake
//!   Slack has every message.
//!
//! ```text
//! cargo bench --bench scripts
//! cargo bench --bench scripts -- --runs 5000 --processes 4
//! ```

#[path = "../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
mod support;

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use support::{
    blast, conversation_event, ms, percentile, reaction_event, start_server, stop_server,
};
use switchboard::script::pool::{HostHandler, RunEnd, SandboxConfig, SandboxPool};
use switchboard::script::protocol::{EngineLimits, HostResult, RunRequest};
use switchboard::script::sandbox::runtime::{self, Bridge};
use switchboard::script::transpile::{TranspileCache, transpile};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn bench_transpile() {
    for name in [
        "critical-to-jira.ts",
        "escalate-bangbang.ts",
        "status-check.ts",
    ] {
        let source = support::example(name);
        let cold: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                transpile(Path::new(name), &source).unwrap();
                t.elapsed()
            })
            .collect();
        let cache = TranspileCache::default();
        cache.get(Path::new(name), &source).unwrap();
        let cached: Vec<Duration> = (0..2000)
            .map(|_| {
                let t = Instant::now();
                cache.get(Path::new(name), &source).unwrap();
                t.elapsed()
            })
            .collect();
        let (cold50, cold99) = median(cold);
        let (hit50, hit99) = median(cached);
        println!(
            "transpile {name} ({} lines): cold p50 {} p99 {}; cached p50 {} p99 {}",
            source.lines().count(),
            micros(cold50),
            micros(cold99),
            micros(hit50),
            micros(hit99)
        );
    }
}

struct Quiet;

impl Bridge for Quiet {
    fn call(&self, _: String, _: Value) -> futures::channel::oneshot::Receiver<HostResult> {
        let (tx, rx) = futures::channel::oneshot::channel();
        let _ = tx.send(HostResult::ok(Value::Null));
        rx
    }
    fn log(&self, _: &str, _: &str) {}
}

struct NoHost;

impl HostHandler for NoHost {
    fn call<'a>(&'a self, _: &'a str, _: Value) -> BoxFuture<'a, HostResult> {
        Box::pin(async { HostResult::ok(json!({ "ts": "1.2" })) })
    }
}

const SMALL: &str = "export default async function (ctx: any) {\n  const t = ctx.conversation.title;\n  await slack.postMessage('C1', `seen: ${t}`);\n  return { ok: true };\n}\n";

async fn bench_sandbox() {
    let compiled = transpile(Path::new("small.ts"), SMALL).unwrap();
    let context =
        json!({ "conversation": { "title": "VPN down", "id": 1 }, "trigger": {} }).to_string();
    let request = RunRequest {
        js: compiled.js.clone(),
        context: context.clone(),
        limits: EngineLimits {
            recursion: 400,
            max_output_bytes: 1 << 20,
        },
    };
    let in_process: Vec<Duration> = (0..1000)
        .map(|_| {
            let t = Instant::now();
            runtime::run(&request, Rc::new(Quiet));
            t.elapsed()
        })
        .collect();
    let (p50, p99) = median(in_process);
    println!(
        "fresh Boa context + prelude + script (in process): p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let pool = SandboxPool::new(SandboxConfig {
        binary: env!("CARGO_BIN_EXE_switchboard").into(),
        processes: 1,
        timeout: Duration::from_secs(30),
        memory_bytes: 256 << 20,
        max_host_calls: 1000,
        max_log_bytes: 64 << 10,
        max_output_bytes: 256 << 10,
        recursion: 400,
    });
    pool.warm_up().await.unwrap();
    let mut through_pool = Vec::new();
    for i in 0..1100 {
        let t = Instant::now();
        let report = pool.run(&compiled.js, context.clone(), &NoHost).await;
        assert!(
            matches!(report.end, RunEnd::Finished(_)),
            "{:?}",
            report.end
        );
        if i >= 100 {
            through_pool.push(t.elapsed());
        }
    }
    let (p50, p99) = median(through_pool);
    println!(
        "script step through a sandbox process (one host call): p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );
}

async fn bench_end_to_end(backend: &str, runs: usize, processes: usize) {
    let slack = FakeSlack::start().await;
    let automation =
        "[trigger]\ntype = \"reaction_added\"\n[[actions]]\ntype = \"code\"\nfile = \"post.ts\"\n"
            .to_owned();
    let script = "import type { Context } from \"./switchboard\";\nexport default async function (ctx: Context) {\n  const c = ctx.conversation!;\n  await slack.postMessage(\"C0BENCH01\", `seen ${c.id}: ${c.title}`);\n  return { id: c.id };\n}\n".to_owned();
    let files = [("post.toml", automation), ("post.ts", script)];
    let env = [
        ("SWITCHBOARD_SCRIPT_PROCESSES", processes.to_string()),
        ("SWITCHBOARD_SLACK_RATE_LIMITS", "false".to_owned()),
    ];
    let server = start_server(backend, &slack, &files, &env).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    blast(
        &client,
        &server.base,
        (0..runs).map(conversation_event).collect(),
        32,
    )
    .await;
    let started = Instant::now();
    blast(
        &client,
        &server.base,
        (0..runs).map(|i| reaction_event(i, i)).collect(),
        32,
    )
    .await;
    let acked = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300);
    while slack.calls_to("chat.postMessage").len() < runs && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = slack.calls_to("chat.postMessage").len();
    let elapsed = started.elapsed();
    println!(
        "[{backend}] {runs} events (acked in {:.2} s), {done} script runs posted to Slack in {:.2} s = {:.0} script runs/s ({processes} sandbox processes)",
        acked.as_secs_f64(),
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
    stop_server(server).await;
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    println!(
        "switchboard script benchmark: {} logical CPUs, release build",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    bench_transpile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(3000);
    let processes: usize = arg("--processes").and_then(|v| v.parse().ok()).unwrap_or(2);
    let backends = match arg("--backend") {
        Some(b) => vec![b],
        None if std::env::var("TEST_DATABASE_URL").is_ok() => {
            vec!["sqlite".into(), "postgres".into()]
        }
        None => vec!["sqlite".into()],
    };
    runtime.block_on(async {
        bench_sandbox().await;
        for backend in &backends {
            bench_end_to_end(backend, runs, processes).await;
        }
    });
}
