//! Fake Jira Cloud, Okta and Google (OAuth token endpoint and Admin SDK Directory) on
//! 127.0.0.1, checking what they are sent against the vendors' documented REST APIs
//! (paths, methods, auth headers, required JSON fields), plus a status page. Each can
//! be told to fail.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub const JIRA_EMAIL: &str = "bot@acme.example";
pub const JIRA_TOKEN: &str = "jira-token-123";
pub const OKTA_TOKEN: &str = "okta-token-456";
pub const GOOGLE_ADMIN: &str = "admin@acme.example";
pub const GOOGLE_ACCESS_TOKEN: &str = "ya29.fake-access-token";
pub const SERVICE_ACCOUNT: &str = include_str!("../../fixtures/google-service-account.json");

/// A request a fake accepted.
#[derive(Debug, Clone)]
pub struct VendorCall {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Default)]
struct Vendors {
    calls: Vec<VendorCall>,
    violations: Vec<String>,
    failures: HashMap<&'static str, VecDeque<u16>>,
    issues: u32,
    members: Vec<(String, String)>,
    status_answers: VecDeque<(u16, Value)>,
}

#[derive(Clone)]
pub struct FakeVendors {
    pub addr: SocketAddr,
    state: Arc<Mutex<Vendors>>,
}

impl FakeVendors {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self {
            addr,
            state: Arc::default(),
        };
        let app = Router::new()
            .route("/rest/api/3/issue", post(jira_create))
            .route("/api/v1/users/{user}", get(okta_user))
            .route(
                "/api/v1/users/{user}/lifecycle/reset_password",
                post(okta_reset),
            )
            .route("/token", post(google_token))
            .route(
                "/admin/directory/v1/groups/{group}/members",
                post(google_insert),
            )
            .route("/status.json", any(status_page))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The environment that points switchboard's integrations here.
    pub fn env(&self) -> Vec<(String, String)> {
        let url = self.url();
        [
            ("JIRA_BASE_URL", url.clone()),
            ("JIRA_EMAIL", JIRA_EMAIL.to_owned()),
            ("OKTA_ORG_URL", url.clone()),
            ("GOOGLE_DIRECTORY_URL", url.clone()),
            ("GOOGLE_TOKEN_URL", format!("{url}token")),
            ("GOOGLE_ADMIN_SUBJECT", GOOGLE_ADMIN.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The secrets the integrations read.
    pub fn secrets() -> Vec<(&'static str, String)> {
        vec![
            ("JIRA_API_TOKEN", JIRA_TOKEN.to_owned()),
            ("OKTA_API_TOKEN", OKTA_TOKEN.to_owned()),
            ("GOOGLE_SERVICE_ACCOUNT", SERVICE_ACCOUNT.to_owned()),
        ]
    }

    /// Makes the next request to `route` (`jira`, `okta.reset`, `okta.user`,
    /// `google.token`, `google.members`) answer `status`.
    pub fn fail_next(&self, route: &'static str, status: u16) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(route)
            .or_default()
            .push_back(status);
    }

    /// Queues answers of the status page.
    pub fn status_answers(&self, answers: Vec<(u16, Value)>) {
        self.state.lock().unwrap().status_answers.extend(answers);
    }

    pub fn calls(&self) -> Vec<VendorCall> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, path_start: &str) -> Vec<VendorCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with(path_start))
            .collect()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    fn record(
        &self,
        method: &Method,
        path: &str,
        query: HashMap<String, String>,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        self.state.lock().unwrap().calls.push(VendorCall {
            method: method.to_string(),
            path: path.to_owned(),
            query,
            headers,
            body,
        });
    }

    fn violation(&self, message: String) -> Response {
        self.state.lock().unwrap().violations.push(message.clone());
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": message })),
        )
            .into_response()
    }

