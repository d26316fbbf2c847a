//! Socket Mode: with only an app token and a bot token (no signing secret, no public
//! URL), Slack's deliveries arrive over WebSockets switchboard opens to the fake, and
//! mean what they mean over HTTP: acknowledged only once durable, a redelivery starts
//! nothing new, and connections that Slack refreshes or that drop lose nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::fake_slack::{self, ONCALL_GROUP};
use crate::helpers::fake_socket::FakeSocket;
use crate::helpers::interactions::{click, posted_requests, submitted};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(15);
const THREAD: &str = "1700000000.000100";
const ADMIN: &str = "U0ADMIN001";

async fn socket_app(backend: crate::helpers::Backend) -> (TestApp, Vec<usize>) {
    let app = app(backend)
        .socket_mode()
        .example("escalate-bangbang")
        .spawn()
        .await;
    let live = app.slack.socket.wait_for_connections(2, WAIT).await;
    (app, live)
}

fn socket(app: &TestApp) -> &FakeSocket {
    &app.slack.socket
}

fn no_violations(app: &TestApp) {
    assert!(
        app.slack.violations().is_empty(),
        "{:?}",
        app.slack.violations()
    );
    assert!(
        socket(app).violations().is_empty(),
        "{:?}",
        socket(app).violations()
    );
}

