//! What the Home tab asks of the manual-run desk: what a person may run, whether they
//! are an admin, and its Run button (which opens the same inputs form as
//! `/switchboard run`).

use std::collections::BTreeMap;

use super::modal::Origin;
use super::{ManualDesk, UserError, start};
use crate::automations::VersionedAutomation;

/// `action_id` of the Home tab's Run buttons; their `value` is the automation's id.
pub const HOME_RUN: &str = "switchboard_home_run";

impl ManualDesk {
    /// The manual automations `user` may run, or what went wrong asking Slack.
    pub async fn runnable(&self, user: &str) -> Result<Vec<VersionedAutomation>, String> {
        self.runnable_by(user).await.map_err(|e| e.0)
    }

    /// Whether `user` may run every manual automation (`manual.admins`, else the
    /// workspace's admins and owners).
    pub async fn is_admin(&self, user: &str) -> bool {
        self.admin(user).await.unwrap_or(false)
    }

    /// The Run button of automation `id` on `user`'s Home tab: opens its inputs form, or
    /// starts it; `user` is told in a direct message how it went.
    pub(super) async fn home_run(&self, user: &str, trigger_id: Option<&str>, id: &str) {
        let text = match self.run_from_home(user, trigger_id, id).await {
            Ok(None) => return,
            Ok(Some(text)) => text,
            Err(e) => format!(":warning: {}", e.0),
        };
        crate::runs::notify::tell(&self.env, user, None, None, &text).await;
    }

    /// What the Run button did: `None` when it opened the form.
    async fn run_from_home(
        &self,
        user: &str,
        trigger_id: Option<&str>,
        id: &str,
    ) -> Result<Option<String>, UserError> {
        let automation = self.automation(id)?;
        self.check_allowed(user, &automation).await?;
        let origin = Origin {
            automation: Some(automation.automation.id.clone()),
            conversation: None,
            channel: None,
            source: "app_home".into(),
        };
        if let Some(trigger_id) = trigger_id.filter(|_| self.has_inputs(&automation)) {
            self.open_form(&automation, &origin, trigger_id, user);
            return Ok(None);
        }
        let request = self.request(user, BTreeMap::new(), None, &origin);
        let run = start(&self.env, &automation, request).await?;
        Ok(Some(self.started(&automation, run)))
    }
}
