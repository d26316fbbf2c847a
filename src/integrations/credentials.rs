//! Where integration credentials come from. One function, [`Credentials::get`], looked
//! up at the moment of use: today from configuration, tomorrow from the encrypted
//! secrets store, without the clients noticing.

use std::collections::HashMap;

use crate::config::SecretString;

/// Named credentials: `JIRA_API_TOKEN`, `OKTA_API_TOKEN`, `GOOGLE_SERVICE_ACCOUNT`.
pub trait Credentials: Send + Sync + std::fmt::Debug {
    /// The credential named `name`, if there is one.
    fn get(&self, name: &str) -> Option<SecretString>;
}

/// Credentials from configuration.
#[derive(Debug, Default, Clone)]
pub struct ConfigCredentials {
    values: HashMap<String, SecretString>,
}

impl ConfigCredentials {
    /// Credentials from name → value pairs.
    pub fn new(values: HashMap<String, SecretString>) -> Self {
        Self { values }
    }
}

impl Credentials for ConfigCredentials {
    fn get(&self, name: &str) -> Option<SecretString> {
        self.values.get(name).cloned()
    }
}
