use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::verify::signed_body;
use super::{ApiError, AppState};
use crate::ingest::IngestOutcome;
use crate::slack::events::{self, EventsPayload};

/// Receives an Events API request: verify, decode, record durably, then answer.
#[tracing::instrument(
    name = "receive_event",
    skip_all,
    fields(retry = headers.get("x-slack-retry-num").and_then(|v| v.to_str().ok()))
)]
pub async fn receive_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = signed_body(&state, &headers, body)?;
    let payload = events::decode(&body).map_err(|e| ApiError::Malformed(e.to_string()))?;
    match payload {
        EventsPayload::UrlVerification { challenge } => {
            tracing::info!("answered Slack's url_verification");
            Ok(Json(json!({ "challenge": challenge })).into_response())
        }
        EventsPayload::Event(mut event) => {
            let command = state.manual.take_message_command(&mut event);
            let outcome = state
                .ingestor
                .ingest(event)
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            // A command typed to the bot is answered once, not again for Slack's retries.
            if let Some(command) = command.filter(|_| !matches!(outcome, IngestOutcome::Duplicate))
            {
                state.manual.spawn_message_command(command);
            }
            Ok(Json(json!({ "ok": true })).into_response())
        }
        EventsPayload::AppRateLimited { team_id } => {
            tracing::warn!(team.id = %team_id, "Slack paused event delivery for a minute (app_rate_limited): answers were too slow or too many failed");
            Ok(Json(json!({ "ok": true })).into_response())
        }
        EventsPayload::Unknown { envelope_type } => {
            tracing::info!(
                envelope_type,
                "ignored an Events API payload of unknown type"
            );
            Ok(Json(json!({ "ok": true })).into_response())
        }
    }
}
