//! The host API's implementation: every function a script can call arrives here by
//! name, is checked (argument types, limits, the address policy), and is carried out
//! with switchboard's own clients. Transient failures of idempotent calls are retried
//! here, so scripts need no retry loops of their own.
//!
//! Adding a host function: a method in `sandbox::host_api`, its declaration in
//! `switchboard.d.ts`, its name in [`HOST_FUNCTIONS`], and its arm in
//! [`ScriptHost::dispatch`]. Tests check that the four agree.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::context;
use super::fetch::{FetchError, FetchRequest};
use super::journal::{CallJournal, Claim, Entry};
use super::pool::{Halt, HostHandler};
use super::protocol::HostResult;
use crate::actions::Wait;
use crate::conversations::{Conversation, ConversationPatch, Priority, Status};
use crate::db::runs::ClaimedRun;
use crate::integrations::{GroupMember, IntegrationError, IssueRequest, ResetOptions};
use crate::kv::{KvError, Namespace};
use crate::runs::RunEnv;
use crate::secrets::run::RunSecrets;
use crate::slack::SlackError;
use crate::slack::client::object;
use crate::trigger::TriggerEvent;

/// Every host function, as `sandbox::host_api` calls them.
pub const HOST_FUNCTIONS: &[&str] = &[
    "slack.reply",
    "slack.postMessage",
    "slack.dm",
    "slack.react",
    "slack.usersInfo",
    "slack.lookupUserByEmail",
    "slack.call",
    "http.fetch",
    "conversation.update",
    "jira.createIssue",
    "okta.getUser",
    "okta.resetPassword",
    "google.groups.addMember",
    "secrets.get",
    "kv.get",
    "kv.set",
    "kv.delete",
    "kv.list",
    "kv.increment",
    "kv.compareAndSet",
    "approvals.request",
    "waitFor",
    "sleep",
];

/// Longest single `sleep()`.
const MAX_SLEEP: Duration = Duration::from_secs(10);
/// Attempts of an idempotent call that fails transiently.
const ATTEMPTS: u32 = 3;

mod approval;
mod wait;

/// Answers the host calls of one script step.
pub struct ScriptHost<'a> {
    env: &'a RunEnv,
    run: &'a ClaimedRun,
    secrets: &'a RunSecrets,
    step: usize,
    conversation: Mutex<Option<Conversation>>,
    changed: Mutex<bool>,
    updates: AtomicU32,
    /// Calls replayed and made, for a script that waits (see `script::journal`).
    journal: Mutex<CallJournal>,
    /// `approvals.request` calls so far.
    approval_calls: AtomicU32,
    /// `waitFor` calls so far.
    wait_calls: AtomicU32,
    /// Set when the script must stop after the current call.
    halt: Mutex<Option<Halt>>,
    /// What the script waits for, once it was suspended.
    wait: Mutex<Option<Wait>>,
}

type Outcome = Result<Value, HostError>;

/// A failed host call, as the script will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostError {
    /// `TypeError` for misuse, `Error` otherwise.
    name: &'static str,
    message: String,
    /// Whether the script sees a `RetryableError`.
    retryable: bool,
}

impl HostError {
    fn new(name: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            name,
            message: message.into(),
            retryable,
        }
    }
}

impl<'a> ScriptHost<'a> {
    /// A host for step `step` of `run`.
    pub fn new(
        env: &'a RunEnv,
        run: &'a ClaimedRun,
        secrets: &'a RunSecrets,
        step: usize,
        conversation: Option<&Conversation>,
    ) -> Self {
        Self {
            env,
            run,
            secrets,
            step,
            conversation: Mutex::new(conversation.cloned()),
            changed: Mutex::new(false),
            updates: AtomicU32::new(0),
            journal: Mutex::new(CallJournal::default()),
            approval_calls: AtomicU32::new(0),
            wait_calls: AtomicU32::new(0),
            halt: Mutex::new(None),
            wait: Mutex::new(None),
        }
    }

