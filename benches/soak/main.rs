//! The soak test (issue 15): the real server under a steady mixed load for a while,
//! killed with SIGKILL at random moments and restarted on the same database, then
//! checked for what the README promises.
//!
//! The load, `--rate` operations a second, open loop: new conversations (the shipped
//! `acknowledge-new-request`; one in five asks for a password reset, the shipped
//! `password-reset` with its approval and `reset-password.ts` against a fake Okta),
//! thread replies (a reply in the thread), ‼️ reactions (the shipped
//! `escalate-bangbang`, whose critical priority runs the shipped `critical-to-jira.ts`
//! against a fake Jira), clicks on Approve of posted requests, and webhook calls (a
//! script that counts in the key-value store and posts). Requests go to whichever
//! server is up; one that got no 2xx is not acknowledged and is sent again, as Slack
//! redelivers (three times, with `X-Slack-Retry-Num`; webhooks with the same
//! `Idempotency-Key`).
//!
//! Every `--kill-every` (a random interval, 2–8 s) a server is killed with SIGKILL and
//! started again on the same database and port: on SQLite the one server, on
//! PostgreSQL one of two replicas, never both. When the load ends the servers drain the
//! queue, and the bench checks:
//!
//! - every acknowledged event has its runs, every acknowledged click decided its
//!   request, every acknowledged webhook call has its run (the same for every retry);
//! - no (event, automation) ran twice, and no Slack side effect happened twice unless
//!   a server was killed while its step was in flight (the README's durability
//!   promise: a finished step is never repeated, one in flight may be);
//! - every run ended (none failed, queued, or `running` past its lease) and its Slack
//!   side effects happened;
//! - nothing panicked, and the fakes saw no call Slack would refuse.
//!
//! It prints the load's figures, the kills, memory over time (the servers' and their
//! sandboxes' RSS, the database's size), warm-up against the end, and the checks;
//! it exits non-zero when a check fails.
//!
//! ```text
//! cargo bench --bench soak                            # 10 minutes per backend, release build
//! cargo test --bench soak -- --duration 30s           # CI: the debug build `cargo test` made
//! cargo bench --bench soak -- --backend postgres --duration 1h --rate 80
//! cargo bench --bench soak -- --kill-every off        # memory over one long life
//! ```
//!
//! Options: `--duration` (or `SOAK_DURATION`; `30s`, `10m`, `1h`), `--backend
//! sqlite|postgres` (default both when TEST_DATABASE_URL is set), `--rate` (60),
//! `--kill-every 2s-8s` or `off`, `--lease-seconds` (10), `--drain` (the longest wait
//! for the queue to empty at the end, 3m), `--sample-every`, `--seed`. The servers'
//! logs go to a file under the temporary directory (the path is printed).

#[path = "../../tests/api/helpers/events.rs"]
#[allow(dead_code)]
mod events;
#[path = "../../tests/api/helpers/fake_slack.rs"]
#[allow(dead_code)]
mod fake_slack;
#[path = "../../tests/api/helpers/fake_socket.rs"]
#[allow(dead_code)]
mod fake_socket;
#[path = "../../tests/api/helpers/fake_vendors.rs"]
#[allow(dead_code)]
mod fake_vendors;
#[path = "../../tests/api/helpers/interactions.rs"]
#[allow(dead_code)]
mod interactions;
#[path = "../support/mod.rs"]
mod support;

mod checks;
mod fleet;
mod ledger;
mod load;
mod memory;
mod options;
mod report;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use switchboard::db::Db;

use fake_slack::{Call, FakeSlack, IT_MANAGERS};
use fake_vendors::FakeVendors;

use checks::*;
use fleet::*;
use ledger::*;
use load::*;
use memory::*;
use options::*;
use report::*;
use support::{Server, Site, arg, message_ts, ms, parse_duration, percentile};

/// The approver who clicks (one of the `@it-managers`).
const APPROVER: &str = IT_MANAGERS[0];
const AGENT: &str = events::AGENT;
const SUPPORT: &str = events::SUPPORT_CHANNEL;
const ALERTS: &str = "C0ALERTS01";

const THREAD_REPLY: &str = r#"# The soak's thread replies: each is acknowledged in the thread.
name = "Soak: acknowledge thread replies"

[trigger]
type = "message_received"

[[actions]]
type = "reply"
text = "Noted: {{text}}"
"#;

const ALERT: &str = r#"# The soak's webhook: a script counts the calls and posts each.
name = "Soak: post webhook alerts"

[trigger]
type = "webhook"

[[actions]]
type = "code"
file = "soak-alert.ts"
"#;

const ALERT_SCRIPT: &str = r#"export default async function (ctx: any) {
  const n = ctx.trigger.body?.n;
  const seen = await kv.increment("calls", 1);
  await slack.postMessage("C0ALERTS01", `alert ${n}`);
  return { n, seen };
}
"#;

