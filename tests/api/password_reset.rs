//! The password-reset story with the shipped example: a request goes to the IT
//! managers; an approval resets the password in Okta and tells the requester; a denial
//! only tells them.

use std::time::Duration;

use switchboard::db;

use crate::helpers::events::{REQUESTER, SUPPORT_CHANNEL, message};
use crate::helpers::fake_slack::IT_MANAGERS;
use crate::helpers::fake_vendors::OKTA_TOKEN;
use crate::helpers::interactions::{PostedRequest, click, posted_requests};
use crate::helpers::{FakeVendors, TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);
const THREAD: &str = "1700000000.000100";
const RESET_PATH: &str = "/api/v1/users/00ub0oNGTSWTBKOLGLNR/lifecycle/reset_password";

async fn start(backend: crate::helpers::Backend, vendors: &FakeVendors) -> TestApp {
    app(backend)
        .example("password-reset")
        .file(
            "reset-password.ts",
            &std::fs::read_to_string("automations/reset-password.ts").unwrap(),
        )
        .vendors(vendors)
        .spawn()
        .await
}

async fn ask(app: &TestApp, text: &str) {
    let response = app
        .post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, text))
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

async fn requests(app: &TestApp) -> Vec<PostedRequest> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let posted = posted_requests(&app.slack);
        // Posted, and open for decisions (a click before that is told to try again).
        let open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE status = 'pending'")
                .fetch_one(app.db.reader())
                .await
                .unwrap();
        if posted.len() == IT_MANAGERS.len() && open == 1 {
            return posted;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no approval requests: {:#?}",
            app.slack.calls()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn thread(app: &TestApp) -> Vec<String> {
    app.slack.thread(THREAD)
}

async fn step_statuses(app: &TestApp, run_id: i64) -> Vec<String> {
    db::runs::steps(app.db.reader(), run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| format!("{} {}", s.action, s.status))
        .collect()
}

on_both_backends! {
    async fn an_approved_request_resets_the_password_in_okta(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = start(backend, &vendors).await;
        ask(&app, "Hi! I forgot my password and I'm locked out, can you reset it?").await;
        let requests = requests(&app).await;
        let blocks = app.slack.calls_to("chat.postMessage")[1].json_arg("blocks").to_string();
        assert!(blocks.contains(&format!("Password reset for <@{REQUESTER}>")), "{blocks}");
        assert!(blocks.contains("I forgot my password"), "{blocks}");
        assert!(vendors.calls_to("/api/v1").is_empty(), "nothing happens in Okta before the approval");

        let response = app.post_interaction(&click(&requests[0], IT_MANAGERS[0], true)).await;
        assert_eq!(response.status().as_u16(), 200);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded", "{:?}", runs[0].error);
        assert_eq!(
            step_statuses(&app, runs[0].id).await,
            ["reply succeeded", "approval succeeded", "code succeeded", "reply skipped", "reply skipped", "set_fields skipped"]
        );

        let resets = vendors.calls_to(RESET_PATH);
        assert_eq!(resets.len(), 1);
        assert_eq!(resets[0].method, "POST");
        assert_eq!(resets[0].headers["authorization"], format!("SSWS {OKTA_TOKEN}"));
        assert_eq!(resets[0].query["sendEmail"], "true");

        let dm = app.slack.calls_to("chat.postMessage").into_iter().find(|c| c.arg("channel") == format!("D{REQUESTER}")).expect("a DM to the requester");
        assert!(dm.arg("text").contains(&format!("approved by <@{}>", IT_MANAGERS[0])), "{}", dm.arg("text"));
        assert!(dm.arg("text").contains("ada@acme.example"), "{}", dm.arg("text"));
        let thread = thread(&app);
        assert!(thread[0].starts_with("Thanks"), "{thread:?}");
        assert!(thread.iter().any(|t| t.contains(&format!("Approved by <@{}>", IT_MANAGERS[0]))), "{thread:?}");
        assert!(thread.last().unwrap().starts_with("Done: Okta sent"), "{thread:?}");
        assert!(vendors.violations().is_empty(), "{:?}", vendors.violations());
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn a_denied_request_only_tells_the_requester(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = start(backend, &vendors).await;
        ask(&app, "my password expired, please reset").await;
        let requests = requests(&app).await;

        app.post_interaction(&click(&requests[1], IT_MANAGERS[1], false)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert!(vendors.calls_to("/api/v1").is_empty(), "no Okta call on a denial");
        let last = thread(&app).pop().unwrap();
        assert!(last.starts_with(&format!("<@{}> did not approve the password reset.", IT_MANAGERS[1])), "{last}");
        app.shutdown().await;
    }

    async fn other_requests_do_not_ask_for_approval(backend: Backend) {
        let vendors = FakeVendors::start().await;
        let app = start(backend, &vendors).await;
        ask(&app, "The VPN is down again").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(app.runs().await.is_empty());
        assert!(posted_requests(&app.slack).is_empty());
        app.shutdown().await;
    }
}
