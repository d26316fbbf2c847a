//! The run queue's workers.
//!
//! A run reaches a worker in one of two ways. Runs queued while this process has a
//! free worker are inserted already leased and handed over after their commit
//! (`dispatch::slots`). The others wait in the database: one claimer per lane leases
//! the oldest due runs (several at a time) whenever workers are free; ingest and steps
//! ring it when they queue runs, and it polls for runs queued by other replicas or due
//! for retry. A reaper requeues runs whose lease expired (their worker died). The
//! state machine:
//!
//! ```text
//! queued ──claim──▶ running ──▶ succeeded | failed        (final, written once)
//!   ▲                  │
//!   └── retry / expired lease / shutdown
//!                      └──▶ waiting ──resume──▶ queued   (for steps that pause)
//! ```

mod backlog;
mod executor;
pub mod journal;
mod lease;
pub mod link;
pub mod notify;
pub mod page;
pub mod report;
pub mod retry;

pub use executor::Start;
pub use lease::LeaseBook;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::actions::GroupCache;
use crate::automations::{DEFAULT_LANE, Registry, SCRIPT_LANE};
use crate::clock::Clock;
use crate::config::RunsConfig;
use crate::db::runs::ClaimedRun;
use crate::db::writer::Lane;
use crate::db::{self, Db};
use crate::dispatch::{Handoff, Inboxes, Slots};
use crate::integrations::Integrations;
use crate::kv::KvStore;
use crate::script::fetch::Fetcher;
use crate::script::pool::SandboxPool;
use crate::secrets::SecretStore;
use crate::slack::SlackClient;
use crate::workspace::Workspaces;
use journal::{ClaimRequest, Journal, LeaseJob, Leased, Leases};
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
    /// This process's workers, and the hand-off of fresh runs to them.
    pub slots: Arc<Slots>,
    /// The runs' journal, through the batch writer.
    pub journal: Lane<Journal>,
    /// Claims and lease renewals, through the batch writer.
    pub leasing: Lane<Leases>,
    /// The runs this process's workers hold.
    pub leases: LeaseBook,
    /// Whose runs ended (the trigger's actor), as they end: the Home tab listens.
    pub ended: tokio::sync::broadcast::Sender<String>,
    /// Whose messages count as the team's (for `wait … until` a reply).
    pub team: Arc<crate::team::SupportTeam>,
}

/// How long shutdown waits for runs in flight before putting them back in the queue.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Most runs one claim leases.
const CLAIM_BATCH: usize = 32;

/// The batch writer's lanes for runs: the journal, and claims with lease renewals.
pub fn lanes(
    db: &Db,
    registry: Arc<Registry>,
    config: &RunsConfig,
    slots: Arc<Slots>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Lane<Journal>, Lane<Leases>)> {
    use crate::db::writer::{Class, Share};
    let journal = Journal {
        registry,
        max_depth: config.max_depth,
        slots: slots.clone(),
        clock: clock.clone(),
    };
    // Events go first (priority 0); a batch carries at most this many entries, so
    // that an acknowledgement waits for a short transaction at worst.
    let journal = db.lane(
        Class::Runs,
        journal,
        Share {
            priority: 1,
            max: 128,
            depth: 8192,
        },
    )?;
    let leasing = db.lane(
        Class::Runs,
        Leases { slots, clock },
        Share {
            priority: 2,
            max: 16,
            depth: 1024,
        },
    )?;
    Ok((journal, leasing))
}

