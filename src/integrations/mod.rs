//! Clients for the services the stories need: Jira Cloud (create an issue), Okta
//! (look up a user, reset a password) and the Google Admin SDK Directory API (add a
//! group member). Their base URLs come from configuration; their credentials from
//! [`credentials::Credentials`]. Errors say whether retrying may help.
//!
//! Adding an integration: a file here with its client, a host function in
//! `script::host`, a declaration in `switchboard.d.ts`, and a fake in the tests.

pub mod credentials;
mod google;
mod jira;
mod okta;

pub use credentials::Credentials;
pub use google::{GoogleConfig, GroupMember};
pub use jira::{IssueRequest, JiraConfig};
pub use okta::{OktaConfig, ResetOptions};

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// Why an integration call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IntegrationError {
    /// What happened, and what to do.
    pub message: String,
    /// Whether retrying later may succeed.
    pub retryable: bool,
}

impl IntegrationError {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
}

/// All integrations, as configured.
#[derive(Debug, Clone)]
pub struct Integrations {
    http: reqwest::Client,
    jira: Option<JiraConfig>,
    okta: Option<OktaConfig>,
    google: Option<Arc<google::Google>>,
}

/// Which integrations are configured.
#[derive(Debug, Clone, Default)]
pub struct IntegrationsConfig {
    /// Jira Cloud.
    pub jira: Option<JiraConfig>,
    /// Okta.
    pub okta: Option<OktaConfig>,
    /// Google Workspace.
    pub google: Option<GoogleConfig>,
}

impl Integrations {
    /// Clients for `config`.
    pub fn new(config: IntegrationsConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            google: config.google.map(|g| Arc::new(google::Google::new(g))),
            http,
            jira: config.jira,
            okta: config.okta,
        })
    }

    /// Creates a Jira issue; returns `{id, key, url}`.
    pub async fn jira_create_issue(
        &self,
        credentials: &dyn Credentials,
        issue: &IssueRequest,
    ) -> Result<Value, IntegrationError> {
        let config = self
            .jira
            .as_ref()
            .ok_or_else(|| not_configured("Jira", "JIRA_BASE_URL and JIRA_EMAIL"))?;
        jira::create_issue(&self.http, config, credentials, issue).await
    }

    /// An Okta user by id or login.
    pub async fn okta_get_user(
        &self,
        credentials: &dyn Credentials,
        user: &str,
    ) -> Result<Value, IntegrationError> {
        let config = self
            .okta
            .as_ref()
            .ok_or_else(|| not_configured("Okta", "OKTA_ORG_URL"))?;
        okta::get_user(&self.http, config, credentials, user).await
    }

    /// Resets an Okta user's password; returns `{userId, emailSent, resetPasswordUrl}`.
    pub async fn okta_reset_password(
        &self,
        credentials: &dyn Credentials,
        user: &str,
        options: ResetOptions,
    ) -> Result<Value, IntegrationError> {
        let config = self
            .okta
            .as_ref()
            .ok_or_else(|| not_configured("Okta", "OKTA_ORG_URL"))?;
        okta::reset_password(&self.http, config, credentials, user, options).await
    }

    /// Adds `email` to a Google group.
    pub async fn google_add_member(
        &self,
        credentials: &dyn Credentials,
        member: &GroupMember,
    ) -> Result<Value, IntegrationError> {
        let google = self
            .google
            .as_ref()
            .ok_or_else(|| not_configured("Google Workspace", "GOOGLE_ADMIN_SUBJECT"))?;
        google.add_member(&self.http, credentials, member).await
    }
}

fn not_configured(service: &str, settings: &str) -> IntegrationError {
    IntegrationError::permanent(format!(
        "{service} is not configured: set {settings} (see README, Integrations)"
    ))
}

/// Sorts an HTTP failure of `service` into permanent and transient, with advice.
async fn http_failure(
    service: &str,
    response: reqwest::Response,
    credentials_hint: &str,
) -> IntegrationError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let detail: String = body.chars().take(300).collect();
    match status.as_u16() {
        401 | 403 => IntegrationError::permanent(format!(
            "{service} refused the credentials ({status}): check {credentials_hint}. {detail}"
        )),
        404 => IntegrationError::permanent(format!("{service}: not found ({status}). {detail}")),
        408 | 429 | 500..=599 => {
            IntegrationError::transient(format!("{service} is unavailable ({status}). {detail}"))
        }
        _ => IntegrationError::permanent(format!(
            "{service} refused the request ({status}): {detail}"
        )),
    }
}

fn network_failure(service: &str, error: &reqwest::Error) -> IntegrationError {
    let what = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        error.to_string()
    };
    IntegrationError::transient(format!("{service}: {what}"))
}
