//! Per-automation webhook URLs: a signed or unsigned POST starts a run with the body,
//! headers and query; unknown and rotated tokens, bad signatures, oversized bodies and
//! callers over the rate limit are refused and start nothing.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard::db;

use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const WAIT: Duration = Duration::from_secs(20);

const ALERT: &str = r#"[trigger]
type = "webhook"

[[actions]]
type = "code"
file = "alert.ts"
"#;

const SIGNED: &str = r#"[trigger]
type = "webhook"
signature = { secret = "GITHUB_WEBHOOK_SECRET" }

[[actions]]
type = "code"
file = "alert.ts"
"#;

const SCRIPT: &str = r#"export default async function (ctx: any) {
  const t = ctx.trigger;
  await slack.postMessage("C0ALERTS01", `alert: ${t.body?.title ?? "(none)"}`);
  return { query: t.query, custom: t.headers["x-custom"] ?? null, auth: t.headers["authorization"] ?? t.headers["x-gitlab-token"] ?? null };
}
"#;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";

async fn start(
    backend: crate::helpers::Backend,
    automation: &str,
    env: &[(&str, &str)],
) -> TestApp {
    let mut builder = app(backend)
        .automation("alert", automation)
        .file("alert.ts", SCRIPT)
        .secret("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET);
    for (k, v) in env {
        builder = builder.env(k, v);
    }
    builder.spawn().await
}

async fn token(app: &TestApp) -> String {
    switchboard::webhooks::reveal(&app.db, &app.secrets().await, "alert")
        .await
        .unwrap()
        .expect("a token")
        .0
}

async fn hook(
    app: &TestApp,
    token: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/hooks/{token}?source=ci&env=prod")))
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(body.to_vec()).send().await.unwrap()
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

on_both_backends! {
    async fn a_call_starts_a_run_with_the_body_headers_and_query(backend: Backend) {
        let app = start(backend, ALERT, &[]).await;
        let token = token(&app).await;
        assert_eq!(token.len(), 43);

        let body = json!({ "title": "disk full on db-1" }).to_string();
        let response = hook(&app, &token, body.as_bytes(), &[("x-custom", "42"), ("authorization", "Bearer secret"), ("x-gitlab-token", "s3cret")]).await;
        assert_eq!(response.status().as_u16(), 202);
        let answer: Value = response.json().await.unwrap();
        let run_id = answer["run_id"].as_i64().expect("the run id");

        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!((runs[0].id, runs[0].status.as_str(), runs[0].trigger_kind.as_str()), (run_id, "succeeded", "webhook"));
        let post = &app.slack.wait_for("chat.postMessage", 1, WAIT).await[0];
        assert_eq!(post.arg("text"), "alert: disk full on db-1");
        let steps = db::runs::steps(app.db.reader(), run_id).await.unwrap();
        let output: Value = serde_json::from_str(steps[0].output.as_deref().unwrap()).unwrap();
        assert_eq!(output, json!({ "query": { "env": "prod", "source": "ci" }, "custom": "42", "auth": null }));

        // The same delivery again (an Idempotency-Key) gives the same run.
        let first = hook(&app, &token, b"{}", &[("idempotency-key", "delivery-7")]).await;
        let again = hook(&app, &token, b"{}", &[("idempotency-key", "delivery-7")]).await;
        let (a, b): (Value, Value) = (first.json().await.unwrap(), again.json().await.unwrap());
        assert_eq!(a["run_id"], b["run_id"]);
        assert_eq!(app.runs().await.len(), 2);
        app.shutdown().await;
    }

    async fn unknown_and_rotated_tokens_get_404(backend: Backend) {
        let app = start(backend, ALERT, &[]).await;
        let old = token(&app).await;
        let unknown = hook(&app, "not-a-token-at-all-but-just-as-long-as-one-", b"{}", &[]).await;
        assert_eq!(unknown.status().as_u16(), 404);

        let rotated = app.cli(&["automations", "rotate-webhook", "alert"]);
        assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
        let new = token(&app).await;
        assert_ne!(new, old);
        assert!(String::from_utf8_lossy(&rotated.stdout).contains(&new));

        assert_eq!(hook(&app, &old, b"{}", &[]).await.status().as_u16(), 404);
        assert_eq!(hook(&app, &new, b"{}", &[]).await.status().as_u16(), 202);
        let shown = app.cli(&["automations", "show", "alert"]);
        assert!(String::from_utf8_lossy(&shown.stdout).contains(&format!("/hooks/{new}")));
        app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(app.runs().await.len(), 1);
        app.shutdown().await;
    }

    async fn a_bad_signature_is_refused(backend: Backend) {
        let limits = [("SWITCHBOARD_WEBHOOK_BURST", "2"), ("SWITCHBOARD_WEBHOOK_PER_MINUTE", "1")];
        let app = start(backend, SIGNED, &limits).await;
        let token = token(&app).await;
        let body = br#"{"title":"push"}"#;

        let missing = hook(&app, &token, body, &[]).await;
        assert_eq!(missing.status().as_u16(), 401);
        // Forged calls, more than the rate limit allows, do not use up the limit of the
        // genuine sender.
        for _ in 0..5 {
            let forged = hook(&app, &token, body, &[("x-hub-signature-256", &github_signature(b"another body"))]).await;
            assert_eq!(forged.status().as_u16(), 401);
        }
        assert!(app.runs().await.is_empty());

        let signed = hook(&app, &token, body, &[("x-hub-signature-256", &github_signature(body))]).await;
        assert_eq!(signed.status().as_u16(), 202);
        let runs = app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(runs.len(), 1);
        app.shutdown().await;
    }

    async fn bad_calls_get_413_400_and_429(backend: Backend) {
        let app = start(
            backend,
            ALERT,
            &[("SWITCHBOARD_WEBHOOK_MAX_BODY_KB", "1"), ("SWITCHBOARD_WEBHOOK_BURST", "3"), ("SWITCHBOARD_WEBHOOK_PER_MINUTE", "1")],
        )
        .await;
        let token = token(&app).await;

        let big = json!({ "title": "x".repeat(2000) }).to_string();
        assert_eq!(hook(&app, &token, big.as_bytes(), &[]).await.status().as_u16(), 413);
        let malformed = hook(&app, &token, b"{not json", &[]).await;
        assert_eq!(malformed.status().as_u16(), 400);
        assert!(malformed.text().await.unwrap().contains("JSON"));
        // Deeper than a stored trigger can be read back: refused at the door, not
        // accepted and never run.
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let nested = hook(&app, &token, deep.as_bytes(), &[]).await;
        assert_eq!(nested.status().as_u16(), 400);
        assert!(nested.text().await.unwrap().contains("nested more than 64 deep"));

        assert_eq!(hook(&app, &token, b"{}", &[]).await.status().as_u16(), 202);
        let limited = hook(&app, &token, b"{}", &[]).await;
        assert_eq!(limited.status().as_u16(), 429);
        let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        app.wait_for_runs_to_finish(WAIT).await;
        assert_eq!(app.runs().await.len(), 1, "only the good call ran");
        app.shutdown().await;
    }

    async fn tokens_are_kept_sealed_and_survive_a_key_rotation(backend: Backend) {
        let app = start(backend, ALERT, &[]).await;
        let token = token(&app).await;
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT token, ciphertext FROM webhook_tokens")
            .fetch_all(app.db.reader())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "", "no token in the clear");
        let sealed = &rows[0].1;
        assert!(!sealed.windows(token.len()).any(|w| w == token.as_bytes()), "the ciphertext is not the token");

        let rotated = app.cli(&["secrets", "rotate-key"]);
        assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
        // Only the new key is left: the token opens with it, and the URL is the same.
        assert_eq!(self::token(&app).await, token);
        let shown = app.cli(&["automations", "show", "alert"]);
        assert!(String::from_utf8_lossy(&shown.stdout).contains(&format!("/hooks/{token}")));
        assert_eq!(hook(&app, &token, b"{}", &[]).await.status().as_u16(), 202);
        app.shutdown().await;
    }

    async fn tokens_kept_in_the_clear_by_earlier_versions_are_sealed_with_the_same_url(backend: Backend) {
        let mut app = start(backend, ALERT, &[]).await;
        let legacy = "made-by-an-earlier-version-of-switchboard-0";
        sqlx::query(
            "UPDATE webhook_tokens SET token = $1, token_hash = $2, ciphertext = NULL, nonce = NULL, wrapped_key = NULL, key_id = NULL",
        )
        .bind(legacy)
        .bind(switchboard::webhooks::token_hash(legacy))
        .execute(&mut *app.db.write().await.unwrap())
        .await
        .unwrap();
        app.kill_and_restart_with(&[]).await;
        let plain: Vec<String> = sqlx::query_scalar("SELECT token FROM webhook_tokens")
            .fetch_all(app.db.reader())
            .await
            .unwrap();
        assert_eq!(plain, [""]);
        assert_eq!(token(&app).await, legacy);
        assert_eq!(hook(&app, legacy, b"{}", &[]).await.status().as_u16(), 202);
        app.shutdown().await;
    }
}
