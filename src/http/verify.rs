use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};

use super::{ApiError, AppState};
use crate::slack::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// The raw body, if it is within limits and carries a valid Slack signature. Nothing
/// is parsed before this passes. Without a signing secret (Socket Mode) nothing
/// passes: the endpoint answers 404.
pub fn signed_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        _ => ApiError::Malformed(rejection.body_text()),
    })?;
    let secret = state.signing_secret.as_ref().ok_or(ApiError::Off(
        "Slack's requests are not taken over HTTP here: switchboard receives them over Socket Mode (SLACK_APP_TOKEN is set and SLACK_SIGNING_SECRET is not)",
    ))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify(
        secret.expose().as_bytes(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        state.clock.now().timestamp(),
    )?;
    Ok(body)
}
