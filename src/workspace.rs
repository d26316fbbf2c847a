//! What switchboard knows about the workspaces it serves (from `auth.test`), kept in
//! memory for ingest, which must never wait for Slack.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::db::workspaces::Workspace;

/// Used for permalinks until `auth.test` has told us the workspace's own URL; Slack
/// redirects it to the right workspace.
const FALLBACK_URL: &str = "https://slack.com/";

/// Known workspaces by team id.
#[derive(Debug, Default)]
pub struct Workspaces {
    known: RwLock<HashMap<String, Workspace>>,
}

impl Workspaces {
    /// Remembers a workspace.
    pub fn insert(&self, workspace: Workspace) {
        self.known
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(workspace.team_id.clone(), workspace);
    }

    /// A workspace by team id.
    pub fn get(&self, team_id: &str) -> Option<Workspace> {
        self.known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(team_id)
            .cloned()
    }

    /// The workspace of a single-workspace deployment (the first by team id, if there
    /// are several): what triggers that come from outside Slack belong to.
    pub fn primary(&self) -> Option<String> {
        self.known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .min()
            .cloned()
    }

    /// The workspace's URL, for permalinks.
    pub fn url_for(&self, team_id: &str) -> String {
        self.get(team_id)
            .map(|w| w.url)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| FALLBACK_URL.to_owned())
    }
}
