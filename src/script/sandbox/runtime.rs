//! One script run in a fresh Boa context: install the host API (the prelude), evaluate
//! the module, call its default export with `ctx`, drive promises until the script is
//! done, and describe how it ended. Everything outside the context goes through a
//! [`Bridge`]: in a sandbox process, the pipe to switchboard.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use boa_engine::builtins::promise::Promise;
use boa_engine::builtins::promise::{OperationType, PromiseState};
use boa_engine::context::HostHooks;
use boa_engine::error::EngineError;
use boa_engine::job::JobExecutor;
use boa_engine::object::JsObject;
use boa_engine::object::builtins::JsPromise;
use boa_engine::{Context, JsError, JsResult, JsString, JsValue, Source, js_string};
use futures::channel::oneshot;
use serde_json::Value;

use super::executor::Executor;
use crate::script::protocol::{HostResult, RunRequest, ScriptOutcome};
use crate::script::transpile::ENTRY;

/// The name scripts' positions are reported against.
pub const SCRIPT_PATH: &str = "script.js";

/// The sandbox's way out: host calls and console output.
pub trait Bridge {
    /// Starts a host call; the receiver yields its result.
    fn call(&self, name: String, args: Value) -> oneshot::Receiver<HostResult>;
    /// Records a console line.
    fn log(&self, level: &str, message: &str);
}

struct BridgeSlot(Rc<dyn Bridge>);

/// Promises rejected while nobody was listening.
#[derive(Default)]
struct RejectionTracker {
    unhandled: RefCell<Vec<JsObject>>,
}

impl HostHooks for RejectionTracker {
    fn promise_rejection_tracker(
        &self,
        promise: &JsObject<Promise>,
        operation: OperationType,
        _context: &mut Context,
    ) {
        let promise = promise.clone().upcast();
        let mut unhandled = self.unhandled.borrow_mut();
        match operation {
            OperationType::Reject => unhandled.push(promise),
            OperationType::Handle => unhandled.retain(|p| !JsObject::equals(p, &promise)),
        }
    }
}

/// Runs `request` and says how it ended.
pub fn run(request: &RunRequest, bridge: Rc<dyn Bridge>) -> ScriptOutcome {
    let executor = Rc::new(Executor::default());
    let tracker = Rc::new(RejectionTracker::default());
    let mut context = match Context::builder()
        .job_executor(executor.clone())
        .host_hooks(tracker.clone())
        .build()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("could not create a script context: {e}")),
    };
    context
        .runtime_limits_mut()
        .set_recursion_limit(request.limits.recursion);
    // Scripts are classic scripts (see `transpile::Compiled`), strict like modules.
    context.strict(true);
    context.insert_data(BridgeSlot(bridge));
    match run_in(&mut context, &executor, &tracker, request) {
        Ok(outcome) => outcome,
        Err(e) => error_outcome(e, &mut context),
    }
}

fn run_in(
    context: &mut Context,
    executor: &Rc<Executor>,
    tracker: &RejectionTracker,
    request: &RunRequest,
) -> JsResult<ScriptOutcome> {
    let ctx = super::host_api::install(context, &request.context)?;

    let source = Source::from_bytes(request.js.as_bytes()).with_path(Path::new(SCRIPT_PATH));
    if let Err(e) = context.eval(source) {
        return Ok(error_outcome(e, context));
    }
    executor.clone().run_jobs(context)?;
    let entry = context
        .global_object()
        .get(JsString::from(ENTRY), context)?;
    let Some(entry) = entry.as_callable() else {
        return Ok(failed("the default export is not a function".into()));
    };
    let returned = match entry.call(&JsValue::undefined(), &[ctx.into()], context) {
        Ok(v) => v,
        Err(e) => return Ok(error_outcome(e, context)),
    };
    let promise = JsPromise::resolve(returned, context)?;
    executor.clone().run_jobs(context)?;

    let main: JsObject = promise.clone().into();
    let stray: Vec<JsObject> = tracker
        .unhandled
        .borrow()
        .iter()
        .filter(|p| !JsObject::equals(p, &main))
        .cloned()
        .collect();
    Ok(match promise.state() {
        PromiseState::Pending => failed(
            "the script's promise never settled: it awaited something that never resolves (a `new Promise` whose resolve is never called?)".into(),
        ),
        PromiseState::Rejected(e) => threw(&e, context),
        PromiseState::Fulfilled(value) => match stray.first() {
            Some(p) => unhandled(p, context),
            None => returned_value(&value, request.limits.max_output_bytes, context),
        },
    })
}

