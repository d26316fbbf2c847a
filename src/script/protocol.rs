//! What switchboard and a sandbox process say to each other: one JSON message per line
//! over the child's stdin and stdout.
//!
//! ```text
//! switchboard                     sandbox
//!             ── Run ──────────▶
//!             ◀── Call (0..n) ──       a host function was called
//!             ── Reply ────────▶       its result
//!             ◀── Log (0..n) ───       console output
//!             ◀── Done ─────────       the script returned or threw
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest line either side accepts; a longer one is a protocol error.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// To the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToSandbox {
    /// Run a script in a fresh context.
    Run(RunRequest),
    /// The result of a host call.
    Reply {
        /// The call's id.
        call: u64,
        /// Its result.
        result: HostResult,
    },
}

/// A script to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest {
    /// JavaScript (an ES module with a default export).
    pub js: String,
    /// The `ctx` object, as JSON text.
    pub context: String,
    /// Engine limits.
    pub limits: EngineLimits,
}

/// Limits the engine enforces itself (time and memory are enforced from outside).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct EngineLimits {
    /// Deepest call recursion.
    pub recursion: usize,
    /// Largest return value, as JSON bytes.
    pub max_output_bytes: usize,
}

/// The result of a host call, as the sandbox's `host()` resolves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    /// Whether the call succeeded.
    pub ok: bool,
    /// Its value, if it did.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
    /// Why not, if it did not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The JavaScript error name to throw (`TypeError`, `Error`…).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Whether the failure is transient (thrown as `RetryableError`).
    #[serde(default)]
    pub retryable: bool,
}

impl HostResult {
    /// A successful result.
    pub fn ok(value: Value) -> Self {
        Self {
            ok: true,
            value,
            message: String::new(),
            name: String::new(),
            retryable: false,
        }
    }

    /// A failure the script sees as `name: message`.
    pub fn error(name: &str, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            ok: false,
            value: Value::Null,
            message: message.into(),
            name: name.to_owned(),
            retryable,
        }
    }
}

/// From the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromSandbox {
    /// The process is ready for a `Run`.
    Ready,
    /// The script called a host function.
    Call {
        /// Id to reply with.
        call: u64,
        /// Which function (`slack.reply`, `http.fetch`…).
        name: String,
        /// Its arguments.
        args: Value,
    },
    /// Console output.
    Log {
        /// `debug`, `info`, `warn` or `error`.
        level: String,
        /// The formatted line.
        message: String,
    },
    /// The script finished.
    Done(ScriptOutcome),
}

/// How a script ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScriptOutcome {
    /// The default export returned (or its promise fulfilled) with this value.
    Returned {
        /// The value as JSON (`null` for `undefined`).
        value: Value,
    },
    /// The script threw (or its promise rejected).
    Threw {
        /// Error name (`TypeError`, `RetryableError`…), or `Uncaught` for non-errors.
        name: String,
        /// Error message, or the thrown value.
        message: String,
        /// Line in the generated JavaScript where it was thrown, if known.
        js_line: Option<u32>,
        /// Whether the script asked for a retry (`RetryableError`).
        retryable: bool,
        /// How long it asked to wait, if it did.
        retry_after_ms: Option<u64>,
    },
    /// The engine or the script's shape failed: limits, promises that never settle…
    Failed {
        /// What happened.
        message: String,
    },
}
