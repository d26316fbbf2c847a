//! Executing one run: its steps in order, skipping the ones the journal says are
//! done, journaling each result (through the batch writer, `runs::journal`) before
//! the next step starts.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use serde_json::Value;
use tracing::Instrument;

use super::RunEnv;
use super::journal::{End, Entry, Patch, Written};
use super::retry;
use crate::actions::{self, Action, StepContext, StepError, StepOutcome};
use crate::automations::{Automation, StoredScripts, compile};
use crate::conversations::Conversation;
use crate::db::{self, runs::ClaimedRun, runs::RunStatus, runs::StepRecord};
use crate::script::pool::ConsoleLine;
use crate::secrets::run::RunSecrets;
use crate::trigger::ApprovalDecision;

/// How a run came to this worker.
#[derive(Debug)]
// Made once per run and moved once: not worth an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Start {
    /// Handed over by the transaction that queued it: its first attempt, with the
    /// conversation as that transaction saw it (nothing to read).
    Fresh(Option<Conversation>),
    /// Claimed from the queue: read its conversation and journal.
    Claimed,
}

/// Executes `run` until it succeeds, fails, goes back to the queue, or the lease is lost.
pub async fn execute_run(env: Arc<RunEnv>, run: ClaimedRun, start: Start) {
    let span = tracing::info_span!(
        "run",
        run.id = run.id,
        automation = %run.automation_id,
        event.id = %run.trigger.event_id,
        attempt = run.attempt
    );
    async move {
        // The lease keeper renews this run's lease while it is held here, and says when
        // another worker took it over.
        let held = env.leases.hold(run.id);
        let secrets = RunSecrets::new(env.secrets.clone(), &run.trigger.team_id);
        let mut journal = Journal {
            env: &env,
            run: &run,
            secrets: &secrets,
            lines: Vec::new(),
            summary: Vec::new(),
            started: Instant::now(),
        };
        let result = tokio::select! {
            result = run_steps(&mut journal, start) => result,
            () = held.lost() => {
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

/// Writes a run's progress: log lines wait in memory and go out with the next journal
/// entry, so a step costs one entry. Everything it writes passes the run's redactor:
/// no secret value the run has read reaches the database or the log.
struct Journal<'a> {
    env: &'a RunEnv,
    run: &'a ClaimedRun,
    secrets: &'a RunSecrets,
    lines: Vec<(i64, String, String)>,
    /// `set_fields ok`, `page ok`…: the steps of this attempt, for the run's log line.
    summary: Vec<String>,
    started: Instant,
}

impl Journal<'_> {
    fn redact(&self, text: &str) -> String {
        self.secrets.redactor().redact(text)
    }

    fn redact_step(&self, step: &StepRecord) -> StepRecord {
        StepRecord {
            output: step.output.as_deref().map(|o| self.redact(o)),
            error: step.error.as_deref().map(|e| self.redact(e)),
            ..step.clone()
        }
    }

    fn line(&mut self, level: &str, message: String) {
        self.lines
            .push((self.env.clock.now_ms(), level.to_owned(), message));
    }

    fn console(&mut self, step: usize, console: Vec<ConsoleLine>) {
        for line in console {
            self.lines.push((
                line.at_ms,
                line.level,
                format!("step {step} console: {}", line.message),
            ));
        }
    }

    /// Writes `step` (redacted), the pending log lines, `patch` and `end`; returns
    /// `None` when the run is no longer this worker's (nothing was written).
    async fn write(
        &mut self,
        step: Option<&StepRecord>,
        patch: Option<Patch>,
        end: End,
    ) -> anyhow::Result<Option<Written>> {
        let lines = self
            .lines
            .drain(..)
            .map(|(at, level, message)| (at, level, self.secrets.redactor().redact(&message)))
            .collect();
        let entry = Entry {
            run_id: self.run.id,
            step: step.map(|s| self.redact_step(s)),
            lines,
            patch,
            end,
        };
        let written = self
            .env
            .journal
            .submit(entry)
            .await
            .context("writing the run's journal")?;
        if !written.held {
            tracing::warn!("run was no longer ours (lease expired); leaving it to its new owner");
            return Ok(None);
        }
        Ok(Some(written))
    }

    fn summarize(&mut self, step: &StepRecord) {
        let word = match step.status.as_str() {
            "succeeded" => "ok",
            other => other,
        };
        self.summary.push(format!("{} {word}", step.action));
    }

    fn steps(&self) -> String {
        self.summary.join(", ")
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

async fn run_steps(journal: &mut Journal<'_>, start: Start) -> anyhow::Result<()> {
    let (env, run) = (journal.env, journal.run);
    let automation = match automation_version(env, run).await? {
        Ok(a) => a,
        Err(reason) => return finish(journal, None, RunStatus::Failed, Some(&reason)).await,
    };
    journal.secrets.declare(&automation.secrets);
    let (mut conversation, done) = match start {
        Start::Fresh(conversation) => (conversation, Vec::new()),
        Start::Claimed => {
            let conversation = match run.trigger.conversation_id {
                Some(id) => {
                    let mut conn = env.db.reader().acquire().await?;
                    db::conversations::get(&mut conn, id).await?
                }
                None => None,
            };
            (
                conversation,
                db::runs::steps(env.db.reader(), run.id).await?,
            )
        }
    };
    let steps = &automation.steps;
    let mut outputs: Vec<Value> = vec![Value::Null; steps.len()];
    let mut approval: Option<ApprovalDecision> = None;
    journal.line("info", format!("attempt {} started", run.attempt));
    tracing::debug!(steps = steps.len(), "run started");

    for (index, planned) in steps.iter().enumerate() {
        let action = &planned.action;
        let previous = done.iter().find(|s| s.index == index as i64);
        if let Some(step) = previous.filter(|s| s.is_done()) {
            tracing::debug!(step = index, "step already done (journal); skipping");
            outputs[index] = step
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            if matches!(action, Action::Approval(_)) && step.succeeded() {
                approval = serde_json::from_value(outputs[index].clone()).ok();
            }
            continue;
        }
        let last = index + 1 == steps.len();
        let mut step = StepRecord {
            index: index as i64,
            action: action.type_name().to_owned(),
            status: String::new(),
            output: None,
            error: None,
            attempts: previous.map_or(0, |s| s.attempts) + 1,
            started_at: env.clock.now_ms(),
            finished_at: 0,
        };
        if let Some(branch) = planned.branch {
            let decided = outputs[branch.approval_step]
                .get("decision")
                .and_then(Value::as_str);
            if decided != Some(branch.decision) {
                step.status = "skipped".into();
                step.finished_at = step.started_at;
                step.output = Some(Value::Null.to_string());
                tracing::debug!(
                    step = index,
                    action = action.type_name(),
                    "step skipped (its branch is on_{})",
                    branch.decision
                );
                match journal_success(
                    journal,
                    &step,
                    StepOutcome::done(Value::Null),
                    conversation,
                    last,
                )
                .await?
                {
                    Some(c) => conversation = c,
                    None => return Ok(()),
                }
                if last {
                    return Ok(());
                }
                continue;
            }
        }
        let console = Mutex::new(Vec::new());
        let waited: Option<Value> = previous
            .filter(|s| s.status == "waiting")
            .and_then(|s| s.output.as_deref())
            .and_then(|o| serde_json::from_str(o).ok());
        let ctx = StepContext {
            env,
            run,
            step_index: index,
            conversation: conversation.as_ref(),
            outputs: &outputs[..index],
            console: &console,
            secrets: journal.secrets,
            approval: approval.as_ref(),
            waited: waited.as_ref(),
        };
        let result = actions::execute(action, &ctx).await;
        journal.console(
            index,
            console.into_inner().unwrap_or_else(|e| e.into_inner()),
        );
        step.finished_at = env.clock.now_ms();
        match result {
            Ok(outcome) if outcome.wait.is_some() => {
                step.status = "waiting".into();
                step.output = Some(outcome.output.to_string());
                return wait(journal, step, outcome).await;
            }
            Ok(outcome) => {
                step.status = "succeeded".into();
                step.output = Some(outcome.output.to_string());
                outputs[index] = outcome.output.clone();
                if matches!(action, Action::Approval(_)) {
                    approval = serde_json::from_value(outcome.output.clone()).ok();
                }
                tracing::debug!(step = index, action = action.type_name(), "step succeeded");
                match journal_success(journal, &step, outcome, conversation, last).await? {
                    Some(c) => conversation = c,
                    None => return Ok(()),
                }
                // The last step's journal entry finished the run.
                if last {
                    return Ok(());
                }
            }
            Err(error) => return step_failed(journal, step, error).await,
        }
    }
    // Every step was done already (a run resumed after its last step's journal entry).
    finish(journal, None, RunStatus::Succeeded, None).await
}

/// Parks the run: the step is journaled as waiting, the lease released; whatever the
/// step waits for puts the run back in the queue, and the step runs again.
async fn wait(
    journal: &mut Journal<'_>,
    step: StepRecord,
    outcome: StepOutcome,
) -> anyhow::Result<()> {
    let wait = outcome.wait.expect("a waiting outcome");
    let until = wait
        .deadline
        .map(|d| format!(" (until {})", crate::clock::format_ms(d)))
        .unwrap_or_default();
    journal.line(
        "info",
        format!(
            "step {} ({}) waits for {}{until}",
            step.index, step.action, wait.waiting_for
        ),
    );
    journal.summarize(&step);
    let end = End::Park {
        waiting_for: wait.waiting_for.clone(),
        deadline: wait.deadline,
        approval: wait.approval,
    };
    let Some(written) = journal.write(Some(&step), None, end).await? else {
        return Ok(());
    };
    if written.requeued_instead {
        journal.line(
            "info",
            format!("{} was decided meanwhile; going on", wait.waiting_for),
        );
        tracing::info!(steps = %journal.steps(), waiting_for = %wait.waiting_for, "decided before the run was parked; queued again");
    } else {
        tracing::info!(steps = %journal.steps(), waiting_for = %wait.waiting_for, "run waits");
    }
    Ok(())
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
    let scripts = StoredScripts::new(stored.scripts);
    match compile(std::path::Path::new(&stored.path), &stored.source, &scripts) {
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

/// Journals a successful step, with its conversation changes (and the runs they
/// trigger); the last step also finishes the run. Returns the conversation as it now
/// is, or `None` when the run is no longer this worker's.
async fn journal_success(
    journal: &mut Journal<'_>,
    step: &StepRecord,
    outcome: StepOutcome,
    conversation: Option<Conversation>,
    last: bool,
) -> anyhow::Result<Option<Option<Conversation>>> {
    let run = journal.run;
    let line = if step.status == "skipped" {
        format!(
            "step {} ({}) skipped: not its branch",
            step.index, step.action
        )
    } else {
        format!(
            "step {} ({}) {}: {}",
            step.index,
            step.action,
            step.status,
            summarize(&outcome.output)
        )
    };
    journal.line("info", line);
    journal.summarize(step);
    let patch = match (&outcome.patch, &conversation) {
        (Some(patch), Some(c)) => Some(Patch::of(
            run,
            c.id,
            patch.clone(),
            format!("run:{}/step:{}", run.id, step.index),
        )),
        _ => None,
    };
    let end = if last {
        journal.line("info", "run succeeded".into());
        End::Finish {
            status: RunStatus::Succeeded,
            error: None,
        }
    } else {
        End::Continue
    };
    let Some(written) = journal.write(Some(step), patch, end).await? else {
        return Ok(None);
    };
    if !written.queued.is_empty() {
        tracing::debug!(runs = ?written.queued, "conversation_updated queued more runs");
    }
    if last {
        tracing::info!(status = "succeeded", steps = %journal.steps(), duration_ms = journal.elapsed_ms(), "run finished");
        super::notify::run_finished(journal.env, run, RunStatus::Succeeded, None).await;
    }
    Ok(Some(
        written
            .conversation
            .or(outcome.conversation)
            .or(conversation),
    ))
}

async fn step_failed(
    journal: &mut Journal<'_>,
    mut step: StepRecord,
    error: StepError,
) -> anyhow::Result<()> {
    let (env, run) = (journal.env, journal.run);
    step.status = "failed".into();
    step.error = Some(error.to_string());
    journal.summarize(&step);
    let attempts_left = run.attempt < i64::from(env.config.max_attempts);
    match &error {
        StepError::Transient { retry_after, .. } if attempts_left => {
            let attempt = u32::try_from(run.attempt).unwrap_or(u32::MAX);
            let wait = retry::delay(env.config.retry_base, attempt, *retry_after);
            journal.line(
                "warn",
                format!(
                    "step {} ({}) failed temporarily: {error}; retrying in {:.1}s (attempt {} of {})",
                    step.index,
                    step.action,
                    wait.as_secs_f32(),
                    run.attempt + 1,
                    env.config.max_attempts
                ),
            );
            let run_after =
                env.clock.now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            let end = End::Requeue {
                run_after,
                error: Some(journal.redact(&error.to_string())),
            };
            if journal.write(Some(&step), None, end).await?.is_some() {
                let error = journal.redact(&error.to_string());
                tracing::warn!(steps = %journal.steps(), error, retry_in_ms = wait.as_millis() as u64, "step failed temporarily; run requeued");
            }
            Ok(())
        }
        _ => {
            let why = match &error {
                StepError::Transient { .. } => {
                    format!("{error} (gave up after {} attempts)", run.attempt)
                }
                StepError::Permanent(_) => error.to_string(),
            };
            let line = journal.redact(&format!(
                "step {} ({}) failed: {why}",
                step.index, step.action
            ));
            finish(journal, Some(&step), RunStatus::Failed, Some(&line)).await
        }
    }
}

/// Writes the run's final state (with `step`'s record, when a step ended it).
async fn finish(
    journal: &mut Journal<'_>,
    step: Option<&StepRecord>,
    status: RunStatus,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let (env, run) = (journal.env, journal.run);
    let error = error.map(|e| journal.redact(e));
    let error = error.as_deref();
    if let Some(e) = error {
        journal.line("error", e.to_owned());
    }
    journal.line(
        if error.is_some() { "error" } else { "info" },
        format!("run {}", status.as_str()),
    );
    let end = End::Finish {
        status,
        error: error.map(str::to_owned),
    };
    if journal.write(step, None, end).await?.is_none() {
        return Ok(());
    }
    match error {
        None => {
            tracing::info!(status = status.as_str(), steps = %journal.steps(), duration_ms = journal.elapsed_ms(), "run finished")
        }
        Some(e) => {
            tracing::error!(status = status.as_str(), steps = %journal.steps(), duration_ms = journal.elapsed_ms(), error = e, "run finished")
        }
    }
    super::notify::run_finished(env, run, status, error).await;
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
