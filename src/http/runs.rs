use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{ApiError, AppState};
use crate::runs::page;

/// `GET /runs/{id}?until=…&key=…`: the run's page for whoever holds its link. Every
/// link that does not open a run (wrong key, expired, unknown run) gets the same 404.
pub async fn show_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = id.parse::<i64>().ok();
    let until = query.get("until").and_then(|u| u.parse::<i64>().ok());
    let key = query.get("key");
    let found = match (id, until, key) {
        (Some(id), Some(until), Some(key)) => state.run_pages.page(id, until, key).await,
        _ => Ok(None),
    };
    let mut response = match found {
        Ok(Some(html)) => Html(html).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Html(page::not_found())).into_response(),
        Err(e) => return ApiError::Unavailable(format!("reading a run page: {e}")).into_response(),
    };
    let headers = response.headers_mut();
    // The key is in the address: keep it out of caches, search engines and Referer.
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}
