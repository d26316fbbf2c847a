//! Approvals end to end: a conversation asks the IT managers, the run waits, clicks
//! arrive at `/slack/interactions`, and the run continues down the right branch —
//! exactly once, whoever clicks, however often, across restarts and deadlines.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use switchboard::clock::ManualClock;
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message};
use crate::helpers::fake_slack::{CHANNEL_MEMBERS, Failure, IT_MANAGERS};
use crate::helpers::interactions::{PostedRequest, click, posted_requests, reason_submitted};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const THREAD: &str = "1700000000.000100";
const ALICE: &str = IT_MANAGERS[0];
const BOB: &str = IT_MANAGERS[1];

/// An approval by the IT managers with a branch for each outcome; `extra` adds keys
/// to the approval (quorum, reason, approvers…).
pub(crate) fn automation(extra: &str) -> String {
    let approvers = if extra.contains("approvers") {
        ""
    } else {
        "approvers = [\"@it-managers\"]\n"
    };
    format!(
        r#"[trigger]
type = "conversation_created"

[[actions]]
type = "approval"
{approvers}title = "Reset the password of {{{{requester}}}}"
expires_in = "1h"
{extra}

[[actions.on_approved]]
type = "reply"
text = "Approved by {{{{decided_by}}}}"

[[actions.on_denied]]
type = "reply"
text = "Denied by {{{{decided_by}}}}: {{{{decision_reason}}}}"

[[actions.on_expired]]
type = "reply"
text = "Nobody decided in time"
"#
    )
}

/// Listens for every decision.
const ON_RESPONSE: &str = r#"[trigger]
type = "approval_response"
automation = "reset"

[[actions]]
type = "post"
channel = "C0AUDIT001"
text = "{{approval_title}}: {{decision}} by {{decided_by}}"
"#;

async fn ask(app: &TestApp, requests: usize) -> Vec<PostedRequest> {
    let response = app
        .post_event(&message(
            "EvMSG1",
            SUPPORT_CHANNEL,
            REQUESTER,
            THREAD,
            "Please reset my password",
        ))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    app.wait_for_status("waiting", WAIT).await;
    let posted = posted_requests(&app.slack);
    assert_eq!(posted.len(), requests, "{:#?}", app.slack.calls());
    posted
}

async fn press(app: &TestApp, request: &PostedRequest, user: &str, approve: bool) {
    let response = app.post_interaction(&click(request, user, approve)).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "{:?}",
        response.text().await
    );
}

fn thread_replies(app: &TestApp) -> Vec<String> {
    app.slack.thread(THREAD)
}

async fn steps(app: &TestApp, run_id: i64) -> Vec<(String, String)> {
    db::runs::steps(app.db.reader(), run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.action, s.status))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn ephemeral_to(app: &TestApp, user: &str) -> String {
    let calls = app.slack.wait_for("chat.postEphemeral", 1, WAIT).await;
    let call = calls
        .iter()
        .find(|c| c.arg("user") == user)
        .expect("an ephemeral note to the clicker");
    call.arg("text").to_owned()
}