    fn injected(&self, route: &'static str) -> Option<Response> {
        let status = self
            .state
            .lock()
            .unwrap()
            .failures
            .get_mut(route)?
            .pop_front()?;
        Some(
            (
                StatusCode::from_u16(status).unwrap(),
                axum::Json(json!({ "errorSummary": "injected failure" })),
            )
                .into_response(),
        )
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn jira_create(State(fake): State<FakeVendors>, headers: HeaderMap, body: Bytes) -> Response {
    fake.record(
        &Method::POST,
        "/rest/api/3/issue",
        HashMap::new(),
        &headers,
        &body,
    );
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"))
    );
    if header(&headers, "authorization") != expected {
        return (
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
            .into_response();
    }
    if !header(&headers, "content-type").starts_with("application/json") {
        return fake.violation("jira: Content-Type must be application/json".into());
    }
    if let Some(r) = fake.injected("jira") {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return fake.violation("jira: body is not JSON".into());
    };
    let fields = &body["fields"];
    let problems: Vec<&str> = [
        (
            fields["project"]["key"].is_string() || fields["project"]["id"].is_string(),
            "fields.project.key or .id",
        ),
        (fields["summary"].is_string(), "fields.summary"),
        (
            fields["issuetype"]["name"].is_string() || fields["issuetype"]["id"].is_string(),
            "fields.issuetype.name or .id",
        ),
        (
            fields
                .get("description")
                .is_none_or(|d| d["type"] == "doc" && d["version"] == 1 && d["content"].is_array()),
            "fields.description must be an Atlassian Document Format doc",
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if !problems.is_empty() {
        return fake.violation(format!("jira: missing or invalid {problems:?}"));
    }
    let n = {
        let mut s = fake.state.lock().unwrap();
        s.issues += 1;
        10000 + s.issues
    };
    let key = format!(
        "{}-{}",
        fields["project"]["key"].as_str().unwrap_or("X"),
        n - 10000
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({ "id": n.to_string(), "key": key, "self": format!("{}rest/api/3/issue/{n}", fake.url()) })),
    )
        .into_response()
}

const OKTA_USER_ID: &str = "00ub0oNGTSWTBKOLGLNR";

fn okta_user_json() -> Value {
    json!({
        "id": OKTA_USER_ID, "status": "ACTIVE",
        "profile": { "login": "ada@acme.example", "email": "ada@acme.example", "firstName": "Ada", "lastName": "Lovelace" }
    })
}

fn okta_auth(fake: &FakeVendors, headers: &HeaderMap) -> Option<Response> {
    if header(headers, "authorization") != format!("SSWS {OKTA_TOKEN}") {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({ "errorCode": "E0000011", "errorSummary": "Invalid token provided" }),
                ),
            )
                .into_response(),
        );
    }
    if !header(headers, "accept").contains("application/json") {
        return Some(fake.violation("okta: Accept must be application/json".into()));
    }
    None
}

async fn okta_user(
    State(fake): State<FakeVendors>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    fake.record(
        &Method::GET,
        &format!("/api/v1/users/{user}"),
        HashMap::new(),
        &headers,
        b"",
    );
    if let Some(r) = okta_auth(&fake, &headers) {
        return r;
    }
    if let Some(r) = fake.injected("okta.user") {
        return r;
    }
    if user == OKTA_USER_ID || user == "ada@acme.example" {
        axum::Json(okta_user_json()).into_response()
    } else {
        (StatusCode::NOT_FOUND, axum::Json(json!({ "errorCode": "E0000007", "errorSummary": format!("Not found: Resource not found: {user} (User)") }))).into_response()
    }
}

async fn okta_reset(
    State(fake): State<FakeVendors>,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    fake.record(
        &Method::POST,
        &format!("/api/v1/users/{user}/lifecycle/reset_password"),
        query.clone(),
        &headers,
        b"",
    );
    if let Some(r) = okta_auth(&fake, &headers) {
        return r;
    }
    if let Some(r) = fake.injected("okta.reset") {
        return r;
    }
    if user != OKTA_USER_ID {
        // The lifecycle operations take the user's id, not the login.
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "errorCode": "E0000007", "errorSummary": "Not found" })),
        )
            .into_response();
    }
    match query.get("sendEmail").map(String::as_str) {
        Some("true") => axum::Json(json!({})).into_response(),
        Some("false") => axum::Json(json!({ "resetPasswordUrl": "https://acme.okta.com/reset_password/XE6wE17zmphl3KqAPFxO" })).into_response(),
        other => fake.violation(format!("okta: sendEmail must be true or false, got {other:?}")),
    }
}

