//! The onboarding story with the shipped example: a new member is welcomed, added to
//! the Google Groups of their job title, IT hears what was done (and what failed,
//! which is retried), and a follow-up DM comes the next day.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;
use switchboard::clock::ManualClock;

use crate::helpers::events::team_join;
use crate::helpers::fake_vendors::GOOGLE_ACCESS_TOKEN;
use crate::helpers::{FakeVendors, TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const NEWBIE: &str = "U0NEWBIE01";
/// What the fake Slack's users.info says of everyone.
const EMAIL: &str = "ada@acme.example";

async fn start(
    backend: crate::helpers::Backend,
    vendors: &FakeVendors,
    clock: Arc<ManualClock>,
) -> TestApp {
    app(backend)
        .example("onboarding")
        .file(
            "onboarding-groups.ts",
            &std::fs::read_to_string("automations/onboarding-groups.ts").unwrap(),
        )
        .vendors(vendors)
        .clock(clock)
        .spawn()
        .await
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
    ))
}

fn it_reports(app: &TestApp) -> Vec<String> {
    app.slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("channel") == "#it-onboarding")
        .map(|c| c.arg("text").to_owned())
        .collect()
}

fn dms(app: &TestApp) -> Vec<String> {
    app.slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("channel") == format!("D{NEWBIE}"))
        .map(|c| c.arg("text").to_owned())
        .collect()
}

on_both_backends! {
    async fn a_new_member_is_welcomed_provisioned_and_followed_up(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let clock = clock();
        let app = start(backend, &vendors, clock.clone()).await;
        app.post_event(&team_join("EvJOIN1", NEWBIE, EMAIL, "Engineer")).await;
        app.wait_for_status("waiting", WAIT).await;

        assert_eq!(dms(&app).len(), 1);
        assert!(dms(&app)[0].starts_with("Welcome aboard, New Person!"));
        // Google Directory API: members.insert, per group, with the service account's token.
        let inserts = vendors.calls_to("/admin/directory/v1/groups/");
        let paths: Vec<&str> = inserts.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, [
            "/admin/directory/v1/groups/all@acme.example/members",
            "/admin/directory/v1/groups/engineering@acme.example/members",
        ]);
        for insert in &inserts {
            assert_eq!(insert.method, "POST");
            assert_eq!(insert.headers["authorization"], format!("Bearer {GOOGLE_ACCESS_TOKEN}"));
            assert_eq!(insert.body, json!({ "email": EMAIL, "role": "MEMBER" }));
        }
        let reports = it_reports(&app);
        assert_eq!(reports.len(), 1);
        assert!(reports[0].contains(&format!("<@{NEWBIE}> (Engineer, {EMAIL})")), "{reports:?}");
        assert!(reports[0].contains("added to all@acme.example, engineering@acme.example"), "{reports:?}");

        // The next day: the follow-up.
        clock.advance(Duration::from_secs(24 * 3600 + 1));
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        let dms = dms(&app);
        assert_eq!(dms.len(), 2);
        assert!(dms[1].starts_with("How was your first day"), "{dms:?}");
        assert!(vendors.violations().is_empty(), "{:?}", vendors.violations());
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn a_provisioning_failure_is_reported_and_retried(backend: Backend) {
        let vendors = FakeVendors::start().await;
        // Google fails the first group three times: switchboard's own retries give up.
        for _ in 0..3 {
            vendors.fail_next("google.members", 503);
        }
        let clock = clock();
        let app = start(backend, &vendors, clock.clone()).await;
        app.post_event(&team_join("EvJOIN1", NEWBIE, EMAIL, "Engineer")).await;

        let deadline = std::time::Instant::now() + WAIT;
        while it_reports(&app).is_empty() {
            assert!(std::time::Instant::now() < deadline, "no report");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = &it_reports(&app)[0];
        assert!(first.contains(":warning: could not add to all@acme.example"), "{first}");
        assert!(first.contains("(will retry)"), "{first}");
        assert!(first.contains("added to engineering@acme.example"), "{first}");

        // The step asked to be retried in a minute: once the run is back in the queue
        // (its report goes out just before), a minute passes.
        app.wait_for_status("queued", WAIT).await;
        clock.advance(Duration::from_secs(61));
        app.wait_for_status("waiting", WAIT).await;
        let reports = it_reports(&app);
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(reports[1].contains("added to all@acme.example"), "{reports:?}");
        assert!(reports[1].contains("already in engineering@acme.example"), "{reports:?}");
        assert_eq!(dms(&app).len(), 1, "the welcome DM is not sent again");
        app.shutdown().await;
    }
}
