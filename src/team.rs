//! The support team (`support.team`): whose messages in a conversation count as the
//! team's answers. Everyone else who writes in a conversation is the requester side;
//! bot messages (switchboard's own included) count for neither.
//!
//! The team is named by user ids and user groups. Groups are resolved through Slack
//! (`usergroups.users.list`) at startup and every few minutes, so the ingest, which
//! never waits for Slack, asks an in-memory set. Until a group is first resolved its
//! members count as the requester side, and the log says so.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::actions::GroupCache;
use crate::principal::{self, Principal};
use crate::slack::SlackClient;

/// How often the groups' members are read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// Who answers for the support team.
#[derive(Debug, Default)]
pub struct SupportTeam {
    principals: Vec<Principal>,
    reactions: bool,
    members: RwLock<Arc<HashSet<String>>>,
}

/// Which side of a conversation a person is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A member of the support team.
    Team,
    /// The requester, or anyone else outside the team.
    Requester,
}

impl SupportTeam {
    /// The team of `principals` (users and user groups); `reactions`: whether a team
    /// member's reaction counts as an answer.
    pub fn new(principals: Vec<Principal>, reactions: bool) -> Self {
        let users = principals
            .iter()
            .filter_map(|p| match p {
                Principal::User(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        Self {
            principals,
            reactions,
            members: RwLock::new(Arc::new(users)),
        }
    }

    /// Whether a team is configured at all.
    pub fn is_configured(&self) -> bool {
        !self.principals.is_empty()
    }

    /// Whether reactions by team members count as answers.
    pub fn counts_reactions(&self) -> bool {
        self.reactions
    }

    /// The side `user` is on.
    pub fn side_of(&self, user: &str) -> Side {
        let members = self.members.read().unwrap_or_else(|e| e.into_inner());
        if members.contains(user) {
            Side::Team
        } else {
            Side::Requester
        }
    }

    /// Reads the groups' members from Slack; returns how many people the team has.
    pub async fn refresh(&self, slack: &SlackClient, groups: &GroupCache) -> anyhow::Result<usize> {
        if !self
            .principals
            .iter()
            .any(|p| matches!(p, Principal::Group(_)))
        {
            return Ok(self.members.read().unwrap_or_else(|e| e.into_inner()).len());
        }
        let users = principal::members(slack, groups, &self.principals)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let count = users.len();
        *self.members.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(users.into_iter().collect());
        Ok(count)
    }
}

/// Keeps the team's members fresh until `stop`.
pub async fn keep_fresh(
    team: Arc<SupportTeam>,
    slack: Arc<SlackClient>,
    groups: Arc<GroupCache>,
    stop: CancellationToken,
) {
    if !team
        .principals
        .iter()
        .any(|p| matches!(p, Principal::Group(_)))
    {
        return;
    }
    let mut known: Option<usize> = None;
    loop {
        let wait = match team.refresh(&slack, &groups).await {
            Ok(count) => {
                if known != Some(count) {
                    tracing::info!(members = count, "support team read from Slack");
                }
                known = Some(count);
                REFRESH_EVERY
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot read the support team's user groups from Slack; answers by their members count as the requester's until it works (trying again in 30 s)"
                );
                Duration::from_secs(30)
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_on_the_team_at_once_and_others_are_the_requester_side() {
        let team = SupportTeam::new(
            vec![
                Principal::User("U0AGENT1".into()),
                Principal::Group("support".into()),
            ],
            false,
        );
        assert!(team.is_configured());
        assert_eq!(team.side_of("U0AGENT1"), Side::Team);
        assert_eq!(team.side_of("U0CUSTOMER"), Side::Requester);
        assert!(!SupportTeam::default().is_configured());
    }
}
