use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::verify::signed_body;
use super::{ApiError, AppState};
use crate::slack::interactions;

/// Receives a button click, shortcut or dialog submission: verify, decode, hand it to
/// the approvals or the manual-run desk, answer within Slack's 3 seconds (follow-ups
/// go out after).
#[tracing::instrument(name = "receive_interaction", skip_all)]
pub async fn receive_interaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = signed_body(&state, &headers, body)?;
    let interaction =
        interactions::decode(&body).map_err(|e| ApiError::Malformed(e.to_string()))?;
    Ok(match state.inbox.interaction(interaction).await? {
        Some(body) => Json(body).into_response(),
        None => ().into_response(),
    })
}
