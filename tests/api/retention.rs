//! History past its retention period goes, in the background and by hand; what is
//! still waiting stays. A backup taken under load restores into a working server.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;
use switchboard::clock::{Clock, ManualClock};
use switchboard::config::RetentionConfig;
use switchboard::db::{self, Db};
use switchboard::kv::{KvStore, Namespace};

use crate::helpers::events::{REQUESTER, SUPPORT_CHANNEL, message, reply};
use crate::helpers::fake_slack::TEAM_ID;
use crate::helpers::{Backend, SIGNING_SECRET, TestApp, TestAppBuilder, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const DAY: Duration = Duration::from_secs(86_400);

const GREET: &str = r#"[trigger]
type = "conversation_created"

[[actions]]
type = "reply"
text = "we are on it"
"#;

/// Waits far longer than any test: its runs stay `waiting`.
const HOLD: &str = r#"[trigger]
type = "conversation_created"

[[actions]]
type = "wait"
for = "300d"
"#;

fn retention_app(backend: Backend, clock: &Arc<ManualClock>) -> TestAppBuilder {
    app(backend)
        .automation("greet", GREET)
        .automation("hold", HOLD)
        .clock(clock.clone())
}

/// Thread `n`: its first message (and so a run of each automation).
async fn ask(app: &TestApp, n: u32) -> String {
    let thread = format!("1700000000.{n:06}");
    let event = message(
        &format!("EvASK{n}"),
        SUPPORT_CHANNEL,
        REQUESTER,
        &thread,
        "help",
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
    thread
}

/// Runs `(automation, status)` of thread `n`'s first message.
async fn runs_of(app: &TestApp, n: u32) -> Vec<(String, String)> {
    let mut runs: Vec<(String, String)> = app
        .runs()
        .await
        .into_iter()
        .filter(|r| r.event_id == format!("EvASK{n}"))
        .map(|r| (r.automation_id, r.status.as_str().to_owned()))
        .collect();
    runs.sort();
    runs
}

/// Waits until thread `n`'s greeting succeeded and its hold is waiting.
async fn settled(app: &TestApp, n: u32) {
    let want = vec![
        ("greet".to_owned(), "succeeded".to_owned()),
        ("hold".to_owned(), "waiting".to_owned()),
    ];
    let deadline = tokio::time::Instant::now() + WAIT;
    while runs_of(app, n).await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "thread {n}: {:?}",
            runs_of(app, n).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 2025-01-06, long before the machine's own clock (which `switchboard runs prune` uses).
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap(),
    ))
}

