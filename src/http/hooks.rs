use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::launch::Launched;
use crate::webhooks::{HookCall, HookError};

/// Receives a call of an automation's webhook URL: look up, limit, verify, queue.
#[tracing::instrument(name = "receive_webhook", skip_all)]
pub async fn receive_webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            tracing::warn!(
                status = status.as_u16(),
                "webhook call refused: {}",
                rejection.body_text()
            );
            return answer(
                status,
                json!({ "ok": false, "error": rejection.body_text() }),
            );
        }
    };
    let headers: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let call = HookCall {
        token: &token,
        headers,
        query: query.into_iter().collect(),
        body: &body,
    };
    match state.webhooks.call(call).await {
        Ok(Launched::Queued(run_id)) => answer(
            StatusCode::ACCEPTED,
            json!({ "ok": true, "run_id": run_id }),
        ),
        Ok(Launched::Filtered) => answer(
            StatusCode::OK,
            json!({ "ok": true, "run_id": null, "skipped": "the automation's filter did not pass" }),
        ),
        Err(e) => refused(e),
    }
}

fn refused(e: HookError) -> Response {
    let status = match &e {
        HookError::NotFound => StatusCode::NOT_FOUND,
        HookError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        HookError::BadSignature(_) => StatusCode::UNAUTHORIZED,
        HookError::Malformed(_) => StatusCode::BAD_REQUEST,
        HookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    if matches!(e, HookError::Unavailable(_)) {
        tracing::error!(status = status.as_u16(), error = %e, "webhook call not recorded");
    } else {
        tracing::info!(status = status.as_u16(), error = %e, "webhook call refused");
    }
    let mut response = answer(status, json!({ "ok": false, "error": e.to_string() }));
    if let HookError::RateLimited(wait) = e {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = secs.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
