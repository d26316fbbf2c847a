//! The key-value store: TTLs, atomic compare-and-set and increments under concurrency,
//! namespaces, limits, the command line, the same on both backends; and the CSAT story.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::{Value, json};
use switchboard::clock::ManualClock;
use switchboard::db::Db;
use switchboard::kv::{KvStore, Namespace};

use crate::helpers::events::{AGENT, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::{TestApp, TestDatabase, app};
use crate::on_both_backends;

const WS: &str = "T0TEST";

async fn store(database: &TestDatabase, clock: Arc<ManualClock>) -> (Db, KvStore) {
    let db = Db::connect(&switchboard::config::DatabaseConfig {
        url: database.url.clone(),
        sqlite_sync: switchboard::config::SqliteSync::Full,
        max_connections: 8,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let kv = KvStore::new(db.clone(), clock);
    (db, kv)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    ))
}

on_both_backends! {
    async fn keys_expire_at_once_and_are_purged(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let clock = clock();
        let (db, kv) = store(&database, clock.clone()).await;
        let ns = Namespace::automation("a");
        kv.set(WS, &ns, "short", &json!("x"), Some(Duration::from_secs(60))).await.unwrap();
        kv.set(WS, &ns, "forever", &json!({ "n": 1 }), None).await.unwrap();
        assert_eq!(kv.get(WS, &ns, "short").await.unwrap(), Some(json!("x")));
        clock.advance(Duration::from_secs(59));
        assert!(kv.get(WS, &ns, "short").await.unwrap().is_some());
        clock.advance(Duration::from_secs(1));
        assert_eq!(kv.get(WS, &ns, "short").await.unwrap(), None, "invisible the moment it expires");
        assert_eq!(kv.list(WS, &ns, "").await.unwrap().len(), 1);
        assert!(!kv.delete(WS, &ns, "short").await.unwrap(), "an expired key does not count as deleted");
        kv.set(WS, &ns, "again", &json!(1), Some(Duration::from_secs(1))).await.unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(kv.purge_expired().await.unwrap(), 1);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kv").fetch_one(db.reader()).await.unwrap();
        assert_eq!(rows, 1);
        db.close().await;
    }

    async fn compare_and_set_has_exactly_one_winner_and_increments_add_up(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let (db, kv) = store(&database, clock()).await;
        let ns = Namespace::shared("race").unwrap();
        let claims = futures::future::join_all((0..20).map(|i| {
            let kv = kv.clone();
            let ns = ns.clone();
            tokio::spawn(async move { kv.compare_and_set(WS, &ns, "lock", None, &json!(i), None).await.unwrap() })
        }))
        .await;
        let winners = claims.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(winners, 1);
        let holder = kv.get(WS, &ns, "lock").await.unwrap().unwrap();
        assert!(!kv.compare_and_set(WS, &ns, "lock", Some(&json!(-1)), &json!("x"), None).await.unwrap());
        assert!(kv.compare_and_set(WS, &ns, "lock", Some(&holder), &json!("next"), None).await.unwrap());

        futures::future::join_all((0..10).map(|_| {
            let kv = kv.clone();
            let ns = ns.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    kv.increment(WS, &ns, "counter", 1.0).await.unwrap();
                }
            })
        }))
        .await;
        assert_eq!(kv.get(WS, &ns, "counter").await.unwrap(), Some(json!(100.0)));
        assert_eq!(kv.increment(WS, &ns, "counter", -0.5).await.unwrap(), 99.5);
        let err = kv.increment(WS, &ns, "lock", 1.0).await.unwrap_err().to_string();
        assert!(err.contains("not a number"), "{err}");
        db.close().await;
    }

    async fn namespaces_are_isolated_and_limits_are_clear(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let (db, kv) = store(&database, clock()).await;
        let a = Namespace::automation("a");
        let b = Namespace::automation("b");
        kv.set(WS, &a, "k", &json!("a's"), None).await.unwrap();
        assert_eq!(kv.get(WS, &b, "k").await.unwrap(), None);
        assert_eq!(kv.get("T0OTHER", &a, "k").await.unwrap(), None, "scoped to the workspace");
        kv.set(WS, &b, "k", &json!("b's"), None).await.unwrap();
        assert_eq!(kv.get(WS, &a, "k").await.unwrap(), Some(json!("a's")));
        // Prefixes are literal, even with LIKE's special characters.
        for key in ["user:1", "user:2", "user_3", "users%", "other"] {
            kv.set(WS, &a, key, &json!(key), None).await.unwrap();
        }
        let keys: Vec<String> = kv.list(WS, &a, "user:").await.unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["user:1", "user:2"]);
        let keys: Vec<String> = kv.list(WS, &a, "user_").await.unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["user_3"]);
        let big = Value::String("x".repeat(70 * 1024));
        let err = kv.set(WS, &a, "big", &big, None).await.unwrap_err().to_string();
        assert!(err.contains("the limit is 65536 bytes"), "{err}");
        let err = kv.set(WS, &a, &"k".repeat(600), &json!(1), None).await.unwrap_err().to_string();
        assert!(err.contains("512 bytes"), "{err}");
        assert!(Namespace::shared("bad name").is_err());
        db.close().await;
    }

    async fn scripts_share_only_through_named_namespaces(backend: Backend) {
        let writer = "export default async function () {\n  await kv.set('k', { from: 'writer' });\n  await kv.shared('team').set('k', 'shared value');\n  return await kv.get('k');\n}\n";
        let reader = "export default async function () {\n  return [await kv.get('k'), await kv.shared('team').get('k'), (await kv.list()).length];\n}\n";
        let automation = |file: &str, emoji: &str| format!("[trigger]\ntype = \"reaction_added\"\nemoji = \"{emoji}\"\n[[actions]]\ntype = \"code\"\nfile = \"{file}\"\n");
        let app = app(backend)
            .automation("writer", &automation("writer.ts", "pencil"))
            .automation("reader", &automation("reader.ts", "eyes"))
            .file("writer.ts", writer)
            .file("reader.ts", reader)
            .spawn()
            .await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, AGENT, "1700000000.000100", "x")).await;
        app.post_event(&reaction_added("EvR1", AGENT, "pencil", SUPPORT_CHANNEL, "1700000000.000100")).await;
        app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
        app.post_event(&reaction_added("EvR2", AGENT, "eyes", SUPPORT_CHANNEL, "1700000000.000100")).await;
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
        assert_eq!(output(&app, runs[0].id).await, json!({ "from": "writer" }));
        assert_eq!(output(&app, runs[1].id).await, json!([null, "shared value", 0]));

        // The same data from the shell.
        let cli = |args: &[&str]| app.cli(args);
        let get = cli(&["kv", "get", "automation:writer", "k", "--workspace", "T0TEST"]);
        assert_eq!(serde_json::from_slice::<Value>(&get.stdout).unwrap(), json!({ "from": "writer" }));
        assert!(cli(&["kv", "set", "shared:team", "n", "41", "--workspace", "T0TEST"]).status.success());
        let list = String::from_utf8_lossy(&cli(&["kv", "list", "shared:team", "--workspace", "T0TEST"]).stdout).into_owned();
        assert_eq!(list, "k\t\"shared value\"\nn\t41\n");
        assert!(cli(&["kv", "delete", "shared:team", "n", "--workspace", "T0TEST"]).status.success());
        let bad = cli(&["kv", "set", "shared:team", "n", "not json", "--workspace", "T0TEST"]);
        assert!(String::from_utf8_lossy(&bad.stderr).contains("must be JSON"));
        app.shutdown().await;
    }

    async fn the_csat_survey_goes_out_at_most_weekly_per_customer(backend: Backend) {
        let clock = clock();
        let resolve = "[trigger]\ntype = \"reaction_added\"\nemoji = \"white_check_mark\"\n[[actions]]\ntype = \"set_fields\"\nstatus = \"resolved\"\n";
        let app = app(backend)
            .clock(clock.clone())
            .example("csat-survey")
            .automation("resolve-on-check", resolve)
            .env("SWITCHBOARD_SUPPORT_CUSTOMERS", "C0SUPPORT1=Acme Corp")
            .spawn()
            .await;
        resolve_request(&app, 1, "U0ADA00001").await;
        assert_eq!(surveys(&app), ["U0ADA00001"]);
        // Same customer, three days later: no second survey.
        clock.advance(Duration::from_secs(3 * 24 * 3600));
        resolve_request(&app, 2, "U0BOB00002").await;
        assert_eq!(surveys(&app), ["U0ADA00001"]);
        // A week after the first: the next resolution gets one.
        clock.advance(Duration::from_secs(4 * 24 * 3600 + 1));
        resolve_request(&app, 3, "U0BOB00002").await;
        assert_eq!(surveys(&app), ["U0ADA00001", "U0BOB00002"]);
        let runs = app.runs().await;
        assert!(runs.iter().all(|r| r.status == "succeeded"), "{runs:#?}");
        app.shutdown().await;
    }
}

/// A request from `requester` resolved with ✅; waits for the runs it causes.
async fn resolve_request(app: &TestApp, n: u32, requester: &str) {
    let ts = format!("1700000000.00010{n}");
    app.post_event(&message(
        &format!("EvMSG{n}"),
        SUPPORT_CHANNEL,
        requester,
        &ts,
        &format!("request {n}"),
    ))
    .await;
    app.post_event(&reaction_added(
        &format!("EvDONE{n}"),
        AGENT,
        "white_check_mark",
        SUPPORT_CHANNEL,
        &ts,
    ))
    .await;
    app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
    // The resolution queues the survey's run: wait for that one too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
}

fn surveys(app: &TestApp) -> Vec<String> {
    app.slack
        .calls_to("conversations.open")
        .iter()
        .map(|c| c.arg("users").to_owned())
        .collect()
}

async fn output(app: &TestApp, run_id: i64) -> Value {
    let steps = switchboard::db::runs::steps(app.db.reader(), run_id)
        .await
        .unwrap();
    serde_json::from_str(steps[0].output.as_deref().unwrap_or("null")).unwrap()
}
