//! switchboard's Home tab in Slack: when a person opens it (`app_home_opened`), and
//! after they decide a request or start a run from it, the tab is published for them
//! (`views.publish`) with what they may run, what waits for their decision, what is
//! assigned to them and how their last runs went; admins also see the day's failures.
//! A person who opened the tab in the last hour also sees it republished when one of
//! their runs ends. Publishing is coalesced per person: a burst of reasons to refresh
//! publishes at most one more time after the one in flight.

pub mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::manual::ManualDesk;
use crate::runs::RunEnv;
use crate::slack::client::object;
use view::{HomeData, ListedRun, MAX_LISTED};

/// How long after opening the tab a person's runs' ends still republish it: runs that
/// end while nobody looks publish nothing (`views.publish` is rate limited).
const VIEWER_WINDOW_MS: i64 = 3600 * 1000;

/// How far back the admins' list of failures goes.
const FAILED_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Publishes people's Home tabs.
#[derive(Debug, Clone)]
pub struct HomeDesk {
    env: Arc<RunEnv>,
    manual: ManualDesk,
    /// People whose tab is being published: `true` if it must be published again.
    publishing: Arc<Mutex<HashMap<String, bool>>>,
    /// People who opened their tab, and when: their tab follows their runs' ends.
    viewers: Arc<Mutex<HashMap<String, i64>>>,
}

impl HomeDesk {
    /// A desk over the run queue's environment, which republishes the tab of a viewer
    /// whose run ends.
    pub fn start(env: Arc<RunEnv>, manual: ManualDesk, stop: CancellationToken) -> Self {
        let desk = Self {
            env,
            manual,
            publishing: Arc::default(),
            viewers: Arc::default(),
        };
        let mut ended = desk.env.ended.subscribe();
        let listener = desk.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    next = ended.recv() => next,
                };
                match next {
                    Ok(user) => {
                        if listener.is_viewer(&user) {
                            listener.refresh(&user);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "Home tab missed some run ends")
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        desk
    }

    /// Whether `user` opened their tab recently enough for it to be kept fresh.
    fn is_viewer(&self, user: &str) -> bool {
        let now = self.env.clock.now_ms();
        let viewers = self.viewers.lock().unwrap_or_else(|e| e.into_inner());
        viewers
            .get(user)
            .is_some_and(|opened| now - opened < VIEWER_WINDOW_MS)
    }

    /// `user` opened their tab: publish it, and keep it fresh for a while.
    pub fn opened(&self, user: &str) {
        let now = self.env.clock.now_ms();
        {
            // Forgotten here, when someone opens a tab, not on every run's end.
            let mut viewers = self.viewers.lock().unwrap_or_else(|e| e.into_inner());
            viewers.retain(|_, opened| now - *opened < VIEWER_WINDOW_MS);
            viewers.insert(user.to_owned(), now);
        }
        self.refresh(user);
    }

    /// Publishes `user`'s tab soon (in the background).
    pub fn refresh(&self, user: &str) {
        {
            let mut publishing = self.publishing.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = publishing.get_mut(user) {
                *again = true;
                return;
            }
            publishing.insert(user.to_owned(), false);
        }
        let desk = self.clone();
        let user = user.to_owned();
        tokio::spawn(async move {
            loop {
                if let Err(e) = desk.publish(&user).await {
                    tracing::warn!(user, error = %e, "could not publish the Home tab");
                }
                let mut publishing = desk.publishing.lock().unwrap_or_else(|e| e.into_inner());
                match publishing.get_mut(&user) {
                    Some(again) if *again => *again = false,
                    _ => {
                        publishing.remove(&user);
                        return;
                    }
                }
            }
        });
    }

    async fn publish(&self, user: &str) -> anyhow::Result<()> {
        let data = self.gather(user).await?;
        let args = object(json!({ "user_id": user, "view": view::view(&data) }));
        self.env.slack.call("views.publish", &args).await?;
        tracing::debug!(user, "Home tab published");
        Ok(())
    }

    async fn gather(&self, user: &str) -> anyhow::Result<HomeData> {
        let pool = self.env.db.reader();
        let (runnable, problem) = match self.manual.runnable(user).await {
            Ok(list) => (list, None),
            Err(problem) => (Vec::new(), Some(problem)),
        };
        let runnable = runnable
            .iter()
            .map(|a| {
                let a = &a.automation;
                (a.id.clone(), a.name.clone(), a.description.clone())
            })
            .collect();
        let approvals = db::approvals::pending_for(pool, user, 5).await?;
        let assigned = {
            let mut conn = pool.acquire().await?;
            db::conversations::assigned_to(&mut *conn, user, MAX_LISTED as i64).await?
        };
        let runs = db::runs::by_actor(pool, user, 5).await?;
        let failed = if self.manual.is_admin(user).await {
            let since = self.env.clock.now_ms() - FAILED_WINDOW_MS;
            Some(self.listed(db::runs::failed_since(pool, since, MAX_LISTED as i64).await?))
        } else {
            None
        };
        Ok(HomeData {
            runnable,
            approvals,
            assigned,
            runs: self.listed(runs),
            failed,
            problem,
        })
    }

    fn listed(&self, runs: Vec<db::runs::RunRecord>) -> Vec<ListedRun> {
        let now = self.env.clock.now();
        runs.into_iter()
            .map(|run| ListedRun {
                // The name of the version that ran, as the run's end message says it.
                name: self
                    .env
                    .registry
                    .version(&run.automation_id, run.automation_version)
                    .map_or_else(|| run.automation_id.clone(), |a| a.name.clone()),
                link: self.env.links.url(run.id, now),
                run,
            })
            .collect()
    }
}
