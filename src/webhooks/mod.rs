//! Per-automation webhook URLs: `/hooks/<token>` starts a run of the automation whose
//! token it is, with the call's body, headers and query as its trigger.
//!
//! Tokens ([`tokens`]) are made when a webhook automation is first loaded and replaced
//! by `switchboard automations rotate-webhook`. A call is looked up by the token's
//! SHA-256 (an indexed equality, so nothing compares a guess byte by byte); an
//! unknown, rotated or disabled token gets the same 404. Each webhook has its own rate
//! limit ([`limiter`]); callers that sign their calls (GitHub, Jira, PagerDuty) are
//! verified with a named secret.

mod limiter;
mod tokens;

pub use tokens::{ensure_tokens, reveal, rewrap_tokens, rotate, token_for, token_hash};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::automations::definition::SignatureSpec;
use crate::config::{SecretString, WebhookConfig};
use crate::db;
use crate::launch::{self, LaunchError, Launched};
use crate::runs::RunEnv;
use crate::trigger::{Trigger, TriggerEvent, TriggerKind};

/// Parts of header names that mark credentials, never handed to the run (and so never
/// stored with it): `Authorization`, cookies, `X-Gitlab-Token`, `X-Api-Key`,
/// `X-Webhook-Secret`, signatures…
const HIDDEN_HEADER_PARTS: &[&str] = &[
    "auth",
    "cookie",
    "token",
    "secret",
    "key",
    "password",
    "signature",
];

/// Headers kept although their names look like credentials.
const SHOWN_HEADERS: &[&str] = &["idempotency-key"];

/// Whether a header (name in lower case) may be handed to the run.
fn shown_header(name: &str) -> bool {
    SHOWN_HEADERS.contains(&name) || !HIDDEN_HEADER_PARTS.iter().any(|p| name.contains(p))
}

/// A decrypted signing secret is used this long before it is read again.
const SECRET_TTL_MS: i64 = 60_000;
/// A signature that does not match makes the secret be read again (it may just have
/// been changed), at most this often.
const SECRET_RECHECK_MS: i64 = 5_000;

/// Why a call was refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Unknown, rotated, or the automation is gone or disabled (404).
    #[error("no webhook here")]
    NotFound,
    /// Over the webhook's rate limit (429).
    #[error("too many calls to this webhook; retry in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The signature is missing or wrong (401).
    #[error("{0}")]
    BadSignature(String),
    /// The body is not JSON (400).
    #[error("{0}")]
    Malformed(String),
    /// switchboard could not record the call; retry (503).
    #[error("{0}")]
    Unavailable(String),
}

/// A webhook call, as received.
#[derive(Debug, Clone)]
pub struct HookCall<'a> {
    /// The token in the URL.
    pub token: &'a str,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
    /// The raw body.
    pub body: &'a [u8],
}

/// Takes webhook calls.
#[derive(Debug, Clone)]
pub struct WebhookDoor {
    env: Arc<RunEnv>,
    limits: Arc<limiter::Limiter>,
    /// Signing secrets by name, with when they were read.
    secrets: Arc<Mutex<HashMap<String, (SecretString, i64)>>>,
}

impl WebhookDoor {
    /// A door over the run queue's environment.
    pub fn new(env: Arc<RunEnv>, config: &WebhookConfig) -> Self {
        Self {
            env,
            limits: Arc::new(limiter::Limiter::new(config.per_minute, config.burst)),
            secrets: Arc::default(),
        }
    }

