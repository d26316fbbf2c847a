//! A fake Slack Web API on 127.0.0.1: checks the bearer token and every method's
//! required arguments (from Slack's published API description), records calls, answers
//! like Slack, and can be told to fail (429 with Retry-After, 500, slow answers, errors).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::fake_socket::{APP_TOKEN, FakeSocket};

pub const TOKEN: &str = "xoxb-test-token";
pub const TEAM_ID: &str = "T0TEST";
pub const WORKSPACE_URL: &str = "https://acme-support.slack.com/";
pub const BOT_USER: &str = "U0BOT";
pub const ONCALL_GROUP: &str = "S0ONCALL01";
/// The `@it-managers` user group and its members.
pub const IT_MANAGERS_GROUP: &str = "S0ITMGRS01";
pub const IT_MANAGERS: [&str; 2] = ["U0ITMGR001", "U0ITMGR002"];
/// The members of every channel, as `conversations.members` answers.
pub const CHANNEL_MEMBERS: [&str; 4] = ["U0ITMGR001", "U0ITMGR002", "U0AGENT001", "U0ADMIN001"];
/// A workspace admin, as `users.info` says.
pub const WORKSPACE_ADMIN: &str = "U0WSADMIN1";

/// A recorded, accepted call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub args: Map<String, Value>,
    /// What the fake answered.
    pub answer: Value,
    pub at: Instant,
}

impl Call {
    /// A JSON argument (`blocks`, `view`…), sent as JSON or as a JSON string in a form.
    pub fn json_arg(&self, name: &str) -> Value {
        match self.args.get(name) {
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        }
    }

