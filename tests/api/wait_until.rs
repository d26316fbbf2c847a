//! `wait … until`: a wait that the conversation can end early (the requester's reply,
//! a status), with `on_timeout` steps for when the time ran out first: the shipped
//! pending follow-up, nudge-then-close in one automation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use serde_json::Value;
use switchboard::clock::ManualClock;
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reply};
use crate::helpers::fake_slack::BOT_USER;
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const QUIET: Duration = Duration::from_millis(400);
const THREAD: &str = "1700000000.000100";
const DAY: Duration = Duration::from_secs(86_400);

async fn spawn(backend: crate::helpers::Backend) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 10, 0, 0)
            .unwrap(),
    ));
    let app = app(backend)
        .example_with(
            "pending-follow-up",
            &[("enabled = false", "enabled = true")],
        )
        .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
        .clock(clock.clone())
        .spawn()
        .await;
    let open = message("EvOPEN", SUPPORT_CHANNEL, REQUESTER, THREAD, "VPN is down");
    assert_eq!(app.post_event(&open).await.status().as_u16(), 200);
    (app, clock)
}

async fn say(app: &TestApp, n: u32, user: &str, text: &str) {
    let event = reply(
        &format!("EvSAY{n}"),
        SUPPORT_CHANNEL,
        user,
        THREAD,
        &format!("1700000001.{n:06}"),
        text,
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

fn replies(app: &TestApp) -> Vec<String> {
    app.slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("thread_ts") == THREAD)
        .map(|c| c.arg("text").to_owned())
        .collect()
}

async fn wait_replies(app: &TestApp, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    while replies(app).len() < n {
        assert!(
            Instant::now() < deadline,
            "{n} replies did not come: {:?}",
            replies(app)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    replies(app)
}

/// The steps of the one run, as (action, status, output).
async fn steps(app: &TestApp) -> Vec<(String, String, Value)> {
    let run = app.wait_for_runs_to_finish(WAIT).await.remove(0);
    db::runs::steps(app.db.reader(), run.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let output = s
                .output
                .as_deref()
                .map_or(Value::Null, |o| serde_json::from_str(o).unwrap());
            (s.action, s.status, output)
        })
        .collect()
}

on_both_backends! {
    async fn the_requesters_reply_ends_the_wait_and_the_follow_up(backend: Backend) {
        let (app, clock) = spawn(backend).await;
        say(&app, 1, AGENT, &format!("<@{BOT_USER}> pending")).await;
        app.wait_for_status("waiting", WAIT).await;
        clock.advance(DAY);
        say(&app, 2, REQUESTER, "Here are the logs you asked for").await;
        let steps = steps(&app).await;
        let (action, status, output) = &steps[0];
        assert_eq!((action.as_str(), status.as_str()), ("wait", "succeeded"));
        assert_eq!(output["decision"], "ended", "{output}");
        assert_eq!(output["ended_by"], format!("a reply from <@{REQUESTER}>"));
        assert!(steps[1..].iter().all(|(_, status, _)| status == "skipped"), "{steps:#?}");
        clock.advance(DAY * 10);
        tokio::time::sleep(QUIET).await;
        assert!(replies(&app).is_empty(), "no nudge, no closing");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn time_running_out_nudges_then_closes(backend: Backend) {
        let (app, clock) = spawn(backend).await;
        say(&app, 1, AGENT, &format!("<@{BOT_USER}> pending")).await;
        app.wait_for_status("waiting", WAIT).await;
        // The agent's own message does not end a wait for the requester.
        say(&app, 2, AGENT, "Any news?").await;
        clock.advance(DAY * 2);
        let said = wait_replies(&app, 1).await;
        assert!(said[0].contains("just checking in"), "{said:?}");
        clock.advance(DAY * 3);
        let said = wait_replies(&app, 2).await;
        assert!(said[1].contains("closing this"), "{said:?}");
        let steps = steps(&app).await;
        let decisions: Vec<&Value> = steps.iter().filter(|(a, _, _)| a == "wait").map(|(_, _, o)| &o["decision"]).collect();
        assert_eq!(decisions, ["timed_out", "timed_out"]);
        let mut conn = app.db.reader().acquire().await.unwrap();
        let c = db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, THREAD).await.unwrap().unwrap();
        assert_eq!(c.status.as_str(), "closed");
        app.shutdown().await;
    }
}

const SCRIPTED: &str = r#"[trigger]
type = "conversation_updated"
fields = ["status"]

[filter]
field = "status"
is = "pending"

[[actions]]
type = "code"
file = "follow-up.ts"
"#;

const FOLLOW_UP_TS: &str = r#"
export default async function (ctx: any) {
  await slack.reply("We will wait two days for your answer.");
  const first = await waitFor({ for: "2d", until: { replyFrom: "requester" } });
  if (first.decision === "ended") {
    await slack.reply(`Thanks! (${first.endedBy})`);
    return first;
  }
  await slack.reply("Still there?");
  return first;
}
"#;

on_both_backends! {
    async fn a_script_waits_for_the_requester_and_runs_on_with_the_answer(backend: Backend) {
        let clock = Arc::new(ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap(),
        ));
        let app = app(backend)
            .automation("follow-up", SCRIPTED)
            .file("follow-up.ts", FOLLOW_UP_TS)
            .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
            .clock(clock.clone())
            .spawn()
            .await;
        let open = message("EvOPEN", SUPPORT_CHANNEL, REQUESTER, THREAD, "VPN is down");
        assert_eq!(app.post_event(&open).await.status().as_u16(), 200);
        say(&app, 1, AGENT, &format!("<@{BOT_USER}> pending")).await;
        let waiting = app.wait_for_status("waiting", WAIT).await;
        assert!(waiting.error.is_none());
        clock.advance(DAY);
        say(&app, 2, REQUESTER, "4.2, thanks").await;
        let said = wait_replies(&app, 2).await;
        assert_eq!(said[0], "We will wait two days for your answer.", "posted once, replayed after");
        assert_eq!(said[1], format!("Thanks! (a reply from <@{REQUESTER}>)"));
        let steps = steps(&app).await;
        assert_eq!(steps[0].2["decision"], "ended", "{steps:#?}");

        // The other way: nobody answers for two days.
        let other = "1700000009.000100";
        let open = message("EvOPEN2", SUPPORT_CHANNEL, REQUESTER, other, "printer on fire");
        assert_eq!(app.post_event(&open).await.status().as_u16(), 200);
        let command = reply("EvPEND2", SUPPORT_CHANNEL, AGENT, other, "1700000009.000200", &format!("<@{BOT_USER}> pending"));
        assert_eq!(app.post_event(&command).await.status().as_u16(), 200);
        let deadline = Instant::now() + WAIT;
        while app.slack.thread(other).is_empty() {
            assert!(Instant::now() < deadline, "the second script did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(QUIET).await;
        clock.advance(DAY * 2);
        let deadline = Instant::now() + WAIT;
        while app.slack.thread(other).len() < 2 {
            assert!(Instant::now() < deadline, "no timeout: {:?}", app.slack.thread(other));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.slack.thread(other), ["We will wait two days for your answer.", "Still there?"]);
        app.shutdown().await;
    }
}