    /// Answers calls from `entries` first (a script running again after its approval).
    pub fn with_journal(self, entries: Vec<Entry>) -> Self {
        *lock(&self.journal) = CallJournal::replaying(entries);
        self
    }

    /// What the script waits for, if it was suspended.
    pub fn waiting(&self) -> Option<Wait> {
        lock(&self.wait).clone()
    }

    fn stop_after_this_call(&self, halt: Halt) {
        *lock(&self.halt) = Some(halt);
    }

    /// The conversation as the script left it, if the script changed it.
    pub fn changed_conversation(&self) -> Option<Conversation> {
        if *self.changed.lock().unwrap_or_else(|e| e.into_inner()) {
            self.current_conversation()
        } else {
            None
        }
    }

    fn current_conversation(&self) -> Option<Conversation> {
        self.conversation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn dispatch(&self, name: &str, args: Value) -> Outcome {
        let args = Args {
            function: name,
            value: args,
        };
        match name {
            "slack.reply" => {
                let c = self.need_conversation(name)?;
                let mut call = args.message_fields()?;
                call.insert("channel".into(), c.channel.clone().into());
                call.insert("thread_ts".into(), c.thread_ts.clone().into());
                if args.opt_bool("broadcast")?.unwrap_or(false) {
                    call.insert("reply_broadcast".into(), true.into());
                }
                self.post(call).await
            }
            "slack.postMessage" => {
                let mut call = args.message_fields()?;
                call.insert("channel".into(), args.str("channel")?.into());
                if let Some(ts) = args.opt_str("threadTs")? {
                    call.insert("thread_ts".into(), ts.into());
                }
                self.post(call).await
            }
            "slack.dm" => {
                let user = args.str("user")?;
                let call = args.message_fields()?;
                let dm = self
                    .slack_retrying(|| self.env.slack.open_dm(&user))
                    .await?;
                let mut call = call;
                call.insert("channel".into(), dm.into());
                self.post(call).await
            }
            "slack.react" => {
                let emoji = args.str("emoji")?.trim_matches(':').to_owned();
                let (channel, ts) = match (args.opt_str("channel")?, args.opt_str("ts")?) {
                    (Some(channel), Some(ts)) => (channel, ts),
                    (None, None) => self.reaction_target(name)?,
                    _ => return Err(type_error(name, "give both `channel` and `ts`, or neither")),
                };
                self.slack_retrying(|| self.env.slack.add_reaction(&channel, &ts, &emoji))
                    .await?;
                Ok(json!({ "channel": channel, "ts": ts, "emoji": emoji }))
            }
            "slack.usersInfo" => {
                let call = object(json!({ "user": args.str("user")? }));
                let body = self
                    .slack_retrying(|| self.env.slack.call("users.info", &call))
                    .await?;
                Ok(body.get("user").cloned().unwrap_or(Value::Null))
            }
            "slack.lookupUserByEmail" => {
                let call = object(json!({ "email": args.str("email")? }));
                let found = self
                    .slack_retrying(|| self.env.slack.call("users.lookupByEmail", &call))
                    .await;
                match found {
                    Ok(body) => Ok(body.get("user").cloned().unwrap_or(Value::Null)),
                    Err(e) if e.message.contains("users_not_found") => Ok(Value::Null),
                    Err(e) => Err(e),
                }
            }
            "slack.call" => {
                let method = args.str("method")?;
                let call_args = match args.value.get("args") {
                    Some(Value::Object(m)) => m.clone(),
                    None | Some(Value::Null) => Map::new(),
                    Some(_) => return Err(type_error(name, "`args` must be an object")),
                };
                // A method that reads is safe to repeat; one that writes may not be.
                let idempotent = [".list", ".info", ".history", ".replies", "lookupBy", ".get"]
                    .iter()
                    .any(|part| method.contains(part));
                if idempotent {
                    self.slack_retrying(|| self.env.slack.call(&method, &call_args))
                        .await
                } else {
                    self.env
                        .slack
                        .call(&method, &call_args)
                        .await
                        .map_err(slack_failure)
                }
            }
            "http.fetch" => self.fetch(&args).await,
            "conversation.update" => self.update_conversation(&args).await,
            "jira.createIssue" => {
                let issue: IssueRequest = args.parse()?;
                self.env
                    .integrations
                    .jira_create_issue(self.secrets, &issue)
                    .await
                    .map_err(integration_failure)
            }
            "okta.getUser" => {
                let user = args.str("user")?;
                retrying(
                    || self.env.integrations.okta_get_user(self.secrets, &user),
                    |e: &IntegrationError| e.retryable,
                )
                .await
                .map_err(integration_failure)
            }
            "okta.resetPassword" => {
                let user = args.str("user")?;
                let send_email = args.opt_bool("sendEmail")?.unwrap_or(true);
                let revoke = args.opt_bool("revokeSessions")?.unwrap_or(false);
                self.env
                    .integrations
                    .okta_reset_password(
                        self.secrets,
                        &user,
                        ResetOptions {
                            send_email,
                            revoke_sessions: revoke,
                        },
                    )
                    .await
                    .map_err(integration_failure)
            }
            "google.groups.addMember" => {
                let member: GroupMember = args.parse()?;
                retrying(
                    || {
                        self.env
                            .integrations
                            .google_add_member(self.secrets, &member)
                    },
                    |e: &IntegrationError| e.retryable,
                )
                .await
                .map_err(integration_failure)
            }
            "secrets.get" => {
                let name = args.str("name")?;
                let value = self
                    .secrets
                    .get_declared(&name)
                    .await
                    .map_err(|(message, transient)| HostError::new("Error", message, transient))?;
                Ok(Value::String(value.expose().to_owned()))
            }
            name if name.starts_with("kv.") => self.kv(name, &args).await,
            "sleep" => {
                let ms = args.opt_f64("ms")?.unwrap_or(0.0).max(0.0);
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0).min(MAX_SLEEP)).await;
                Ok(Value::Null)
            }
            other => Err(type_error(other, "is not a host function")),
        }
    }

    fn need_conversation(&self, function: &str) -> Result<Conversation, HostError> {
        self.current_conversation().ok_or_else(|| {
            type_error(
                function,
                "this run has no conversation (its trigger is not about one)",
            )
        })
    }

    /// The message `slack.react` reacts to by default.
    fn reaction_target(&self, function: &str) -> Result<(String, String), HostError> {
        let c = self.need_conversation(function)?;
        let ts = match &self.run.trigger.event {
            TriggerEvent::ReactionAdded { message_ts, .. } => message_ts.clone(),
            TriggerEvent::ConversationCreated { message }
            | TriggerEvent::MessageReceived { message } => message.ts.clone(),
            _ => c.thread_ts.clone(),
        };
        Ok((c.channel, ts))
    }

    async fn post(&self, call: Map<String, Value>) -> Outcome {
        // Posting twice is worse than failing: no automatic retry here.
        let body = self
            .env
            .slack
            .call("chat.postMessage", &call)
            .await
            .map_err(slack_failure)?;
        Ok(json!({ "channel": body.get("channel"), "ts": body.get("ts") }))
    }

    async fn slack_retrying<T, F, Fut>(&self, call: F) -> Result<T, HostError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SlackError>>,
    {
        retrying(call, SlackError::is_transient)
            .await
            .map_err(slack_failure)
    }

    async fn kv(&self, function: &str, args: &Args<'_>) -> Outcome {
        let kv = &self.env.kv;
        let workspace = self.run.trigger.team_id.as_str();
        let ns = match args.opt_str("shared")? {
            Some(name) => Namespace::shared(&name).map_err(kv_failure)?,
            None => Namespace::automation(&self.run.automation_id),
        };
        let ttl = args
            .opt_f64("ttl")?
            .map(|s| {
                if s.is_finite() && s > 0.0 {
                    Ok(Duration::from_secs_f64(s))
                } else {
                    Err(args.type_error("`ttl` must be a positive number of seconds"))
                }
            })
            .transpose()?;
        let value = |key: &str| args.value.get(key).cloned().unwrap_or(Value::Null);
        let result = match function {
            "kv.get" => kv
                .get(workspace, &ns, &args.str("key")?)
                .await
                .map(|v| v.unwrap_or(Value::Null)),
            "kv.set" => kv
                .set(workspace, &ns, &args.str("key")?, &value("value"), ttl)
                .await
                .map(|()| Value::Null),
            "kv.delete" => kv
                .delete(workspace, &ns, &args.str("key")?)
                .await
                .map(Value::Bool),
            "kv.list" => kv
                .list(workspace, &ns, &args.opt_str("prefix")?.unwrap_or_default())
                .await
                .map(|entries| {
                    Value::Array(
                        entries
                            .into_iter()
                            .map(|(key, value)| json!({ "key": key, "value": value }))
                            .collect(),
                    )
                }),
            "kv.increment" => {
                let by = args.opt_f64("by")?.unwrap_or(1.0);
                kv.increment(workspace, &ns, &args.str("key")?, by)
                    .await
                    .map(number)
            }
            "kv.compareAndSet" => {
                let expected = value("expected");
                let expected = (!expected.is_null()).then_some(&expected);
                kv.compare_and_set(
                    workspace,
                    &ns,
                    &args.str("key")?,
                    expected,
                    &value("next"),
                    ttl,
                )
                .await
                .map(Value::Bool)
            }
            other => return Err(type_error(other, "is not a host function")),
        };
        result.map_err(kv_failure)
    }

    async fn fetch(&self, args: &Args<'_>) -> Outcome {
        let url = args.str("url")?;
        let init = match args.value.get("init") {
            Some(Value::Object(m)) => m.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(args.type_error("`init` must be an object")),
        };
        let init = Args {
            function: args.function,
            value: Value::Object(init),
        };
        let mut headers = Vec::new();
        match init.value.get("headers") {
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let v = v.as_str().ok_or_else(|| {
                        init.type_error(&format!("header {k:?} must be a string"))
                    })?;
                    headers.push((k.clone(), v.to_owned()));
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err(init.type_error("`headers` must be an object of strings")),
        }
        let body = match init.value.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(other.to_string())
            }
        };
        let method = init.opt_str("method")?;
        let repeatable = method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case("GET") || m.eq_ignore_ascii_case("HEAD"));
        let request = FetchRequest {
            url,
            method,
            headers,
            body,
            timeout_ms: init.opt_f64("timeoutMs")?.map(|t| t.max(0.0) as u64),
        };
        let fetch = || self.env.fetcher.fetch(request.clone());
        let result = if repeatable {
            retrying(fetch, |e: &FetchError| {
                matches!(e, FetchError::Transient { .. })
            })
            .await
        } else {
            fetch().await
        };
        match result {
            Ok(response) => Ok(serde_json::to_value(response).unwrap_or(Value::Null)),
            Err(e @ (FetchError::Refused(_) | FetchError::Invalid(_))) => {
                Err(HostError::new("TypeError", e.to_string(), false))
            }
            Err(e @ FetchError::TooLarge { .. }) => {
                Err(HostError::new("Error", e.to_string(), false))
            }
            Err(e @ FetchError::Transient { .. }) => {
                Err(HostError::new("Error", e.to_string(), true))
            }
        }
    }

    async fn update_conversation(&self, args: &Args<'_>) -> Outcome {
        let current = self.need_conversation(args.function)?;
        let patch = args.patch()?;
        let n = self.updates.fetch_add(1, Ordering::Relaxed);
        let cause = format!("run:{}/step:{}/update:{n}", self.run.id, self.step);
        let entry = crate::runs::journal::Entry {
            run_id: self.run.id,
            step: None,
            lines: Vec::new(),
            patch: Some(crate::runs::journal::Patch::of(
                self.run, current.id, patch, cause,
            )),
            end: crate::runs::journal::End::Continue,
        };
        let unavailable = || {
            HostError::new(
                "Error",
                "conversation.update: the database is unavailable; try again later",
                true,
            )
        };
        let written = self.env.journal.submit(entry).await.map_err(|e| {
            tracing::error!(error = %e, "conversation.update failed");
            unavailable()
        })?;
        if !written.held {
            return Err(HostError::new(
                "Error",
                "conversation.update: this run's lease was taken over by another worker",
                false,
            ));
        }
        let updated = written.conversation.unwrap_or(current);
        let value = context::conversation(&updated);
        *self.conversation.lock().unwrap_or_else(|e| e.into_inner()) = Some(updated);
        *self.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Ok(value)
    }
}

