//! Scheduled automations: one run per tick, with two servers watching the clock, and
//! one run (not one per tick) for the ticks missed while no server ran.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use switchboard::clock::ManualClock;

use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);

const HOURLY: &str = r#"[trigger]
type = "schedule"
cron = "0 * * * *"
timezone = "Europe/Berlin"

[[actions]]
type = "post"
channel = "C0REPORTS1"
text = "hourly report"
"#;

/// 10:30 UTC.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 30, 0)
            .unwrap(),
    ))
}

fn at(hour: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, hour, 0, 1)
        .unwrap()
}

async fn runs_settle(app: &TestApp, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let runs = app.runs().await;
        let done = runs.iter().filter(|r| r.status == "succeeded").count();
        if done >= n {
            // Give a second server time to do something wrong.
            tokio::time::sleep(Duration::from_millis(400)).await;
            let mut events: Vec<String> =
                app.runs().await.into_iter().map(|r| r.event_id).collect();
            events.sort();
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} runs did not finish: {runs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tick_id(hour: u32) -> String {
    format!("schedule:hourly:{}", at(hour).timestamp_millis() - 1000)
}

on_both_backends! {
    async fn each_tick_runs_once_with_two_servers(backend: Backend) {
        let clock = clock();
        let app = app(backend).automation("hourly", HOURLY).clock(clock.clone()).spawn().await;
        let replica = app.replica().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(app.runs().await.is_empty(), "nothing before the first tick");

        clock.set(at(11));
        assert_eq!(runs_settle(&app, 1).await, [tick_id(11)]);
        clock.set(at(12));
        assert_eq!(runs_settle(&app, 2).await, [tick_id(11), tick_id(12)]);
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 2);
        replica.shutdown().await;
        app.shutdown().await;
    }

    async fn ticks_missed_while_down_run_once(backend: Backend) {
        let clock = clock();
        let mut app = app(backend).automation("hourly", HOURLY).clock(clock.clone()).spawn().await;
        clock.set(at(11));
        assert_eq!(runs_settle(&app, 1).await, [tick_id(11)]);

        app.kill().await;
        clock.set(at(16)); // the 12:00 … 16:00 ticks pass with no server
        app.start_again(&[]).await;
        assert_eq!(runs_settle(&app, 2).await, [tick_id(11), tick_id(16)]);
        clock.set(at(17));
        assert_eq!(runs_settle(&app, 3).await.len(), 3);
        // Old ticks are forgotten, all but the latest, which still says where the
        // schedule stands.
        let far = at(23).timestamp_millis();
        assert_eq!(switchboard::db::doors::prune_ticks(&mut app.db.write().await.unwrap(), far).await.unwrap(), 2);
        let latest = switchboard::db::doors::last_tick(app.db.reader(), "hourly").await.unwrap();
        assert_eq!(latest, Some(at(17).timestamp_millis() - 1000));
        clock.set(at(18));
        assert_eq!(runs_settle(&app, 4).await.len(), 4);
        app.shutdown().await;
    }

    async fn a_schedule_switched_off_and_on_again_waits_for_its_next_tick(backend: Backend) {
        let clock = clock();
        let app = app(backend).automation("hourly", HOURLY).clock(clock.clone()).spawn().await;
        clock.set(at(11));
        assert_eq!(runs_settle(&app, 1).await, [tick_id(11)]);

        let file = app.automations.path().join("hourly.toml");
        std::fs::write(&file, format!("enabled = false\n{HOURLY}")).unwrap();
        in_force(&app, 2).await;
        clock.set(at(14)); // 12:00 … 14:00 pass while it is off
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Back as it was: the same content is version 1 again, in force from now on.
        std::fs::write(&file, HOURLY).unwrap();
        in_force(&app, 1).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(app.runs().await.len(), 1, "no run for the ticks that passed while it was off");
        clock.set(at(15));
        assert_eq!(runs_settle(&app, 2).await, [tick_id(11), tick_id(15)]);
        app.shutdown().await;
    }
}

/// Waits until `version` of `hourly` is the one in force.
async fn in_force(app: &TestApp, version: i64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM automations_in_force WHERE automation_id = 'hourly'",
        )
        .fetch_optional(app.db.reader())
        .await
        .unwrap();
        if current == Some(version) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "version {version} never came into force ({current:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
