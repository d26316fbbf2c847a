//! The `code` action: run a TypeScript step in a sandbox process, with the host API
//! answering its calls. Its return value is the step's output; what it logged goes to
//! the run's log; how it failed names the line in the TypeScript file.

use serde_json::Map;

use super::{CodeAction, StepContext, StepError, StepOutcome};
use crate::db;
use crate::script::context::{ContextParts, RunInfo, script_context};
use crate::script::host::ScriptHost;
use crate::script::journal::{self, Entry};
use crate::script::pool::RunEnd;
use crate::script::protocol::ScriptOutcome;
use crate::trigger::TriggerEvent;

/// Runs the script of `code`.
pub async fn execute(code: &CodeAction, ctx: &StepContext<'_>) -> Result<StepOutcome, StepError> {
    let workspace = ctx.env.workspaces.get(&ctx.run.trigger.team_id);
    let inputs = match &ctx.run.trigger.event {
        TriggerEvent::Manual { inputs, .. } => inputs.clone(),
        _ => Map::new(),
    };
    let context = script_context(ContextParts {
        trigger: &ctx.run.trigger,
        conversation: ctx.conversation,
        workspace: workspace.as_ref(),
        run: RunInfo {
            id: ctx.run.id,
            automation: &ctx.run.automation_id,
            version: ctx.run.automation_version,
            attempt: ctx.run.attempt,
            step: ctx.step_index,
        },
        inputs: &inputs,
        steps: ctx.outputs,
    });
    let host = ScriptHost::new(
        ctx.env,
        ctx.run,
        ctx.secrets,
        ctx.step_index,
        ctx.conversation,
    )
    .with_journal(load_journal(ctx).await?);
    let report = ctx
        .env
        .sandbox
        .run(&code.compiled.js, context.to_string(), &host)
        .await;
    ctx.console
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(report.console);
    tracing::debug!(
        script = %code.file,
        host_calls = report.host_calls,
        duration_ms = report.duration.as_millis() as u64,
        "script ended"
    );
    match report.end {
        RunEnd::Finished(ScriptOutcome::Returned { value }) => Ok(StepOutcome {
            conversation: host.changed_conversation(),
            ..StepOutcome::done(value)
        }),
        RunEnd::Finished(ScriptOutcome::Threw {
            name,
            message,
            js_line,
            retryable,
            retry_after_ms,
        }) => {
            let at = js_line
                .and_then(|line| code.compiled.ts_line(line))
                .map(|line| format!(" (at {}:{line})", code.file))
                .unwrap_or_else(|| format!(" (in {})", code.file));
            let text = format!("{name}: {message}{at}");
            if retryable {
                Err(StepError::Transient {
                    reason: text,
                    retry_after: retry_after_ms.map(std::time::Duration::from_millis),
                })
            } else {
                Err(StepError::Permanent(text))
            }
        }
        RunEnd::Finished(ScriptOutcome::Failed { message }) => {
            Err(StepError::Permanent(format!("{}: {message}", code.file)))
        }
        RunEnd::Stopped(why) => Err(StepError::Permanent(format!("{}: {why}", code.file))),
        RunEnd::Suspended => match host.waiting() {
            Some(wait) => Ok(StepOutcome {
                output: serde_json::json!({ "waitingFor": wait.waiting_for }),
                wait: Some(wait),
                ..StepOutcome::done(serde_json::Value::Null)
            }),
            None => Err(StepError::Permanent(format!(
                "{}: the script was suspended without anything to wait for",
                code.file
            ))),
        },
    }
}

/// The journal of a script that waited and now runs again, if it has one.
async fn load_journal(ctx: &StepContext<'_>) -> Result<Vec<Entry>, StepError> {
    if ctx.waited.is_none() {
        return Ok(Vec::new());
    }
    let transient = |what: String| StepError::Transient {
        reason: format!("could not read the journal of the waiting script: {what}"),
        retry_after: None,
    };
    let sealed = db::script_journals::load(ctx.env.db.reader(), ctx.run.id, ctx.step_index as i64)
        .await
        .map_err(|e| transient(e.to_string()))?;
    let Some(sealed) = sealed else {
        return Ok(Vec::new());
    };
    let aad = journal::associated_data(ctx.run.id, ctx.step_index);
    let bytes = ctx.env.secrets.open(&sealed, &aad).await.map_err(|e| {
        if e.is_transient() {
            transient(e.to_string())
        } else {
            StepError::Permanent(format!(
                "the journal of the waiting script does not decrypt: {e}"
            ))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        StepError::Permanent(format!(
            "the journal of the waiting script is unreadable: {e}"
        ))
    })
}