/// Runs the CLI against the app's database; returns its standard output.
fn cli(app: &TestApp, args: &[&str]) -> String {
    let output = app.cli(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn assert_clean(app: &TestApp) {
    assert!(
        app.slack.violations().is_empty(),
        "{:?}",
        app.slack.violations()
    );
}

on_both_backends! {
    async fn an_approval_continues_down_the_approved_branch(backend: Backend) {
        let app = app(backend)
            .automation("reset", &automation(""))
            .automation("audit", ON_RESPONSE)
            .spawn()
            .await;
        let requests = ask(&app, 2).await;
        // One DM to each member of @it-managers.
        let channels: Vec<_> = requests.iter().map(|r| r.channel.as_str()).collect();
        assert_eq!(channels, [format!("D{ALICE}"), format!("D{BOB}")]);
        let request_text = app.slack.calls_to("chat.postMessage")[0].json_arg("blocks").to_string();
        assert!(request_text.contains(&format!("Reset the password of <@{REQUESTER}>")), "{request_text}");
        assert!(request_text.contains("Please reset my password"), "{request_text}");
        assert!(request_text.contains("acme-support.slack.com/archives/C0SUPPORT1/p1700000000000100"), "{request_text}");

        press(&app, &requests[0], ALICE, true).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let run = runs.iter().find(|r| r.automation_id == "reset").unwrap();
        assert_eq!(run.status, "succeeded");
        assert_eq!(
            steps(&app, run.id).await,
            pairs(&[("approval", "succeeded"), ("reply", "succeeded"), ("reply", "skipped"), ("reply", "skipped")])
        );

        // Both request messages now say who decided, without buttons.
        let updates = app.slack.calls_to("chat.update");
        assert_eq!(updates.len(), 2);
        for (update, request) in updates.iter().zip(&requests) {
            assert_eq!((update.arg("channel"), update.arg("ts")), (request.channel.as_str(), request.ts.as_str()));
            assert!(update.arg("text").contains(&format!("Approved by <@{ALICE}>")), "{}", update.arg("text"));
            let blocks = update.json_arg("blocks").to_string();
            assert!(!blocks.contains("switchboard_approve"), "the buttons are gone: {blocks}");
        }
        let replies = thread_replies(&app);
        assert_eq!(replies.len(), 2, "{replies:?}");
        assert!(replies[0].contains(&format!("Approved by <@{ALICE}>")), "{replies:?}");
        assert_eq!(replies[1], format!("Approved by <@{ALICE}>"));

        // approval_response started the audit automation with the decision.
        let audit = app.slack.calls_to("chat.postMessage").into_iter().find(|c| c.arg("channel") == "C0AUDIT001").expect("audit post");
        assert_eq!(audit.arg("text"), format!("Reset the password of <@{REQUESTER}>: approved by <@{ALICE}>"));
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn a_denial_with_a_required_reason_takes_the_denied_branch(backend: Backend) {
        let app = app(backend).automation("reset", &automation("reason = \"required\"")).spawn().await;
        let requests = ask(&app, 2).await;

        // The click opens a dialog; nothing is decided yet.
        press(&app, &requests[1], BOB, false).await;
        let opened = app.slack.wait_for("views.open", 1, WAIT).await;
        assert_eq!(opened[0].arg("trigger_id"), "1700000000.123456.abcdef0123456789");
        assert_eq!(app.count("approval_votes").await, 0);

        // An empty reason is refused on the field.
        let response = app.post_interaction(&reason_submitted(&requests[1], BOB, false, "  ")).await;
        assert_eq!(response.status().as_u16(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["response_action"], "errors");
        assert!(body["errors"]["reason"].as_str().unwrap().contains("reason"));
        assert_eq!(app.count("approval_votes").await, 0);

        let response = app.post_interaction(&reason_submitted(&requests[1], BOB, false, "not without a ticket")).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.text().await.unwrap().is_empty(), "an empty answer closes the dialog");
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(
            steps(&app, runs[0].id).await,
            pairs(&[("approval", "succeeded"), ("reply", "skipped"), ("reply", "succeeded"), ("reply", "skipped")])
        );
        let replies = thread_replies(&app);
        assert_eq!(replies.last().unwrap(), &format!("Denied by <@{BOB}>: not without a ticket"));
        let update = &app.slack.calls_to("chat.update")[0];
        assert!(update.arg("text").contains("Denied by"), "{}", update.arg("text"));
        assert!(update.arg("text").contains("not without a ticket"), "{}", update.arg("text"));
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn an_unanswered_request_expires_and_takes_the_expired_branch(backend: Backend) {
        let clock = Arc::new(ManualClock::new(chrono::Utc.timestamp_opt(1_800_000_000, 0).unwrap()));
        let app = app(backend)
            .automation("reset", &automation("remind_after = \"30m\""))
            .clock(clock.clone())
            .spawn()
            .await;
        let requests = ask(&app, 2).await;

        clock.advance(Duration::from_secs(31 * 60));
        let reminders = app.slack.wait_for("chat.postMessage", 4, WAIT).await;
        let reminders: Vec<_> = reminders.iter().filter(|c| c.arg("text").contains("Reminder")).collect();
        assert_eq!(reminders.len(), 2, "one reminder under each request");
        assert_eq!(reminders[0].arg("thread_ts"), requests[0].ts);

        clock.advance(Duration::from_secs(30 * 60));
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(
            steps(&app, runs[0].id).await,
            pairs(&[("approval", "succeeded"), ("reply", "skipped"), ("reply", "skipped"), ("reply", "succeeded")])
        );
        assert_eq!(thread_replies(&app).last().unwrap(), "Nobody decided in time");
        let updates = app.slack.calls_to("chat.update");
        assert_eq!(updates.len(), 2);
        assert!(updates[0].arg("text").contains("Expired"), "{}", updates[0].arg("text"));

        // A late click changes nothing and says why.
        press(&app, &requests[0], ALICE, true).await;
        let note = ephemeral_to(&app, ALICE).await;
        assert!(note.contains("already closed"), "{note}");
        assert!(note.contains("Expired"), "{note}");
        assert_eq!(app.count("approval_votes").await, 0);
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn a_stranger_cannot_decide(backend: Backend) {
        let app = app(backend).automation("reset", &automation("")).spawn().await;
        let requests = ask(&app, 2).await;

        press(&app, &requests[0], AGENT, true).await;
        let note = ephemeral_to(&app, AGENT).await;
        assert!(note.contains("not an approver"), "{note}");
        assert_eq!(app.count("approval_votes").await, 0);
        app.wait_for_status("waiting", WAIT).await;
        assert!(app.slack.calls_to("chat.update").is_empty());
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn the_requester_cannot_approve_their_own_request(backend: Backend) {
        let approvers = format!("approvers = [\"{REQUESTER}\", \"{ALICE}\"]");
        let app = app(backend).automation("reset", &automation(&approvers)).spawn().await;
        let requests = ask(&app, 2).await;
        let own = requests.iter().find(|r| r.channel == format!("D{REQUESTER}")).unwrap();

        press(&app, own, REQUESTER, true).await;
        let note = ephemeral_to(&app, REQUESTER).await;
        assert!(note.contains("cannot approve"), "{note}");
        assert_eq!(app.count("approval_votes").await, 0);
        app.wait_for_status("waiting", WAIT).await;

        let other = requests.iter().find(|r| r.channel == format!("D{ALICE}")).unwrap();
        press(&app, other, ALICE, true).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(thread_replies(&app).last().unwrap(), &format!("Approved by <@{ALICE}>"));
        app.shutdown().await;
    }

    async fn a_quorum_of_two_needs_two_approvals(backend: Backend) {
        let app = app(backend).automation("reset", &automation("quorum = 2")).spawn().await;
        let requests = ask(&app, 2).await;

        press(&app, &requests[0], ALICE, true).await;
        let note = ephemeral_to(&app, ALICE).await;
        assert!(note.contains("1 of 2"), "{note}");
        // The requests show the vote, and still have their buttons.
        let progress = app.slack.wait_for("chat.update", 2, WAIT).await;
        let blocks = progress[0].json_arg("blocks").to_string();
        assert!(blocks.contains(ALICE) && blocks.contains("switchboard_approve"), "{blocks}");
        app.wait_for_status("waiting", WAIT).await;

        press(&app, &requests[1], BOB, true).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(thread_replies(&app).last().unwrap(), &format!("Approved by <@{BOB}>"));
        assert_eq!(app.count("approval_votes").await, 2);
        assert_clean(&app);

        // The audit: every request, vote and decision, from the command line.
        let id = requests[0].approval_id.to_string();
        let list = cli(&app, &["approvals", "list"]);
        assert!(list.contains("approved") && list.contains(BOB) && list.contains("Reset the password"), "{list}");
        let show = cli(&app, &["approvals", "show", &id]);
        assert!(show.contains(&format!("vote       {ALICE} approve")), "{show}");
        assert!(show.contains(&format!("vote       {BOB} approve")), "{show}");
        assert!(show.contains("quorum 2"), "{show}");
        let json: serde_json::Value = serde_json::from_str(&cli(&app, &["approvals", "show", &id, "--json"])).unwrap();
        assert_eq!(json["decided_by"], BOB);
        assert_eq!(json["votes"].as_array().unwrap().len(), 2);
        let pending = cli(&app, &["approvals", "list", "--status", "pending"]);
        assert!(pending.contains("(no approval requests)"), "{pending}");
        let run = cli(&app, &["runs", "show", &runs[0].id.to_string()]);
        assert!(run.contains("approvals") && run.contains("APPROVED by"), "{run}");
        app.shutdown().await;
    }

    async fn double_and_concurrent_clicks_give_one_continuation(backend: Backend) {
        let app = app(backend).automation("reset", &automation("")).spawn().await;
        let requests = ask(&app, 2).await;

        // Alice double-clicks while Bob clicks, all at once.
        let clicks = [(&requests[0], ALICE), (&requests[0], ALICE), (&requests[1], BOB), (&requests[0], ALICE)];
        let payloads: Vec<_> = clicks.iter().map(|(request, user)| click(request, user, true)).collect();
        let answers = futures::future::join_all(payloads.iter().map(|p| app.post_interaction(p))).await;
        assert!(answers.iter().all(|r| r.status().as_u16() == 200));

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let approvals: Vec<_> = thread_replies(&app).into_iter().filter(|r| r.starts_with("Approved by")).collect();
        assert_eq!(approvals.len(), 1, "one continuation: {approvals:?}");
        assert_eq!(app.slack.calls_to("chat.update").len(), 2, "each request updated once");
        assert_eq!(app.count("approval_votes").await, 1, "the deciding vote only");
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn a_restart_while_waiting_then_an_approval_resumes_the_run(backend: Backend) {
        let mut app = app(backend).automation("reset", &automation("")).spawn().await;
        let requests = ask(&app, 2).await;

        app.kill_and_restart_with(&[]).await;
        app.wait_for_status("waiting", WAIT).await;
        press(&app, &requests[1], BOB, true).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(posted_requests(&app.slack).len(), 2, "the request was not sent again");
        assert_eq!(thread_replies(&app).last().unwrap(), &format!("Approved by <@{BOB}>"));
        app.shutdown().await;
    }

    async fn a_request_in_a_channel_can_be_decided_by_its_members(backend: Backend) {
        let app = app(backend).automation("reset", &automation("approvers = [\"C0ITDESK01\"]")).spawn().await;
        let requests = ask(&app, 1).await;
        assert_eq!(requests[0].channel, "C0ITDESK01");

        let member = CHANNEL_MEMBERS[2];
        press(&app, &requests[0], member, false).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert!(thread_replies(&app).last().unwrap().starts_with(&format!("Denied by <@{member}>")));
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn a_failure_while_sending_does_not_send_twice(backend: Backend) {
        let app = app(backend).automation("reset", &automation("")).spawn().await;
        // The first DM goes out; the second fails once, and the step is retried.
        app.slack.fail_next("chat.postMessage", Failure::Pass);
        app.slack.fail_next("chat.postMessage", Failure::ServerError);
        let requests = ask(&app, 2).await;
        let channels: Vec<_> = requests.iter().map(|r| r.channel.clone()).collect();
        assert_eq!(channels, [format!("D{ALICE}"), format!("D{BOB}")]);
        press(&app, &requests[1], BOB, true).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(app.slack.calls_to("chat.update").len(), 2, "both requests are updated");
        assert_clean(&app);
        app.shutdown().await;
    }

    async fn a_click_with_a_bad_signature_is_refused(backend: Backend) {
        let app = app(backend).automation("reset", &automation("")).spawn().await;
        let requests = ask(&app, 2).await;

        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &click(&requests[0], ALICE, true).to_string())
            .finish();
        let ts = app.clock.now().timestamp().to_string();
        let forged = switchboard::slack::signature::sign(b"not-the-signing-secret", &ts, body.as_bytes());
        let response = app
            .client
            .post(app.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", forged)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.count("approval_votes").await, 0);
        app.wait_for_status("waiting", WAIT).await;
        assert!(app.slack.calls_to("chat.update").is_empty());
        app.shutdown().await;
    }
}
