//! Scripts: the TypeScript → JavaScript transpiler, and both sides of the sandbox
//! protocol — what switchboard reads from a sandbox process (through a fake sandbox
//! that says exactly the mutated lines), and what a sandbox reads from switchboard
//! (decoded as the sandbox decodes it, then run in Boa as the sandbox runs it).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use switchboard::script::context::{ContextParts, RunInfo, script_context};
use switchboard::script::pool::{HostHandler, RunEnd, SandboxConfig, SandboxPool};
use switchboard::script::protocol::{FromSandbox, HostResult, ScriptOutcome, ToSandbox};
use switchboard::script::sandbox::runtime::{self, Bridge};
use switchboard::script::transpile::{ENTRY, secret_reads, transpile};

use crate::harness::{Target, Verdict, ensure};
use crate::{mutate, samples};

#[test]
fn typescript() {
    let scripts: Vec<String> = samples::scripts().into_values().collect();
    for script in &scripts {
        transpile(Path::new("sample.ts"), script).expect("the samples transpile");
    }
    Target::new("typescript").run(mutate::texts(scripts, &mutate::TYPESCRIPT), || {
        |bytes: &[u8]| {
            let source = String::from_utf8_lossy(bytes);
            for (offset, name) in secret_reads(&source) {
                ensure!(
                    offset <= source.len(),
                    "the secret read {name:?} is past the end, at {offset}"
                );
            }
            match transpile(Path::new("script.ts"), &source) {
                Err(errors) => {
                    ensure!(!errors.is_empty(), "refused without an error");
                    for e in &errors {
                        ensure!(e.offset <= source.len(), "{e:?} points past the end");
                        ensure!(
                            !e.message.is_empty(),
                            "an error without a message at {}",
                            e.offset
                        );
                        ensure!(
                            !e.message.contains("transpiler failed"),
                            "the transpiler panicked: {}",
                            e.message
                        );
                    }
                    Ok(())
                }
                Ok(compiled) => {
                    ensure!(
                        compiled.js.contains(&format!("var {ENTRY} = ")),
                        "no entry point in {}",
                        compiled.js
                    );
                    ensure!(
                        compiled.line_map.len() == compiled.js.lines().count() + 1,
                        "the line map is out of step"
                    );
                    let ts_lines = source.lines().count() as u32 + 1;
                    ensure!(
                        compiled.line_map.iter().all(|l| *l <= ts_lines),
                        "the line map points past the file"
                    );
                    parses_as_a_script(&compiled.js)
                }
            }
        }
    });
}

/// That the generated JavaScript is a classic script without syntax errors. (Parsed
/// on a stack as large as the transpiler's own: the worker keeps a runtime worker's,
/// to check that the transpiler does not need more.)
fn parses_as_a_script(js: &str) -> Verdict {
    let parse = || {
        let allocator = oxc::allocator::Allocator::default();
        let parsed =
            oxc::parser::Parser::new(&allocator, js, oxc::span::SourceType::script()).parse();
        let errors: Vec<String> = parsed.diagnostics.errors().map(|e| e.to_string()).collect();
        (errors, parsed.panicked)
    };
    let (errors, panicked) = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(256 * 1024 * 1024)
            .spawn_scoped(scope, parse)
            .expect("a thread")
            .join()
            .expect("the parser returns")
    });
    ensure!(
        errors.is_empty() && !panicked,
        "the JavaScript does not parse: {errors:?}\n{js}"
    );
    Ok(())
}

