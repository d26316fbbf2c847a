//! Scripts that try to break out, hang, exhaust or confuse the sandbox. Each must end
//! with a clear error in its run, and the server must keep serving meanwhile.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::db;

use crate::helpers::events::{AGENT, REQUESTER, SUPPORT_CHANNEL, message, reaction_added};
use crate::helpers::{TestApp, app};
use crate::on_both_backends;

const TS: &str = "1700000000.000100";

/// (name, script body inside `export default async function (ctx: any) { … }`,
/// what the run's error must contain — or `ok:` and the expected output).
const CORPUS: &[(&str, &str, &str)] = &[
    ("loop", "while (true) {}", "ran longer than 2 s"),
    (
        "async-loop",
        "while (true) { await sleep(50); }",
        "ran longer than 2 s",
    ),
    (
        "regex",
        "return /^(a+)+$/.test('a'.repeat(40) + '!');",
        "ran longer than 2 s",
    ),
    (
        "recursion",
        "const f = (n: number): number => f(n + 1) + 1; return f(0);",
        "recursive calls",
    ),
    (
        "mutual-recursion",
        "const a = (n: number): number => b(n) + 1; const b = (n: number): number => a(n) + 1; return a(0);",
        "recursive calls",
    ),
    (
        "big-string",
        "let s = 'x'; while (true) { s = s + s; }",
        "out of memory",
    ),
    (
        "big-array",
        "const a: Uint8Array[] = []; while (true) { a.push(new Uint8Array(1 << 20)); }",
        "out of memory",
    ),
    (
        "deep-json",
        "return JSON.parse('['.repeat(1000000) + ']'.repeat(1000000));",
        "recursion limit exceeded",
    ),
    (
        "pollute-host",
        "Object.prototype.polluted = 1; (slack as any).reply = () => 'hijacked'; return 1;",
        "TypeError",
    ),
    (
        "after-pollution",
        "return [({} as any).polluted, typeof slack.reply, Object.isFrozen(slack)];",
        "ok:[null,\"function\",true]",
    ),
    (
        "globals",
        "const g = globalThis as any; return [typeof g.process, typeof g.require, typeof g.Deno, typeof g.fetch, typeof g.host, typeof g.log, typeof g.setTimeout, typeof g.XMLHttpRequest];",
        "ok:[\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\"]",
    ),
    (
        "eval",
        "return [eval('1 + 1'), eval('typeof process'), new Function('return typeof require')()];",
        "ok:[2,\"undefined\",\"undefined\"]",
    ),
    (
        "dynamic-import",
        "const m = await import('fs'); return Object.keys(m);",
        "fs",
    ),
    (
        "huge-log",
        "while (true) { console.log('z'.repeat(1000)); }",
        "logged more than 8192 bytes",
    ),
    (
        "huge-output",
        "return 'o'.repeat(100000);",
        "the limit is 16384 bytes",
    ),
    (
        "unhandled",
        "Promise.reject(new Error('nobody listens')); return 1;",
        "nobody listens",
    ),
    (
        "never-settles",
        "await new Promise(() => {}); return 1;",
        "never settled",
    ),
    ("throw-number", "throw 42;", "non-Error value: 42"),
    (
        "throw-object",
        "throw { code: 7 };",
        "non-Error value: {\"code\":7}",
    ),
    ("throw-null", "throw null;", "non-Error value: null"),
    (
        "wrong-types",
        "await slack.reply(42 as any); return 1;",
        "slack.reply: `text` must be a string, not a number",
    ),
    (
        "wrong-args",
        "await slack.call('auth.test', 'nope' as any); return 1;",
        "slack.call: `args` must be an object",
    ),
    (
        "wrong-update",
        "await ctx.conversation.update({ priority: 'urgent' }); return 1;",
        "`priority` must be one of low, medium, high, critical",
    ),
    (
        "too-many-calls",
        "for (let i = 0; i < 100; i++) await slack.call('auth.test'); return 1;",
        "more than 50 host calls",
    ),
    (
        "cyclic-output",
        "const a: any = {}; a.self = a; return a;",
        "not JSON",
    ),
    ("bigint-output", "return 10n;", "not JSON"),
    (
        "fetch-file",
        "await http.fetch('file:///etc/passwd'); return 1;",
        "only http and https",
    ),
    (
        "fetch-metadata",
        "await http.fetch('http://169.254.169.254/latest/meta-data/'); return 1;",
        "link-local",
    ),
];

fn automation(name: &str) -> String {
    format!(
        "[trigger]\ntype = \"reaction_added\"\nemoji = \"{name}\"\n[[actions]]\ntype = \"code\"\nfile = \"{name}.ts\"\n"
    )
}

fn script(body: &str) -> String {
    format!("export default async function (ctx: any) {{\n  {body}\n}}\n")
}

async fn outputs(app: &TestApp, run_id: i64) -> Value {
    db::runs::steps(app.db.reader(), run_id)
        .await
        .unwrap()
        .first()
        .and_then(|s| {
            s.output
                .as_deref()
                .map(|o| serde_json::from_str(o).unwrap())
        })
        .unwrap_or(Value::Null)
}

/// The cases whose run did not end as expected: failed with the expected text in its
/// error, or succeeded with the expected output (`ok:`).
async fn unexpected(
    app: &TestApp,
    runs: &[db::runs::RunRecord],
    cases: &[(&str, &str, &str)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, _, expected) in cases {
        let run = runs
            .iter()
            .find(|r| r.automation_id == *name)
            .unwrap_or_else(|| panic!("no run for {name}"));
        let error = run.error.clone().unwrap_or_default();
        let output = outputs(app, run.id).await;
        let ok = match expected.strip_prefix("ok:") {
            Some(want) => {
                run.status == "succeeded" && output == serde_json::from_str::<Value>(want).unwrap()
            }
            None => run.status == "failed" && error.contains(expected),
        };
        if !ok {
            failures.push(format!(
                "{name}: want {expected:?}, got {} {output} {error}",
                run.status
            ));
        }
    }
    failures
}