on_both_backends! {
    async fn finished_runs_past_their_period_go_at_startup_and_waiting_runs_stay(backend: Backend) {
        let clock = clock();
        let mut app = retention_app(backend, &clock).spawn().await;
        let old = ask(&app, 1).await;
        let reply_event = reply("EvREPLY1", SUPPORT_CHANNEL, REQUESTER, &old, "1700000001.000001", "still broken");
        assert_eq!(app.post_event(&reply_event).await.status().as_u16(), 200);
        settled(&app, 1).await;
        let old_greeting = app.runs().await.into_iter().find(|r| r.event_id == "EvASK1" && r.automation_id == "greet").unwrap().id;

        clock.advance(60 * DAY);
        ask(&app, 2).await;
        settled(&app, 2).await;
        let (steps, log_lines) = (app.count("run_steps").await, app.count("run_log").await);

        // 91 days after the first: a restarted server prunes in the background at start.
        clock.advance(31 * DAY);
        app.kill_and_restart_with(&[]).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while runs_of(&app, 1).await.len() == 2 {
            assert!(tokio::time::Instant::now() < deadline, "the old greeting was not deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(runs_of(&app, 1).await, vec![("hold".to_owned(), "waiting".to_owned())], "the waiting run stays, however old");
        assert_eq!(
            runs_of(&app, 2).await,
            vec![("greet".to_owned(), "succeeded".to_owned()), ("hold".to_owned(), "waiting".to_owned())],
            "runs inside the period stay"
        );
        let left_of_old: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_steps WHERE run_id = $1")
            .bind(old_greeting)
            .fetch_one(app.db.reader())
            .await
            .unwrap();
        assert_eq!(left_of_old, 0, "its steps went with it");
        assert!(app.count("run_steps").await < steps);
        assert!(app.count("run_log").await < log_lines);
        assert_eq!(app.count("events").await, 0, "event ids older than two days are forgotten");
        assert_eq!(app.count("messages").await, 3, "message copies are kept a year");

        // A year and a day after the reply: its copy goes, the threads' first messages stay.
        clock.advance(275 * DAY);
        let messages_only = RetentionConfig { runs: None, approvals: None, messages: Some(365 * DAY) };
        let pruned = switchboard::retention::prune(&app.db, &messages_only, clock.now_ms(), Duration::ZERO).await.unwrap();
        assert_eq!(pruned.messages, 1, "{pruned:?}");
        assert_eq!(pruned.runs, 0);
        assert_eq!(app.count("messages").await, 2);
        assert_eq!(app.count("conversations").await, 2);
        app.shutdown().await;
    }

    async fn runs_prune_deletes_finished_runs_by_hand(backend: Backend) {
        let clock = clock();
        let app = retention_app(backend, &clock).spawn().await;
        ask(&app, 1).await;
        settled(&app, 1).await;

        let refused = app.cli(&["runs", "prune", "--older-than", "soon"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("--older-than"), "{refused:?}");

        // The runs were made in January 2025, by the test's clock; the command uses the machine's.
        let out = app.cli(&["runs", "prune", "--older-than", "30d"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains("deleted 1 finished runs"), "{stdout}");
        assert_eq!(runs_of(&app, 1).await, vec![("hold".to_owned(), "waiting".to_owned())]);
        app.shutdown().await;
    }
}

/// Backs up a SQLite server while events arrive, restores the copy into a fresh
/// server's place, and finds every event acknowledged before the backup with its runs,
/// the secret readable with the same key, and the key-value store intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_into_a_working_server() {
    let app = app(Backend::Sqlite)
        .automation("greet", GREET)
        .secret("JIRA_TOKEN", "s3cret-token")
        .spawn()
        .await;
    let kv = KvStore::new(app.db.clone(), app.clock.clone());
    let ns = Namespace::parse("shared:oncall").unwrap();
    kv.set(
        TEAM_ID,
        &ns,
        "primary",
        &json!({ "user": "U0ONCALL" }),
        None,
    )
    .await
    .unwrap();

    // Load: new conversations, as fast as the server acknowledges them.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let load = {
        let (client, url, acked, stop) = (
            app.client.clone(),
            app.url("/slack/events"),
            acked.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.is_cancelled() {
                n += 1;
                let id = format!("EvLOAD{n}");
                let event = message(
                    &id,
                    SUPPORT_CHANNEL,
                    REQUESTER,
                    &format!("1700001000.{n:06}"),
                    "help",
                );
                let body = serde_json::to_vec(&event).unwrap();
                let ts = chrono::Utc::now().timestamp().to_string();
                let signature =
                    switchboard::slack::signature::sign(SIGNING_SECRET.as_bytes(), &ts, &body);
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-slack-request-timestamp", ts)
                    .header("x-slack-signature", signature)
                    .body(body)
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status().is_success()) {
                    acked.lock().unwrap().push(id);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_backup: Vec<String> = acked.lock().unwrap().clone();
    let copy = app.automations.path().join("backup.db");
    let out = {
        let (env, copy) = (app.env.clone(), copy.clone());
        tokio::task::spawn_blocking(move || {
            crate::helpers::cli_with(&env, &["backup", copy.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    stop.cancel();
    load.await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("not beside this file"),
        "the key is named: {printed}"
    );
    assert!(
        before_backup.len() > 5,
        "the load ran: {}",
        before_backup.len()
    );
    assert!(
        !app.cli(&["backup", copy.to_str().unwrap()])
            .status
            .success(),
        "a backup never overwrites"
    );

    // Restore into the place of a fresh database; a running server's is refused.
    let fresh = app.automations.path().join("restored.db");
    let fresh_url = format!("sqlite://{}", fresh.display());
    let refused = app.cli(&["restore", copy.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("server is running"),
        "{refused:?}"
    );
    let mut env = app.env.clone();
    env.insert("DATABASE_URL".into(), fresh_url.clone());
    let out = crate::helpers::cli_with(&env, &["restore", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");

    // A server on the restored copy finishes what was queued at the time of the backup.
    let server = KillOnDrop(app.serve_process(&[
        ("DATABASE_URL", fresh_url.as_str()),
        // Hundreds of replies in one channel: Slack's pace would take minutes.
        ("SWITCHBOARD_SLACK_RATE_LIMITS", "false"),
    ]));
    let config = switchboard::config::DatabaseConfig {
        url: fresh_url,
        ..app.config.database.clone()
    };
    let restored = Db::connect(&config).await.unwrap();
    // Runs that were running at the time of the backup are leased to the old server
    // and taken over when that lease (30 s) runs out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let unfinished: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE status <> 'succeeded'")
                .fetch_one(restored.reader())
                .await
                .unwrap();
        if unfinished == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let mut server = server;
            let states: Vec<(String, Option<String>, i64)> =
                sqlx::query_as("SELECT status, error, COUNT(*) FROM runs GROUP BY status, error")
                    .fetch_all(restored.reader())
                    .await
                    .unwrap();
            eprintln!("{states:?}");
            panic!(
                "{unfinished} runs did not finish on the restored server (server: {:?})",
                server.0.try_wait()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    for id in &before_backup {
        let runs: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE event_id = $1 AND automation_id = 'greet'",
        )
        .bind(id)
        .fetch_one(restored.reader())
        .await
        .unwrap();
        assert_eq!(runs, 1, "{id} was acknowledged before the backup");
    }
    let provider = switchboard::secrets::open_provider(&app.config.secrets)
        .await
        .unwrap();
    let secrets = switchboard::secrets::SecretStore::new(restored.clone(), provider);
    let token = secrets
        .get("*", "JIRA_TOKEN")
        .await
        .unwrap()
        .expect("the secret is in the copy");
    assert_eq!(token.expose(), "s3cret-token");
    let kv = KvStore::new(restored.clone(), app.clock.clone());
    assert_eq!(
        kv.get(TEAM_ID, &ns, "primary").await.unwrap(),
        Some(json!({ "user": "U0ONCALL" }))
    );
    assert!(db::backup::inspect(&copy).is_ok());
    app.shutdown().await;
}

/// A server process that is killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
