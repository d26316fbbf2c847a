//! The `code` action: run a TypeScript step in a sandbox process, with the host API
//! answering its calls. Its return value is the step's output; what it logged goes to
//! the run's log; how it failed names the line in the TypeScript file.

use serde_json::Map;

use super::{CodeAction, StepContext, StepError, StepOutcome};
use crate::script::context::{ContextParts, RunInfo, script_context};
use crate::script::host::ScriptHost;
use crate::script::pool::RunEnd;
use crate::script::protocol::ScriptOutcome;

/// Runs the script of `code`.
pub async fn execute(code: &CodeAction, ctx: &StepContext<'_>) -> Result<StepOutcome, StepError> {
    let workspace = ctx.env.workspaces.get(&ctx.run.trigger.team_id);
    let inputs = Map::new();
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
    );
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
    }
}