/// The bridge of the context's run.
pub(super) fn bridge(context: &Context) -> Rc<dyn Bridge> {
    context
        .get_data::<BridgeSlot>()
        .expect("every sandbox context has a bridge")
        .0
        .clone()
}

fn returned_value(value: &JsValue, max_bytes: usize, context: &mut Context) -> ScriptOutcome {
    let json = if value.is_undefined() {
        Ok(Some(Value::Null))
    } else {
        value.to_json(context)
    };
    match json {
        Ok(json) => {
            let json = json.unwrap_or(Value::Null);
            let size = serde_json::to_string(&json).map_or(0, |s| s.len());
            if size > max_bytes {
                failed(format!(
                    "the script returned {size} bytes of JSON; the limit is {max_bytes} bytes (store large data elsewhere and return a summary)"
                ))
            } else {
                ScriptOutcome::Returned { value: json }
            }
        }
        Err(e) => failed(format!(
            "the script's return value is not JSON: {}",
            plain(&e, context)
        )),
    }
}

fn unhandled(promise: &JsObject, context: &mut Context) -> ScriptOutcome {
    let reason = JsPromise::from_object(promise.clone())
        .ok()
        .and_then(|p| match p.state() {
            PromiseState::Rejected(e) => Some(e),
            _ => None,
        })
        .unwrap_or_default();
    match threw(&reason, context) {
        ScriptOutcome::Threw {
            name,
            message,
            js_line,
            ..
        } => ScriptOutcome::Threw {
            name: "UnhandledRejection".into(),
            message: format!(
                "a promise was rejected and nobody awaited it ({name}: {message}); await every call, or catch its error"
            ),
            js_line,
            retryable: false,
            retry_after_ms: None,
        },
        other => other,
    }
}

/// How an error raised by the engine (not by a rejected promise) ends the run.
fn error_outcome(error: JsError, context: &mut Context) -> ScriptOutcome {
    // Limits (recursion, stack) cannot be caught by scripts; say which one was hit.
    if let Some(engine) = error.as_engine() {
        return match engine {
            EngineError::RuntimeLimit(limit) => failed(format!(
                "the script hit an engine limit and was stopped: {limit}"
            )),
            other => failed(format!("the script engine failed: {other}")),
        };
    }
    match error.into_opaque(context) {
        Ok(value) => threw(&value, context),
        Err(e) => failed(e.to_string()),
    }
}

fn threw(value: &JsValue, context: &mut Context) -> ScriptOutcome {
    // Errors have a message or a stack; anything else thrown is reported as a value.
    let error_like = value.as_object().filter(|o| {
        o.has_property(js_string!("message"), context)
            .unwrap_or(false)
            || o.has_property(js_string!("stack"), context)
                .unwrap_or(false)
    });
    let Some(object) = error_like else {
        let shown = value
            .to_json(context)
            .ok()
            .flatten()
            .map_or_else(|| value.display().to_string(), |j| j.to_string());
        return ScriptOutcome::Threw {
            name: "Uncaught".into(),
            message: format!("the script threw a non-Error value: {shown}"),
            js_line: None,
            retryable: false,
            retry_after_ms: None,
        };
    };
    let mut text = |key: JsString| {
        object
            .get(key, context)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
            .and_then(|v| v.to_string(context).ok())
            .map(|s| s.to_std_string_escaped())
    };
    let name = text(js_string!("name")).unwrap_or_else(|| "Error".into());
    let message = text(js_string!("message")).unwrap_or_default();
    let stack = text(js_string!("stack")).unwrap_or_default();
    let retry_after_ms = object
        .get(js_string!("retryAfterSeconds"), context)
        .ok()
        .and_then(|v| v.as_number())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0) as u64);
    ScriptOutcome::Threw {
        retryable: name == "RetryableError",
        name,
        message,
        js_line: script_line(&stack),
        retry_after_ms,
    }
}

