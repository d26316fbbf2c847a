//! The optional TOML configuration file: every key optional, unknown keys refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, SecretString, SqliteSync};

/// The optional TOML file; every key is optional and overridden by the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) listen: Option<String>,
    pub(super) public_url: Option<String>,
    pub(super) automations: Option<PathBuf>,
    #[serde(default)]
    pub(super) slack: FileSlack,
    #[serde(default)]
    pub(super) database: FileDatabase,
    #[serde(default)]
    pub(super) support: FileSupport,
    #[serde(default)]
    pub(super) runs: FileRuns,
    #[serde(default)]
    pub(super) script: FileScript,
    #[serde(default)]
    pub(super) http: FileHttp,
    #[serde(default)]
    pub(super) integrations: FileIntegrations,
    #[serde(default)]
    pub(super) secrets: FileSecrets,
    #[serde(default)]
    pub(super) webhooks: FileWebhooks,
    #[serde(default)]
    pub(super) manual: FileManual,
    #[serde(default)]
    pub(super) edits: FileEdits,
    #[serde(default)]
    pub(super) retention: FileRetention,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRetention {
    pub(super) runs: Option<String>,
    pub(super) approvals: Option<String>,
    pub(super) messages: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhooks {
    pub(super) max_body_kb: Option<usize>,
    pub(super) per_minute: Option<u32>,
    pub(super) burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileManual {
    pub(super) admins: Option<Vec<String>>,
    pub(super) command: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEdits {
    pub(super) editors: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSecrets {
    pub(super) provider: Option<String>,
    pub(super) key_file: Option<PathBuf>,
    pub(super) kms_key: Option<String>,
    pub(super) kms_endpoint: Option<String>,
    pub(super) kms_credentials: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileScript {
    pub(super) sandbox_binary: Option<PathBuf>,
    pub(super) processes: Option<usize>,
    pub(super) timeout_seconds: Option<u64>,
    pub(super) memory_mb: Option<u64>,
    pub(super) max_host_calls: Option<u32>,
    pub(super) max_log_kb: Option<usize>,
    pub(super) max_output_kb: Option<usize>,
    pub(super) recursion_limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHttp {
    pub(super) allow: Option<Vec<String>>,
    pub(super) timeout_seconds: Option<u64>,
    pub(super) max_response_kb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileIntegrations {
    #[serde(default)]
    pub(super) jira: FileJira,
    #[serde(default)]
    pub(super) okta: FileOkta,
    #[serde(default)]
    pub(super) google: FileGoogle,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileJira {
    pub(super) base_url: Option<String>,
    pub(super) email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOkta {
    pub(super) org_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileGoogle {
    pub(super) directory_url: Option<String>,
    pub(super) token_url: Option<String>,
    pub(super) admin_subject: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSlack {
    pub(super) signing_secret: Option<SecretString>,
    pub(super) bot_token: Option<SecretString>,
    pub(super) app_token: Option<SecretString>,
    pub(super) socket_connections: Option<usize>,
    pub(super) socket_ping_ms: Option<u64>,
    pub(super) api_url: Option<String>,
    pub(super) rate_limits: Option<bool>,
    pub(super) timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDatabase {
    pub(super) url: Option<String>,
    pub(super) sqlite_sync: Option<SqliteSync>,
    pub(super) max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSupport {
    pub(super) channels: Option<Vec<String>>,
    #[serde(default)]
    pub(super) customers: HashMap<String, String>,
    pub(super) default_ticket_type: Option<String>,
    pub(super) team: Option<Vec<String>>,
    pub(super) team_reactions: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRuns {
    pub(super) workers: Option<usize>,
    pub(super) lease_seconds: Option<u64>,
    pub(super) max_attempts: Option<u32>,
    pub(super) max_depth: Option<u32>,
    pub(super) poll_interval_ms: Option<u64>,
    pub(super) retry_base_ms: Option<u64>,
}

pub(super) fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.into(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.into(),
        reason: e.to_string(),
    })
}