impl HostHandler for ScriptHost<'_> {
    fn call<'b>(&'b self, name: &'b str, args: Value) -> BoxFuture<'b, HostResult> {
        // Positions are taken now, in the order the script made the calls.
        let claim = CallJournal::journals(name).then(|| lock(&self.journal).claim(name, &args));
        let approval = (name == "approvals.request")
            .then(|| i64::from(self.approval_calls.fetch_add(1, Ordering::Relaxed)));
        let wait = (name == wait::NAME)
            .then(|| i64::from(self.wait_calls.fetch_add(1, Ordering::Relaxed)));
        Box::pin(async move {
            let live = |args, position: Option<usize>| async move {
                let result = match (approval, wait) {
                    (Some(index), _) => self.request_approval(&args, index, position).await,
                    (_, Some(index)) => self.wait_for(&args, index, position).await,
                    _ => self.dispatch(name, args).await,
                };
                match result {
                    Ok(value) => HostResult::ok(value),
                    Err(e) => HostResult::error(e.name, e.message, e.retryable),
                }
            };
            match claim {
                Some(Claim::Replay(result)) => result,
                Some(Claim::Diverged(why)) => {
                    self.stop_after_this_call(Halt::Fail(why.clone()));
                    HostResult::error("Error", why, false)
                }
                Some(Claim::Live(position)) => {
                    let result = live(args, Some(position)).await;
                    lock(&self.journal).record(position, &result);
                    result
                }
                None => live(args, None).await,
            }
        })
    }

    fn halt(&self) -> Option<Halt> {
        lock(&self.halt).clone()
    }

    fn replaying(&self) -> bool {
        lock(&self.journal).is_replaying()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Retries `call` while `transient` says so, with a short backoff (or the server's
/// `Retry-After`, up to five seconds).
async fn retrying<T, E, F, Fut>(call: F, transient: impl Fn(&E) -> bool) -> Result<T, E>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::any::Any,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                let asked = (&e as &dyn std::any::Any)
                    .downcast_ref::<SlackError>()
                    .and_then(SlackError::retry_after);
                let wait = asked.unwrap_or(Duration::from_millis(250 << attempt));
                tokio::time::sleep(wait.min(Duration::from_secs(5))).await;
            }
            other => return other,
        }
    }
}