    /// Verifies and records a call; returns the run it queued. A signed webhook's
    /// calls are counted against its rate limit only once their signature checks out,
    /// so that forged calls cannot use up the limit of the genuine sender.
    pub async fn call(&self, call: HookCall<'_>) -> Result<Launched, HookError> {
        let env = &self.env;
        let unavailable = |e: sqlx::Error| HookError::Unavailable(format!("database: {e}"));
        let id = db::doors::automation_for(env.db.reader(), &token_hash(call.token))
            .await
            .map_err(unavailable)?
            .ok_or(HookError::NotFound)?;
        let automation = launch::automation(env, &id, TriggerKind::Webhook).map_err(|e| {
            tracing::info!(automation = %id, error = %e, "webhook call for an automation that cannot take it");
            HookError::NotFound
        })?;
        let team = env
            .workspaces
            .primary()
            .ok_or_else(|| HookError::Unavailable("the Slack workspace is not known yet".into()))?;
        if let Some(signature) = &automation.automation.trigger.signature {
            self.verify(signature, &team, &call).await?;
        }
        self.limits
            .take(&id, env.clock.now_ms())
            .map_err(HookError::RateLimited)?;
        let body = if call.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(call.body)
                .map_err(|e| HookError::Malformed(format!("the body must be JSON: {e}")))?
        };
        if nesting(&body) > MAX_BODY_NESTING {
            return Err(HookError::Malformed(format!(
                "the body is nested more than {MAX_BODY_NESTING} deep"
            )));
        }
        let idempotency = ["idempotency-key", "x-github-delivery", "x-request-id"]
            .iter()
            .find_map(|h| call.headers.get(*h))
            .map(|key| format!("hook:{id}:{key}"));
        let headers = call
            .headers
            .into_iter()
            .filter(|(k, _)| shown_header(k))
            .collect();
        let trigger = Trigger {
            event_id: idempotency.unwrap_or_else(|| format!("hook:{}", uuid::Uuid::now_v7())),
            team_id: team,
            actor: None,
            conversation_id: None,
            depth: 0,
            event: TriggerEvent::Webhook {
                body,
                headers,
                query: call.query,
            },
        };
        launch::launch(env, &automation, &trigger, None)
            .await
            .map_err(|e| match e {
                LaunchError::Database(e) => unavailable(e),
                other => {
                    tracing::warn!(error = %other, "webhook call refused");
                    HookError::NotFound
                }
            })
    }

    async fn verify(
        &self,
        spec: &SignatureSpec,
        team: &str,
        call: &HookCall<'_>,
    ) -> Result<(), HookError> {
        let header = call
            .headers
            .get(&spec.header.to_ascii_lowercase())
            .ok_or_else(|| {
                HookError::BadSignature(format!("missing signature header {}", spec.header))
            })?;
        let now = self.env.clock.now_ms();
        let cached = self
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&spec.secret)
            .filter(|(_, at)| now - at < SECRET_TTL_MS)
            .cloned();
        let (secret, read_at) = match cached {
            Some(hit) => hit,
            None => (self.read_secret(spec, team, now).await?, now),
        };
        let matches = |secret: &SecretString| {
            signed(secret.expose().as_bytes(), call.body, header, &spec.prefix)
        };
        if matches(&secret)
            || (now - read_at >= SECRET_RECHECK_MS
                && matches(&self.read_secret(spec, team, now).await?))
        {
            Ok(())
        } else {
            Err(HookError::BadSignature(format!(
                "the {} signature does not match the body",
                spec.header
            )))
        }
    }

    /// Reads (and caches) a webhook's signing secret.
    async fn read_secret(
        &self,
        spec: &SignatureSpec,
        team: &str,
        now: i64,
    ) -> Result<SecretString, HookError> {
        let secret = self
            .env
            .secrets
            .get(team, &spec.secret)
            .await
            .map_err(|e| HookError::Unavailable(format!("the signing secret cannot be read: {e}")))?
            .ok_or_else(|| {
                tracing::error!(secret = %spec.secret, "a webhook's signing secret is not set; calls are refused until `switchboard secrets set` stores it");
                HookError::Unavailable(format!("the signing secret {} is not set", spec.secret))
            })?;
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.secret.clone(), (secret.clone(), now));
        Ok(secret)
    }
}

/// Whether one of the comma-separated `prefix`+hex signatures in `header` is the
/// HMAC-SHA256 of `body` under `key` (compared in constant time).
pub fn signed(key: &[u8], body: &[u8], header: &str, prefix: &str) -> bool {
    header.split(',').map(str::trim).any(|part| {
        let Some(hex_digest) = part.strip_prefix(prefix) else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_digest.trim()) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

/// Deepest nesting of a webhook body accepted. The stored trigger wraps the body, and
/// serde_json reads at most 128 levels back: a body accepted deeper could never run.
const MAX_BODY_NESTING: usize = 64;

/// How deep arrays and objects nest in `value` (a scalar is 0).
fn nesting(value: &Value) -> usize {
    let inner = match value {
        Value::Array(items) => items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(fields) => fields.values().map(nesting).max().unwrap_or(0),
        _ => return 0,
    };
    inner + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_headers_are_not_handed_to_runs() {
        for hidden in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "x-gitlab-token",
            "x-api-key",
            "x-auth-token",
            "x-webhook-secret",
            "x-hub-signature-256",
        ] {
            assert!(!shown_header(hidden), "{hidden}");
        }
        for shown in [
            "x-github-event",
            "x-github-delivery",
            "content-type",
            "idempotency-key",
            "user-agent",
        ] {
            assert!(shown_header(shown), "{shown}");
        }
    }

    #[test]
    fn signatures_table() {
        let key = b"It's a Secret to Everybody";
        // GitHub's documented example.
        let body = b"Hello, World!";
        let github = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let cases = [
            (github, "sha256=", true),
            (
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
                "sha256=",
                false,
            ),
            (
                "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                "sha256=",
                false,
            ),
            // PagerDuty: several signatures, one valid.
            (
                "v1=00, v1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                "v1=",
                true,
            ),
            ("sha256=not-hex", "sha256=", false),
            ("", "sha256=", false),
        ];
        for (header, prefix, want) in cases {
            assert_eq!(signed(key, body, header, prefix), want, "{header}");
        }
    }
}