/// Runs the workers (hand-offs and one claimer per lane), the lease keeper, the
/// reaper, the approvals' sweeper, the scheduler, the timers and the backlog watcher
/// until `stop`, then drains.
pub async fn work(env: Arc<RunEnv>, inboxes: Inboxes, stop: CancellationToken) {
    let keeper = tokio::spawn(lease::keep_alive(env.clone(), stop.clone()));
    let reaper = tokio::spawn(lease::reap_expired(env.clone(), stop.clone()));
    let sweeper = tokio::spawn(crate::approvals::sweeper::run(env.clone(), stop.clone()));
    let scheduler = tokio::spawn(crate::schedules::run(env.clone(), stop.clone()));
    let timers = tokio::spawn(crate::timers::run(env.clone(), stop.clone()));
    let watcher = tokio::spawn(backlog::watch(env.clone(), stop.clone()));
    let running = Running::default();
    tokio::join!(
        take_handoffs(env.clone(), inboxes.default, running.clone(), stop.clone()),
        take_handoffs(env.clone(), inboxes.script, running.clone(), stop.clone()),
        claim_loop(env.clone(), DEFAULT_LANE, running.clone(), stop.clone()),
        claim_loop(env.clone(), SCRIPT_LANE, running.clone(), stop.clone()),
    );
    reaper.abort();
    sweeper.abort();
    scheduler.abort();
    timers.abort();
    watcher.abort();
    drain(&env, running.take()).await;
    keeper.abort();
}

/// The runs executing in this process.
#[derive(Clone, Default)]
struct Running(Arc<Mutex<JoinSet<()>>>);

impl Running {
    fn start(
        &self,
        env: &Arc<RunEnv>,
        run: ClaimedRun,
        start: Start,
        permit: OwnedSemaphorePermit,
    ) {
        let env = env.clone();
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            let id = run.id;
            let outcome = std::panic::AssertUnwindSafe(executor::execute_run(env, run, start))
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

    fn take(&self) -> JoinSet<()> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Starts the runs handed over by the transactions that queued them.
async fn take_handoffs(
    env: Arc<RunEnv>,
    mut inbox: mpsc::UnboundedReceiver<Handoff>,
    running: Running,
    stop: CancellationToken,
) {
    loop {
        let handoff = tokio::select! {
            () = stop.cancelled() => break,
            handoff = inbox.recv() => match handoff {
                Some(h) => h,
                None => break,
            },
        };
        running.start(
            &env,
            handoff.run,
            Start::Fresh(handoff.conversation),
            handoff.permit,
        );
    }
    // Runs handed over after this keep their lease until shutdown requeues them.
    inbox.close();
}

/// Leases queued runs of `lane` while workers are free.
async fn claim_loop(
    env: Arc<RunEnv>,
    lane: &'static str,
    running: Running,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => break,
            permit = env.slots.reserve(lane) => permit,
        };
        // Register interest before looking, so a run queued in between still wakes us.
        let notified = env.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut permits = vec![first];
        while permits.len() < CLAIM_BATCH {
            match env.slots.try_reserve(lane) {
                Some(p) => permits.push(p),
                None => break,
            }
        }
        let max = permits.len();
        let claimed = env
            .leasing
            .submit(LeaseJob::Claim(ClaimRequest { lane, max }))
            .await;
        match claimed {
            Ok(Leased::Claimed(runs)) => {
                let full = runs.len() == max;
                for run in runs {
                    let permit = permits.pop().expect("one permit per claimed run");
                    running.start(&env, run, Start::Claimed, permit);
                }
                drop(permits);
                if full {
                    continue;
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = &mut notified => {}
                    () = tokio::time::sleep(env.config.poll_interval) => {}
                }
            }
            Ok(Leased::Renewed(_)) => unreachable!("a claim claims"),
            Err(e) => {
                drop(permits);
                tracing::error!(error = %e, lane, "could not claim runs; trying again in a second");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn drain(env: &RunEnv, mut running: JoinSet<()>) {
    if !running.is_empty() {
        tracing::info!(runs = running.len(), "waiting for runs in flight");
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            running.abort_all();
        }
    }
    // Runs still leased here (aborted, or handed over too late to start) go back to
    // the queue.
    let now = env.clock.now_ms();
    let requeued =
        async { db::runs::requeue_owned(&mut *env.db.write().await?, &env.owner, now).await };
    match requeued.await {
        Ok(ids) if !ids.is_empty() => {
            tracing::warn!(runs = ?ids, "runs still in flight at shutdown were put back in the queue")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not requeue runs at shutdown; their leases will expire")
        }
    }
}
