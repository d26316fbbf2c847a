//! Executing one claimed run: its steps in order, skipping the ones the journal says
//! are done, journaling each result before the next step starts.

use std::sync::Arc;

use anyhow::Context as _;
use serde_json::Value;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::RunEnv;
use super::retry;
use crate::actions::{self, StepContext, StepError, StepOutcome};
use crate::automations::{Automation, compile};
use crate::conversations::{Conversation, ConversationPatch};
use crate::db::{self, runs::ClaimedRun, runs::RunStatus, runs::StepRecord};
use crate::ingest::queue_runs;
use crate::trigger::{Trigger, TriggerEvent};

/// Executes `run` until it succeeds, fails, goes back to the queue, or the lease is lost.
pub async fn execute_run(env: Arc<RunEnv>, run: ClaimedRun) {
    let span = tracing::info_span!(
        "run",
        run.id = run.id,
        automation = %run.automation_id,
        event.id = %run.trigger.event_id,
        attempt = run.attempt
    );
    async move {
        let lease_lost = CancellationToken::new();
        // Renewal stops with this run, however it ends (even when its task is aborted).
        let _heartbeat = AbortOnDrop(tokio::spawn(super::lease::keep_alive(
            env.clone(),
            run.id,
            lease_lost.clone(),
        )));
        let result = tokio::select! {
            result = run_steps(&env, &run) => result,
            () = lease_lost.cancelled() => {
                tracing::warn!("lease lost (another worker owns the run now); stopping here");
                return;
            }
        };
        if let Err(e) = result {
            // The database failed us mid-run: the lease will expire and the run will be
            // picked up again, resuming after its last journaled step.
            tracing::error!(
                error = format!("{e:#}"),
                "run interrupted by a database error; it will be retried when its lease expires"
            );
        }
    }
    .instrument(span)
    .await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_steps(env: &RunEnv, run: &ClaimedRun) -> anyhow::Result<()> {
    let now = env.clock.now_ms();
    let automation = match automation_version(env, run).await? {
        Ok(a) => a,
        Err(reason) => return finish(env, run, RunStatus::Failed, Some(&reason)).await,
    };
    let mut conversation = match run.trigger.conversation_id {
        Some(id) => {
            let mut conn = env.db.reader().acquire().await?;
            db::conversations::get(&mut conn, id).await?
        }
        None => None,
    };
    let journal = db::runs::steps(env.db.writer(), run.id).await?;
    log(
        env,
        run.id,
        "info",
        &format!("attempt {} started", run.attempt),
        now,
    )
    .await?;
    tracing::info!(steps = automation.actions.len(), "run started");

    for (index, action) in automation.actions.iter().enumerate() {
        let previous = journal.iter().find(|s| s.index == index as i64);
        if previous.is_some_and(StepRecord::succeeded) {
            tracing::debug!(step = index, "step already done (journal); skipping");
            continue;
        }
        let attempts = previous.map_or(0, |s| s.attempts) + 1;
        let started_at = env.clock.now_ms();
        let ctx = StepContext {
            slack: &env.slack,
            trigger: &run.trigger,
            conversation: conversation.as_ref(),
            groups: &env.groups,
        };
        let result = actions::execute(action, &ctx).await;
        let mut step = StepRecord {
            index: index as i64,
            action: action.type_name().to_owned(),
            status: String::new(),
            output: None,
            error: None,
            attempts,
            started_at,
            finished_at: env.clock.now_ms(),
        };
        match result {
            Ok(outcome) => {
                step.status = "succeeded".into();
                step.output = Some(outcome.output.to_string());
                conversation = journal_success(env, run, &step, outcome, conversation).await?;
                tracing::info!(step = index, action = action.type_name(), "step succeeded");
            }
            Err(error) => return step_failed(env, run, step, error).await,
        }
    }
    finish(env, run, RunStatus::Succeeded, None).await
}

/// The automation version the run matched, or why it cannot run.
async fn automation_version(
    env: &RunEnv,
    run: &ClaimedRun,
) -> anyhow::Result<Result<Arc<Automation>, String>> {
    if let Some(a) = env
        .registry
        .version(&run.automation_id, run.automation_version)
    {
        return Ok(Ok(a));
    }
    // Queued by another replica, or before a restart: the version is in the database.
    let stored =
        db::automations::load_version(env.db.reader(), &run.automation_id, run.automation_version)
            .await
            .context("loading the automation version")?;
    let Some(stored) = stored else {
        return Ok(Err(format!(
            "automation {} version {} is not in the database",
            run.automation_id, run.automation_version
        )));
    };
    match compile(std::path::Path::new(&stored.path), &stored.source) {
        Ok(a) => {
            let a = Arc::new(a);
            env.registry.remember(run.automation_version, a.clone());
            Ok(Ok(a))
        }
        Err(errors) => Ok(Err(format!(
            "automation {} version {} no longer checks out: {}",
            run.automation_id,
            run.automation_version,
            errors
                .first()
                .map(|e| e.message.as_str())
                .unwrap_or("invalid")
        ))),
    }
}

/// Journals a successful step, applying its conversation changes (and queuing the runs
/// they trigger) in the same transaction. Returns the conversation as it now is.
async fn journal_success(
    env: &RunEnv,
    run: &ClaimedRun,
    step: &StepRecord,
    outcome: StepOutcome,
    conversation: Option<Conversation>,
) -> anyhow::Result<Option<Conversation>> {
    let mut tx = env.db.writer().begin().await?;
    let conversation = match (&outcome.patch, conversation) {
        (Some(patch), Some(c)) => Some(apply_patch(env, &mut tx, run, step.index, patch, c).await?),
        (_, c) => c,
    };
    db::runs::record_step(&mut tx, run.id, step).await?;
    let line = format!(
        "step {} ({}) succeeded: {}",
        step.index,
        step.action,
        summarize(&outcome.output)
    );
    db::runs::log(&mut tx, run.id, step.finished_at, "info", &line).await?;
    tx.commit().await?;
    Ok(conversation)
}

async fn apply_patch(
    env: &RunEnv,
    conn: &mut AnyConnection,
    run: &ClaimedRun,
    step_index: i64,
    patch: &ConversationPatch,
    stale: Conversation,
) -> anyhow::Result<Conversation> {
    // Read the conversation again inside the transaction: another run may have changed it.
    let mut current = db::conversations::get(conn, stale.id)
        .await?
        .unwrap_or(stale);
    let changes = patch.apply(&mut current);
    if changes.is_empty() {
        return Ok(current);
    }
    let now = env.clock.now_ms();
    let cause = format!("run:{}/step:{}", run.id, step_index);
    db::conversations::save_changes(
        conn,
        &current,
        &changes,
        db::conversations::ChangeCause {
            cause: &cause,
            actor: None,
            at_ms: now,
        },
    )
    .await?;
    let trigger = Trigger {
        event_id: cause,
        team_id: run.trigger.team_id.clone(),
        actor: None,
        conversation_id: Some(current.id),
        depth: run.trigger.depth + 1,
        event: TriggerEvent::ConversationUpdated { changes },
    };
    let automations = env.registry.current();
    let queued = queue_runs(
        conn,
        &automations,
        &trigger,
        Some(&current),
        env.config.max_depth,
        now,
    )
    .await?;
    if !queued.is_empty() {
        tracing::info!(runs = ?queued, "conversation_updated queued more runs");
        env.wake.notify_waiters();
    }
    Ok(current)
}

async fn step_failed(
    env: &RunEnv,
    run: &ClaimedRun,
    mut step: StepRecord,
    error: StepError,
) -> anyhow::Result<()> {
    step.status = "failed".into();
    step.error = Some(error.to_string());
    let attempts_left = run.attempt < i64::from(env.config.max_attempts);
    let mut tx = env.db.writer().begin().await?;
    db::runs::record_step(&mut tx, run.id, &step).await?;
    match &error {
        StepError::Transient { retry_after, .. } if attempts_left => {
            let attempt = u32::try_from(run.attempt).unwrap_or(u32::MAX);
            let wait = retry::delay(env.config.retry_base, attempt, *retry_after);
            let line = format!(
                "step {} ({}) failed temporarily: {error}; retrying in {:.1}s (attempt {} of {})",
                step.index,
                step.action,
                wait.as_secs_f32(),
                run.attempt + 1,
                env.config.max_attempts
            );
            db::runs::log(&mut tx, run.id, step.finished_at, "warn", &line).await?;
            tx.commit().await?;
            tracing::warn!(step = step.index, error = %error, retry_in_ms = wait.as_millis() as u64, "step failed temporarily; run requeued");
            let run_after =
                env.clock.now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            db::runs::requeue(
                env.db.writer(),
                run.id,
                &env.owner,
                run_after,
                Some(&error.to_string()),
            )
            .await?;
            Ok(())
        }
        _ => {
            let why = match &error {
                StepError::Transient { .. } => {
                    format!("{error} (gave up after {} attempts)", run.attempt)
                }
                StepError::Permanent(_) => error.to_string(),
            };
            let line = format!("step {} ({}) failed: {why}", step.index, step.action);
            db::runs::log(&mut tx, run.id, step.finished_at, "error", &line).await?;
            tx.commit().await?;
            tracing::error!(step = step.index, error = %why, "step failed; run failed");
            finish(env, run, RunStatus::Failed, Some(&line)).await
        }
    }
}

async fn finish(
    env: &RunEnv,
    run: &ClaimedRun,
    status: RunStatus,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let now = env.clock.now_ms();
    let mut tx = env.db.writer().begin().await?;
    if !db::runs::finish(&mut tx, run.id, &env.owner, status, error, now).await? {
        tracing::warn!(
            "run was no longer ours to finish (lease expired); leaving it to its new owner"
        );
        return Ok(());
    }
    db::runs::log(
        &mut tx,
        run.id,
        now,
        if error.is_some() { "error" } else { "info" },
        &format!("run {}", status.as_str()),
    )
    .await?;
    tx.commit().await?;
    match error {
        None => tracing::info!(status = status.as_str(), "run finished"),
        Some(e) => tracing::error!(status = status.as_str(), error = e, "run finished"),
    }
    Ok(())
}

async fn log(env: &RunEnv, run_id: i64, level: &str, message: &str, at: i64) -> anyhow::Result<()> {
    let mut conn = env.db.writer().acquire().await?;
    db::runs::log(&mut conn, run_id, at, level, message).await?;
    Ok(())
}

fn summarize(output: &Value) -> String {
    let text = output.to_string();
    if text.len() > 300 {
        format!("{}…", &text[..text.floor_char_boundary(300)])
    } else {
        text
    }
}
