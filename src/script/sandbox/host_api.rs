//! The host API as scripts see it (declared for editors in `switchboard.d.ts`), built
//! natively into every fresh context. Boa parses JavaScript slowly (a 150-line prelude
//! cost 0.7 ms per run), so only `RetryableError` is JavaScript; the rest are native
//! functions that forward to switchboard through the [`Bridge`].
//!
//! Each host method turns its arguments into one JSON object (positional parameters by
//! name, merged over a trailing options object) and returns a promise of switchboard's
//! answer: a value, or an `Error` / `TypeError` / `RetryableError` to reject with.

use std::cell::RefCell;

use boa_engine::object::builtins::JsPromise;
use boa_engine::object::{IntegrityLevel, ObjectInitializer};
use boa_engine::property::Attribute;
use boa_engine::{
    Context, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, Source,
    job::NativeAsyncJob, js_string,
};
use serde_json::{Map, Value};

use super::runtime::bridge;
use crate::script::protocol::HostResult;

const RETRYABLE_ERROR: &str = "(class RetryableError extends Error { constructor(message, options) { super(message); this.name = 'RetryableError'; this.retryAfterSeconds = options && options.retryAfterSeconds; } })";

/// How a method's arguments become the call's JSON, and its answer a value.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Positional parameters by name, over a trailing options object.
    Named,
    /// The first argument is the whole argument object.
    Whole,
    /// Like `Named`; the answer becomes a fetch `Response`.
    Fetch,
    /// Like `Whole`; the answer is merged into `this` (the conversation).
    Update,
}

#[derive(Debug, Clone, Copy)]
struct Method {
    /// JavaScript name.
    name: &'static str,
    /// Host function name.
    host: &'static str,
    params: &'static [&'static str],
    shape: Shape,
}

const fn m(name: &'static str, host: &'static str, params: &'static [&'static str]) -> Method {
    Method {
        name,
        host,
        params,
        shape: Shape::Named,
    }
}

const SLACK: &[Method] = &[
    m("reply", "slack.reply", &["text"]),
    m("postMessage", "slack.postMessage", &["channel", "text"]),
    m("dm", "slack.dm", &["user", "text"]),
    m("react", "slack.react", &["emoji"]),
    m("usersInfo", "slack.usersInfo", &["user"]),
    m("lookupUserByEmail", "slack.lookupUserByEmail", &["email"]),
    m("call", "slack.call", &["method", "args"]),
];
const HTTP: &[Method] = &[Method {
    name: "fetch",
    host: "http.fetch",
    params: &["url", "init"],
    shape: Shape::Fetch,
}];
const JIRA: &[Method] = &[Method {
    name: "createIssue",
    host: "jira.createIssue",
    params: &[],
    shape: Shape::Whole,
}];
const OKTA: &[Method] = &[
    m("getUser", "okta.getUser", &["user"]),
    m("resetPassword", "okta.resetPassword", &["user"]),
];
const GOOGLE_GROUPS: &[Method] = &[m(
    "addMember",
    "google.groups.addMember",
    &["group", "email"],
)];
const SECRETS: &[Method] = &[m("get", "secrets.get", &["name"])];
const KV: &[Method] = &[
    m("get", "kv.get", &["key"]),
    m("set", "kv.set", &["key", "value"]),
    m("delete", "kv.delete", &["key"]),
    m("list", "kv.list", &["prefix"]),
    m("increment", "kv.increment", &["key", "by"]),
    m(
        "compareAndSet",
        "kv.compareAndSet",
        &["key", "expected", "next"],
    ),
];
const APPROVALS: &[Method] = &[Method {
    name: "request",
    host: "approvals.request",
    params: &[],
    shape: Shape::Whole,
}];
const SLEEP: Method = m("sleep", "sleep", &["ms"]);
const WAIT_FOR: Method = Method {
    name: "waitFor",
    host: "waitFor",
    params: &[],
    shape: Shape::Whole,
};
const UPDATE: Method = Method {
    name: "update",
    host: "conversation.update",
    params: &[],
    shape: Shape::Update,
};

/// Every host function the installed API calls, for the test that checks the host
/// implements exactly these.
pub fn host_functions() -> Vec<&'static str> {
    [
        SLACK,
        HTTP,
        JIRA,
        OKTA,
        GOOGLE_GROUPS,
        SECRETS,
        KV,
        APPROVALS,
        &[SLEEP, WAIT_FOR, UPDATE],
    ]
    .concat()
    .iter()
    .map(|m| m.host)
    .collect()
}

/// The constructor of `RetryableError`, kept for rejecting with it.
struct RetryableClass(JsObject);