async fn google_token(
    State(fake): State<FakeVendors>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.record(&Method::POST, "/token", HashMap::new(), &headers, &body);
    if let Some(r) = fake.injected("google.token") {
        return r;
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return fake.violation(format!(
            "google token: wrong grant_type {:?}",
            form.get("grant_type")
        ));
    }
    let Some(assertion) = form.get("assertion") else {
        return fake.violation("google token: no assertion".into());
    };
    match verify_assertion(assertion, &format!("{}token", fake.url())) {
        Ok(()) => axum::Json(json!({ "access_token": GOOGLE_ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer" })).into_response(),
        Err(e) => fake.violation(format!("google token: {e}")),
    }
}

/// Checks the JWT as Google does: RS256 signature by the service account's key, and
/// the claims of a domain-wide delegated request for the member scope.
fn verify_assertion(jwt: &str, audience: &str) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("assertion is not a JWT".into());
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg must be RS256: {header}"));
    }
    let key: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    let der = STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref().to_vec(),
    );
    let signed = &jwt[..jwt.rfind('.').unwrap()];
    public
        .verify(signed.as_bytes(), &decode(signature)?)
        .map_err(|_| "bad signature".to_owned())?;
    let expect = |name: &str, want: &str| {
        if claims[name] == want {
            Ok(())
        } else {
            Err(format!("claim {name} is {}, want {want}", claims[name]))
        }
    };
    expect("iss", key["client_email"].as_str().unwrap())?;
    expect("sub", GOOGLE_ADMIN)?;
    expect("aud", audience)?;
    expect(
        "scope",
        "https://www.googleapis.com/auth/admin.directory.group.member",
    )?;
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if exp <= iat || exp - iat > 3600 {
        return Err(format!(
            "exp must be after iat and within an hour: {claims}"
        ));
    }
    Ok(())
}

async fn google_insert(
    State(fake): State<FakeVendors>,
    Path(group): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.record(
        &Method::POST,
        &format!("/admin/directory/v1/groups/{group}/members"),
        HashMap::new(),
        &headers,
        &body,
    );
    if header(&headers, "authorization") != format!("Bearer {GOOGLE_ACCESS_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": { "code": 401, "message": "Invalid Credentials" } })),
        )
            .into_response();
    }
    if let Some(r) = fake.injected("google.members") {
        return r;
    }
    let Ok(member) = serde_json::from_slice::<Value>(&body) else {
        return fake.violation("google members: body is not JSON".into());
    };
    let Some(email) = member["email"].as_str() else {
        return fake.violation("google members: `email` is required".into());
    };
    let role = member["role"].as_str().unwrap_or("MEMBER");
    if !["MEMBER", "MANAGER", "OWNER"].contains(&role) {
        return fake.violation(format!("google members: bad role {role}"));
    }
    let mut s = fake.state.lock().unwrap();
    if s.members.contains(&(group.clone(), email.to_owned())) {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({ "error": { "code": 409, "message": "Member already exists." } })),
        )
            .into_response();
    }
    s.members.push((group, email.to_owned()));
    axum::Json(json!({ "kind": "admin#directory#member", "id": "1234567890", "email": email, "role": role, "type": "USER", "status": "ACTIVE" })).into_response()
}

async fn status_page(
    State(fake): State<FakeVendors>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.record(&method, "/status.json", HashMap::new(), &headers, &body);
    let answer = fake.state.lock().unwrap().status_answers.pop_front();
    let (status, body) = answer.unwrap_or((
        200,
        json!({ "page": { "url": "https://status.example" }, "status": { "indicator": "none", "description": "All Systems Operational" } }),
    ));
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}
