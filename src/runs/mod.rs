//! The run queue's workers.
//!
//! One claimer per process takes due runs from the database (with a lease) whenever an
//! executor slot is free, and hands each to its own task; ingest and steps wake it when
//! they queue runs, and it polls for runs queued by other replicas or due for retry. A
//! reaper requeues runs whose lease expired (their worker died). The state machine:
//!
//! ```text
//! queued ──claim──▶ running ──▶ succeeded | failed        (final, written once)
//!   ▲                  │
//!   └── retry / expired lease / shutdown
//!                      └──▶ waiting ──resume──▶ queued   (for steps that pause)
//! ```

pub mod changes;
mod executor;
mod lease;
pub mod link;
pub mod notify;
pub mod page;
pub mod report;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::actions::GroupCache;
use crate::automations::{DEFAULT_LANE, Registry, SCRIPT_LANE};
use crate::clock::Clock;
use crate::config::RunsConfig;
use crate::db::{self, Db};
use crate::integrations::Integrations;
use crate::kv::KvStore;
use crate::script::fetch::Fetcher;
use crate::script::pool::SandboxPool;
use crate::secrets::SecretStore;
use crate::slack::SlackClient;
use crate::workspace::Workspaces;
use link::RunLinks;

/// What executing runs needs.
#[derive(Debug)]
pub struct RunEnv {
    /// The database.
    pub db: Db,
    /// Automations, current and past versions.
    pub registry: Arc<Registry>,
    /// Slack's Web API.
    pub slack: Arc<SlackClient>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Queue settings.
    pub config: RunsConfig,
    /// Resolved user group handles.
    pub groups: GroupCache,
    /// This process's lease owner name.
    pub owner: String,
    /// Notified when runs are queued.
    pub wake: Arc<Notify>,
    /// Sandbox processes for `code` steps.
    pub sandbox: Arc<SandboxPool>,
    /// `http.fetch` for scripts.
    pub fetcher: Fetcher,
    /// Jira, Okta, Google.
    pub integrations: Integrations,
    /// Workspace details for `ctx.workspace`.
    pub workspaces: Arc<Workspaces>,
    /// Encrypted secrets.
    pub secrets: SecretStore,
    /// The scripts' key-value store.
    pub kv: KvStore,
    /// Links to follow a run in a browser.
    pub links: RunLinks,
}

/// How long shutdown waits for runs in flight before putting them back in the queue.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the claimers (one per lane), the reaper, the approvals' sweeper and the
/// scheduler until `stop`, then drains.
pub async fn work(env: Arc<RunEnv>, stop: CancellationToken) {
    let reaper = tokio::spawn(lease::reap_expired(env.clone(), stop.clone()));
    let sweeper = tokio::spawn(crate::approvals::sweeper::run(env.clone(), stop.clone()));
    let scheduler = tokio::spawn(crate::schedules::run(env.clone(), stop.clone()));
    let scripts = env.sandbox.capacity();
    let (default_runs, script_runs) = tokio::join!(
        claim_loop(
            env.clone(),
            DEFAULT_LANE,
            env.config.workers.max(1),
            stop.clone()
        ),
        claim_loop(env.clone(), SCRIPT_LANE, scripts, stop.clone()),
    );
    reaper.abort();
    sweeper.abort();
    scheduler.abort();
    drain(&env, default_runs).await;
    drain(&env, script_runs).await;
}

/// Claims runs of `lane` while fewer than `slots` of them execute; returns the runs in
/// flight when `stop` comes.
async fn claim_loop(
    env: Arc<RunEnv>,
    lane: &'static str,
    slots: usize,
    stop: CancellationToken,
) -> JoinSet<()> {
    let slots = Arc::new(Semaphore::new(slots));
    let mut running = JoinSet::new();
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        // Register interest before looking, so a run queued in between still wakes us.
        let notified = env.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = env.clock.now_ms();
        let lease_until = now + env.config.lease.as_millis() as i64;
        match db::runs::claim(&env.db, lane, &env.owner, now, lease_until).await {
            Ok(Some(run)) => {
                let env = env.clone();
                running.spawn(async move {
                    let id = run.id;
                    let outcome = std::panic::AssertUnwindSafe(executor::execute_run(env, run))
                        .catch_unwind()
                        .await;
                    if outcome.is_err() {
                        tracing::error!(
                            run.id = id,
                            "run panicked; it will be retried when its lease expires"
                        );
                    }
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = &mut notified => {}
                    () = tokio::time::sleep(env.config.poll_interval) => {}
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!(error = %e, lane, "could not claim runs; trying again in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        while running.try_join_next().is_some() {}
    }
    running
}

async fn drain(env: &RunEnv, mut running: JoinSet<()>) {
    if running.is_empty() {
        return;
    }
    tracing::info!(runs = running.len(), "waiting for runs in flight");
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        running.abort_all();
        match db::runs::requeue_owned(env.db.writer(), &env.owner, env.clock.now_ms()).await {
            Ok(ids) => {
                tracing::warn!(runs = ?ids, "runs still in flight at shutdown were put back in the queue")
            }
            Err(e) => {
                tracing::error!(error = %e, "could not requeue runs at shutdown; their leases will expire")
            }
        }
    }
}