fn main() {
    let options = Options::parse();
    let passed = support::runtime().block_on(async {
        let mut passed = true;
        for backend in support::backends() {
            passed &= soak(&backend, &options).await;
        }
        passed
    });
    if !passed {
        eprintln!("soak: a check failed (see above)");
        std::process::exit(1);
    }
}
// The soak of one backend

async fn soak(backend: &str, o: &Options) -> bool {
    let replicas = if backend == "postgres" { 2 } else { 1 };
    let fakes = Fakes {
        slack: FakeSlack::start().await,
        vendors: FakeVendors::start().await,
    };
    let ledger = Ledger::follow(&fakes.slack);
    let vendor_env = fakes.vendors.env();
    let mut env: Vec<(&str, String)> = vec![
        ("SWITCHBOARD_LEASE_SECONDS", o.lease_seconds.to_string()),
        // Retries come back within the drain.
        ("SWITCHBOARD_RETRY_BASE_MS", "500".into()),
        ("SWITCHBOARD_WEBHOOK_PER_MINUTE", "1000000".into()),
        ("SWITCHBOARD_WEBHOOK_BURST", "100000".into()),
        // JSON lines, for the summary of warnings and errors.
        ("SWITCHBOARD_LOG_FORMAT", "json".into()),
    ];
    env.extend(vendor_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let mut site = Site::create(backend, &fakes.slack, &automations(), &env).await;
    let log = std::env::temp_dir().join(format!(
        "switchboard-soak-{backend}-{}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    site.log_to(log.clone());
    print_header(backend, o, replicas, &log);

    let fleet = Arc::new(Fleet::start(site, replicas, o.seed).await);
    let db = support::connect_db(&fleet.site.database_url).await;
    let hook_path = prepare(&fleet.site, &db).await;
    let load = Arc::new(Load::new(
        fleet.clone(),
        ledger.clone(),
        db.clone(),
        hook_path,
        o.seed,
    ));
    let start = Instant::now();
    let until = start + o.duration;

    let sampler = Sampler::start(load.clone(), o, start);
    let chaos = tokio::spawn({
        let fleet = fleet.clone();
        let every = o.kill_every;
        async move {
            if let Some(every) = every {
                fleet.chaos(every, until).await;
            }
        }
    });
    load.clone().drive(o.rate, until).await;
    chaos.await.unwrap();
    let load_ended = start.elapsed();
    sampler.phase("drain");
    let drained = drain(&db, &ledger, o.drain).await;
    let samples = sampler.stop().await;

    print_load(backend, &load, load_ended, drained);
    print_kills(backend, &fleet);
    print_memory(backend, &samples, o, &load);
    let sent = std::mem::take(&mut load.state.lock().unwrap().sent);
    let facts = Facts::read(&load, &sent, &fakes, &samples, &log).await;
    let passed = check(backend, &facts);
    drop(facts);
    db.close().await;
    drop(load);
    let fleet = Arc::into_inner(fleet).expect("the fleet is no longer shared");
    fleet.stop().await;
    passed
}

/// The automations: the shipped examples the load needs, and two of the soak's own.
fn automations() -> Vec<(&'static str, String)> {
    let mut files: Vec<(&str, String)> = [
        "acknowledge-new-request.toml",
        "password-reset.toml",
        "reset-password.ts",
        "escalate-bangbang.toml",
        "critical-to-jira.toml",
        "critical-to-jira.ts",
    ]
    .into_iter()
    .map(|name| (name, support::example(name)))
    .collect();
    files.push(("soak-thread-reply.toml", THREAD_REPLY.into()));
    files.push(("soak-alert.toml", ALERT.into()));
    files.push(("soak-alert.ts", ALERT_SCRIPT.into()));
    files
}

/// Stores the integrations' credentials; returns the webhook's path.
async fn prepare(site: &Site, db: &Db) -> String {
    let secrets = switchboard::secrets::SecretStore::new(
        db.clone(),
        switchboard::secrets::open_provider(&site.secrets)
            .await
            .unwrap(),
    );
    let now = chrono::Utc::now().timestamp_millis();
    for (name, value) in FakeVendors::secrets() {
        secrets
            .set("*", name, value.as_bytes(), "soak", now)
            .await
            .unwrap();
    }
    let (token, _) = switchboard::webhooks::reveal(db, &secrets, "soak-alert")
        .await
        .unwrap()
        .expect("the webhook has a token");
    format!("/hooks/{token}")
}

/// Waits until no run is queued or running and Slack heard nothing for two seconds,
/// for at most `limit`; returns how long it took, `None` when it did not happen.
async fn drain(db: &Db, ledger: &Ledger, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut quiet = 0;
    while start.elapsed() < limit {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")
                .fetch_one(db.reader())
                .await
                .unwrap_or(1);
        let silent = ledger.silent_for() > Duration::from_secs(2);
        quiet = if busy == 0 && silent { quiet + 1 } else { 0 };
        if quiet >= 2 {
            return Some(start.elapsed());
        }
    }
    None
}
