//! Google Admin SDK Directory API: add a member to a group, as a service account with
//! domain-wide delegation acting for an administrator (OAuth 2.0 JWT bearer grant).
//! <https://developers.google.com/admin-sdk/directory/reference/rest/v1/members/insert>
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use url::Url;

use super::{Credentials, IntegrationError, http_failure, network_failure};

/// The scope adding members needs.
pub const MEMBER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.group.member";

/// Google Workspace settings (the service account key is the `GOOGLE_SERVICE_ACCOUNT`
/// secret: the JSON key file's contents).
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Directory API base, `https://admin.googleapis.com/` by default.
    pub directory_url: Url,
    /// The administrator the service account acts for.
    pub admin_subject: String,
    /// Token endpoint; default: the key file's `token_uri`.
    pub token_url: Option<Url>,
}

/// A membership to add.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupMember {
    /// Group e-mail or id.
    pub group: String,
    /// Member e-mail.
    pub email: String,
    /// `MEMBER` (default), `MANAGER` or `OWNER`.
    pub role: Option<String>,
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    token_uri: Option<String>,
}

#[derive(Debug)]
pub(super) struct Google {
    config: GoogleConfig,
    token: Mutex<Option<(String, Instant)>>,
}

impl Google {
    pub(super) fn new(config: GoogleConfig) -> Self {
        Self {
            config,
            token: Mutex::new(None),
        }
    }

    pub(super) async fn add_member(
        &self,
        http: &reqwest::Client,
        credentials: &dyn Credentials,
        member: &GroupMember,
    ) -> Result<Value, IntegrationError> {
        let role = member
            .role
            .as_deref()
            .unwrap_or("MEMBER")
            .to_ascii_uppercase();
        if !matches!(role.as_str(), "MEMBER" | "MANAGER" | "OWNER") {
            return Err(IntegrationError::permanent(format!(
                "google.groups.addMember: role must be MEMBER, MANAGER or OWNER, not {role:?}"
            )));
        }
        let token = self.access_token(http, credentials).await?;
        let mut url = self
            .config
            .directory_url
            .join("admin/directory/v1/groups/")
            .map_err(|e| IntegrationError::permanent(format!("bad GOOGLE_DIRECTORY_URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| IntegrationError::permanent("bad GOOGLE_DIRECTORY_URL"))?
            .pop_if_empty()
            .extend([member.group.as_str(), "members"]);
        let response = http
            .post(url)
            .bearer_auth(&token)
            .json(&json!({ "email": member.email, "role": role }))
            .send()
            .await
            .map_err(|e| network_failure("Google Directory", &e))?;
        if response.status().as_u16() == 409 {
            // "Member already exists": the goal is reached.
            return Ok(json!({ "email": member.email, "role": role, "alreadyMember": true }));
        }
        if !response.status().is_success() {
            return Err(http_failure(
                "Google Directory",
                response,
                "GOOGLE_SERVICE_ACCOUNT, its domain-wide delegation and GOOGLE_ADMIN_SUBJECT",
            )
            .await);
        }
        let mut created: Value = response.json().await.unwrap_or_else(|_| json!({}));
        created["alreadyMember"] = json!(false);
        Ok(created)
    }

    /// A cached access token, renewed a minute before it expires.
    async fn access_token(
        &self,
        http: &reqwest::Client,
        credentials: &dyn Credentials,
    ) -> Result<String, IntegrationError> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires > Instant::now() + Duration::from_secs(60)
        {
            return Ok(token.clone());
        }
        let key_json = super::credentials::require(
            credentials,
            "GOOGLE_SERVICE_ACCOUNT",
            "Google Workspace",
            "the service account's JSON key",
        )
        .await?;
        let key: ServiceAccountKey = serde_json::from_str(key_json.expose()).map_err(|e| {
            IntegrationError::permanent(format!(
                "GOOGLE_SERVICE_ACCOUNT is not a service account JSON key: {e}"
            ))
        })?;
        let token_url = match &self.config.token_url {
            Some(u) => u.to_string(),
            None => key
                .token_uri
                .clone()
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
        };
        let assertion = signed_assertion(&key, &self.config.admin_subject, &token_url)?;
        let response = http
            .post(&token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| network_failure("Google OAuth", &e))?;
        if !response.status().is_success() {
            return Err(http_failure(
                "Google OAuth",
                response,
                "GOOGLE_SERVICE_ACCOUNT and its domain-wide delegation",
            )
            .await);
        }
        let body: Value = response.json().await.map_err(|e| {
            IntegrationError::transient(format!("Google OAuth: unreadable answer: {e}"))
        })?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                IntegrationError::transient("Google OAuth answered without an access_token")
            })?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        *cached = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        ));
        Ok(token)
    }
}

/// The RS256-signed JWT the token endpoint exchanges for an access token.
fn signed_assertion(
    key: &ServiceAccountKey,
    subject: &str,
    audience: &str,
) -> Result<String, IntegrationError> {
    let now = chrono::Utc::now().timestamp();
    let header = json!({ "alg": "RS256", "typ": "JWT" });
    let claims = json!({
        "iss": key.client_email,
        "sub": subject,
        "scope": MEMBER_SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = pem_to_der(&key.private_key).ok_or_else(|| {
        IntegrationError::permanent("GOOGLE_SERVICE_ACCOUNT: private_key is not a PEM key")
    })?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        IntegrationError::permanent(format!("GOOGLE_SERVICE_ACCOUNT: unusable private key: {e}"))
    })?;
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|e| {
        IntegrationError::permanent(format!("signing the Google assertion failed: {e}"))
    })?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).ok()
}
