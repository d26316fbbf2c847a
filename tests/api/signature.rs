//! `POST /slack/events` refuses anything not signed by Slack, before parsing it, and a
//! refused request changes nothing.

use std::sync::Arc;

use chrono::TimeZone;
use serde_json::json;
use switchboard::clock::ManualClock;

use crate::helpers::events::{SUPPORT_CHANNEL, message};
use crate::helpers::{SIGNING_SECRET, TestApp, app};
use crate::on_both_backends;

async fn post_raw(app: &TestApp, body: &[u8], headers: &[(&str, String)]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/slack/events"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    request.body(body.to_vec()).send().await.unwrap()
}

fn signed(body: &[u8], ts: i64) -> Vec<(&'static str, String)> {
    let ts = ts.to_string();
    let sig = switchboard::slack::signature::sign(SIGNING_SECRET.as_bytes(), &ts, body);
    vec![
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", sig),
    ]
}

async fn nothing_recorded(app: &TestApp) {
    assert_eq!(app.count("events").await, 0, "an event id was recorded");
    assert_eq!(
        app.count("conversations").await,
        0,
        "a conversation was created"
    );
    assert_eq!(app.count("runs").await, 0, "a run was queued");
}

on_both_backends! {
    async fn bad_requests_get_the_right_status_and_change_nothing(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        let body = serde_json::to_vec(&message("Ev1", SUPPORT_CHANNEL, "U1", "1700000000.000100", "help")).unwrap();
        let now = chrono::Utc::now().timestamp();

        let mut flipped = body.clone();
        flipped[20] ^= 0x01;
        let mut stale = signed(&body, now - 301);
        stale.truncate(2);
        let too_big = vec![b' '; 600 * 1024];
        let not_json = b"{\"type\": \"event_callback\", ".to_vec();

        type Case = (&'static str, Vec<u8>, Vec<(&'static str, String)>, u16);
        let cases: Vec<Case> = vec![
            ("flipped byte", flipped.clone(), signed(&body, now), 401),
            ("stale timestamp", body.clone(), stale, 401),
            ("future timestamp", body.clone(), signed(&body, now + 400), 401),
            ("missing signature", body.clone(), signed(&body, now)[..1].to_vec(), 401),
            ("missing timestamp", body.clone(), signed(&body, now)[1..].to_vec(), 401),
            ("no headers at all", body.clone(), vec![], 401),
            ("signature of another secret", body.clone(), vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", switchboard::slack::signature::sign(b"wrong", &now.to_string(), &body)),
            ], 401),
            ("malformed body", not_json.clone(), signed(&not_json, now), 400),
            ("oversized body", too_big.clone(), signed(&too_big, now), 413),
        ];
        for (name, body, headers, status) in cases {
            let response = post_raw(&app, &body, &headers).await;
            assert_eq!(response.status().as_u16(), status, "{name}");
            let answer: serde_json::Value = response.json().await.unwrap();
            assert_eq!(answer["ok"], false, "{name}");
        }
        nothing_recorded(&app).await;
        assert!(app.slack.calls_to("chat.postMessage").is_empty());
        app.shutdown().await;
    }

    async fn slacks_documented_example_passes_verification(backend: Backend) {
        // Slack's worked example was signed at 1531420618 with this secret.
        let clock = ManualClock::new(chrono::Utc.timestamp_opt(1_531_420_618, 0).unwrap());
        let app = app(backend)
            .env("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
            .clock(Arc::new(clock))
            .spawn()
            .await;
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let headers = vec![
            ("x-slack-request-timestamp", "1531420618".to_owned()),
            ("x-slack-signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".to_owned()),
        ];
        // The signature passes; the body (a slash command) is not an Events API payload.
        let response = post_raw(&app, body, &headers).await;
        assert_eq!(response.status().as_u16(), 400);
        // The same body with one byte changed does not pass.
        let mut tampered = body.to_vec();
        tampered[6] = b'X';
        assert_eq!(post_raw(&app, &tampered, &headers).await.status().as_u16(), 401);
        nothing_recorded(&app).await;
        app.shutdown().await;
    }

    async fn url_verification_is_answered_with_the_challenge(backend: Backend) {
        let app = app(backend).spawn().await;
        let response = app
            .post_event(&json!({
                "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification"
            }))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
        app.shutdown().await;
    }

    async fn health_reports_the_database(backend: Backend) {
        let app = app(backend).spawn().await;
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer, json!({ "status": "ok", "database": "ok" }));
        app.shutdown().await;
    }
}

on_both_backends! {
    async fn a_failed_database_write_answers_503_so_slack_retries(backend: Backend) {
        let app = app(backend).example("escalate-bangbang").spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, "U1", "1700000000.000100", "help")).await;
        // Make the ingest transaction fail.
        sqlx::query("ALTER TABLE runs RENAME TO runs_away").execute(&mut *app.db.write().await.unwrap()).await.unwrap();
        let reaction = crate::helpers::events::reaction_added("EvREACT1", "U2", "bangbang", SUPPORT_CHANNEL, "1700000000.000100");
        let response = app.post_event(&reaction).await;
        assert_eq!(response.status().as_u16(), 503);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["error"], "temporarily unavailable, retry later", "no internals leak");

        // Nothing of the failed event was kept: Slack's retry is processed in full.
        sqlx::query("ALTER TABLE runs_away RENAME TO runs").execute(&mut *app.db.write().await.unwrap()).await.unwrap();
        assert_eq!(app.post_event_retry(&reaction, 1).await.status().as_u16(), 200);
        let runs = app.wait_for_runs_to_finish(std::time::Duration::from_secs(15)).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "succeeded");
        app.shutdown().await;
    }
}
