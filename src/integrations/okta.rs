//! Okta Users API: look up a user, reset a password.
//! <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/>

use serde_json::{Value, json};
use url::Url;

use super::{Credentials, IntegrationError, http_failure, network_failure};

/// Where the Okta org is (the API token is the `OKTA_API_TOKEN` credential).
#[derive(Debug, Clone)]
pub struct OktaConfig {
    /// Org URL, e.g. `https://acme.okta.com`.
    pub org_url: Url,
}

/// Options of a password reset.
#[derive(Debug, Clone, Copy)]
pub struct ResetOptions {
    /// Okta e-mails the user a reset link (otherwise the link is returned).
    pub send_email: bool,
    /// Ends the user's sessions too.
    pub revoke_sessions: bool,
}

async fn authorization(credentials: &dyn Credentials) -> Result<String, IntegrationError> {
    let token =
        super::credentials::require(credentials, "OKTA_API_TOKEN", "Okta", "an Okta API token")
            .await?;
    Ok(format!("SSWS {}", token.expose()))
}

fn users_url(config: &OktaConfig, path: &[&str]) -> Result<Url, IntegrationError> {
    let mut url = config
        .org_url
        .join("api/v1/users/")
        .map_err(|e| IntegrationError::permanent(format!("bad OKTA_ORG_URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| IntegrationError::permanent("bad OKTA_ORG_URL"))?
        .pop_if_empty()
        .extend(path);
    Ok(url)
}

pub(super) async fn get_user(
    http: &reqwest::Client,
    config: &OktaConfig,
    credentials: &dyn Credentials,
    user: &str,
) -> Result<Value, IntegrationError> {
    let response = http
        .get(users_url(config, &[user])?)
        .header("Authorization", authorization(credentials).await?)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| network_failure("Okta", &e))?;
    if response.status().as_u16() == 404 {
        return Err(IntegrationError::permanent(format!(
            "Okta has no user {user:?}"
        )));
    }
    if !response.status().is_success() {
        return Err(http_failure("Okta", response, "OKTA_API_TOKEN").await);
    }
    response
        .json()
        .await
        .map_err(|e| IntegrationError::transient(format!("Okta: unreadable answer: {e}")))
}

pub(super) async fn reset_password(
    http: &reqwest::Client,
    config: &OktaConfig,
    credentials: &dyn Credentials,
    user: &str,
    options: ResetOptions,
) -> Result<Value, IntegrationError> {
    let ResetOptions {
        send_email,
        revoke_sessions,
    } = options;
    // The lifecycle operations take the user's id; a login (e-mail) is looked up first.
    let id = if user.contains('@') {
        let found = get_user(http, config, credentials, user).await?;
        found
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| IntegrationError::permanent("Okta answered a user without an id"))?
            .to_owned()
    } else {
        user.to_owned()
    };
    let mut url = users_url(config, &[&id, "lifecycle", "reset_password"])?;
    url.query_pairs_mut()
        .append_pair("sendEmail", if send_email { "true" } else { "false" });
    if revoke_sessions {
        url.query_pairs_mut().append_pair("revokeSessions", "true");
    }
    let response = http
        .post(url)
        .header("Authorization", authorization(credentials).await?)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| network_failure("Okta", &e))?;
    if !response.status().is_success() {
        return Err(http_failure("Okta", response, "OKTA_API_TOKEN").await);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Ok(json!({
        "userId": id,
        "emailSent": send_email,
        "resetPasswordUrl": body.get("resetPasswordUrl"),
    }))
}