/// Installs the globals and returns the `ctx` object built from `context_json`.
pub fn install(context: &mut Context, context_json: &str) -> JsResult<JsObject> {
    let retryable = context
        .eval(Source::from_bytes(RETRYABLE_ERROR))?
        .as_object()
        .ok_or_else(|| JsNativeError::error().with_message("RetryableError is not a class"))?;
    freeze(&retryable, context)?;
    context.insert_data(RetryableClass(retryable.clone()));

    let console = {
        let mut o = ObjectInitializer::new(context);
        for level in ["log", "info", "debug", "warn", "error"] {
            o.function(console_method(level), JsString::from(level), 0);
        }
        o.build()
    };
    let slack = methods(context, SLACK)?;
    let http = methods(context, HTTP)?;
    let jira = methods(context, JIRA)?;
    let okta = methods(context, OKTA)?;
    let groups = methods(context, GOOGLE_GROUPS)?;
    let google = ObjectInitializer::new(context)
        .property(
            js_string!("groups"),
            groups,
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .build();
    let secrets = methods(context, SECRETS)?;
    let kv = kv_object(context, None);
    let approvals = methods(context, APPROVALS)?;
    let sleep = method_function(context, SLEEP);
    let wait_for = method_function(context, WAIT_FOR);
    let globals: [(&str, JsValue); 12] = [
        ("console", console.into()),
        ("slack", slack.into()),
        ("http", http.into()),
        ("jira", jira.into()),
        ("okta", okta.into()),
        ("google", google.into()),
        ("secrets", secrets.into()),
        ("kv", kv.into()),
        ("approvals", approvals.into()),
        ("sleep", sleep),
        ("waitFor", wait_for),
        ("RetryableError", retryable.into()),
    ];
    for (name, value) in globals {
        if let Some(object) = value.as_object() {
            freeze(&object, context)?;
        }
        context.register_global_property(
            JsString::from(name),
            value,
            Attribute::PERMANENT | Attribute::READONLY,
        )?;
    }

    let json: Value = serde_json::from_str(context_json)
        .map_err(|e| JsNativeError::typ().with_message(format!("bad ctx: {e}")))?;
    let ctx = JsValue::from_json(&json, context)?
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("ctx is not an object"))?;
    let conversation = ctx.get(js_string!("conversation"), context)?;
    if let Some(conversation) = conversation.as_object() {
        let update = method_function(context, UPDATE);
        conversation.define_property_or_throw(
            js_string!("update"),
            boa_engine::property::PropertyDescriptor::builder()
                .value(update)
                .writable(false)
                .enumerable(false)
                .configurable(false),
            context,
        )?;
    }
    Ok(ctx)
}

fn freeze(object: &JsObject, context: &mut Context) -> JsResult<()> {
    object.set_integrity_level(IntegrityLevel::Frozen, context)?;
    Ok(())
}

fn methods(context: &mut Context, list: &[Method]) -> JsResult<JsObject> {
    let mut o = ObjectInitializer::new(context);
    for method in list {
        let f = NativeFunction::from_copy_closure({
            let method = *method;
            move |this, args, context| call(method, this, args, None, context)
        });
        o.function(f, JsString::from(method.name), method.params.len());
    }
    Ok(o.build())
}

/// The `kv` object: the automation's own namespace, or (with `shared`) a shared one;
/// `kv.shared(name)` makes the latter.
fn kv_object(context: &mut Context, shared: Option<JsString>) -> JsObject {
    let mut o = ObjectInitializer::new(context);
    for method in KV {
        let method = *method;
        let f = match &shared {
            None => NativeFunction::from_copy_closure(move |this, args, context| {
                call(method, this, args, None, context)
            }),
            Some(name) => NativeFunction::from_copy_closure_with_captures(
                move |this, args, name: &JsString, context| {
                    call(method, this, args, Some(name), context)
                },
                name.clone(),
            ),
        };
        o.function(f, JsString::from(method.name), method.params.len());
    }
    if shared.is_none() {
        o.function(
            NativeFunction::from_copy_closure(|_, args, context| {
                let name = args
                    .first()
                    .cloned()
                    .unwrap_or_default()
                    .to_string(context)?;
                let shared = kv_object(context, Some(name));
                freeze(&shared, context)?;
                Ok(shared.into())
            }),
            js_string!("shared"),
            1,
        );
    }
    o.build()
}

fn method_function(context: &mut Context, method: Method) -> JsValue {
    let f = NativeFunction::from_copy_closure(move |this, args, context| {
        call(method, this, args, None, context)
    });
    boa_engine::object::FunctionObjectBuilder::new(context.realm(), f)
        .name(JsString::from(method.name))
        .length(method.params.len())
        .build()
        .into()
}

