//! SLA policies: a critical ticket's first response warns its assignee, then pages the
//! leads when breached; changing the priority moves the due time; `pending` pauses the
//! resolution clock. Each alarm starts its automations once per deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use switchboard::clock::ManualClock;
use switchboard::conversations::Conversation;
use switchboard::conversations::sla::{ClockState, Target};
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reply};
use crate::helpers::fake_slack::{BOT_USER, ONCALL_GROUP};
use crate::helpers::{TestApp, TestAppBuilder, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const QUIET: Duration = Duration::from_millis(400);
const MIN: i64 = 60_000;

fn shipped(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("automations")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Monday 2026-11-30 10:00 in Berlin (09:00 UTC): the EMEA desk is open.
fn monday() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

/// The shipped critical policy and its alarms, with the leads' group as on-call's.
fn with_shipped_slas(builder: TestAppBuilder) -> TestAppBuilder {
    builder
        .file("calendars/emea.toml", &shipped("calendars/emea.toml"))
        .file("slas/10-critical.toml", &shipped("slas/10-critical.toml"))
        .example("sla-warn-assignee")
        .example_with(
            "sla-page-lead",
            &[
                ("@support-leads", "@oncall"),
                ("#support-leads", "C0ONCALL01"),
            ],
        )
        .env("SWITCHBOARD_SUPPORT_TEAM", AGENT)
}

const THREAD: &str = "1700000000.000100";

/// High tickets: resolved within 8 working hours of the EMEA desk.
const HIGH: &str = "business_hours = \"emea\"\n[applies_to]\npriority = [\"high\"]\n[resolution]\nwithin = \"8h\"\n";

async fn open(app: &TestApp) {
    let event = message(
        "EvOPEN",
        SUPPORT_CHANNEL,
        REQUESTER,
        THREAD,
        "Checkout is down for everyone",
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

/// `text` typed to the bot by the agent in the thread (a command, not an answer).
async fn command(app: &TestApp, n: u32, text: &str) {
    let event = reply(
        &format!("EvCMD{n}"),
        SUPPORT_CHANNEL,
        AGENT,
        THREAD,
        &format!("1700000001.{n:06}"),
        &format!("<@{BOT_USER}> {text}"),
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

async fn answer(app: &TestApp, n: u32, user: &str) {
    let event = reply(
        &format!("EvSAY{n}"),
        SUPPORT_CHANNEL,
        user,
        THREAD,
        &format!("1700000002.{n:06}"),
        "some words",
    );
    assert_eq!(app.post_event(&event).await.status().as_u16(), 200);
}

async fn conversation(app: &TestApp) -> Conversation {
    let mut conn = app.db.reader().acquire().await.unwrap();
    db::conversations::find_by_message(&mut conn, SUPPORT_CHANNEL, THREAD)
        .await
        .unwrap()
        .expect("tracked")
}

/// Waits until `check` holds for the conversation; returns it.
async fn until(app: &TestApp, what: &str, check: impl Fn(&Conversation) -> bool) -> Conversation {
    let deadline = Instant::now() + WAIT;
    loop {
        let c = conversation(app).await;
        if check(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "{what}: {:#?}", c.sla);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn posts_to(app: &TestApp, channel: &str) -> Vec<String> {
    app.slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.arg("channel") == channel)
        .map(|c| c.arg("text").to_owned())
        .collect()
}

async fn wait_posts(app: &TestApp, channel: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    while posts_to(app, channel).len() < n {
        assert!(
            Instant::now() < deadline,
            "{n} posts to {channel} did not come: {:?}",
            app.slack.calls_to("chat.postMessage")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(QUIET).await;
    posts_to(app, channel)
}

on_both_backends! {
    async fn a_critical_ticket_warns_its_assignee_then_pages_the_leads(backend: Backend) {
        let clock = Arc::new(ManualClock::new(monday()));
        let app = with_shipped_slas(app(backend)).clock(clock.clone()).spawn().await;
        open(&app).await;
        let c = until(&app, "tracked", |_| true).await;
        assert!(c.sla.clocks.is_empty(), "medium: no policy applies");

        // Two minutes in, the agent takes it and makes it critical: the first
        // response is due 15 minutes after the request, not after the change.
        clock.advance(Duration::from_secs(120));
        command(&app, 1, "assign me").await;
        command(&app, 2, "priority critical").await;
        let t0 = monday().timestamp_millis();
        let c = until(&app, "critical clocks", |c| c.sla.clocks.contains_key(&Target::FirstResponse)).await;
        let first = &c.sla.clocks[&Target::FirstResponse];
        assert_eq!((first.state, first.due_at, first.warn_at), (ClockState::Running, Some(t0 + 15 * MIN), Some(t0 + 10 * MIN)));
        assert_eq!(c.sla.clocks[&Target::Resolution].due_at, Some(t0 + 240 * MIN), "4 working hours");

        clock.set(monday() + chrono::Duration::minutes(10));
        let dm = app.slack.wait_for("chat.postMessage", 1, WAIT).await.remove(0);
        assert!(dm.arg("text").contains("first_response target of *Checkout is down for everyone*"), "{}", dm.arg("text"));
        assert!(app.slack.calls_to("conversations.open").iter().any(|c| c.arg("users") == AGENT));

        clock.set(monday() + chrono::Duration::minutes(15));
        let paged = wait_posts(&app, "C0ONCALL01", 1).await;
        assert!(paged[0].contains(&format!("<!subteam^{ONCALL_GROUP}>")), "{paged:?}");
        assert!(paged[0].contains("SLA breached: first_response"), "{paged:?}");
        let c = until(&app, "breached", |c| c.sla.clocks[&Target::FirstResponse].state == ClockState::Breached).await;
        assert_eq!(c.sla.clocks[&Target::FirstResponse].breached_at, Some(t0 + 15 * MIN));

        // The late answer is recorded; nothing fires again.
        answer(&app, 1, AGENT).await;
        until(&app, "answered late", |c| c.sla.clocks[&Target::FirstResponse].met_at.is_some()).await;
        clock.set(monday() + chrono::Duration::minutes(60));
        tokio::time::sleep(QUIET).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let kinds: Vec<&str> = runs.iter().map(|r| r.trigger_kind.as_str()).collect();
        assert_eq!(kinds, ["sla_warning", "sla_breached"], "{runs:#?}");

        // What an operator reads.
        let shown = app.cli(&["conversations", "show", &c.id.to_string()]);
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.status.success(), "{text}");
        assert!(text.contains("first_response  BREACHED at 2026-11-30T09:15:00.000Z, answered at"), "{text}");
        assert!(text.contains("resolution      running, due 2026-11-30T13:00:00.000Z, warning at 2026-11-30T12:30:00.000Z  (policy 10-critical)"), "{text}");
        assert!(text.contains("sla_breached"), "{text}");
        let shown = app.cli(&["runs", "show", &runs[1].id.to_string()]);
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("sla of the conversation, now"), "{text}");
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn pending_pauses_the_resolution_clock_and_priority_moves_it(backend: Backend) {
        let clock = Arc::new(ManualClock::new(monday()));
        let app = with_shipped_slas(app(backend))
            .file("slas/20-high.toml", HIGH)
            .clock(clock.clone())
            .spawn()
            .await;
        let t0 = monday().timestamp_millis();
        open(&app).await;
        command(&app, 1, "priority critical").await;
        answer(&app, 1, AGENT).await;
        let c = until(&app, "answered", |c| {
            c.sla.clocks.get(&Target::FirstResponse).is_some_and(|f| f.state == ClockState::Met)
        })
        .await;
        assert_eq!(c.sla.clocks[&Target::Resolution].due_at, Some(t0 + 240 * MIN));

        // Pending from 11:00 to 14:00 Berlin: the resolution clock stops for 3 hours.
        clock.set(monday() + chrono::Duration::hours(1));
        command(&app, 2, "pending").await;
        until(&app, "paused", |c| c.sla.clocks[&Target::Resolution].state == ClockState::Paused).await;
        clock.set(monday() + chrono::Duration::hours(4));
        tokio::time::sleep(QUIET).await;
        assert!(posts_to(&app, "C0ONCALL01").is_empty(), "paused: no breach at the old due time");
        command(&app, 3, "reopen").await;
        let c = until(&app, "running again", |c| c.sla.clocks[&Target::Resolution].state == ClockState::Running).await;
        // 1 hour used of 4: due 3 hours after 14:00 Berlin, at 17:00 (16:00 UTC).
        assert_eq!(c.sla.clocks[&Target::Resolution].due_at, Some(t0 + 7 * 60 * MIN));

        // Lowered to high: the high policy's 8 working hours, of which 1 is used.
        command(&app, 4, "priority high").await;
        let c = until(&app, "high policy", |c| {
            c.sla.clocks.get(&Target::Resolution).is_some_and(|r| r.policy == "20-high")
        })
        .await;
        // 7 hours left from 14:00 Berlin: 3.5 on Monday, 3.5 on Tuesday from 09:00.
        let tuesday_1230_berlin = t0 + (24 + 2) * 60 * MIN + 30 * MIN;
        assert_eq!(c.sla.clocks[&Target::Resolution].due_at, Some(tuesday_1230_berlin));
        // Lowered to low, for which no policy applies: no SLA any more.
        command(&app, 5, "priority low").await;
        let c = until(&app, "no policy", |c| !c.sla.clocks.contains_key(&Target::Resolution)).await;
        assert_eq!(
            c.sla.clocks[&Target::FirstResponse].state,
            ClockState::Met,
            "the met first response stays on record"
        );
        let mut timers = db::timers::of_conversation(app.db.reader(), c.id).await.unwrap();
        timers.retain(|(name, _, due)| name.starts_with("sla:") && due.is_some());
        assert!(timers.is_empty(), "{timers:?}");
        clock.set(monday() + chrono::Duration::hours(9));
        tokio::time::sleep(QUIET).await;
        assert!(app.runs().await.is_empty());
        app.shutdown().await;
    }
}
