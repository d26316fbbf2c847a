//! Settings of TypeScript actions (sandbox limits, `http.fetch`) and of the Jira, Okta
//! and Google integrations.

use std::path::PathBuf;
use std::time::Duration;

use super::env::{Env, invalid, parse_base_url, split_list};
use super::file::{FileHttp, FileIntegrations, FileScript, FileSecrets};
use super::{ConfigError, SecretString};
use crate::integrations::{GoogleConfig, IntegrationsConfig, JiraConfig, OktaConfig};
use crate::script::fetch::FetchConfig;
use crate::script::pool::SandboxConfig;
use crate::secrets::kms::KmsConfig;

/// TypeScript action settings.
#[derive(Debug, Clone)]
pub struct ScriptConfig {
    /// Sandbox processes and their limits.
    pub sandbox: SandboxConfig,
    /// `http.fetch`.
    pub fetch: FetchConfig,
}

pub(super) fn script_config(
    script: &FileScript,
    http: &FileHttp,
    env: &Env<'_>,
) -> Result<ScriptConfig, ConfigError> {
    let binary = match env
        .get("SWITCHBOARD_SANDBOX_BINARY")
        .map(PathBuf::from)
        .or(script.sandbox_binary.clone())
    {
        Some(path) => path,
        None => std::env::current_exe().map_err(|e| {
            invalid(
                "SWITCHBOARD_SANDBOX_BINARY",
                "script.sandbox_binary",
                format!("not set, and the running binary's path is unknown: {e}"),
            )
        })?,
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let sandbox = SandboxConfig {
        binary,
        processes: env
            .parse("SWITCHBOARD_SCRIPT_PROCESSES", "script.processes")?
            .or(script.processes)
            .unwrap_or(cores.max(2))
            .max(1),
        timeout: Duration::from_secs(
            env.parse(
                "SWITCHBOARD_SCRIPT_TIMEOUT_SECONDS",
                "script.timeout_seconds",
            )?
            .or(script.timeout_seconds)
            .unwrap_or(30)
            .max(1),
        ),
        memory_bytes: env
            .parse("SWITCHBOARD_SCRIPT_MEMORY_MB", "script.memory_mb")?
            .or(script.memory_mb)
            .unwrap_or(256u64)
            .max(16)
            * 1024
            * 1024,
        max_host_calls: env
            .parse("SWITCHBOARD_SCRIPT_MAX_HOST_CALLS", "script.max_host_calls")?
            .or(script.max_host_calls)
            .unwrap_or(1000),
        max_log_bytes: env
            .parse("SWITCHBOARD_SCRIPT_MAX_LOG_KB", "script.max_log_kb")?
            .or(script.max_log_kb)
            .unwrap_or(64usize)
            * 1024,
        max_output_bytes: env
            .parse("SWITCHBOARD_SCRIPT_MAX_OUTPUT_KB", "script.max_output_kb")?
            .or(script.max_output_kb)
            .unwrap_or(256usize)
            * 1024,
        recursion: env
            .parse(
                "SWITCHBOARD_SCRIPT_RECURSION_LIMIT",
                "script.recursion_limit",
            )?
            .or(script.recursion_limit)
            .unwrap_or(400usize)
            .max(16),
    };
    let allow_raw = env
        .get("SWITCHBOARD_HTTP_ALLOW")
        .map(|v| split_list(&v))
        .or(http.allow.clone())
        .unwrap_or_default();
    let allow = allow_raw
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e: String| invalid("SWITCHBOARD_HTTP_ALLOW", "http.allow", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fetch = FetchConfig {
        allow,
        timeout: Duration::from_secs(
            env.parse("SWITCHBOARD_HTTP_TIMEOUT_SECONDS", "http.timeout_seconds")?
                .or(http.timeout_seconds)
                .unwrap_or(10)
                .max(1),
        ),
        max_response_bytes: env
            .parse("SWITCHBOARD_HTTP_MAX_RESPONSE_KB", "http.max_response_kb")?
            .or(http.max_response_kb)
            .unwrap_or(1024usize)
            * 1024,
        max_redirects: 5,
    };
    Ok(ScriptConfig { sandbox, fetch })
}

/// Integration locations (their credentials are secrets: `JIRA_API_TOKEN`,
/// `OKTA_API_TOKEN`, `GOOGLE_SERVICE_ACCOUNT`).
pub(super) fn integrations(
    file: &FileIntegrations,
    env: &Env<'_>,
) -> Result<IntegrationsConfig, ConfigError> {
    let jira = match env.get("JIRA_BASE_URL").or(file.jira.base_url.clone()) {
        Some(url) => Some(JiraConfig {
            base_url: parse_base_url(&url, "JIRA_BASE_URL", "integrations.jira.base_url")?,
            email: env.get("JIRA_EMAIL").or(file.jira.email.clone()).ok_or(
                ConfigError::Missing {
                    env: "JIRA_EMAIL",
                    key: "integrations.jira.email",
                    hint: "Jira's API token belongs to an Atlassian account: give its e-mail",
                },
            )?,
        }),
        None => None,
    };
    let okta = match env.get("OKTA_ORG_URL").or(file.okta.org_url.clone()) {
        Some(url) => Some(OktaConfig {
            org_url: parse_base_url(&url, "OKTA_ORG_URL", "integrations.okta.org_url")?,
        }),
        None => None,
    };
    let google = match env
        .get("GOOGLE_ADMIN_SUBJECT")
        .or(file.google.admin_subject.clone())
    {
        Some(subject) => Some(GoogleConfig {
            directory_url: parse_base_url(
                &env.get("GOOGLE_DIRECTORY_URL")
                    .or(file.google.directory_url.clone())
                    .unwrap_or_else(|| "https://admin.googleapis.com/".into()),
                "GOOGLE_DIRECTORY_URL",
                "integrations.google.directory_url",
            )?,
            token_url: env
                .get("GOOGLE_TOKEN_URL")
                .or(file.google.token_url.clone())
                .map(|u| {
                    url::Url::parse(&u).map_err(|e| {
                        invalid(
                            "GOOGLE_TOKEN_URL",
                            "integrations.google.token_url",
                            format!("{u:?}: {e}"),
                        )
                    })
                })
                .transpose()?,
            admin_subject: subject,
        }),
        None => None,
    };
    Ok(IntegrationsConfig { jira, okta, google })
}

/// Where the key-encryption key of secrets comes from.
#[derive(Debug, Clone)]
pub enum SecretsConfig {
    /// A local key: from `SWITCHBOARD_SECRET_KEY`, or a file created on first use.
    Local {
        /// The key file.
        key_file: PathBuf,
        /// The key itself, base64, instead of the file.
        key: Option<SecretString>,
    },
    /// Google Cloud KMS.
    GcpKms(KmsConfig),
}

pub(super) fn secrets(file: &FileSecrets, env: &Env<'_>) -> Result<SecretsConfig, ConfigError> {
    let provider = env
        .get("SWITCHBOARD_SECRETS_PROVIDER")
        .or(file.provider.clone())
        .unwrap_or_else(|| "local".into());
    match provider.as_str() {
        "local" => Ok(SecretsConfig::Local {
            key_file: env
                .get("SWITCHBOARD_SECRET_KEY_FILE")
                .map(PathBuf::from)
                .or(file.key_file.clone())
                .unwrap_or_else(|| PathBuf::from("./switchboard.key")),
            key: env.get("SWITCHBOARD_SECRET_KEY").map(SecretString::new),
        }),
        "gcp-kms" => {
            let key = env.get("SWITCHBOARD_KMS_KEY").or(file.kms_key.clone()).ok_or(ConfigError::Missing {
                env: "SWITCHBOARD_KMS_KEY",
                key: "secrets.kms_key",
                hint: "the CryptoKey's resource name, projects/P/locations/L/keyRings/R/cryptoKeys/K",
            })?;
            if !key.starts_with("projects/") || !key.contains("/cryptoKeys/") {
                return Err(invalid(
                    "SWITCHBOARD_KMS_KEY",
                    "secrets.kms_key",
                    format!("{key:?}: expected projects/P/locations/L/keyRings/R/cryptoKeys/K"),
                ));
            }
            let credentials = env
                .get("SWITCHBOARD_KMS_CREDENTIALS")
                .or(file.kms_credentials.clone())
                .unwrap_or_else(|| "default".into());
            let use_default_credentials = match credentials.as_str() {
                "default" => true,
                "anonymous" => false,
                other => {
                    return Err(invalid(
                        "SWITCHBOARD_KMS_CREDENTIALS",
                        "secrets.kms_credentials",
                        format!(
                            "{other:?}: expected \"default\" (application default credentials) or \"anonymous\" (emulators)"
                        ),
                    ));
                }
            };
            Ok(SecretsConfig::GcpKms(KmsConfig {
                key,
                endpoint: env
                    .get("SWITCHBOARD_KMS_ENDPOINT")
                    .or(file.kms_endpoint.clone()),
                use_default_credentials,
            }))
        }
        other => Err(invalid(
            "SWITCHBOARD_SECRETS_PROVIDER",
            "secrets.provider",
            format!("{other:?}: expected \"local\" or \"gcp-kms\""),
        )),
    }
}