/// Calls host function `method` and returns a promise of its answer; `shared` names the
/// shared key-value namespace of a `kv.shared(…)` object.
fn call(
    method: Method,
    this: &JsValue,
    args: &[JsValue],
    shared: Option<&JsString>,
    context: &mut Context,
) -> JsResult<JsValue> {
    let (promise, resolvers) = JsPromise::new_pending(context);
    let json = match arguments(method, args, context) {
        Ok(mut json) => {
            if let (Some(name), Some(map)) = (shared, json.as_object_mut()) {
                map.insert("shared".into(), Value::String(name.to_std_string_escaped()));
            }
            json
        }
        Err(message) => {
            let error = JsNativeError::typ().with_message(format!("{}: {message}", method.host));
            let error = JsError::from(error).into_opaque(context)?;
            resolvers
                .reject
                .call(&JsValue::undefined(), &[error], context)?;
            return Ok(promise.into());
        }
    };
    let receiver = bridge(context).call(method.host.to_owned(), json);
    let this = this.clone();
    context.enqueue_job(
        NativeAsyncJob::new(async move |context: &RefCell<&mut Context>| {
            let result = receiver.await.unwrap_or_else(|_| {
                HostResult::error("Error", "switchboard did not answer the call", false)
            });
            let context = &mut context.borrow_mut();
            match answer(method, &this, result, context) {
                Ok(value) => resolvers
                    .resolve
                    .call(&JsValue::undefined(), &[value], context),
                Err(error) => {
                    let error = error.into_opaque(context)?;
                    resolvers
                        .reject
                        .call(&JsValue::undefined(), &[error], context)
                }
            }
        })
        .into(),
    );
    Ok(promise.into())
}

/// The call's JSON arguments, or why they cannot be sent.
fn arguments(method: Method, args: &[JsValue], context: &mut Context) -> Result<Value, String> {
    let to_json = |v: &JsValue, context: &mut Context| -> Result<Value, String> {
        if v.is_undefined() {
            return Ok(Value::Null);
        }
        v.to_json(context)
            .map(Option::unwrap_or_default)
            .map_err(|e| format!("arguments cannot be sent to switchboard: {e}"))
    };
    match method.shape {
        Shape::Whole | Shape::Update => {
            to_json(args.first().unwrap_or(&JsValue::undefined()), context)
        }
        Shape::Named | Shape::Fetch => {
            let mut map = match args
                .get(method.params.len())
                .map(|o| to_json(o, context))
                .transpose()?
            {
                Some(Value::Object(options)) => options,
                Some(Value::Null) | None => Map::new(),
                Some(_) => return Err("the options argument must be an object".into()),
            };
            for (i, name) in method.params.iter().enumerate() {
                let value = to_json(args.get(i).unwrap_or(&JsValue::undefined()), context)?;
                if !value.is_null() {
                    map.insert((*name).to_owned(), value);
                }
            }
            Ok(Value::Object(map))
        }
    }
}

/// Turns switchboard's answer into the promise's value, or the error to reject with.
fn answer(
    method: Method,
    this: &JsValue,
    result: HostResult,
    context: &mut Context,
) -> JsResult<JsValue> {
    if !result.ok {
        return Err(host_error(&result, context));
    }
    match method.shape {
        Shape::Named | Shape::Whole => JsValue::from_json(&result.value, context),
        Shape::Fetch => response(&result.value, context),
        Shape::Update => {
            let updated = JsValue::from_json(&result.value, context)?;
            match (this.as_object(), updated.as_object()) {
                (Some(conversation), Some(updated)) => {
                    for key in updated.own_property_keys(context)? {
                        let value = updated.get(key.clone(), context)?;
                        conversation.set(key, value, true, context)?;
                    }
                    Ok(conversation.into())
                }
                _ => Ok(updated),
            }
        }
    }
}

fn host_error(result: &HostResult, context: &mut Context) -> JsError {
    if result.retryable
        && let Some(class) = context.get_data::<RetryableClass>().map(|c| c.0.clone())
        && let Ok(error) = class.construct(
            &[JsString::from(result.message.as_str()).into()],
            None,
            context,
        )
    {
        return JsError::from_opaque(error.into());
    }
    let native = if result.name == "TypeError" {
        JsNativeError::typ()
    } else {
        JsNativeError::error()
    };
    native.with_message(result.message.clone()).into()
}

