use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::verify::signed_body;
use super::{ApiError, AppState};
use crate::slack::events;

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
    let answer = state.inbox.event(payload).await?;
    Ok(Json(answer).into_response())
}
