//! A fake Cloud KMS on 127.0.0.1 speaking the REST API Google's SDK uses:
//! `POST /v1/{name}:encrypt` and `:decrypt`, base64 JSON bodies, additional
//! authenticated data checked. It can be switched into an outage (503).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const KEY: &str = "projects/acme/locations/global/keyRings/switchboard/cryptoKeys/secrets";

#[derive(Clone, Default)]
pub struct FakeKms {
    pub addr: Option<SocketAddr>,
    down: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl FakeKms {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Self {
            addr: Some(listener.local_addr().unwrap()),
            ..Default::default()
        };
        let app = Router::new()
            .route("/v1/{*rest}", post(handle))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let code = status.as_u16();
    (status, axum::Json(json!({ "error": { "code": code, "message": message, "status": "FAILED_PRECONDITION" } }))).into_response()
}

/// "Encryption": the plaintext and AAD, sealed in a way only this fake opens.
async fn handle(
    State(fake): State<FakeKms>,
    Path(rest): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    if fake.down.load(Ordering::SeqCst) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is currently unavailable.",
        );
    }
    let Some((name, verb)) = rest.rsplit_once(':') else {
        return error(StatusCode::NOT_FOUND, "no verb");
    };
    if name != KEY {
        return error(
            StatusCode::NOT_FOUND,
            &format!("CryptoKey {name} not found."),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(|v| STANDARD.decode(v).expect("base64 field"))
            .unwrap_or_default()
    };
    let aad = field("additionalAuthenticatedData");
    match verb {
        "encrypt" => {
            let plaintext = field("plaintext");
            let sealed =
                json!({ "p": STANDARD.encode(&plaintext), "a": STANDARD.encode(&aad) }).to_string();
            axum::Json(json!({
                "name": format!("{KEY}/cryptoKeyVersions/1"),
                "ciphertext": STANDARD.encode(sealed.as_bytes()),
            }))
            .into_response()
        }
        "decrypt" => {
            let sealed: Value = serde_json::from_slice(&field("ciphertext")).unwrap_or_default();
            if sealed["a"].as_str() != Some(STANDARD.encode(&aad).as_str()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Decryption failed: the ciphertext is invalid.",
                );
            }
            axum::Json(json!({ "plaintext": sealed["p"] })).into_response()
        }
        other => error(StatusCode::NOT_FOUND, &format!("unknown verb {other}")),
    }
}
