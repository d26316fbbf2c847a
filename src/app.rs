//! Building the application: pools, clients, automations, router and workers.
//! [`App::build`] binds the listener and returns, so tests can use port 0 and read
//! the address; [`App::run_until_stopped`] serves until a signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::actions::GroupCache;
use crate::approvals::desk::ApprovalDesk;
use crate::automations::{Registry, reload};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::backup::ServerLock;
use crate::db::{self, Db};
use crate::dispatch::Slots;
use crate::edits::EditDesk;
use crate::home::HomeDesk;
use crate::housekeeping;
use crate::http::{self, AppState};
use crate::inbox::SlackInbox;
use crate::ingest::{IngestContext, Ingestor};
use crate::integrations::Integrations;
use crate::kv::KvStore;
use crate::manual::ManualDesk;
use crate::runs::link::RunLinks;
use crate::runs::page::RunPages;
use crate::runs::{self, LeaseBook, RunEnv};
use crate::script::fetch::Fetcher;
use crate::script::pool::SandboxPool;
use crate::secrets::{self, SecretStore};
use crate::slack::{SlackClient, SlackError};
use crate::socket::SocketMode;
use crate::team::{self, SupportTeam};
use crate::trigger::TriggerKind;
use crate::webhooks::WebhookDoor;
use crate::workspace::Workspaces;

/// A running switchboard.
#[derive(Debug)]
pub struct App {
    addr: SocketAddr,
    db: Db,
    registry: Arc<Registry>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
    /// SQLite: held while the server runs, so no restore replaces its database.
    _lock: Option<ServerLock>,
}

impl App {
    /// Builds and starts everything with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds and starts everything with `clock`.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let link_key = config.require_slack_secret()?.clone();
        let signing_secret = config.slack.signing_secret.clone();
        let token = config.require_bot_token()?.clone();

        let lock = ServerLock::for_server(&config.database)?;
        let db = Db::connect(&config.database).await?;
        db.migrate().await?;
        let slack = Arc::new(SlackClient::new(&config.slack, token)?);

        let workspaces = Arc::new(Workspaces::default());
        for w in db::workspaces::all(db.reader()).await? {
            workspaces.insert(w);
        }
        identify_workspace(&slack, &db, &workspaces, clock.as_ref()).await?;

        let key_provider = secrets::open_provider(&config.secrets).await?;
        tracing::info!(provider = %key_provider.describe(), "secrets are encrypted with this key");
        let secrets = SecretStore::new(db.clone(), key_provider);
        let kv = KvStore::new(db.clone(), clock.clone());

        let registry = Arc::new(Registry::default());
        reload::reload(
            &config.automations_dir,
            &db,
            &secrets,
            &registry,
            clock.as_ref(),
        )
        .await?;

        let sandbox = SandboxPool::new(config.script.sandbox.clone());
        let wake = Arc::new(Notify::new());
        // A process with no workers queues runs for others and takes none itself.
        let (default_workers, script_workers) = match config.runs.workers {
            0 => (0, 0),
            n => (n, sandbox.capacity()),
        };
        let owner = lease_owner();
        let (slots, inboxes) = Slots::new(
            owner.clone(),
            config.runs.lease,
            default_workers,
            script_workers,
            wake.clone(),
        );
        let (journal, leasing) = runs::lanes(
            &db,
            registry.clone(),
            &config.runs,
            slots.clone(),
            clock.clone(),
        )?;
        let team = Arc::new(SupportTeam::new(
            config.support.team.clone(),
            config.support.team_reactions,
        ));
        warn_about_silences(&registry, &team);
        let ingestor = Ingestor::start(
            &db,
            Arc::new(IngestContext {
                registry: registry.clone(),
                support: config.support.clone(),
                workspaces: workspaces.clone(),
                max_depth: config.runs.max_depth,
                clock: clock.clone(),
                team: team.clone(),
            }),
            slots.clone(),
        )?;

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (SWITCHBOARD_LISTEN)", config.listen))?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();

        let env = Arc::new(RunEnv {
            db: db.clone(),
            registry: registry.clone(),
            slack: slack.clone(),
            clock: clock.clone(),
            config: config.runs.clone(),
            groups: GroupCache::default(),
            owner,
            wake,
            sandbox: sandbox.clone(),
            fetcher: Fetcher::new(config.script.fetch.clone())?,
            integrations: Integrations::new(config.integrations.clone())?,
            workspaces: workspaces.clone(),
            secrets: secrets.clone(),
            kv: kv.clone(),
            links: RunLinks::new(config.public_url.clone(), &link_key),
            slots,
            journal,
            leasing,
            leases: LeaseBook::default(),
            ended: tokio::sync::broadcast::channel(1024).0,
            team: team.clone(),
        });

