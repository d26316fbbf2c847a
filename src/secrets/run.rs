//! A run's view of the secrets: decrypted when first used, kept only for the run, and
//! every value read is added to the run's redactor.

use std::collections::HashMap;

use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::redact::Redactor;
use super::{SecretError, SecretStore};
use crate::config::SecretString;
use crate::integrations::{Credentials, IntegrationError};

/// The secrets of one run.
#[derive(Debug)]
pub struct RunSecrets {
    store: SecretStore,
    workspace: String,
    declared: std::sync::Mutex<Vec<String>>,
    cache: Mutex<HashMap<String, Option<SecretString>>>,
    redactor: Redactor,
}

impl RunSecrets {
    /// Secrets for a run in `workspace`; scripts may read none until [`Self::declare`].
    pub fn new(store: SecretStore, workspace: &str) -> Self {
        Self {
            store,
            workspace: workspace.to_owned(),
            declared: std::sync::Mutex::new(Vec::new()),
            cache: Mutex::new(HashMap::new()),
            redactor: Redactor::default(),
        }
    }

    /// The secrets the run's automation declares for its scripts.
    pub fn declare(&self, names: &[String]) {
        *self.declared.lock().unwrap_or_else(|e| e.into_inner()) = names.to_vec();
    }

    /// What redacts this run's records.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// A secret, read once per run.
    pub async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some(hit) = cache.get(name) {
            return Ok(hit.clone());
        }
        let value = self.store.get(&self.workspace, name).await?;
        if let Some(v) = &value {
            self.redactor.add(name, v.expose());
        }
        cache.insert(name.to_owned(), value.clone());
        Ok(value)
    }

    /// A secret a script asked for: only those its automation declares. The error says
    /// whether trying again later may work.
    pub async fn get_declared(&self, name: &str) -> Result<SecretString, (String, bool)> {
        let declared = self
            .declared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|d| d == name);
        if !declared {
            return Err((
                format!(
                    "secrets.get({name:?}): this automation does not declare {name}; add it to `secrets = [...]` in its file"
                ),
                false,
            ));
        }
        match self.get(name).await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err((
                format!(
                    "secrets.get({name:?}): {name} is not set; set it with `switchboard secrets set {name}`"
                ),
                false,
            )),
            Err(e) => Err((format!("secrets.get({name:?}): {e}"), e.is_transient())),
        }
    }
}

impl Credentials for RunSecrets {
    fn get<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretString>, IntegrationError>> {
        Box::pin(async move {
            RunSecrets::get(self, name)
                .await
                .map_err(|e| IntegrationError {
                    retryable: e.is_transient(),
                    message: format!("reading the secret {name}: {e}"),
                })
        })
    }
}
