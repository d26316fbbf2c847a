use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::inbox::NotRecorded;
use crate::slack::signature::SignatureError;

/// Why a request was refused. Each variant maps to one status code; internal details
/// are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The signature or its headers are wrong (401).
    #[error("request signature refused: {0}")]
    Unauthorized(#[from] SignatureError),
    /// The body is not what the endpoint takes (400).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body is over the limit (413).
    #[error("request body too large")]
    TooLarge,
    /// We could not record the request; the sender should retry (503).
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The endpoint is off in this configuration (404): Slack's endpoints when
    /// switchboard receives Slack's deliveries over Socket Mode.
    #[error("{0}")]
    Off(&'static str),
}

impl From<NotRecorded> for ApiError {
    fn from(e: NotRecorded) -> Self {
        Self::Unavailable(e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, public) = match &self {
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid request signature".to_owned(),
            ),
            Self::Malformed(why) => (StatusCode::BAD_REQUEST, format!("malformed request: {why}")),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large".to_owned(),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unavailable, retry later".to_owned(),
            ),
            Self::Off(why) => (StatusCode::NOT_FOUND, (*why).to_owned()),
        };
        match &self {
            Self::Unavailable(_) => {
                tracing::error!(status = status.as_u16(), error = %self, "request refused")
            }
            _ => tracing::warn!(status = status.as_u16(), error = %self, "request refused"),
        }
        (status, Json(json!({ "ok": false, "error": public }))).into_response()
    }
}
