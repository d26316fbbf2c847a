use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::verify::signed_body;
use super::{ApiError, AppState};
use crate::slack::commands;

/// Receives `/switchboard …`: verify, decode, answer with an ephemeral message (a run is
/// queued, or a form opened, before the answer).
#[tracing::instrument(name = "receive_command", skip_all)]
pub async fn receive_command(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = signed_body(&state, &headers, body)?;
    let command = commands::decode(&body).map_err(|e| ApiError::Malformed(e.to_string()))?;
    Ok(Json(state.inbox.command(command).await).into_response())
}