    pub fn arg(&self, name: &str) -> &str {
        self.args
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// How the next call to a method should fail.
#[derive(Debug, Clone)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: secs`.
    RateLimited(u64),
    /// HTTP 500.
    ServerError,
    /// Answer after this long (the client may time out).
    Slow(Duration),
    /// `{"ok": false, "error": code}`.
    Error(&'static str),
    /// Answer normally (to fail a later call, not this one).
    Pass,
}

#[derive(Default)]
struct State_ {
    calls: Vec<Call>,
    violations: Vec<String>,
    failures: HashMap<String, VecDeque<Failure>>,
    next_ts: u64,
    /// Messages posted, by (channel, ts), for `chat.update` to find.
    posted: HashMap<(String, String), Value>,
    /// Where accepted calls are also sent as they arrive (benchmarks follow them).
    watchers: Vec<tokio::sync::mpsc::UnboundedSender<Call>>,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub addr: SocketAddr,
    /// Socket Mode, whose URLs `apps.connections.open` hands out.
    pub socket: FakeSocket,
    state: Arc<Mutex<State_>>,
    required: Arc<HashMap<String, Vec<String>>>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let required: HashMap<String, Vec<String>> =
            serde_json::from_str(include_str!("../../fixtures/slack-required-args.json"))
                .expect("fixture parses");
        let state = Arc::new(Mutex::new(State_ {
            next_ts: 1_700_000_000_000_100,
            ..Default::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self {
            addr,
            socket: FakeSocket::start().await,
            state,
            required: Arc::new(required),
        };
        let app = Router::new()
            .route("/api/{method}", post(handle))
            .route("/commands/{*path}", post(respond))
            .with_state(fake.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        fake
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    /// A slash command's `response_url` (Slack's are under hooks.slack.com/commands/).
    pub fn response_url(&self) -> String {
        format!("http://{}/commands/T0TEST/1/abc", self.addr)
    }

    /// Makes the next call(s) to `method` fail, in order.
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(failure);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Every accepted call from now on, as it arrives.
    #[allow(dead_code)] // for the benchmarks, which include this file
    pub fn watch(&self) -> tokio::sync::mpsc::UnboundedReceiver<Call> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.state.lock().unwrap().watchers.push(tx);
        rx
    }

    /// Forgets the calls recorded so far (a long benchmark would keep them all).
    #[allow(dead_code)] // for the benchmarks, which include this file
    pub fn forget_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The texts posted in the thread of `thread_ts`, in order.
    pub fn thread(&self, thread_ts: &str) -> Vec<String> {
        self.calls_to("chat.postMessage")
            .iter()
            .filter(|c| c.arg("thread_ts") == thread_ts)
            .map(|c| c.arg("text").to_owned())
            .collect()
    }

    /// Calls that Slack would have refused (bad token, missing arguments).
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Waits until `method` has been called `n` times; returns those calls.
    pub async fn wait_for(&self, method: &str, n: usize, within: Duration) -> Vec<Call> {
        let deadline = Instant::now() + within;
        loop {
            let calls = self.calls_to(method);
            if calls.len() >= n {
                return calls;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {within:?} for {n} call(s) to {method}, got {}: {:#?}\nviolations: {:?}",
                    calls.len(),
                    self.calls(),
                    self.violations()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn parse_args(headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        return serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
    }
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

async fn handle(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // apps.connections.open takes the app-level token, every other method the bot's.
    let expected = match method.as_str() {
        "apps.connections.open" => APP_TOKEN,
        _ => TOKEN,
    };
    if auth != format!("Bearer {expected}") {
        let error = match auth.strip_prefix("Bearer ") {
            None => "not_authed",
            Some(token) if token.starts_with("xapp-") != expected.starts_with("xapp-") => {
                "not_allowed_token_type"
            }
            Some(_) => "invalid_auth",
        };
        // A refused app token is a case the tests make on purpose.
        if method != "apps.connections.open" {
            fake.state
                .lock()
                .unwrap()
                .violations
                .push(format!("{method}: bad authorization {auth:?}"));
        }
        return ok_false(error);
    }
    let args = parse_args(&headers, &body);
    if let Some(missing) = missing_argument(&fake.required, &method, &args) {
        fake.state
            .lock()
            .unwrap()
            .violations
            .push(format!("{method}: missing required argument {missing}"));
        return ok_false("invalid_arguments");
    }
    let failure = fake
        .state
        .lock()
        .unwrap()
        .failures
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    match failure {
        Some(Failure::RateLimited(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                "",
            )
                .into_response();
        }
        Some(Failure::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream failure").into_response();
        }
        Some(Failure::Error(code)) => return ok_false(code),
        Some(Failure::Slow(d)) => tokio::time::sleep(d).await,
        Some(Failure::Pass) | None => {}
    }
    let answer = answer(&fake, &method, &args);
    let call = Call {
        method,
        args,
        answer: answer.clone(),
        at: Instant::now(),
    };
    let mut state = fake.state.lock().unwrap();
    state.watchers.retain(|w| w.send(call.clone()).is_ok());
    state.calls.push(call);
    drop(state);
    axum::Json(answer).into_response()
}

/// A late answer to a slash command: JSON with `text` (or `blocks`), no token needed.
/// https://api.slack.com/interactivity/handling#message_responses
async fn respond(State(fake): State<FakeSlack>, headers: HeaderMap, body: Bytes) -> Response {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let args = parse_args(&headers, &body);
    let mut state = fake.state.lock().unwrap();
    if !json || !(args.contains_key("text") || args.contains_key("blocks")) {
        state.violations.push(format!(
            "response_url: not a JSON message: {}",
            String::from_utf8_lossy(&body)
        ));
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    }
    state.calls.push(Call {
        method: "response_url".into(),
        args,
        answer: Value::Null,
        at: Instant::now(),
    });
    "ok".into_response()
}

fn missing_argument(
    required: &HashMap<String, Vec<String>>,
    method: &str,
    args: &Map<String, Value>,
) -> Option<String> {
    // Socket Mode's method takes no argument but the app token; Slack's published API
    // description leaves it out.
    if method == "apps.connections.open" {
        return None;
    }
    let Some(names) = required.get(method) else {
        return Some(format!("(unknown method {method})"));
    };
    let present = |n: &str| args.get(n).is_some_and(|v| v.as_str() != Some(""));
    if let Some(name) = names.iter().find(|n| !present(n)) {
        return Some(name.clone());
    }
    match method {
        "chat.postMessage" if !["text", "blocks", "attachments"].iter().any(|n| present(n)) => {
            Some("one of text, blocks, attachments".into())
        }
        "conversations.open" if !present("channel") && !present("users") => {
            Some("one of channel, users".into())
        }
        "chat.update" | "chat.postEphemeral"
            if !["text", "blocks", "attachments"].iter().any(|n| present(n)) =>
        {
            Some("one of text, blocks, attachments".into())
        }
        "views.open" => view_problem(args.get("view")),
        "views.publish" => home_problem(args.get("view")),
        _ => None,
    }
}

/// What Slack would refuse in a modal view: https://api.slack.com/reference/surfaces/views
fn view_problem(view: Option<&Value>) -> Option<String> {
    let view = match view {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok()?,
        Some(v) => v.clone(),
        None => return Some("view".into()),
    };
    let plain = |key: &str, max: usize| {
        let text = view
            .pointer(&format!("/{key}/text"))
            .and_then(Value::as_str);
        let kind = view
            .pointer(&format!("/{key}/type"))
            .and_then(Value::as_str);
        kind == Some("plain_text")
            && text.is_some_and(|t| !t.is_empty() && t.chars().count() <= max)
    };
    if view.get("type").and_then(Value::as_str) != Some("modal") {
        return Some("view.type (modal)".into());
    }
    if !plain("title", 24) {
        return Some("view.title (plain_text, at most 24 characters)".into());
    }
    let blocks = view.get("blocks").and_then(Value::as_array)?;
    let has_input = blocks
        .iter()
        .any(|b| b.get("type").and_then(Value::as_str) == Some("input"));
    if has_input && !plain("submit", 24) {
        return Some("view.submit (required with input blocks)".into());
    }
    None
}

/// What Slack would refuse in a Home tab: https://api.slack.com/reference/surfaces/views
fn home_problem(view: Option<&Value>) -> Option<String> {
    let view = match view {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok()?,
        Some(v) => v.clone(),
        None => return Some("view".into()),
    };
    if view.get("type").and_then(Value::as_str) != Some("home") {
        return Some("view.type (home)".into());
    }
    let blocks = view.get("blocks").and_then(Value::as_array);
    match blocks {
        Some(blocks) if blocks.len() <= 100 => None,
        _ => Some("view.blocks (at most 100)".into()),
    }
}

fn ok_false(error: &str) -> Response {
    axum::Json(json!({ "ok": false, "error": error })).into_response()
}

fn answer(fake: &FakeSlack, method: &str, args: &Map<String, Value>) -> Value {
    let arg = |n: &str| {
        args.get(n)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match method {
        "auth.test" => json!({
            "ok": true, "url": WORKSPACE_URL, "team": "Acme Support", "user": "switchboard",
            "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": "B0BOT"
        }),
        "chat.postMessage" => {
            let ts = {
                let mut s = fake.state.lock().unwrap();
                s.next_ts += 1;
                format!("{}.{:06}", s.next_ts / 1_000_000, s.next_ts % 1_000_000)
            };
            let channel = arg("channel");
            // Channel names resolve to an id, as Slack answers with the id.
            let channel = match channel.strip_prefix('#') {
                Some(name) => format!("C{}", name.to_uppercase().replace('-', "")),
                None => channel,
            };
            let message = json!({ "type": "message", "text": arg("text"), "user": BOT_USER, "bot_id": "B0BOT", "ts": ts });
            fake.state
                .lock()
                .unwrap()
                .posted
                .insert((channel.clone(), ts.clone()), message.clone());
            json!({ "ok": true, "channel": channel, "ts": ts, "message": message })
        }
        "chat.update" => {
            let key = (arg("channel"), arg("ts"));
            let mut state = fake.state.lock().unwrap();
            match state.posted.get_mut(&key) {
                Some(message) => {
                    message["text"] = json!(arg("text"));
                    json!({ "ok": true, "channel": key.0, "ts": key.1, "text": arg("text") })
                }
                None => {
                    state
                        .violations
                        .push(format!("chat.update of a message never posted: {key:?}"));
                    json!({ "ok": false, "error": "message_not_found" })
                }
            }
        }
        "chat.postEphemeral" => json!({ "ok": true, "message_ts": "1700000000.999999" }),
        "views.open" => json!({ "ok": true, "view": { "id": "V0VIEW0001" } }),
        "apps.connections.open" => json!({ "ok": true, "url": fake.socket.url() }),
        "usergroups.users.list" if arg("usergroup") == IT_MANAGERS_GROUP => {
            json!({ "ok": true, "users": IT_MANAGERS })
        }
        "usergroups.users.list" => json!({ "ok": false, "error": "no_such_subteam" }),
        "conversations.members" => json!({
            "ok": true, "members": CHANNEL_MEMBERS, "response_metadata": { "next_cursor": "" }
        }),
        "conversations.open" => {
            json!({ "ok": true, "channel": { "id": format!("D{}", arg("users")) } })
        }
        "users.info" => json!({
            "ok": true,
            "user": { "id": arg("user"), "team_id": TEAM_ID, "name": "ada", "real_name": "Ada Lovelace",
                      "is_admin": arg("user") == WORKSPACE_ADMIN, "is_owner": false,
                      "profile": { "email": "ada@acme.example", "title": "Engineer", "real_name": "Ada Lovelace" } }
        }),
        "users.lookupByEmail" if arg("email").ends_with("@acme.example") => json!({
            "ok": true,
            "user": { "id": "U0ADA00001", "team_id": TEAM_ID, "name": "ada", "profile": { "email": arg("email") } }
        }),
        "users.lookupByEmail" => json!({ "ok": false, "error": "users_not_found" }),
        "usergroups.list" => json!({
            "ok": true,
            "usergroups": [
                { "id": ONCALL_GROUP, "team_id": TEAM_ID, "name": "On-call", "handle": "oncall" },
                { "id": IT_MANAGERS_GROUP, "team_id": TEAM_ID, "name": "IT managers", "handle": "it-managers" }
            ]
        }),
        _ => json!({ "ok": true }),
    }
}