        let manual = ManualDesk::new(env.clone(), config.manual.clone());
        let inbox = SlackInbox::new(
            ingestor.clone(),
            ApprovalDesk::new(env.clone()),
            manual.clone(),
            EditDesk::new(env.clone(), ingestor, config.edits.clone()),
            HomeDesk::start(env.clone(), manual, stop.clone()),
        );
        if let Some(socket) = &config.slack.socket {
            let door = SocketMode::check(&config.slack, socket.clone(), inbox.clone()).await?;
            if signing_secret.is_none() {
                tracing::info!(
                    "SLACK_SIGNING_SECRET is not set: /slack/events, /slack/interactions and /slack/commands answer 404; Slack's deliveries come over Socket Mode"
                );
            }
            tasks.spawn(door.run(stop.clone()));
        }
        let router = http::router(AppState {
            signing_secret,
            inbox,
            webhooks: WebhookDoor::new(env.clone(), &config.webhooks),
            run_pages: RunPages::new(env.clone()),
            webhook_max_body: config.webhooks.max_body_bytes,
            db: db.clone(),
            clock: clock.clone(),
        });
        let server_stop = stop.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(server_stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });

        if config.runs.workers > 0 {
            if let Err(e) = sandbox.warm_up().await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "script sandboxes did not start; code steps will fail until this is fixed"
                );
            }
            tasks.spawn(runs::work(env, inboxes, stop.clone()));
        } else {
            tracing::warn!("runs.workers = 0: runs are queued but not executed by this process");
        }
        tasks.spawn(reload::watch(
            config.automations_dir.clone(),
            db.clone(),
            secrets.clone(),
            registry.clone(),
            clock.clone(),
            stop.clone(),
        ));
        tasks.spawn(housekeeping::run(
            db.clone(),
            kv,
            config.retention,
            clock.clone(),
            stop.clone(),
        ));
        tasks.spawn(team::keep_fresh(
            team,
            slack.clone(),
            Arc::new(GroupCache::default()),
            stop.clone(),
        ));

        tracing::info!(%addr, database = ?db.backend(), automations = registry.current().len(), "switchboard is listening");
        Ok(Self {
            addr,
            db,
            registry,
            stop,
            tasks,
            _lock: lock,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The automations in force.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests and runs in flight");
        self.shutdown().await;
        Ok(())
    }

    /// Stops serving and working, waiting for work in flight.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        // Nothing submits any more: the batch writers commit what they hold and end.
        self.db.close().await;
    }

    /// Stops everything at once, as a crash would: no draining, no requeuing.
    pub async fn kill(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.db.close().await;
    }
}

/// Learns the workspace's URL and bot user from `auth.test`. A refused token stops
/// startup; an unreachable Slack does not (events can still be recorded), and the
/// check is retried in the background.
async fn identify_workspace(
    slack: &Arc<SlackClient>,
    db: &Db,
    workspaces: &Arc<Workspaces>,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    match slack.auth_test().await {
        Ok(info) => {
            let workspace = db::workspaces::Workspace {
                team_id: info.team_id,
                name: info.team,
                url: info.url,
                bot_user_id: info.user_id,
            };
            db::workspaces::upsert(&mut *db.write().await?, &workspace, clock.now_ms()).await?;
            tracing::info!(team.id = %workspace.team_id, team = %workspace.name, bot = %workspace.bot_user_id, "connected to Slack");
            workspaces.insert(workspace);
            Ok(())
        }
        Err(e @ SlackError::Refused { .. }) => Err(anyhow::anyhow!(
            "Slack refused SLACK_BOT_TOKEN ({e}); check the token on your app's OAuth & Permissions page"
        )),
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach Slack to identify the workspace; events are still recorded, permalinks use slack.com until it answers");
            let (slack, db, workspaces) = (slack.clone(), db.clone(), workspaces.clone());
            let clock_now = clock.now_ms();
            tokio::spawn(async move {
                let mut wait = Duration::from_secs(5);
                loop {
                    tokio::time::sleep(wait).await;
                    if let Ok(info) = slack.auth_test().await {
                        let workspace = db::workspaces::Workspace {
                            team_id: info.team_id,
                            name: info.team,
                            url: info.url,
                            bot_user_id: info.user_id,
                        };
                        if let Ok(mut conn) = db.write().await {
                            let _ = db::workspaces::upsert(&mut conn, &workspace, clock_now).await;
                        }
                        tracing::info!(team.id = %workspace.team_id, "connected to Slack");
                        workspaces.insert(workspace);
                        return;
                    }
                    wait = (wait * 2).min(Duration::from_secs(300));
                }
            });
            Ok(())
        }
    }
}

/// `no_response` and `no_reply` tell the team from the requester side: without a team,
/// every message is the requester's.
fn warn_about_silences(registry: &Registry, team: &SupportTeam) {
    if team.is_configured() {
        return;
    }
    for a in registry.current().iter() {
        let kind = a.automation.trigger.kind;
        if matches!(kind, TriggerKind::NoResponse | TriggerKind::NoReply) {
            tracing::warn!(automation = %a.automation.id, trigger = %kind, "SWITCHBOARD_SUPPORT_TEAM (`support.team`) is not set: nobody's message counts as the team's answer, so this automation fires for every conversation; name the team's user ids and @groups");
        }
    }
}

/// A lease owner name unique to this process.
fn lease_owner() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "switchboard".into());
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &id[id.len() - 8..])
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
