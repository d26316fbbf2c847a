//! Where integration credentials come from: named secrets (`JIRA_API_TOKEN`,
//! `OKTA_API_TOKEN`, `GOOGLE_SERVICE_ACCOUNT`), looked up at the moment of use through
//! this one trait. During a run it is the run's secrets (decrypted on demand, cached for
//! the run, redacted from its records).

use futures::future::BoxFuture;

use super::IntegrationError;
use crate::config::SecretString;

/// Named credentials.
pub trait Credentials: Send + Sync {
    /// The credential named `name`, if it is set.
    fn get<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretString>, IntegrationError>>;
}

/// The credential `name`, or an error telling the operator how to set it.
pub(super) async fn require(
    credentials: &dyn Credentials,
    name: &str,
    service: &str,
    what: &str,
) -> Result<SecretString, IntegrationError> {
    credentials.get(name).await?.ok_or_else(|| {
        IntegrationError::permanent(format!(
            "{service} needs the secret {name} ({what}): set it with `switchboard secrets set {name}`"
        ))
    })
}
