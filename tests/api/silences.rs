//! Automations that run when nothing happens: `no_response` (nobody from the team
//! answered), `no_reply` (the requester went quiet) and `idle`, precise to the minute,
//! in business hours when asked, once per silence, across servers and downtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use switchboard::clock::ManualClock;
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added, reply};
use crate::helpers::fake_slack::{BOT_USER, IT_MANAGERS};
use crate::helpers::{Backend, TestApp, TestAppBuilder, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
/// Long enough for a wrong run to show up: the poller looks every 50 ms in tests.
const QUIET: Duration = Duration::from_millis(400);

const UNANSWERED: &str = r#"[trigger]
type = "no_response"
after = "30m"

[[actions]]
type = "reply"
text = "nobody answered {{requester}}"
"#;

/// Monday 2026-11-30, 10:00 UTC.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 10, 0, 0)
            .unwrap(),
    ))
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

/// `UNANSWERED` with `AGENT` as the team, on `clock`.
fn unanswered_app(backend: Backend, clock: &Arc<ManualClock>) -> TestAppBuilder {
    app(backend)
        .automation("unanswered", UNANSWERED)
        .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
        .clock(clock.clone())
}

/// Thread `n`'s first message, by the requester.
async fn ask(app: &TestApp, n: u32) -> String {
    let thread = format!("1700000000.{n:06}");
    let event = message(
        &format!("EvASK{n}"),
        SUPPORT_CHANNEL,
        REQUESTER,
        &thread,
        "VPN is down",
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
    thread
}

/// A reply by `user` in `thread`, as event `id`.
async fn say(app: &TestApp, id: &str, user: &str, thread: &str, text: &str) {
    let ts = format!("1700000100.{:06}", app.count("messages").await);
    let event = reply(id, SUPPORT_CHANNEL, user, thread, &ts, text);
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

/// The replies switchboard posted in `thread`.
fn posted_in(app: &TestApp, thread: &str) -> Vec<String> {
    app.slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("thread_ts") == thread)
        .map(|c| c.arg("text").to_owned())
        .collect()
}

/// Waits until `n` replies are in `thread`, then a little longer for a wrong extra one.
async fn replies(app: &TestApp, thread: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    while posted_in(app, thread).len() < n {
        assert!(
            Instant::now() < deadline,
            "{n} replies did not come: {:?}",
            posted_in(app, thread)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    posted_in(app, thread)
}

async fn status_of(app: &TestApp, thread: &str) -> String {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, thread)
        .await
        .unwrap()
        .expect("tracked")
        .status
        .to_string()
}

on_both_backends! {
    async fn no_response_fires_once_after_30_minutes_and_not_when_answered(backend: Backend) {
        let clock = clock();
        let app = unanswered_app(backend, &clock).spawn().await;
        let unanswered = ask(&app, 1).await;
        let answered = ask(&app, 2).await;

        clock.advance(minutes(29));
        say(&app, "EvANSWER", AGENT, &answered, "Looking into it").await;
        tokio::time::sleep(QUIET).await;
        assert!(app.runs().await.is_empty(), "nothing before 30 minutes");

        clock.advance(minutes(1));
        let said = replies(&app, &unanswered, 1).await;
        assert_eq!(said, [format!("nobody answered <@{REQUESTER}>")]);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(runs[0].trigger_kind, "no_response");
        assert!(posted_in(&app, &answered).is_empty(), "answered at minute 29");

        // The requester writing again is the same silence: no second run.
        say(&app, "EvAGAIN", REQUESTER, &unanswered, "hello?").await;
        clock.advance(minutes(45));
        tokio::time::sleep(QUIET).await;
        assert_eq!(app.runs().await.len(), 1, "once per silence");

        // Answered, then asked again: a new silence, which fires in its turn.
        say(&app, "EvREPLY", AGENT, &unanswered, "On it").await;
        say(&app, "EvMORE", REQUESTER, &unanswered, "still broken").await;
        clock.advance(minutes(31));
        assert_eq!(replies(&app, &unanswered, 2).await.len(), 2);
        assert_eq!(app.wait_for_runs_to_finish(WAIT).await.len(), 2);
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn a_quiet_requester_is_nudged_then_the_conversation_closed(backend: Backend) {
        let clock = clock();
        let app = app(backend)
            .example("nudge-quiet-requester")
            .example("close-quiet-requester")
            .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
            .clock(clock.clone())
            .spawn()
            .await;
        let thread = ask(&app, 1).await;
        // The agent asks for details and sets the conversation to pending.
        say(&app, "EvASKS", AGENT, &thread, "Which VPN client version?").await;
        say(&app, "EvPEND", AGENT, &thread, &format!("<@{BOT_USER}> pending")).await;
        let deadline = Instant::now() + WAIT;
        while status_of(&app, &thread).await != "pending" {
            assert!(Instant::now() < deadline, "the edit did not apply");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        clock.advance(Duration::from_secs(2 * 86_400 - 60));
        tokio::time::sleep(QUIET).await;
        assert!(posted_in(&app, &thread).is_empty(), "not before two days");
        clock.advance(minutes(2));
        let said = replies(&app, &thread, 1).await;
        assert!(said[0].contains("just checking in"), "{said:?}");
        // The nudge is switchboard's own message: the five days still count from the
        // agent's message.
        clock.advance(Duration::from_secs(3 * 86_400));
        let said = replies(&app, &thread, 2).await;
        assert!(said[1].contains("closing this"), "{said:?}");
        assert_eq!(status_of(&app, &thread).await, "closed");

        // A requester who answers stops both clocks.
        let other = ask(&app, 2).await;
        say(&app, "EvASKS2", AGENT, &other, "Which VPN client version?").await;
        say(&app, "EvPEND2", AGENT, &other, &format!("<@{BOT_USER}> pending")).await;
        clock.advance(Duration::from_secs(86_400));
        say(&app, "EvANSWERS2", REQUESTER, &other, "4.2").await;
        clock.advance(Duration::from_secs(6 * 86_400));
        tokio::time::sleep(QUIET).await;
        assert!(posted_in(&app, &other).is_empty(), "the requester answered");
        app.shutdown().await;
    }
}

const OFFICE: &str = r#"timezone = "Europe/London"
[hours]
weekdays = ["09:00-17:00"]
"#;

on_both_backends! {
    async fn business_hours_stop_the_clock_over_the_weekend(backend: Backend) {
        // Friday 2026-12-04 16:50 in London (UTC in winter).
        let clock = Arc::new(ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 12, 4, 16, 50, 0).unwrap(),
        ));
        let app = app(backend)
            .automation(
                "unanswered",
                &UNANSWERED.replace("after = \"30m\"", "after = \"30m\"\nbusiness_hours = \"office\""),
            )
            .file("calendars/office.toml", OFFICE)
            .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
            .clock(clock.clone())
            .spawn()
            .await;
        let thread = ask(&app, 1).await;
        // Ten working minutes on Friday, twenty on Monday: due Monday 09:20.
        clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap());
        tokio::time::sleep(QUIET).await;
        clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 19, 0).unwrap());
        tokio::time::sleep(QUIET).await;
        assert!(app.runs().await.is_empty(), "the weekend does not count");
        clock.set(chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 20, 0).unwrap());
        assert_eq!(replies(&app, &thread, 1).await.len(), 1);
        let mut timers = db::timers::of_conversation(app.db.reader(), 1).await.unwrap();
        assert_eq!(timers.len(), 1);
        let (name, _, due) = timers.remove(0);
        assert_eq!((name.as_str(), due), ("silence:unanswered", None), "fired");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn two_servers_fire_once_and_a_server_down_fires_when_back(backend: Backend) {
        let clock = clock();
        let mut app = unanswered_app(backend, &clock).spawn().await;
        let replica = app.replica().await;
        let threads = [ask(&app, 1).await, ask(&app, 2).await, ask(&app, 3).await];
        clock.advance(minutes(30));
        for thread in &threads {
            assert_eq!(replies(&app, thread, 1).await.len(), 1, "{thread}");
        }
        assert_eq!(app.wait_for_runs_to_finish(WAIT).await.len(), 3);
        replica.shutdown().await;

        // Down across the due time: fired once when back.
        let late = ask(&app, 4).await;
        app.kill().await;
        clock.advance(minutes(90));
        app.start_again(&[]).await;
        assert_eq!(replies(&app, &late, 1).await.len(), 1);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 4, "{runs:#?}");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn an_edited_wait_counts_the_running_silences_again(backend: Backend) {
        let clock = clock();
        let app = unanswered_app(backend, &clock).spawn().await;
        let thread = ask(&app, 1).await;
        let file = app.automations.path().join("unanswered.toml");
        std::fs::write(&file, UNANSWERED.replace("after = \"30m\"", "after = \"10m\"")).unwrap();
        let start = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 10, 10, 0).unwrap().timestamp_millis();
        let deadline = Instant::now() + WAIT;
        loop {
            let timers = db::timers::of_conversation(app.db.reader(), 1).await.unwrap();
            if timers.first().is_some_and(|(_, _, due)| *due == Some(start)) {
                break;
            }
            assert!(Instant::now() < deadline, "not rescheduled: {timers:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        clock.advance(minutes(10));
        assert_eq!(replies(&app, &thread, 1).await.len(), 1, "due by the new rule");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn a_team_named_by_its_user_group_answers_for_itself(backend: Backend) {
        let clock = clock();
        let app = app(backend)
            .automation("unanswered", UNANSWERED)
            .env("SWITCHBOARD_SUPPORT_TEAM", "@it-managers")
            .clock(clock.clone())
            .spawn()
            .await;
        let answered = ask(&app, 1).await;
        let unanswered = ask(&app, 2).await;
        // The group's members are read from Slack at startup, in the background.
        app.slack.wait_for("usergroups.users.list", 1, WAIT).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        say(&app, "EvMGR", IT_MANAGERS[0], &answered, "On it").await;
        // Someone outside the group is the requester side, however helpful.
        say(&app, "EvOTHER", "U0BYSTANDER", &unanswered, "same here").await;
        clock.advance(minutes(30));
        assert_eq!(replies(&app, &unanswered, 1).await.len(), 1);
        assert!(posted_in(&app, &answered).is_empty(), "a group member answered");
        app.shutdown().await;
    }
}

const IDLE: &str = r#"[trigger]
type = "idle"
after = "1h"

[[actions]]
type = "reply"
text = "anyone?"
"#;

on_both_backends! {
    async fn idle_fires_an_hour_after_the_last_message_whoever_wrote_it(backend: Backend) {
        let clock = clock();
        let app = app(backend).automation("idle", IDLE).clock(clock.clone()).spawn().await;
        let thread = ask(&app, 1).await;
        clock.advance(minutes(59));
        say(&app, "EvLATE", REQUESTER, &thread, "bump").await;
        clock.advance(minutes(59));
        tokio::time::sleep(QUIET).await;
        assert!(posted_in(&app, &thread).is_empty(), "the message at minute 59 reset it");
        clock.advance(minutes(1));
        assert_eq!(replies(&app, &thread, 1).await, ["anyone?"]);
        clock.advance(minutes(180));
        tokio::time::sleep(QUIET).await;
        assert_eq!(posted_in(&app, &thread).len(), 1, "once per silence");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn a_team_members_reaction_answers_when_reactions_count(backend: Backend) {
        let clock = clock();
        let app = unanswered_app(backend, &clock)
            .env("SWITCHBOARD_SUPPORT_TEAM_REACTIONS", "true")
            .spawn()
            .await;
        let acknowledged = ask(&app, 1).await;
        let only_requester = ask(&app, 2).await;
        let eyes = reaction_added("EvEYES", AGENT, "eyes", SUPPORT_CHANNEL, &acknowledged);
        assert_eq!(app.post_event(&eyes).await.status().as_u16(), 200);
        let own = reaction_added("EvOWN", REQUESTER, "pray", SUPPORT_CHANNEL, &only_requester);
        assert_eq!(app.post_event(&own).await.status().as_u16(), 200);
        clock.advance(minutes(30));
        assert_eq!(replies(&app, &only_requester, 1).await.len(), 1, "the requester's reaction is no answer");
        assert!(posted_in(&app, &acknowledged).is_empty(), "the agent's 👀 answered");
        app.shutdown().await;
    }
}
