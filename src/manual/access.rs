//! Who may run what by hand: the global admins and each automation's `allowed`
//! people; when neither names anyone, the workspace's admins and owners.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{ManualDesk, UserError};
use crate::automations::VersionedAutomation;
use crate::conversations::Conversation;
use crate::principal::{self, Principal};
use crate::slack::client::object;

impl ManualDesk {
    /// The manual automations `user` may run.
    pub(super) async fn runnable_by(
        &self,
        user: &str,
    ) -> Result<Vec<VersionedAutomation>, UserError> {
        let mut access = Access::new(self, user);
        let mut runnable = Vec::new();
        for a in self.env.registry.current().iter() {
            if a.automation.enabled
                && a.automation.trigger.manual.is_some()
                && access.allowed(a).await?
            {
                runnable.push(a.clone());
            }
        }
        Ok(runnable)
    }

    /// Refuses a conversation named by number or link whose channel `user` is not in:
    /// a run would show them what happens there.
    pub(super) async fn check_can_see(
        &self,
        user: &str,
        conversation: &Conversation,
    ) -> Result<(), UserError> {
        let channel = Principal::Channel(conversation.channel.clone());
        if Access::new(self, user).includes(&channel).await? {
            Ok(())
        } else {
            Err(UserError(format!(
                "Conversation #{} is in a channel you are not in (<#{}>).",
                conversation.id, conversation.channel
            )))
        }
    }

    /// Whether `user` is one of the admins who may run every manual automation.
    pub(super) async fn admin(&self, user: &str) -> Result<bool, UserError> {
        let mut access = Access::new(self, user);
        if self.config.admins.is_empty() {
            return access.workspace_admin().await;
        }
        for admin in &self.config.admins {
            if access.includes(admin).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn check_allowed(
        &self,
        user: &str,
        automation: &VersionedAutomation,
    ) -> Result<(), UserError> {
        if Access::new(self, user).allowed(automation).await? {
            Ok(())
        } else {
            Err(UserError(format!(
                "You may not run *{}*: ask an admin to add you to its `allowed` list or to `manual.admins`.",
                automation.automation.name
            )))
        }
    }
}

/// One person's permissions, for one request: Slack is asked about the person's role
/// and about each group or channel at most once, however many automations name them.
struct Access<'a> {
    desk: &'a ManualDesk,
    user: &'a str,
    workspace_admin: Option<bool>,
    member_of: HashMap<Principal, bool>,
}

impl<'a> Access<'a> {
    fn new(desk: &'a ManualDesk, user: &'a str) -> Self {
        Self {
            desk,
            user,
            workspace_admin: None,
            member_of: HashMap::new(),
        }
    }

    async fn allowed(&mut self, automation: &VersionedAutomation) -> Result<bool, UserError> {
        let own = automation
            .automation
            .trigger
            .manual
            .as_ref()
            .map(|m| m.allowed.as_slice())
            .unwrap_or_default();
        let people: Vec<&Principal> = self.desk.config.admins.iter().chain(own).collect();
        if people.is_empty() {
            return self.workspace_admin().await;
        }
        for p in people {
            if self.includes(p).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn includes(&mut self, principal: &Principal) -> Result<bool, UserError> {
        if let Principal::User(u) = principal {
            return Ok(u == self.user);
        }
        if let Some(known) = self.member_of.get(principal) {
            return Ok(*known);
        }
        let env = &self.desk.env;
        let members = principal::members(&env.slack, &env.groups, std::slice::from_ref(principal))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let member = members.iter().any(|m| m == self.user);
        self.member_of.insert(principal.clone(), member);
        Ok(member)
    }

    async fn workspace_admin(&mut self) -> Result<bool, UserError> {
        if let Some(known) = self.workspace_admin {
            return Ok(known);
        }
        let body = self
            .desk
            .env
            .slack
            .call("users.info", &object(json!({ "user": self.user })))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let flag = |name: &str| {
            body.pointer(&format!("/user/{name}"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let admin = flag("is_admin") || flag("is_owner") || flag("is_primary_owner");
        self.workspace_admin = Some(admin);
        Ok(admin)
    }
}

fn unavailable(error: String) -> UserError {
    tracing::warn!(error, "could not check who may run automations");
    UserError(
        "switchboard could not check your permissions with Slack; try again in a moment".into(),
    )
}
