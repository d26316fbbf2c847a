//! Who may run what by hand: the global admins and each automation's `allowed`
//! people; when neither names anyone, the workspace's admins and owners.

use serde_json::{Value, json};

use super::{ManualDesk, UserError};
use crate::automations::VersionedAutomation;
use crate::principal::{self, Principal};
use crate::slack::client::object;

impl ManualDesk {
    /// The manual automations `user` may run.
    pub(super) async fn runnable_by(
        &self,
        user: &str,
    ) -> Result<Vec<VersionedAutomation>, UserError> {
        let mut runnable = Vec::new();
        for a in self.env.registry.current().iter() {
            if a.automation.enabled
                && a.automation.trigger.manual.is_some()
                && self.allowed(user, a).await?
            {
                runnable.push(a.clone());
            }
        }
        Ok(runnable)
    }

    pub(super) async fn check_allowed(
        &self,
        user: &str,
        automation: &VersionedAutomation,
    ) -> Result<(), UserError> {
        if self.allowed(user, automation).await? {
            Ok(())
        } else {
            Err(UserError(format!(
                "You may not run *{}*: ask an admin to add you to its `allowed` list or to `manual.admins`.",
                automation.automation.name
            )))
        }
    }

    async fn allowed(
        &self,
        user: &str,
        automation: &VersionedAutomation,
    ) -> Result<bool, UserError> {
        let own = automation
            .automation
            .trigger
            .manual
            .as_ref()
            .map(|m| m.allowed.as_slice())
            .unwrap_or_default();
        let people: Vec<Principal> = self.config.admins.iter().chain(own).cloned().collect();
        let unavailable = |e: crate::actions::StepError| {
            tracing::warn!(error = %e, "could not check who may run automations");
            UserError(
                "switchboard could not check your permissions with Slack; try again in a moment"
                    .into(),
            )
        };
        if people.is_empty() {
            let body = self
                .env
                .slack
                .call("users.info", &object(json!({ "user": user })))
                .await
                .map_err(|e| unavailable(e.into()))?;
            let flag = |name: &str| {
                body.pointer(&format!("/user/{name}"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            return Ok(flag("is_admin") || flag("is_owner") || flag("is_primary_owner"));
        }
        if people
            .iter()
            .any(|p| matches!(p, Principal::User(u) if u == user))
        {
            return Ok(true);
        }
        let members = principal::members(&self.env.slack, &self.env.groups, &people)
            .await
            .map_err(unavailable)?;
        Ok(members.iter().any(|m| m == user))
    }
}