/// Waits until `n` events are recorded (the server may not have acknowledged them).
async fn wait_for_events(app: &TestApp, n: i64) {
    let deadline = Instant::now() + WAIT;
    while app.count("events").await < n {
        assert!(Instant::now() < deadline, "the event was not recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A slash command's payload as Socket Mode carries it: the form's fields, as JSON.
fn command_payload(app: &TestApp, user: &str, text: &str) -> Value {
    json!({
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": fake_slack::TEAM_ID, "team_domain": "acme-support",
        "channel_id": SUPPORT_CHANNEL, "channel_name": "support", "user_id": user, "user_name": "someone",
        "command": "/switchboard", "text": text, "api_app_id": "A0SWITCHB1", "is_enterprise_install": "false",
        "response_url": app.slack.response_url(), "trigger_id": "1700000000.111111.command0123456789"
    })
}

on_both_backends! {
    async fn the_bangbang_story_over_socket_mode(backend: Backend) {
        let (app, live) = socket_app(backend).await;
        let opened = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "VPN is down for the whole office"));
        let ack = socket(&app).wait_for_ack(&opened, WAIT).await;
        assert_eq!((ack.connection, ack.payload), (live[0], None));

        let reacted = socket(&app).event(live[1], &reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD));
        socket(&app).wait_for_ack(&reacted, WAIT).await;
        let posts = app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        assert!(posts[0].arg("text").starts_with(&format!("<!subteam^{ONCALL_GROUP}> ")), "{}", posts[0].arg("text"));
        assert_eq!(posts[1].arg("thread_ts"), THREAD);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");

        // Without a signing secret Slack's HTTP endpoints are off; the others still answer.
        let over_http = app.post_event(&reaction_added("EvREACT2", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD)).await;
        assert_eq!(over_http.status().as_u16(), 404);
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status().as_u16(), 200);
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_delivery_on_two_connections_and_its_retry_start_one_run(backend: Backend) {
        let (app, live) = socket_app(backend).await;
        let opened = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&opened, WAIT).await;

        let reaction = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD);
        let envelopes = [
            socket(&app).event(live[0], &reaction),
            socket(&app).event(live[1], &reaction),
            socket(&app).send(live[0], "events_api", &reaction, 1),
            socket(&app).send(live[1], "events_api", &reaction, 2),
        ];
        for id in &envelopes {
            socket(&app).wait_for_ack(id, WAIT).await;
        }
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        app.slack.wait_for("chat.postMessage", 2, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 2, "one page, one reply");
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_delivery_that_cannot_be_recorded_is_not_acknowledged(backend: Backend) {
        let (app, live) = socket_app(backend).await;
        let opened = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&opened, WAIT).await;
        sqlx::query("ALTER TABLE runs RENAME TO runs_away").execute(&mut *app.db.write().await.unwrap()).await.unwrap();
        let reaction = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD);
        let failed = socket(&app).event(live[0], &reaction);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(socket(&app).acks_of(&failed).is_empty(), "no ack for what was not recorded");

        // Slack delivers it again; now it is recorded, acknowledged and run once.
        sqlx::query("ALTER TABLE runs_away RENAME TO runs").execute(&mut *app.db.write().await.unwrap()).await.unwrap();
        let again = socket(&app).send(live[1], "events_api", &reaction, 1);
        socket(&app).wait_for_ack(&again, WAIT).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_crash_between_commit_and_ack_creates_nothing_new_on_redelivery(backend: Backend) {
        let (mut app, live) = socket_app(backend).await;
        let opened = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&opened, WAIT).await;
        let reaction = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD);
        // Delivered over a connection that can no longer carry the ack, then a crash.
        let lost = socket(&app).event_then_freeze(live[0], &reaction);
        wait_for_events(&app, 2).await;
        app.kill().await;
        assert!(socket(&app).acks_of(&lost).is_empty());

        app.start_again(&[]).await;
        let live = socket(&app).wait_for_connections_since(live[1], 2, WAIT).await;
        let again = socket(&app).send(live[0], "events_api", &reaction, 1);
        socket(&app).wait_for_ack(&again, WAIT).await;
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(app.count("events").await, 2);
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_process_killed_between_commit_and_ack_creates_nothing_new(backend: Backend) {
        let (mut app, live) = socket_app(backend).await;
        app.kill().await;
        // The real binary, as an operator runs it; executing no runs, so that only the
        // ack is lost with it (a run in flight would be repeated from its last step).
        let mut server = app.serve_process(&[("SWITCHBOARD_WORKERS", "0")]);
        let live = socket(&app).wait_for_connections_since(live[1], 2, WAIT).await;
        let opened = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&opened, WAIT).await;
        let reaction = reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD);
        let lost = socket(&app).event_then_freeze(live[1], &reaction);
        wait_for_events(&app, 2).await;
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        assert!(socket(&app).acks_of(&lost).is_empty());

        let mut again = app.serve_process(&[]);
        let live = socket(&app).wait_for_connections_since(live[1], 2, WAIT).await;
        let redelivered = socket(&app).send(live[0], "events_api", &reaction, 1);
        socket(&app).wait_for_ack(&redelivered, WAIT).await;
        let run = app.wait_for_status("succeeded", WAIT).await;
        assert_eq!(run.automation_id, "escalate-bangbang");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.runs().await.len(), 1, "one run for the reaction");
        assert_eq!(app.slack.calls_to("chat.postMessage").len(), 2, "one page, one reply");
        again.kill().unwrap();
        again.wait().unwrap();
        no_violations(&app);
    }

    async fn refreshed_and_dropped_connections_lose_nothing_under_load(backend: Backend) {
        // Forty pages to one channel: Slack's pacing of chat.postMessage would stretch it.
        let app = app(backend).socket_mode().example("escalate-bangbang").env("SWITCHBOARD_SLACK_RATE_LIMITS", "false").spawn().await;
        let live = socket(&app).wait_for_connections(2, WAIT).await;
        let stories = 40;
        for n in 0..stories {
            let ts = format!("1700000000.{:06}", 100 + n);
            let id = socket(&app).event(live[n % 2], &message(&format!("EvMSG{n}"), SUPPORT_CHANNEL, REQUESTER, &ts, "help"));
            socket(&app).wait_for_ack(&id, WAIT).await;
        }
        // Reactions go out on whatever is open while Slack refreshes one connection and
        // the other drops; what is not acknowledged within a second is delivered again,
        // as Slack does.
        let mut unacked: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let reaction = |n: usize| reaction_added(&format!("EvREACT{n}"), AGENT, "bangbang", SUPPORT_CHANNEL, &format!("1700000000.{:06}", 100 + n));
        for n in 0..stories {
            if n == 10 {
                socket(&app).disconnect(live[0], "refresh_requested", Duration::from_millis(300));
            }
            if n == 20 {
                socket(&app).drop_connection(live[1]);
            }
            let open = socket(&app).live();
            if let Some(&connection) = open.get(n % open.len().max(1)) {
                unacked.entry(n).or_default().push(socket(&app).event(connection, &reaction(n)));
            } else {
                unacked.entry(n).or_default();
            }
        }
        let deadline = Instant::now() + WAIT;
        let mut attempt = 1;
        while !unacked.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            unacked.retain(|_, ids| ids.iter().all(|id| socket(&app).acks_of(id).is_empty()));
            assert!(Instant::now() < deadline, "never acknowledged: {unacked:?}");
            let open = socket(&app).live();
            for (n, ids) in unacked.iter_mut() {
                if let Some(&connection) = open.get(n % open.len().max(1)) {
                    ids.push(socket(&app).send(connection, "events_api", &reaction(*n), attempt));
                }
            }
            attempt += 1;
        }
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        let reactions: BTreeSet<i64> = runs.iter().filter_map(|r| r.conversation_id).collect();
        assert_eq!((runs.len(), reactions.len()), (stories, stories), "one run per reaction");
        assert!(socket(&app).live().len() >= 2, "both connections are back: {:?}", socket(&app).live());
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_dead_connection_is_replaced(backend: Backend) {
        let app = app(backend).socket_mode().env("SWITCHBOARD_SOCKET_PING_MS", "100").spawn().await;
        let live = socket(&app).wait_for_connections(2, WAIT).await;
        let opened = socket(&app).opened();
        socket(&app).freeze(live[0]);
        let deadline = Instant::now() + WAIT;
        while socket(&app).opened() == opened || socket(&app).live().len() < 2 {
            assert!(Instant::now() < deadline, "the frozen connection was not replaced");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!socket(&app).live().contains(&live[0]));
        app.shutdown().await;
    }

    async fn a_slow_database_does_not_stall_the_connections(backend: Backend) {
        // Three pings without a frame from Slack end a connection: 300 ms here.
        let app = app(backend).socket_mode().example("escalate-bangbang").env("SWITCHBOARD_SOCKET_PING_MS", "100").spawn().await;
        let live = socket(&app).wait_for_connections(2, WAIT).await;
        let opened = socket(&app).opened();
        let first = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&first, WAIT).await;

        // The database holds every write for two seconds.
        let mut blocker = app.db.begin().await.unwrap();
        if matches!(backend, crate::helpers::Backend::Postgres) {
            sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE").execute(&mut **blocker).await.unwrap();
        }
        let slow = socket(&app).event(live[0], &reaction_added("EvREACT1", AGENT, "bangbang", SUPPORT_CHANNEL, THREAD));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(socket(&app).acks_of(&slow).is_empty(), "acknowledged before it was recorded");
        blocker.rollback().await.unwrap();

        socket(&app).wait_for_ack(&slow, WAIT).await;
        assert_eq!(socket(&app).opened(), opened, "pings were answered meanwhile: no connection was replaced");
        assert_eq!(socket(&app).live(), live);
        assert_eq!(app.wait_for_runs_to_finish(WAIT).await.len(), 1);
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_connection_slack_disables_is_retried_and_others_go_on(backend: Backend) {
        let (app, live) = socket_app(backend).await;
        let opened = socket(&app).opened();
        // Socket Mode turned off for the app, on one connection: it ends at once, the
        // other keeps taking deliveries, and switchboard tries again after a backoff.
        socket(&app).disconnect(live[0], "link_disabled", Duration::from_secs(30));
        let deadline = Instant::now() + WAIT;
        while socket(&app).live().contains(&live[0]) {
            assert!(Instant::now() < deadline, "the disabled connection stayed open");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let delivered = socket(&app).event(live[1], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "help"));
        socket(&app).wait_for_ack(&delivered, WAIT).await;
        socket(&app).wait_for_connections_since(live[1], 1, WAIT).await;
        assert_eq!(socket(&app).opened(), opened + 1, "one new connection, after the backoff");
        no_violations(&app);
        app.shutdown().await;
    }

    async fn approvals_forms_and_commands_over_socket_mode(backend: Backend) {
        let app = app(backend)
            .socket_mode()
            .automation("reset", &crate::approvals::automation(""))
            .automation("laptop", crate::manual::LAPTOP)
            .file("laptop.ts", crate::manual::LAPTOP_TS)
            .env("SWITCHBOARD_ADMINS", ADMIN)
            .spawn()
            .await;
        let live = socket(&app).wait_for_connections(2, WAIT).await;

        // An approval click: decided, acknowledged without an answer.
        let asked = socket(&app).event(live[0], &message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, THREAD, "Please reset my password"));
        socket(&app).wait_for_ack(&asked, WAIT).await;
        app.wait_for_status("waiting", WAIT).await;
        let requests = posted_requests(&app.slack);
        let clicked = socket(&app).interaction(live[1], &click(&requests[0], crate::helpers::fake_slack::IT_MANAGERS[0], true));
        assert_eq!(socket(&app).wait_for_ack(&clicked, WAIT).await.payload, None);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs[0].status, "succeeded");
        assert!(app.slack.thread(THREAD).iter().any(|t| t.starts_with("Approved by")), "{:?}", app.slack.thread(THREAD));

        // A slash command: its ephemeral answer travels in the ack.
        let command = socket(&app).send(live[0], "slash_commands", &command_payload(&app, ADMIN, "run laptop"), 0);
        let answer = socket(&app).wait_for_ack(&command, WAIT).await.payload.expect("the command's answer");
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(answer["text"].as_str().unwrap().contains("Opening the form"), "{answer}");

        // The form: field errors in the ack, then a valid submission closes it and runs.
        let view = app.slack.wait_for("views.open", 1, WAIT).await[0].json_arg("view");
        let invalid = socket(&app).interaction(live[1], &submitted(&view, ADMIN, &[("count", "number_input", "7")]));
        let errors = socket(&app).wait_for_ack(&invalid, WAIT).await.payload.expect("the form's errors");
        assert_eq!(errors["response_action"], "errors");
        assert_eq!(errors["errors"]["count"], "must be at most 3");
        let valid = submitted(&view, ADMIN, &[("who", "users_select", "U0NEWBIE01"), ("count", "number_input", "2")]);
        let submitted_ok = socket(&app).interaction(live[0], &valid);
        assert_eq!(socket(&app).wait_for_ack(&submitted_ok, WAIT).await.payload, None);
        let deadline = Instant::now() + WAIT;
        while !app.slack.calls_to("chat.postMessage").iter().any(|c| c.arg("text") == "2 × air for <@U0NEWBIE01>") {
            assert!(Instant::now() < deadline, "the laptop run did not post: {:#?}", app.slack.calls());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        no_violations(&app);
        app.shutdown().await;
    }

    async fn a_refused_app_token_stops_startup_with_what_to_do(backend: Backend) {
        let refused = app(backend).socket_mode().env("SLACK_APP_TOKEN", "xapp-1-A0SWITCHB1-1-revoked").try_spawn().await;
        let err = format!("{:#}", refused.err().expect("startup stops"));
        assert!(err.contains("SLACK_APP_TOKEN") && err.contains("invalid_auth") && err.contains("connections:write"), "{err}");
        let bot_token = app(backend).socket_mode().env("SLACK_APP_TOKEN", "xoxb-not-an-app-token").try_spawn().await;
        let err = format!("{:#}", bot_token.err().expect("startup stops"));
        assert!(err.contains("SLACK_APP_TOKEN") && err.contains("xapp-"), "{err}");
    }
}

/// `manifest-socket-mode.yml` is `manifest.yml` without request URLs, with Socket Mode
/// on: the same scopes, events, command and shortcut.
#[test]
fn the_two_manifests_describe_the_same_app() {
    let read = |name: &str| {
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
            .unwrap()
    };
    let (http, socket) = (read("manifest.yml"), read("manifest-socket-mode.yml"));
    let essence = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter(|l| !l.contains("YOUR-HOST") && !l.contains("socket_mode_enabled"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(essence(&http), essence(&socket));
    assert!(socket.contains("socket_mode_enabled: true") && !socket.contains("YOUR-HOST"));
}
