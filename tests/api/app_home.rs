//! The Home tab: opening it publishes, for that person, what they may run (with Run
//! buttons that work), the requests waiting for their decision (with Approve / Deny
//! that work), what is assigned to them and their last runs; admins also see the
//! day's failures. A decision made from the tab shows there at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::events::{REQUESTER, SUPPORT_CHANNEL, callback, message};
use crate::helpers::fake_slack::{IT_MANAGERS, TEAM_ID};
use crate::helpers::interactions::posted_requests;
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const ADMIN: &str = "U0ADMIN001";
const MEMBER: &str = "U0MEMBER01";
const THREAD: &str = "1700000000.000100";

async fn start(backend: crate::helpers::Backend) -> TestApp {
    app(backend)
        .automation("greet", crate::manual::GREET)
        .automation("laptop", crate::manual::LAPTOP)
        .file("laptop.ts", crate::manual::LAPTOP_TS)
        .automation("reset", &crate::approvals::automation(""))
        .env("SWITCHBOARD_ADMINS", ADMIN)
        .spawn()
        .await
}

/// `user` opens the Home tab (event `n`); returns the view then published for them.
async fn open_home(app: &TestApp, n: usize, user: &str) -> Value {
    let before = app
        .slack
        .calls_to("views.publish")
        .iter()
        .filter(|c| c.arg("user_id") == user)
        .count();
    let event = callback(
        &format!("EvHOME{user}{n}"),
        json!({ "type": "app_home_opened", "user": user, "channel": format!("D{user}"), "tab": "home", "event_ts": "1700000003.000100" }),
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
    published(app, user, before + 1).await
}

/// Waits until `user`'s tab has been published `n` times; the latest view.
async fn published(app: &TestApp, user: &str, n: usize) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let calls: Vec<_> = app
            .slack
            .calls_to("views.publish")
            .into_iter()
            .filter(|c| c.arg("user_id") == user)
            .collect();
        if calls.len() >= n {
            let view = calls.last().unwrap().json_arg("view");
            assert_eq!(view["type"], "home");
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "{user}'s Home tab was published {} times, not {n}",
            calls.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_buttons(view: &Value) -> Vec<String> {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["accessory"]["action_id"] == "switchboard_home_run")
        .map(|b| b["accessory"]["value"].as_str().unwrap().to_owned())
        .collect()
}

/// A click on a button of the Home tab, as Slack sends it (the container is the view).
fn home_click(user: &str, action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": { "id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID },
        "api_app_id": "A0SWITCHB1", "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "container": { "type": "view", "view_id": "V0HOME0001" },
        "trigger_id": "1700000000.777777.home0123456789",
        "team": { "id": TEAM_ID, "domain": "acme-support" },
        "view": { "id": "V0HOME0001", "type": "home", "callback_id": "", "hash": "1700000000.abc" },
        "actions": [{ "action_id": action_id, "block_id": "b1", "value": value, "type": "button", "action_ts": "1700000004.000001",
                      "text": { "type": "plain_text", "text": "Run" } }]
    })
}

on_both_backends! {
    async fn an_admin_and_a_member_see_what_they_may_run(backend: Backend) {
        let app = start(backend).await;
        let admin = open_home(&app, 1, ADMIN).await;
        assert_eq!(run_buttons(&admin), ["greet", "laptop"]);
        let text = admin.to_string();
        assert!(text.contains("Says hello in #greetings"), "{text}");
        assert!(text.contains("Failed in the last 24 hours") && text.contains("No run failed"), "{text}");

        let member = open_home(&app, 2, MEMBER).await;
        assert!(run_buttons(&member).is_empty());
        let text = member.to_string();
        assert!(text.contains("There are no automations you may run by hand"), "{text}");
        assert!(!text.contains("Failed in the last 24 hours"), "members do not see the failures");
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn run_buttons_open_the_form_or_start_the_run(backend: Backend) {
        let app = start(backend).await;
        let home = open_home(&app, 1, ADMIN).await;
        assert_eq!(run_buttons(&home), ["greet", "laptop"]);

        // An automation with inputs: its form opens.
        assert_eq!(app.post_interaction(&home_click(ADMIN, "switchboard_home_run", "laptop")).await.status().as_u16(), 200);
        let view = app.slack.wait_for("views.open", 1, WAIT).await[0].json_arg("view");
        assert_eq!(view["callback_id"], "switchboard_run_inputs");

        // One without: it runs, the person is told, and the tab lists the run.
        assert_eq!(app.post_interaction(&home_click(ADMIN, "switchboard_home_run", "greet")).await.status().as_u16(), 200);
        let run = app.wait_for_status("succeeded", WAIT).await;
        assert_eq!(run.automation_id, "greet");
        let told = app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        assert!(told.iter().any(|c| c.arg("channel") == format!("D{ADMIN}") && c.arg("text").contains("Started *Greet*")), "{told:#?}");
        // The tab follows the run to its end without being opened again.
        let deadline = Instant::now() + WAIT;
        loop {
            let latest = app.slack.calls_to("views.publish").last().unwrap().json_arg("view").to_string();
            if latest.contains(":white_check_mark: *Greet* (run") {
                break;
            }
            assert!(Instant::now() < deadline, "the run's end never showed on the tab: {latest}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.shutdown().await;
    }

    async fn an_approver_decides_from_the_tab(backend: Backend) {
        let app = start(backend).await;
        let asked = message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "Please reset my password");
        assert_eq!(app.post_event(&asked).await.status().as_u16(), 200);
        app.wait_for_status("waiting", WAIT).await;
        let request = posted_requests(&app.slack)[0].approval_id;
        let deadline = Instant::now() + WAIT;
        let approver = IT_MANAGERS[0];
        let mut n = 0;
        let home = loop {
            n += 1;
            let home = open_home(&app, n, approver).await;
            if home.to_string().contains("switchboard_approve") {
                break home;
            }
            // The request opens for decisions once its messages are posted.
            assert!(Instant::now() < deadline, "{home}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let approve = home["blocks"].as_array().unwrap().iter()
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["action_id"] == "switchboard_approve").expect("an Approve button");
        assert_eq!(approve["value"], request.to_string());
        let publishes = app.slack.calls_to("views.publish").iter().filter(|c| c.arg("user_id") == approver).count();

        let response = app.post_interaction(&home_click(approver, "switchboard_approve", &request.to_string())).await;
        assert_eq!(response.status().as_u16(), 200);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        let after = published(&app, approver, publishes + 1).await;
        assert!(after.to_string().contains("Nothing is waiting for you"), "{after}");
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }
}
