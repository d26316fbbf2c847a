//! The Slack Web API client: one `call` for every method, form-encoded as Slack's own
//! SDKs do (nested values as JSON strings), with the bot token as a bearer header,
//! client-side pacing by tier, and errors sorted into transient (retry later, maybe
//! after `Retry-After`) and permanent (fail the step, with Slack's error code).

use std::time::Duration;

use serde_json::{Map, Value, json};
use url::Url;

use super::ratelimit::{RateLimiter, bucket_key, limit_for};
use crate::config::{SecretString, SlackConfig};

/// Longest pause taken in place to respect a rate limit; longer waits go back to the
/// run queue so that a worker is not held.
const MAX_INLINE_WAIT: Duration = Duration::from_millis(1500);

/// Slack error codes that mean "try again later".
const TRANSIENT_ERRORS: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
    "team_added_to_org",
];

/// Why a Web API call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack (or our own pacing) asks to wait.
    #[error("Slack {method} is rate limited; retrying after {}s", retry_after.as_secs_f32())]
    RateLimited {
        /// The method.
        method: String,
        /// How long to wait.
        retry_after: Duration,
    },
    /// A network error, timeout or server error: worth retrying.
    #[error("Slack {method} failed temporarily: {reason}")]
    Transient {
        /// The method.
        method: String,
        /// What happened.
        reason: String,
    },
    /// Slack refused the call; retrying will not help.
    #[error("Slack {method} refused the call: {error}{detail}")]
    Refused {
        /// The method.
        method: String,
        /// Slack's error code, e.g. `channel_not_found`.
        error: String,
        /// Extra context (missing scopes…), starting with a separator, or empty.
        detail: String,
    },
}

impl SlackError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }

    /// How long Slack asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Slack's error code, for a refused call.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What `auth.test` says about the token's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Team id.
    pub team_id: String,
    /// Team name.
    pub team: String,
    /// Workspace URL.
    pub url: String,
    /// The bot's user id.
    pub user_id: String,
}

/// A Web API client for one bot token.
#[derive(Debug)]
pub struct SlackClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    limiter: Option<RateLimiter>,
}

