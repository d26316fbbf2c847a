//! Socket Mode: the door for Slack's deliveries when switchboard has no public URL.
//! switchboard asks Slack for a WebSocket URL (`apps.connections.open`, with the app
//! token) and keeps several connections open; every envelope is decoded and handed to
//! the same [`SlackInbox`] as the HTTP endpoints, and acknowledged only after the
//! inbox has returned, that is after the same durable commit that precedes an HTTP
//! 2xx. An envelope that could not be recorded is not acknowledged, so Slack delivers
//! it again; one delivered twice (on two connections, or retried) is told apart by the
//! ingest's event-id dedupe like an HTTP retry.

/// One WebSocket: frames in, acknowledgements and pings out.
mod connection;
/// One envelope: decode, hand over, acknowledge.
mod envelope;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::SocketConfig;
use crate::inbox::SlackInbox;
use crate::slack::{SlackClient, SlackError};

use connection::Ended;

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`], with jitter.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// The Socket Mode door, ready to open its connections.
#[derive(Debug)]
pub struct SocketMode {
    /// `apps.connections.open`, with the app token.
    opener: Arc<SlackClient>,
    inbox: SlackInbox,
    config: SocketConfig,
    /// The URL the startup check opened, for the first connection (each URL costs a
    /// rate-limited call, and Slack hands out a fresh one per connection).
    checked: std::sync::Mutex<Option<String>>,
}

impl SocketMode {
    /// Checks the app token with Slack (a refused token stops startup with what to do;
    /// an unreachable Slack does not, the connections keep trying).
    pub async fn check(
        slack: &crate::config::SlackConfig,
        config: SocketConfig,
        inbox: SlackInbox,
    ) -> anyhow::Result<Self> {
        let opener = Arc::new(SlackClient::new(slack, config.app_token.clone())?);
        let door = Self {
            opener,
            inbox,
            config,
            checked: std::sync::Mutex::new(None),
        };
        match door.open_url().await {
            Ok(url) => *door.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some(url),
            Err(e @ SlackError::Refused { .. }) => {
                return Err(anyhow::anyhow!(
                    "Slack refused SLACK_APP_TOKEN ({e}); generate an app-level token with the connections:write scope under Basic Information → App-Level Tokens, and turn on Socket Mode in the app's settings"
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach Slack to open a Socket Mode connection; retrying in the background");
            }
        }
        Ok(door)
    }

    /// Keeps the configured number of connections open until `stop`; then closes
    /// them, waiting for the envelopes in flight to be acknowledged.
    pub async fn run(self, stop: CancellationToken) {
        let door = Arc::new(self);
        tracing::info!(
            connections = door.config.connections,
            "receiving Slack's deliveries over Socket Mode"
        );
        let mut slots = JoinSet::new();
        for slot in 0..door.config.connections {
            slots.spawn(door.clone().keep_open(slot, stop.clone()));
        }
        while slots.join_next().await.is_some() {}
    }

    /// A fresh WebSocket URL.
    async fn open_url(&self) -> Result<String, SlackError> {
        let answer = self
            .opener
            .call("apps.connections.open", &Map::new())
            .await?;
        answer
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SlackError::Transient {
                method: "apps.connections.open".into(),
                reason: "the answer has no url".into(),
            })
    }

    /// One slot: a connection, replaced whenever it ends. A connection Slack asks to
    /// refresh is replaced at once and keeps serving until Slack closes it, so the two
    /// overlap; one that dropped is replaced after a backoff with jitter.
    async fn keep_open(self: Arc<Self>, slot: usize, stop: CancellationToken) {
        let mut backoff = FIRST_BACKOFF;
        let mut draining = JoinSet::new();
        while !stop.is_cancelled() {
            let checked = self
                .checked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let url = match checked {
                Some(url) => Ok(url),
                None => tokio::select! {
                    () = stop.cancelled() => break,
                    url = self.open_url() => url,
                },
            };
            let url = match url {
                Ok(url) => url,
                Err(e) => {
                    tracing::warn!(slot, error = %e, retry_in_ms = backoff.as_millis() as u64, "could not open a Socket Mode connection");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            let (refresh_tx, refresh_rx) = tokio::sync::oneshot::channel();
            let started = tokio::time::Instant::now();
            let mut connection = tokio::spawn(connection::run(
                slot,
                url,
                self.inbox.clone(),
                self.config.ping_interval,
                refresh_tx,
                stop.clone(),
            ));
            let ended = tokio::select! {
                refresh = refresh_rx => match refresh {
                    // Slack will close it soon: it serves until then, beside its successor.
                    Ok(()) => {
                        draining.spawn(async move { let _ = connection.await; });
                        backoff = FIRST_BACKOFF;
                        continue;
                    }
                    Err(_) => connection.await,
                },
                ended = &mut connection => ended,
            };
            if started.elapsed() >= STABLE_AFTER {
                backoff = FIRST_BACKOFF;
            }
            match ended {
                Ok(Ended::Stopped) => break,
                Ok(Ended::Disabled) => tracing::error!(
                    slot,
                    "Slack disabled Socket Mode for this app (link_disabled): turn it on again under Socket Mode in the app's settings; retrying"
                ),
                Ok(Ended::Dropped(reason)) => tracing::warn!(
                    slot,
                    reason,
                    retry_in_ms = backoff.as_millis() as u64,
                    "Socket Mode connection lost; reconnecting"
                ),
                Err(e) => tracing::error!(slot, error = %e, "Socket Mode connection failed"),
            }
            if pause(&stop, &mut backoff).await {
                break;
            }
        }
        while draining.join_next().await.is_some() {}
    }
}

/// Waits `backoff` (±25%) and doubles it; true if stopped meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = backoff.mul_f64(rand::random_range(0.75..1.25));
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}