/// A JSON number, integral when it is one (so `1` comes back as `1`, not `1.0`).
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() < EXACT {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn slack_failure(e: SlackError) -> HostError {
    HostError::new("Error", e.to_string(), e.is_transient())
}

fn kv_failure(e: KvError) -> HostError {
    match e {
        KvError::Invalid(m) => HostError::new("TypeError", format!("kv: {m}"), false),
        KvError::Conflict(m) => HostError::new("Error", format!("kv: {m}"), false),
        KvError::Database(_) => HostError::new("Error", e.to_string(), true),
    }
}

fn integration_failure(e: IntegrationError) -> HostError {
    HostError::new("Error", e.message, e.retryable)
}

fn type_error(function: &str, message: &str) -> HostError {
    HostError::new("TypeError", format!("{function}: {message}"), false)
}

/// A host call's arguments, with typed access and errors naming the function.
struct Args<'a> {
    function: &'a str,
    value: Value,
}

impl Args<'_> {
    fn type_error(&self, message: &str) -> HostError {
        type_error(self.function, message)
    }

    fn str(&self, key: &str) -> Result<String, HostError> {
        self.opt_str(key)?
            .ok_or_else(|| self.type_error(&format!("`{key}` is required and must be a string")))
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, HostError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => {
                Err(self.type_error(&format!("`{key}` must be a string, not {}", kind(other))))
            }
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, HostError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.type_error(&format!("`{key}` must be a boolean, not {}", kind(other))))
            }
        }
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, HostError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => {
                Err(self.type_error(&format!("`{key}` must be a number, not {}", kind(other))))
            }
        }
    }

    fn opt_strings(&self, key: &str) -> Result<Option<Vec<String>>, HostError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        self.type_error(&format!("`{key}` must be a list of strings"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.type_error(&format!(
                "`{key}` must be a list of strings, not {}",
                kind(other)
            ))),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, HostError> {
        serde_json::from_value(self.value.clone()).map_err(|e| self.type_error(&e.to_string()))
    }

    /// `text` and/or `blocks` of a message.
    fn message_fields(&self) -> Result<Map<String, Value>, HostError> {
        let mut call = Map::new();
        let text = self.opt_str("text")?;
        let blocks = match self.value.get("blocks") {
            None | Some(Value::Null) => None,
            Some(Value::Array(b)) => Some(Value::Array(b.clone())),
            Some(_) => return Err(self.type_error("`blocks` must be a list of Block Kit blocks")),
        };
        if text.is_none() && blocks.is_none() {
            return Err(self.type_error("give the message `text` (a string) or `blocks`"));
        }
        if let Some(t) = text {
            call.insert("text".into(), t.into());
        }
        if let Some(b) = blocks {
            call.insert("blocks".into(), b);
        }
        Ok(call)
    }

    /// The changes of `ctx.conversation.update()`.
    fn patch(&self) -> Result<ConversationPatch, HostError> {
        let known = [
            "status",
            "priority",
            "ticketType",
            "assignee",
            "tags",
            "addTags",
            "removeTags",
        ];
        let Some(fields) = self.value.as_object() else {
            return Err(self.type_error("pass an object such as { priority: \"high\" }"));
        };
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(self.type_error(&format!(
                "unknown field `{unknown}`; fields: {}",
                known.join(", ")
            )));
        }
        let parse_enum = |key: &str, names: &[&str]| -> Result<Option<String>, HostError> {
            let value = self.opt_str(key)?;
            match value {
                Some(v) if !names.contains(&v.as_str()) => Err(self.type_error(&format!(
                    "`{key}` must be one of {}, not {v:?}",
                    names.join(", ")
                ))),
                other => Ok(other),
            }
        };
        let assignee = match self.value.get("assignee") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.is_empty() => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(other) => {
                return Err(self.type_error(&format!(
                    "`assignee` must be a user id or null, not {}",
                    kind(other)
                )));
            }
        };
        Ok(ConversationPatch {
            status: parse_enum("status", Status::NAMES)?.and_then(|s| s.parse().ok()),
            priority: parse_enum("priority", Priority::NAMES)?.and_then(|s| s.parse().ok()),
            ticket_type: self.opt_str("ticketType")?,
            assignee,
            tags: self.opt_strings("tags")?,
            add_tags: self.opt_strings("addTags")?.unwrap_or_default(),
            remove_tags: self.opt_strings("removeTags")?.unwrap_or_default(),
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