impl SlackClient {
    /// A client for `config`'s API URL with `token`.
    pub fn new(config: &SlackConfig, token: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: config.api_url.clone(),
            token,
            limiter: config.rate_limits.then(RateLimiter::default),
        })
    }

    /// Calls `method` with `args`; returns Slack's whole JSON answer on `"ok": true`.
    #[tracing::instrument(name = "slack.call", skip(self, args), fields(slack.method = method))]
    pub async fn call(&self, method: &str, args: &Map<String, Value>) -> Result<Value, SlackError> {
        let key = bucket_key(method, args.get("channel").and_then(Value::as_str));
        self.pace(method, &key).await?;
        let url = self.base.join(method).map_err(|e| SlackError::Refused {
            method: method.to_owned(),
            error: "invalid_method".into(),
            detail: format!(": {e}"),
        })?;
        let transient = |reason: String| SlackError::Transient {
            method: method.to_owned(),
            reason,
        };
        let response = self
            .http
            .post(url)
            .bearer_auth(self.token.expose())
            .form(&form_fields(args))
            .send()
            .await
            .map_err(|e| transient(describe_reqwest_error(&e)))?;
        let status = response.status();
        if status.as_u16() == 429 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(30), Duration::from_secs);
            if let Some(limiter) = &self.limiter {
                limiter.block(&key, retry_after);
            }
            tracing::warn!(
                slack.method = method,
                retry_after_s = retry_after.as_secs(),
                "Slack answered 429"
            );
            return Err(SlackError::RateLimited {
                method: method.to_owned(),
                retry_after,
            });
        }
        if status.is_server_error() {
            return Err(transient(format!("HTTP {status}")));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| transient(format!("unreadable answer (HTTP {status}): {e}")))?;
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(body);
        }
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_owned();
        if TRANSIENT_ERRORS.contains(&error.as_str()) {
            return Err(transient(error));
        }
        Err(SlackError::Refused {
            method: method.to_owned(),
            detail: refusal_detail(&body),
            error,
        })
    }

    async fn pace(&self, method: &str, key: &str) -> Result<(), SlackError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let limit = limit_for(method);
        loop {
            match limiter.try_acquire(key, limit) {
                Ok(()) => return Ok(()),
                Err(wait) if wait <= MAX_INLINE_WAIT => tokio::time::sleep(wait).await,
                Err(wait) => {
                    return Err(SlackError::RateLimited {
                        method: method.to_owned(),
                        retry_after: wait,
                    });
                }
            }
        }
    }

    /// Answers a slash command late, through the `response_url` Slack gave with it.
    pub async fn respond(&self, response_url: &str, answer: &Value) -> Result<(), SlackError> {
        let failed = |reason: String| SlackError::Transient {
            method: "response_url".into(),
            reason,
        };
        let response = self
            .http
            .post(response_url)
            .json(answer)
            .send()
            .await
            .map_err(|e| failed(describe_reqwest_error(&e)))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(format!("HTTP {}", response.status())))
        }
    }

    /// `auth.test`: who the token belongs to.
    pub async fn auth_test(&self) -> Result<AuthInfo, SlackError> {
        let body = self.call("auth.test", &Map::new()).await?;
        let field = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(AuthInfo {
            team_id: field("team_id"),
            team: field("team"),
            url: field("url"),
            user_id: field("user_id"),
        })
    }

    /// `chat.postMessage`; returns the new message's `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<PostedMessage, SlackError> {
        let mut args = object(json!({ "channel": channel, "text": text, "unfurl_links": false }));
        if let Some(ts) = thread_ts {
            args.insert("thread_ts".into(), ts.into());
        }
        let body = self.call("chat.postMessage", &args).await?;
        Ok(PostedMessage::from_answer(&body, channel))
    }

    /// `chat.postMessage` with Block Kit `blocks` (`text` is the notification and
    /// fallback text).
    pub async fn post_blocks(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<PostedMessage, SlackError> {
        let args = object(json!({ "channel": channel, "text": text, "blocks": blocks }));
        let body = self.call("chat.postMessage", &args).await?;
        Ok(PostedMessage::from_answer(&body, channel))
    }

    /// `chat.update`: replaces a message the bot posted.
    pub async fn update_message(
        &self,
        message: &PostedMessage,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        let args = object(json!({
            "channel": message.channel, "ts": message.ts, "text": text, "blocks": blocks
        }));
        self.call("chat.update", &args).await.map(drop)
    }

    /// `reactions.add`; a reaction that is already there counts as added.
    pub async fn add_reaction(
        &self,
        channel: &str,
        ts: &str,
        emoji: &str,
    ) -> Result<(), SlackError> {
        let args = object(json!({ "channel": channel, "timestamp": ts, "name": emoji }));
        match self.call("reactions.add", &args).await {
            Err(e) if e.code() == Some("already_reacted") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// `conversations.open`: the DM channel with `user`.
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        let body = self
            .call("conversations.open", &object(json!({ "users": user })))
            .await?;
        body.pointer("/channel/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SlackError::Transient {
                method: "conversations.open".into(),
                reason: "answer without channel.id".into(),
            })
    }

    /// `usergroups.list`: (id, handle) of every user group.
    pub async fn user_groups(&self) -> Result<Vec<(String, String)>, SlackError> {
        let body = self.call("usergroups.list", &Map::new()).await?;
        let groups = body
            .get("usergroups")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|g| {
                        Some((
                            g.get("id")?.as_str()?.to_owned(),
                            g.get("handle")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(groups)
    }
}

/// A message Slack accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostedMessage {
    /// The channel it went to (a DM's id for DMs).
    pub channel: String,
    /// Its timestamp.
    pub ts: String,
}

impl PostedMessage {
    fn from_answer(body: &Value, channel: &str) -> Self {
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        Self {
            channel: field("channel").unwrap_or(channel).to_owned(),
            ts: field("ts").unwrap_or_default().to_owned(),
        }
    }
}

/// A JSON object literal as a map.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Form fields: strings as they are, everything else as JSON text.
fn form_fields(args: &Map<String, Value>) -> Vec<(String, String)> {
    args.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

fn refusal_detail(body: &Value) -> String {
    let mut detail = String::new();
    if let Some(needed) = body.get("needed").and_then(Value::as_str) {
        detail.push_str(&format!(
            " (the app needs the {needed} scope: add it in manifest.yml and reinstall the app)"
        ));
    }
    if let Some(messages) = body
        .pointer("/response_metadata/messages")
        .and_then(Value::as_array)
    {
        let texts: Vec<&str> = messages.iter().filter_map(Value::as_str).collect();
        if !texts.is_empty() {
            detail.push_str(&format!(": {}", texts.join("; ")));
        }
    }
    detail
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_are_json_text() {
        let fields = form_fields(&object(json!({
            "channel": "C1", "unfurl_links": false, "blocks": [{"type": "divider"}], "none": null
        })));
        assert!(fields.contains(&("channel".into(), "C1".into())));
        assert!(fields.contains(&("unfurl_links".into(), "false".into())));
        assert!(fields.contains(&("blocks".into(), "[{\"type\":\"divider\"}]".into())));
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn refusals_explain_missing_scopes() {
        let detail = refusal_detail(
            &json!({"ok": false, "error": "missing_scope", "needed": "reactions:write"}),
        );
        assert!(detail.contains("reactions:write") && detail.contains("manifest.yml"));
    }
}