on_both_backends! {
    async fn hostile_scripts_end_with_clear_errors_and_the_server_keeps_serving(backend: Backend) {
        let mut builder = app(backend)
            .env("SWITCHBOARD_SCRIPT_TIMEOUT_SECONDS", "2")
            .env("SWITCHBOARD_SCRIPT_MEMORY_MB", "64")
            .env("SWITCHBOARD_SCRIPT_MAX_HOST_CALLS", "50")
            .env("SWITCHBOARD_SCRIPT_MAX_LOG_KB", "8")
            .env("SWITCHBOARD_SCRIPT_MAX_OUTPUT_KB", "16")
            .env("SWITCHBOARD_SCRIPT_PROCESSES", "2")
            .env("SWITCHBOARD_MAX_ATTEMPTS", "1")
            .automation("ack", "[trigger]\ntype = \"reaction_added\"\nemoji = \"wave\"\n[[actions]]\ntype = \"reply\"\ntext = \"still here\"\n");
        for (name, body, _) in CORPUS {
            builder = builder.automation(name, &automation(name)).file(&format!("{name}.ts"), &script(body));
        }
        let app = builder.spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, TS, "help")).await;

        // The pollution case must run before the one that checks a fresh context, and in
        // the same sandbox process: run it first, alone.
        app.post_event(&reaction_added("EvPOLLUTE", AGENT, "pollute-host", SUPPORT_CHANNEL, TS)).await;
        app.wait_for_runs_to_finish(Duration::from_secs(20)).await;
        for (i, (name, _, _)) in CORPUS.iter().enumerate().filter(|(_, c)| c.0 != "pollute-host") {
            app.post_event(&reaction_added(&format!("EvADV{i}"), AGENT, name, SUPPORT_CHANNEL, TS)).await;
        }

        // While the sandboxes are busy with hostile scripts, the server answers and
        // built-in automations run.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let asked = Instant::now();
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status().as_u16(), 200);
        app.post_event(&reaction_added("EvWAVE", AGENT, "wave", SUPPORT_CHANNEL, TS)).await;
        app.slack.wait_for("chat.postMessage", 1, Duration::from_secs(5)).await;
        assert!(asked.elapsed() < Duration::from_secs(2), "the server stalled for {:?}", asked.elapsed());

        let runs = app.wait_for_runs_to_finish(Duration::from_secs(120)).await;
        let failures = unexpected(&app, &runs, CORPUS).await;
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(CORPUS.len() >= 20);
        // Every failed run names its script.
        assert!(runs.iter().filter(|r| r.status == "failed").all(|r| r.error.as_deref().unwrap_or_default().contains(".ts")));
        let _ = json!(null);
        app.shutdown().await;
    }
}

/// (name, script body, what the run's error must contain — or `ok:` and the output)
/// for the memory limit at its default, 256 MiB.
const MEMORY: &[(&str, &str, &str)] = &[
    (
        "fills-200-mib",
        "const a = new Uint8Array(200 * 1024 * 1024); for (let i = 0; i < a.length; i += 4096) a[i] = 7; let sum = 0; for (let i = 0; i < a.length; i += 1048576) sum += a[i]; return sum;",
        "ok:1400.0",
    ),
    (
        "holds-200-mib-of-strings",
        "const parts: string[] = []; for (let i = 0; i < 100; i++) parts.push(String.fromCharCode(65 + (i % 26)).repeat(1024 * 1024)); return parts.reduce((n, p) => n + p.length, 0);",
        "ok:104857600",
    ),
    (
        "asks-for-300-mib",
        "const a = new Uint8Array(300 * 1024 * 1024); return a.length;",
        "more than the 256 MiB a run may allocate (script.memory_mb)",
    ),
    (
        "grows-past-the-limit",
        "const parts: Uint8Array[] = []; while (true) { const p = new Uint8Array(8 * 1024 * 1024); for (let i = 0; i < p.length; i += 4096) p[i] = 1; parts.push(p); }",
        "more than the 256 MiB a run may allocate (script.memory_mb)",
    ),
];

// The limit counts what a run allocates, not the address space it reserves: a script
// uses 200 MiB under the default 256 MiB, one that needs more fails with an error
// naming the limit, and the sandbox pool goes on with the next run.
on_both_backends! {
    async fn a_script_gets_the_memory_its_limit_names(backend: Backend) {
        let mut builder = app(backend)
            .env("SWITCHBOARD_SCRIPT_PROCESSES", "1")
            .env("SWITCHBOARD_SCRIPT_TIMEOUT_SECONDS", "20")
            .env("SWITCHBOARD_MAX_ATTEMPTS", "1");
        for (name, body, _) in MEMORY {
            builder = builder.automation(name, &automation(name)).file(&format!("{name}.ts"), &script(body));
        }
        let app = builder.spawn().await;
        app.post_event(&message("EvMSG1", SUPPORT_CHANNEL, REQUESTER, TS, "help")).await;
        for (i, (name, _, _)) in MEMORY.iter().enumerate() {
            app.post_event(&reaction_added(&format!("EvMEM{i}"), AGENT, name, SUPPORT_CHANNEL, TS)).await;
        }
        let runs = app.wait_for_runs_to_finish(Duration::from_secs(120)).await;
        let failures = unexpected(&app, &runs, MEMORY).await;
        assert!(failures.is_empty(), "{failures:#?}");
        app.shutdown().await;
    }
}