/// The first line of `script.js` named in a stack trace (`at f (script.js:12:5)`).
fn script_line(stack: &str) -> Option<u32> {
    stack.lines().find_map(|line| {
        let rest = &line[line.find(SCRIPT_PATH)? + SCRIPT_PATH.len()..];
        rest.strip_prefix(':')?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

fn plain(error: &JsError, context: &mut Context) -> String {
    error
        .try_native(context)
        .map(|n| n.message().to_owned())
        .unwrap_or_else(|_| error.to_string())
}

fn failed(message: String) -> ScriptOutcome {
    ScriptOutcome::Failed { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::protocol::EngineLimits;
    use crate::script::transpile::transpile;
    use serde_json::json;

    /// Answers host calls at once, in-process, and records what the script did.
    struct TestBridge {
        calls: RefCell<Vec<(String, Value)>>,
        logs: RefCell<Vec<(String, String)>>,
    }

    impl Bridge for TestBridge {
        fn call(&self, name: String, args: Value) -> oneshot::Receiver<HostResult> {
            let (tx, rx) = oneshot::channel();
            let result = match name.as_str() {
                "echo" | "slack.reply" => HostResult::ok(json!({ "echo": args })),
                "flaky" => HostResult::error("Error", "Slack is down", true),
                "refused" => HostResult::error("TypeError", "text must be a string", false),
                _ => HostResult::ok(json!({ "name": name })),
            };
            self.calls.borrow_mut().push((name, args));
            let _ = tx.send(result);
            rx
        }

        fn log(&self, level: &str, message: &str) {
            self.logs.borrow_mut().push((level.into(), message.into()));
        }
    }

    fn run_ts(
        ts: &str,
    ) -> (
        ScriptOutcome,
        Rc<TestBridge>,
        crate::script::transpile::Compiled,
    ) {
        let compiled = transpile(Path::new("t.ts"), ts).unwrap();
        let bridge = Rc::new(TestBridge {
            calls: RefCell::default(),
            logs: RefCell::default(),
        });
        let request = RunRequest {
            js: compiled.js.clone(),
            context: json!({ "conversation": { "id": 7, "priority": "medium" }, "trigger": { "kind": "reaction_added" } }).to_string(),
            limits: EngineLimits { recursion: 256, max_output_bytes: 10_000 },
        };
        (run(&request, bridge.clone()), bridge, compiled)
    }

    #[test]
    fn a_script_returns_a_value_and_uses_the_host() {
        let (outcome, bridge, _) = run_ts(
            "export default async function (ctx: any) {\n  console.log('hello', { a: 1 }, [2]);\n  const r = await slack.reply('hi ' + ctx.conversation.id);\n  return { got: r.echo.text, kind: ctx.trigger.kind };\n}\n",
        );
        assert_eq!(
            outcome,
            ScriptOutcome::Returned {
                value: json!({ "got": "hi 7", "kind": "reaction_added" })
            }
        );
        assert_eq!(
            bridge.calls.borrow()[0],
            ("slack.reply".to_owned(), json!({ "text": "hi 7" }))
        );
        assert_eq!(
            bridge.logs.borrow()[0],
            ("info".to_owned(), "hello {\"a\":1} [2]".to_owned())
        );
    }

    #[test]
    fn concurrent_host_calls_all_complete() {
        let (outcome, bridge, _) = run_ts(
            "export default async function () {\n  const all = await Promise.all([1, 2, 3].map((n) => slack.call('x.y', { n })));\n  return all.length;\n}\n",
        );
        assert_eq!(outcome, ScriptOutcome::Returned { value: json!(3) });
        assert_eq!(bridge.calls.borrow().len(), 3);
    }

    #[test]
    fn conversation_update_changes_the_local_copy() {
        let (outcome, bridge, _) = run_ts(
            "export default async function (ctx: any) {\n  await ctx.conversation.update({ priority: 'high' });\n  return Object.keys(ctx.conversation);\n}\n",
        );
        assert_eq!(bridge.calls.borrow()[0].0, "conversation.update");
        // The fake host answers with {name}, merged into the conversation; update stays hidden.
        assert_eq!(
            outcome,
            ScriptOutcome::Returned {
                value: json!(["id", "priority", "name"])
            }
        );
    }

    #[test]
    fn endings_table() {
        let cases: Vec<(&str, &str)> = vec![
            (
                "export default async function () {\n\n  throw new TypeError('bad input');\n}\n",
                "Threw TypeError bad input line 3",
            ),
            (
                "export default function () {\n  throw new Error('sync');\n}\n",
                "Threw Error sync line 2",
            ),
            (
                "export default async function () {\n  throw 'a string';\n}\n",
                "Threw Uncaught non-Error",
            ),
            (
                "export default async function () {\n  throw new RetryableError('later', { retryAfterSeconds: 5 });\n}\n",
                "Retry 5000",
            ),
            (
                "export default async function () {\n  return await new Promise(() => {});\n}\n",
                "Failed never settled",
            ),
            (
                "export default async function () {\n  Promise.reject(new Error('lost'));\n  return 1;\n}\n",
                "Threw UnhandledRejection lost",
            ),
            (
                "export default async function () {\n  const f = (n: number): number => f(n + 1);\n  return f(0);\n}\n",
                "Failed engine limit recursive calls",
            ),
            (
                "export default async function () {\n  return 'x'.repeat(20000);\n}\n",
                "Failed limit is 10000",
            ),
            (
                "export default async function () {\n  return { f: 1n };\n}\n",
                "Failed not JSON",
            ),
            (
                "export default async function () {\n  return undefined;\n}\n",
                "Returned null",
            ),
            (
                "export default async function () {\n  try { await (globalThis as any).flaky(); } catch (e) { return String(e); }\n}\n",
                "Returned TypeError",
            ),
        ];
        for (ts, want) in cases {
            let (outcome, _, compiled) = run_ts(ts);
            let got = match &outcome {
                ScriptOutcome::Returned { value } => format!("Returned {value}"),
                ScriptOutcome::Threw {
                    name,
                    message,
                    js_line,
                    retryable: false,
                    ..
                } => format!(
                    "Threw {name} {message} line {}",
                    js_line
                        .and_then(|l| compiled.ts_line(l))
                        .map_or("?".into(), |l| l.to_string())
                ),
                ScriptOutcome::Threw {
                    retryable: true,
                    retry_after_ms,
                    ..
                } => format!("Retry {}", retry_after_ms.unwrap_or(0)),
                ScriptOutcome::Failed { message } => format!("Failed {message}"),
            };
            let words: Vec<&str> = want.split(' ').collect();
            assert!(
                words.iter().all(|w| got.contains(w)),
                "{ts}\nwant {want:?}\ngot {got:?}"
            );
        }
    }

    #[test]
    fn host_failures_become_errors_the_script_can_catch() {
        let (outcome, _, _) = run_ts(
            "export default async function () {\n  const seen: string[] = [];\n  try { await slack.call('x', {}); } catch (e) { seen.push('no'); }\n  return seen;\n}\n",
        );
        assert_eq!(outcome, ScriptOutcome::Returned { value: json!([]) });
    }

    #[test]
    fn the_natives_are_out_of_reach() {
        let (outcome, _, _) = run_ts(
            "export default async function () {\n  const g = globalThis as any;\n  return [typeof g.host, typeof g.log, typeof g.process, typeof g.require, typeof g.fetch, Object.isFrozen(g.slack)];\n}\n",
        );
        assert_eq!(
            outcome,
            ScriptOutcome::Returned {
                value: json!([
                    "undefined",
                    "undefined",
                    "undefined",
                    "undefined",
                    "undefined",
                    true
                ])
            }
        );
    }

    #[test]
    fn stack_lines_name_the_script_line_() {
        assert_eq!(
            script_line("    at f (script.js:12:5)\n    at <main> (script.js:1:1)\n"),
            Some(12)
        );
        assert_eq!(script_line("    at native\n"), None);
    }
}