/// Lines, one JSON message each.
fn lines(view: &Value) -> Vec<u8> {
    let messages = match view {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut out = Vec::new();
    for message in messages {
        // A run's `context` is JSON text: mutated as JSON, sent as text.
        let message = match message {
            Value::Object(mut m) if m.get("context").is_some_and(|c| !c.is_string()) => {
                let context = m["context"].to_string();
                m.insert("context".into(), Value::String(context));
                Value::Object(m)
            }
            other => other,
        };
        out.extend(mutate::json(&message));
        out.push(b'\n');
    }
    out
}

/// Answers every host call with its arguments.
struct Echo;

impl HostHandler for Echo {
    fn call<'a>(&'a self, _name: &'a str, args: Value) -> BoxFuture<'a, HostResult> {
        Box::pin(async move { HostResult::ok(args) })
    }
}

const MAX_HOST_CALLS: u32 = 8;
const MAX_LOG_BYTES: usize = 2000;

#[test]
fn sandbox_messages_from() {
    let done = |outcome: Value| {
        let mut m = outcome.as_object().cloned().unwrap_or_default();
        m.insert("type".into(), "done".into());
        Value::Object(m)
    };
    let samples = vec![
        json!([
            { "type": "log", "level": "info", "message": "looking the requester up" },
            done(json!({ "outcome": "returned", "value": { "ok": true, "ticket": "IT-42" } })),
        ]),
        json!([
            { "type": "call", "call": 0, "name": "slack.reply", "args": { "text": "on it" } },
            { "type": "log", "level": "warn", "message": "slow" },
            done(json!({ "outcome": "threw", "name": "RetryableError", "message": "Okta is down", "js_line": 12, "retryable": true, "retry_after_ms": 60000 })),
        ]),
        json!([done(
            json!({ "outcome": "failed", "message": "the script hit an engine limit and was stopped: recursion" })
        )]),
        json!([{ "type": "ready" }, done(json!({ "outcome": "returned", "value": null }))]),
    ];
    Target::new("sandbox_messages_from").run(mutate::documents(samples, lines, &mutate::JSON), || {
        let dir = tempfile::tempdir().expect("a directory");
        let said = dir.path().join("said");
        let binary = fake_sandbox(dir.path(), &said);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        move |input: &[u8]| {
            let _dir = &dir;
            std::fs::write(&said, input).map_err(|e| format!("cannot write the sandbox's lines: {e}"))?;
            let pool = SandboxPool::new(SandboxConfig {
                binary: binary.clone(),
                processes: 1,
                timeout: Duration::from_secs(1),
                memory_bytes: 64 * 1024 * 1024,
                max_host_calls: MAX_HOST_CALLS,
                max_log_bytes: MAX_LOG_BYTES,
                max_output_bytes: 65536,
                recursion: 256,
            });
            let report = runtime.block_on(pool.run("var __switchboard_entry = () => 1;", "{}".into(), &Echo));
            let (expected, exact) = read_as_switchboard_does(input);
            let matches = match (&report.end, &expected) {
                (RunEnd::Finished(got), Expected::Finished(want)) => got == want,
                (RunEnd::Stopped(why), Expected::Stopped(part)) => why.contains(part),
                _ => false,
            };
            // After a call, the answer races the lines that follow: the fake sandbox
            // exits without reading it, or, when it is larger than the pipe holds, never
            // takes it, and the run ends at its time limit.
            let raced = !exact
                && matches!(&report.end, RunEnd::Stopped(why)
                    if why.contains("could not answer a host call") || why.contains("ran longer than"));
            ensure!(matches || raced, "the run ended {:?}, where {expected:?} was due", report.end);
            if let RunEnd::Stopped(why) = &report.end {
                ensure!(!why.trim().is_empty(), "stopped without a reason");
            }
            Ok(())
        }
    });
}

/// How a run must end, read off the lines a sandbox said.
#[derive(Debug)]
enum Expected {
    Finished(ScriptOutcome),
    /// Stopped, with this in the reason.
    Stopped(&'static str),
}

/// The end a sandbox's `lines` call for, and whether it is certain: after a host call,
/// the answer to it may also find the sandbox gone.
fn read_as_switchboard_does(lines: &[u8]) -> (Expected, bool) {
    let (mut calls, mut log_bytes) = (0, 0);
    for line in lines.split_inclusive(|b| *b == b'\n') {
        if line.last() != Some(&b'\n') {
            break;
        }
        let exact = calls == 0;
        match serde_json::from_slice::<FromSandbox>(line) {
            Err(_) => return (Expected::Stopped("unreadable message"), exact),
            Ok(FromSandbox::Done(outcome)) => return (Expected::Finished(outcome), exact),
            Ok(FromSandbox::Call { .. }) => {
                calls += 1;
                if calls > MAX_HOST_CALLS {
                    return (Expected::Stopped("host calls"), exact);
                }
            }
            Ok(FromSandbox::Log { message, .. }) => {
                log_bytes += message.len();
                if log_bytes > MAX_LOG_BYTES {
                    return (Expected::Stopped("logged more than"), exact);
                }
            }
            Ok(FromSandbox::Ready) => {}
        }
    }
    (Expected::Stopped("the sandbox process exited"), calls == 0)
}

/// A stand-in for `switchboard sandbox`: says it is ready, takes the run, then says
/// the lines in `said`.
fn fake_sandbox(dir: &Path, said: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-sandbox");
    let script = format!(
        "#!/bin/sh\necho '{{\"type\":\"ready\"}}'\nread -r run\nexec cat '{}'\n",
        said.display()
    );
    std::fs::write(&path, script).expect("the fake sandbox is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("it is executable");
    path
}

/// The shipped scripts and one that reads every kind of answer, transpiled.
fn compiled_scripts() -> Vec<String> {
    const READS_ANSWERS: &str = r#"export default async function (ctx: any) {
  const r = await http.fetch("https://status.example.com/api", { headers: { accept: "application/json" } });
  const body = await r.text();
  let parsed: unknown = null;
  try { parsed = await r.json(); } catch (e) { console.warn(`not JSON: ${(e as Error).message}`); }
  const who = await slack.usersInfo(ctx.trigger?.actor ?? "U1");
  const n = await kv.increment("seen", 1);
  await slack.reply(`hi ${ctx.conversation?.title} (${n})`);
  return { status: r.status, ok: r.ok, type: r.headers.get("content-type"), entries: r.headers.entries(), length: body.length, parsed, who };
}
"#;
    samples::scripts()
        .into_values()
        .chain([READS_ANSWERS.to_owned()])
        .map(|ts| {
            transpile(Path::new("script.ts"), &ts)
                .expect("the scripts transpile")
                .js
        })
        .collect()
}

#[test]
fn sandbox_messages_to() {
    let scripts = compiled_scripts();
    let (trigger, conversation) = crate::automations::contexts().remove(0);
    let context = script_context(ContextParts {
        trigger: &trigger,
        conversation: Some(&conversation),
        workspace: None,
        run: RunInfo {
            id: 7,
            automation: "escalate",
            version: 3,
            attempt: 1,
            step: 0,
        },
        inputs: &Map::new(),
        steps: &[json!({ "ok": true })],
    });
    let answers = [
        json!({ "ok": true, "value": { "ts": "1700000000.000100", "channel": "C0SUPPORT1" } }),
        json!({ "ok": true, "value": { "status": 200, "statusText": "OK", "headers": { "Content-Type": "application/json" },
                                       "body": "{\"status\":{\"indicator\":\"none\",\"description\":\"All good\"},\"page\":{\"url\":\"https://status.example.com\"}}" } }),
        json!({ "ok": true, "value": { "id": "U2147483697", "profile": { "email": "ada@example.com" } } }),
        json!({ "ok": false, "message": "Okta is down", "name": "Error", "retryable": true }),
        json!({ "ok": false, "message": "text must be a string", "name": "TypeError" }),
        json!({ "ok": true, "value": 3 }),
    ];
    let samples: Vec<Value> = scripts
        .iter()
        .map(|js| {
            let mut messages = vec![json!({ "type": "run", "js": js, "context": context, "limits": { "recursion": 256, "max_output_bytes": 65536 } })];
            messages.extend(answers.iter().enumerate().map(|(call, result)| json!({ "type": "reply", "call": call, "result": result })));
            Value::Array(messages)
        })
        .collect();
    let inputs = mutate::documents(samples, lines, &mutate::JSON);
    Target::new("sandbox_messages_to")
        .stack_mb(64)
        .run(inputs, move || {
            move |input: &[u8]| run_as_the_sandbox_does(input, &scripts)
        });
}

/// Decodes `input`'s lines as a sandbox reads them and runs the first `Run` with the
/// replies that follow. A mutated `js` is put back to a shipped script: arbitrary
/// JavaScript may loop forever, which is the pool's time limit's business.
fn run_as_the_sandbox_does(input: &[u8], scripts: &[String]) -> Verdict {
    let mut request = None;
    let mut replies: HashMap<u64, HostResult> = HashMap::new();
    for line in input.split_inclusive(|b| *b == b'\n') {
        match serde_json::from_slice::<ToSandbox>(line) {
            // The sandbox says why on stderr and exits.
            Err(e) => {
                ensure!(
                    !e.to_string().is_empty(),
                    "an unreadable message without a reason"
                );
                break;
            }
            Ok(ToSandbox::Run(run)) if request.is_none() => request = Some(run),
            Ok(ToSandbox::Run(_)) => {}
            Ok(ToSandbox::Reply { call, result }) => {
                replies.entry(call).or_insert(result);
            }
        }
    }
    let Some(mut request) = request else {
        return Ok(());
    };
    if !scripts.contains(&request.js) {
        request.js = scripts[0].clone();
    }
    let bridge = Rc::new(Replies {
        replies: RefCell::new(replies),
        next: RefCell::new(0),
    });
    let outcome = runtime::run(&request, bridge);
    let line = serde_json::to_vec(&FromSandbox::Done(outcome.clone()))
        .map_err(|e| format!("the outcome cannot be sent to switchboard: {e}: {outcome:?}"))?;
    let back: FromSandbox = serde_json::from_slice(&line)
        .map_err(|e| format!("the outcome does not read back: {e}"))?;
    ensure!(
        matches!(back, FromSandbox::Done(o) if o == outcome),
        "the outcome reads back as something else"
    );
    match &outcome {
        ScriptOutcome::Returned { value } => {
            let size = serde_json::to_string(value).map_or(0, |s| s.len());
            ensure!(
                size <= request.limits.max_output_bytes,
                "returned {size} bytes over a limit of {}",
                request.limits.max_output_bytes
            );
        }
        ScriptOutcome::Failed { message } => {
            ensure!(!message.is_empty(), "failed without a reason")
        }
        ScriptOutcome::Threw { name, .. } => ensure!(!name.is_empty(), "threw without a name"),
    }
    Ok(())
}

/// Answers call `n` with the reply to call `n`, as the sandbox's pipe does; a call
/// without one is answered "not answered" rather than waited for forever.
struct Replies {
    replies: RefCell<HashMap<u64, HostResult>>,
    next: RefCell<u64>,
}

impl Bridge for Replies {
    fn call(&self, _name: String, _args: Value) -> oneshot::Receiver<HostResult> {
        let call = self.next.replace_with(|n| *n + 1);
        let (tx, rx) = oneshot::channel();
        if let Some(result) = self.replies.borrow_mut().remove(&call) {
            let _ = tx.send(result);
        }
        rx
    }

    fn log(&self, _level: &str, _message: &str) {}
}
