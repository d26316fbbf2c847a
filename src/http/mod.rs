//! HTTP: thin axum handlers that verify, decode, hand over and answer.

/// `POST /slack/commands`: the slash command.
mod commands;
/// The one error type for HTTP answers.
mod error;
/// `POST /slack/events`: the Events API.
mod events;
/// `GET /healthz`: liveness and database reachability.
mod health;
/// `POST /hooks/{token}`: per-automation webhook URLs.
mod hooks;
/// `POST /slack/interactions`: buttons and dialogs.
mod interactions;
/// `GET /runs/{id}`: a run's page, for whoever holds its link.
mod runs;
/// Slack request signatures on the raw body.
mod verify;

pub use error::ApiError;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::SecretString;
use crate::db::Db;
use crate::inbox::SlackInbox;
use crate::runs::page::RunPages;
use crate::webhooks::WebhookDoor;

/// Largest request body accepted; Slack's payloads are far smaller.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Verifies Slack's signatures; `None` when Slack's deliveries come over Socket
    /// Mode, and then Slack's endpoints answer 404.
    pub signing_secret: Option<SecretString>,
    /// Where Slack's deliveries go.
    pub inbox: SlackInbox,
    /// Takes webhook calls.
    pub webhooks: WebhookDoor,
    /// Answers run links.
    pub run_pages: RunPages,
    /// Largest webhook body.
    pub webhook_max_body: usize,
    /// For the health check.
    pub db: Db,
    /// For signature timestamps.
    pub clock: Arc<dyn Clock>,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/slack/events", post(events::receive_event))
        .route(
            "/slack/interactions",
            post(interactions::receive_interaction),
        )
        .route("/slack/commands", post(commands::receive_command))
        .route("/healthz", get(health::health))
        .route("/runs/{id}", get(runs::show_run))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route(
            "/hooks/{token}",
            post(hooks::receive_webhook).layer(DefaultBodyLimit::max(state.webhook_max_body)),
        )
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of a request. Paths and queries can carry credentials (webhook tokens, run
/// link keys): the query is left out and a webhook token is masked.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %loggable_path(request.uri().path()))
}

fn loggable_path(path: &str) -> &str {
    if path.starts_with("/hooks/") {
        "/hooks/…"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_paths_stay_out_of_logs() {
        assert_eq!(super::loggable_path("/hooks/s3cr3t-token"), "/hooks/…");
        assert_eq!(super::loggable_path("/runs/12"), "/runs/12");
    }
}
