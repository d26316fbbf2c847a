//! The ‼️ story, with the shipped example automation: a reaction makes the conversation
//! critical, pages on-call with a link, and replies in the thread — exactly once,
//! through retries, duplicates, restarts, crashes and Slack's rate limits.

use std::time::{Duration, Instant};

use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::fake_slack::{Failure, ONCALL_GROUP};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);

/// Opens a conversation with a top-level message; returns its thread ts.
async fn open_conversation(app: &TestApp, event_id: &str, ts: &str) -> String {
    let response = app
        .post_event(&message(
            event_id,
            SUPPORT_CHANNEL,
            REQUESTER,
            ts,
            "VPN is down for the whole office\nsince 9am",
        ))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    ts.to_owned()
}

async fn conversation(app: &TestApp, ts: &str) -> switchboard::conversations::Conversation {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, ts)
        .await
        .unwrap()
        .expect("the conversation exists")
}

async fn priority_changes(app: &TestApp, conversation_id: i64) -> usize {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::changes(&mut conn, conversation_id)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.field == "priority")
        .count()
}

on_both_backends! {
    async fn a_bangbang_escalates_pages_and_replies(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        let ts = open_conversation(&app, "EvMSG1", "1700000000.000100").await;

        let sent = Instant::now();
        let response = app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &ts)).await;
        assert_eq!(response.status().as_u16(), 200);

        let posts = app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        eprintln!("event to page: {:?}", posts[0].at.duration_since(sent));
        let page = &posts[0];
        assert_eq!(page.arg("channel"), "#oncall");
        let text = page.arg("text");
        assert!(text.starts_with(&format!("<!subteam^{ONCALL_GROUP}> ")), "{text}");
        assert!(text.contains("https://acme-support.slack.com/archives/C0SUPPORT1/p1700000000000100"), "{text}");
        assert!(text.contains(&format!("<@{AGENT}> escalated a request from <@{REQUESTER}>")), "{text}");
        assert!(text.contains("*VPN is down for the whole office*"), "{text}");
        let reply = &posts[1];
        assert_eq!(reply.arg("channel"), SUPPORT_CHANNEL);
        assert_eq!(reply.arg("thread_ts"), ts);
        assert!(reply.arg("text").contains("escalated this to *critical*"));

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].automation_id, "escalate-bangbang");
        assert_eq!(runs[0].trigger_kind, "reaction_added");
        let steps = db::runs::steps(app.db.reader(), runs[0].id).await.unwrap();
        let actions: Vec<_> = steps.iter().map(|s| (s.action.as_str(), s.status.as_str())).collect();
        assert_eq!(actions, [("set_fields", "succeeded"), ("page", "succeeded"), ("reply", "succeeded")]);

        let c = conversation(&app, &ts).await;
        assert_eq!(c.priority.as_str(), "critical");
        assert_eq!(c.tags, ["escalated"]);
        assert!(app.slack.violations().is_empty(), "{:?}", app.slack.violations());
        app.shutdown().await;
    }

    async fn retried_and_concurrent_deliveries_give_one_run(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        let first = open_conversation(&app, "EvMSG1", "1700000000.000100").await;
        let second = open_conversation(&app, "EvMSG2", "1700000000.000200").await;

        // Slack retries a delivery it thinks failed: same event id, X-Slack-Retry-Num.
        let retried = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &first);
        assert_eq!(app.post_event(&retried).await.status().as_u16(), 200);
        for n in 1..=3 {
            assert_eq!(app.post_event_retry(&retried, n).await.status().as_u16(), 200);
        }
        // Three deliveries of one event at the same moment.
        let concurrent = reaction_added("EvREACT2", AGENT, "bangbang", SUPPORT_CHANNEL, &second);
        let answers = futures::future::join_all((0..3).map(|_| app.post_event(&concurrent))).await;
        assert!(answers.iter().all(|r| r.status().as_u16() == 200));

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 2, "{runs:#?}");
        app.slack.wait_for("chat.postMessage", 4, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 4, "two pages and two replies");
        assert_eq!(app.count("events").await, 4, "2 messages + 2 reactions");
        app.shutdown().await;
    }

    async fn a_restart_between_ack_and_execution_still_runs_once(backend: Backend) {
        // A server that acknowledges but executes nothing, as if it died right after.
        let mut app = app(backend)
            .example("escalate-bangbang")
            .env("SWITCHBOARD_WORKERS", "0")
            .spawn()
            .await;
        let ts = open_conversation(&app, "EvMSG1", "1700000000.000100").await;
        assert_eq!(app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &ts)).await.status().as_u16(), 200);
        let runs = app.runs().await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "queued");
        // The backlog the log reports when workers fall behind: one due run, and its age.
        let later = chrono::Utc::now().timestamp_millis() + 60_000;
        let backlog = db::runs::backlog(app.db.reader(), later).await.unwrap();
        assert_eq!(backlog.due, 1);
        assert!(backlog.oldest_due_at.is_some_and(|at| at < later), "{backlog:?}");
        let earlier = db::runs::backlog(app.db.reader(), 0).await.unwrap();
        assert_eq!(earlier.due, 0, "a run is not due before its time");

        app.kill_and_restart_with(&[("SWITCHBOARD_WORKERS", "4")]).await;

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].attempt, 1);
        app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        // Slack's retry of the same event after the restart creates nothing.
        let retry = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &ts);
        assert_eq!(app.post_event_retry(&retry, 1).await.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.runs().await.len(), 1);
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 2);
        app.shutdown().await;
    }

    async fn a_crash_mid_run_resumes_after_the_last_finished_step(backend: Backend) {
        let mut app = app(backend)
            .example("escalate-bangbang")
            .env("SWITCHBOARD_SLACK_TIMEOUT_SECONDS", "30")
            .spawn()
            .await;
        // The page hangs: the server dies while waiting for Slack.
        app.slack.fail_next("chat.postMessage", Failure::Slow(Duration::from_secs(20)));
        let ts = open_conversation(&app, "EvMSG1", "1700000000.000100").await;
        app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &ts)).await;
        let deadline = Instant::now() + WAIT;
        while conversation(&app, &ts).await.priority.as_str() != "critical" {
            assert!(Instant::now() < deadline, "set_fields never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;

        app.kill_and_restart_with(&[]).await;

        // The lease (3 s in tests) expires, the run is requeued and resumes at the page.
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(30)).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].attempt, 2);
        let c = conversation(&app, &ts).await;
        assert_eq!(priority_changes(&app, c.id).await, 1, "set_fields ran once");
        let posts = app.slack.calls_to("chat.postMessage");
        assert_eq!(posts.len(), 2, "{posts:#?}");
        assert_eq!(posts[0].arg("channel"), "#oncall");
        app.shutdown().await;
    }

    async fn a_429_with_retry_after_delays_then_succeeds(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        app.slack.fail_next("chat.postMessage", Failure::RateLimited(2));
        let ts = open_conversation(&app, "EvMSG1", "1700000000.000100").await;
        let sent = Instant::now();
        app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &ts)).await;

        let posts = app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        let waited = posts[0].at.duration_since(sent);
        assert!(waited >= Duration::from_secs(2), "the page went out after {waited:?}, before Retry-After");

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].attempt, 2);
        let steps = db::runs::steps(app.db.reader(), runs[0].id).await.unwrap();
        assert_eq!(steps[0].attempts, 1, "set_fields is not repeated");
        assert_eq!(steps[1].attempts, 2, "the page was retried");
        let log = db::runs::log_lines(app.db.reader(), runs[0].id).await.unwrap();
        assert!(log.iter().any(|l| l.message.contains("rate limited") && l.message.contains("retrying in")), "{log:#?}");
        let c = conversation(&app, &ts).await;
        assert_eq!(priority_changes(&app, c.id).await, 1);
        app.shutdown().await;
    }

    async fn server_errors_are_retried_and_refusals_fail_the_run(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        app.slack.fail_next("chat.postMessage", Failure::ServerError);
        app.slack.fail_next("chat.postMessage", Failure::ServerError);
        let first = open_conversation(&app, "EvMSG1", "1700000000.000100").await;
        app.post_event(&reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, &first)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert_eq!(runs[0].attempt, 3);

        app.slack.fail_next("chat.postMessage", Failure::Error("channel_not_found"));
        let second = open_conversation(&app, "EvMSG2", "1700000000.000200").await;
        app.post_event(&reaction_added("EvREACT2", AGENT, "bangbang", SUPPORT_CHANNEL, &second)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let failed = runs.iter().find(|r| r.event_id == "EvREACT2").unwrap();
        assert_eq!(failed.status, "failed");
        assert_eq!(failed.attempt, 1, "a refusal is not retried");
        let error = failed.error.as_deref().unwrap_or_default();
        assert!(error.contains("step 1 (page)") && error.contains("channel_not_found"), "{error}");
        // The reply after the failed page was not sent.
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 2);
        app.shutdown().await;
    }
}