/// A fetch `Response` from the host's answer.
fn response(value: &Value, context: &mut Context) -> JsResult<JsValue> {
    let text =
        |key: &str| JsString::from(value.get(key).and_then(Value::as_str).unwrap_or_default());
    let status = value.get("status").and_then(Value::as_u64).unwrap_or(0);
    let mut headers = Map::new();
    if let Some(Value::Object(h)) = value.get("headers") {
        for (k, v) in h {
            headers.insert(k.to_ascii_lowercase(), v.clone());
        }
    }
    let headers_value = JsValue::from_json(&Value::Object(headers), context)?
        .as_object()
        .expect("an object is an object");
    let headers = ObjectInitializer::with_native_data((), context)
        .function(
            NativeFunction::from_copy_closure_with_captures(
                |_, args, headers: &JsObject, context| {
                    let v = headers.get(header_name(args, context)?, context)?;
                    Ok(if v.is_undefined() { JsValue::null() } else { v })
                },
                headers_value.clone(),
            ),
            js_string!("get"),
            1,
        )
        .function(
            NativeFunction::from_copy_closure_with_captures(
                |_, args, headers: &JsObject, context| {
                    Ok(headers
                        .has_own_property(header_name(args, context)?, context)?
                        .into())
                },
                headers_value.clone(),
            ),
            js_string!("has"),
            1,
        )
        .function(
            NativeFunction::from_copy_closure_with_captures(
                |_, _, headers: &JsObject, context| {
                    let json = JsValue::from(headers.clone())
                        .to_json(context)?
                        .unwrap_or_default();
                    let entries: Vec<Value> = json
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| Value::Array(vec![k.clone().into(), v.clone()]))
                                .collect()
                        })
                        .unwrap_or_default();
                    JsValue::from_json(&Value::Array(entries), context)
                },
                headers_value,
            ),
            js_string!("entries"),
            0,
        )
        .build();
    let body = text("body");
    let r = ObjectInitializer::new(context)
        .property(
            js_string!("status"),
            status as f64,
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .property(
            js_string!("statusText"),
            text("statusText"),
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .property(
            js_string!("ok"),
            (200..300).contains(&status),
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .property(
            js_string!("url"),
            text("url"),
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .property(
            js_string!("redirected"),
            value
                .get("redirected")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .property(
            js_string!("headers"),
            headers,
            Attribute::READONLY | Attribute::ENUMERABLE,
        )
        .function(
            NativeFunction::from_copy_closure_with_captures(
                |_, _, body: &JsString, context| {
                    Ok(JsPromise::resolve(body.clone(), context)?.into())
                },
                body.clone(),
            ),
            js_string!("text"),
            0,
        )
        .function(
            NativeFunction::from_copy_closure_with_captures(
                |_, _, body: &JsString, context| {
                    let parsed = serde_json::from_str::<Value>(&body.to_std_string_escaped())
                        .map_err(|e| {
                            JsNativeError::syntax()
                                .with_message(format!("the response is not JSON: {e}"))
                        })
                        .and_then(|json| {
                            JsValue::from_json(&json, context)
                                .map_err(|e| JsNativeError::error().with_message(e.to_string()))
                        });
                    Ok(match parsed {
                        Ok(value) => JsPromise::resolve(value, context)?,
                        Err(e) => JsPromise::reject(JsError::from(e), context)?,
                    }
                    .into())
                },
                body,
            ),
            js_string!("json"),
            0,
        )
        .build();
    freeze(&r, context)?;
    Ok(r.into())
}

fn console_method(level: &'static str) -> NativeFunction {
    NativeFunction::from_copy_closure(move |_, args, context| {
        let mut line = String::new();
        for (i, value) in args.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&show(value, context));
        }
        let level = if level == "log" { "info" } else { level };
        bridge(context).log(level, &line);
        Ok(JsValue::undefined())
    })
}

/// How console output prints a value: strings as they are, errors as `name: message`,
/// the rest as JSON where possible.
fn show(value: &JsValue, context: &mut Context) -> String {
    if let Some(s) = value.as_string() {
        return s.to_std_string_escaped();
    }
    if let Some(object) = value.as_object()
        && object
            .has_property(js_string!("stack"), context)
            .unwrap_or(false)
    {
        let mut get = |key: JsString| {
            object
                .get(key, context)
                .ok()
                .and_then(|v| v.to_string(context).ok())
                .map(|s| s.to_std_string_escaped())
                .unwrap_or_default()
        };
        return format!(
            "{}: {}",
            get(js_string!("name")),
            get(js_string!("message"))
        );
    }
    if value.is_undefined() {
        return "undefined".into();
    }
    match value.to_json(context) {
        Ok(Some(json)) => json.to_string(),
        _ => value.display().to_string(),
    }
}

/// The header name a script asked for, in lower case as the headers are stored.
fn header_name(args: &[JsValue], context: &mut Context) -> JsResult<JsString> {
    let name = args
        .first()
        .cloned()
        .unwrap_or_default()
        .to_string(context)?;
    Ok(JsString::from(
        name.to_std_string_escaped().to_ascii_lowercase(),
    ))
}
