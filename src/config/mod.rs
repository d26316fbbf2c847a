//! Typed configuration: defaults, then an optional TOML file, then environment
//! variables; validated once at startup. A missing or invalid setting stops startup with
//! an error naming it, both as the environment variable and as the file key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

mod doors;
mod env;
mod file;
mod retention;
mod scripts;

pub use doors::{EditsConfig, ManualConfig, WebhookConfig};
use env::{Env, invalid, parse_base_url, split_list};
use file::{FileConfig, read_file};
pub use retention::{RetentionConfig, parse_period};
pub use scripts::{ScriptConfig, SecretsConfig};

use crate::integrations::IntegrationsConfig;

/// A string that never prints: configuration values such as tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString)
    }
}

/// Everything switchboard needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server binds (`SWITCHBOARD_LISTEN`).
    pub listen: SocketAddr,
    /// Where people's browsers and other systems reach this server
    /// (`SWITCHBOARD_PUBLIC_URL`), for run links and webhook URLs.
    pub public_url: Option<Url>,
    /// Directory of automation files (`SWITCHBOARD_AUTOMATIONS`).
    pub automations_dir: PathBuf,
    /// Slack app credentials and Web API location.
    pub slack: SlackConfig,
    /// Database location and durability.
    pub database: DatabaseConfig,
    /// Which channels are support channels and how their conversations start.
    pub support: SupportConfig,
    /// Run queue and workers.
    pub runs: RunsConfig,
    /// TypeScript actions: sandbox limits and `http.fetch`.
    pub script: ScriptConfig,
    /// Jira, Okta and Google: where they are.
    pub integrations: IntegrationsConfig,
    /// Where the key that encrypts secrets comes from.
    pub secrets: SecretsConfig,
    /// Webhook limits.
    pub webhooks: WebhookConfig,
    /// Who may start automations by hand, and the slash command.
    pub manual: ManualConfig,
    /// Who may edit conversations from Slack.
    pub edits: EditsConfig,
    /// How long history is kept.
    pub retention: RetentionConfig,
}

/// Slack app settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Verifies that requests come from Slack (`SLACK_SIGNING_SECRET`).
    pub signing_secret: Option<SecretString>,
    /// Bot token, `xoxb-…` (`SLACK_BOT_TOKEN`).
    pub bot_token: Option<SecretString>,
    /// Socket Mode: an app-level token, `xapp-…` (`SLACK_APP_TOKEN`). When set,
    /// Slack's deliveries come over WebSockets switchboard opens, and no public URL
    /// is needed.
    pub socket: Option<SocketConfig>,
    /// Web API base URL, ending in `/` (`SLACK_API_URL`).
    pub api_url: Url,
    /// Whether outbound calls are paced by Slack's rate-limit tiers
    /// (`SWITCHBOARD_SLACK_RATE_LIMITS`). Only a fake Slack wants this off.
    pub rate_limits: bool,
    /// Timeout of one Web API call.
    pub timeout: Duration,
}

/// Socket Mode settings.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    /// App-level token with `connections:write` (`SLACK_APP_TOKEN`).
    pub app_token: SecretString,
    /// WebSockets kept open at once (`SWITCHBOARD_SOCKET_CONNECTIONS`, 1 to 10,
    /// default 2), so that one being replaced leaves no gap.
    pub connections: usize,
    /// How often switchboard pings Slack (`SWITCHBOARD_SOCKET_PING_MS`, default
    /// 10 s); a connection that hears nothing for three of these is replaced.
    pub ping_interval: Duration,
}

/// How SQLite writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// Every commit is fsynced: survives power loss.
    Full,
    /// Commits survive a killed process; the last ones may be lost on power loss.
    Normal,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…` (`DATABASE_URL`).
    pub url: String,
    /// SQLite's `synchronous` setting (`SWITCHBOARD_SQLITE_SYNC`).
    pub sqlite_sync: SqliteSync,
    /// Pool size for PostgreSQL and for SQLite readers.
    pub max_connections: u32,
}

/// Support channel settings.
#[derive(Debug, Clone, Default)]
pub struct SupportConfig {
    /// Support channels; `None` means every channel the bot is in.
    pub channels: Option<Vec<String>>,
    /// Channel id → customer name.
    pub customers: HashMap<String, String>,
    /// Ticket type of a new conversation.
    pub default_ticket_type: String,
    /// The support team (`SWITCHBOARD_SUPPORT_TEAM`): user ids and `@groups` whose
    /// messages count as the team's answers (for `no_response`, `no_reply`).
    pub team: Vec<crate::principal::Principal>,
    /// Whether a team member's reaction counts as an answer
    /// (`SWITCHBOARD_SUPPORT_TEAM_REACTIONS`); default false.
    pub team_reactions: bool,
}

impl SupportConfig {
    /// Whether messages in `channel` (of Slack type `channel_type`) open conversations.
    pub fn is_support_channel(&self, channel: &str, channel_type: Option<&str>) -> bool {
        match &self.channels {
            Some(list) => list.iter().any(|c| c == channel),
            // Direct messages to the bot are not a support channel unless listed.
            None => !matches!(channel_type, Some("im") | Some("mpim")),
        }
    }
}

/// Run queue settings.
#[derive(Debug, Clone)]
pub struct RunsConfig {
    /// Concurrent runs per process (`SWITCHBOARD_WORKERS`); 0 queues runs without
    /// executing them.
    pub workers: usize,
    /// How long a claimed run belongs to its worker without a heartbeat.
    pub lease: Duration,
    /// Attempts before a run with transient failures fails for good.
    pub max_attempts: u32,
    /// How many automation-caused conversation updates may chain.
    pub max_depth: u32,
    /// How often idle workers look for runs queued by other processes.
    pub poll_interval: Duration,
    /// First retry delay; doubles each attempt, with jitter.
    pub retry_base: Duration,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting has no value.
    #[error("{env} is not set (or `{key}` in the configuration file): {hint}")]
    Missing {
        env: &'static str,
        key: &'static str,
        hint: &'static str,
    },
    /// A setting has a value that does not parse or is out of range.
    #[error("{env} (`{key}`) is invalid: {reason}")]
    Invalid {
        env: &'static str,
        key: &'static str,
        reason: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// The default SQLite database: a file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://switchboard.db";
/// Slack's Web API.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api/";

impl Config {
    /// Loads defaults, then `file` (if given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// Like [`Config::load`] with an explicit environment; for tests.
    pub fn load_from(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let file_config = match file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(file_config, &Env(env))
    }

    fn merge(f: FileConfig, env: &Env<'_>) -> Result<Self, ConfigError> {
        let listen_raw = env
            .get("SWITCHBOARD_LISTEN")
            .or(f.listen)
            .unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen = listen_raw.parse().map_err(|e| {
            invalid(
                "SWITCHBOARD_LISTEN",
                "listen",
                format!("{listen_raw:?}: {e}"),
            )
        })?;

        let public_url = env
            .get("SWITCHBOARD_PUBLIC_URL")
            .or(f.public_url)
            .filter(|u| !u.is_empty())
            .map(|u| parse_base_url(&u, "SWITCHBOARD_PUBLIC_URL", "public_url"))
            .transpose()?;

        let automations_dir = env
            .get("SWITCHBOARD_AUTOMATIONS")
            .map(PathBuf::from)
            .or(f.automations)
            .unwrap_or_else(|| PathBuf::from("./automations"));

        let socket = socket_config(&f.slack, env)?;
        let api_url_raw = env
            .get("SLACK_API_URL")
            .or(f.slack.api_url)
            .unwrap_or_else(|| DEFAULT_SLACK_API_URL.into());
        let api_url = parse_base_url(&api_url_raw, "SLACK_API_URL", "slack.api_url")?;
        let slack = SlackConfig {
            signing_secret: env
                .get("SLACK_SIGNING_SECRET")
                .map(SecretString)
                .or(f.slack.signing_secret)
                .filter(|s| !s.0.is_empty()),
            bot_token: env
                .get("SLACK_BOT_TOKEN")
                .map(SecretString)
                .or(f.slack.bot_token)
                .filter(|s| !s.0.is_empty()),
            socket,
            api_url,
            rate_limits: env
                .parse::<bool>("SWITCHBOARD_SLACK_RATE_LIMITS", "slack.rate_limits")?
                .or(f.slack.rate_limits)
                .unwrap_or(true),
            timeout: Duration::from_secs(
                env.parse("SWITCHBOARD_SLACK_TIMEOUT_SECONDS", "slack.timeout_seconds")?
                    .or(f.slack.timeout_seconds)
                    .unwrap_or(10),
            ),
        };

        let sqlite_sync = match env.get("SWITCHBOARD_SQLITE_SYNC") {
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "full" => SqliteSync::Full,
                "normal" => SqliteSync::Normal,
                other => {
                    return Err(invalid(
                        "SWITCHBOARD_SQLITE_SYNC",
                        "database.sqlite_sync",
                        format!("{other:?}: expected \"full\" or \"normal\""),
                    ));
                }
            },
            None => f.database.sqlite_sync.unwrap_or(SqliteSync::Full),
        };
        let url = env
            .get("DATABASE_URL")
            .or(f.database.url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "database.url",
                "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
            ));
        }
        let database = DatabaseConfig {
            url,
            sqlite_sync,
            max_connections: env
                .parse("SWITCHBOARD_DB_MAX_CONNECTIONS", "database.max_connections")?
                .or(f.database.max_connections)
                .unwrap_or(10)
                .max(2),
        };

        let channels = env
            .get("SWITCHBOARD_SUPPORT_CHANNELS")
            .map(|v| split_list(&v))
            .or(f.support.channels);
        let mut customers = f.support.customers;
        if let Some(pairs) = env.get("SWITCHBOARD_SUPPORT_CUSTOMERS") {
            for pair in split_list(&pairs) {
                let (channel, customer) = pair.split_once('=').ok_or_else(|| {
                    invalid(
                        "SWITCHBOARD_SUPPORT_CUSTOMERS",
                        "support.customers",
                        format!("{pair:?}: expected CHANNEL_ID=Customer name"),
                    )
                })?;
                customers.insert(channel.trim().to_owned(), customer.trim().to_owned());
            }
        }
        let team = env
            .get("SWITCHBOARD_SUPPORT_TEAM")
            .map(|v| split_list(&v))
            .or(f.support.team)
            .unwrap_or_default()
            .iter()
            .map(|p| match p.parse::<crate::principal::Principal>() {
                Ok(crate::principal::Principal::Channel(_)) => Err(format!(
                    "{p:?}: name users (U…) or user groups (@handle, S…), not channels"
                )),
                other => other,
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("SWITCHBOARD_SUPPORT_TEAM", "support.team", e))?;
        let support = SupportConfig {
            channels,
            customers,
            default_ticket_type: env
                .get("SWITCHBOARD_DEFAULT_TICKET_TYPE")
                .or(f.support.default_ticket_type)
                .unwrap_or_else(|| "question".into()),
            team,
            team_reactions: env
                .parse(
                    "SWITCHBOARD_SUPPORT_TEAM_REACTIONS",
                    "support.team_reactions",
                )?
                .or(f.support.team_reactions)
                .unwrap_or(false),
        };

        let runs = RunsConfig {
            workers: env
                .parse("SWITCHBOARD_WORKERS", "runs.workers")?
                .or(f.runs.workers)
                .unwrap_or(64),
            lease: Duration::from_secs(
                env.parse("SWITCHBOARD_LEASE_SECONDS", "runs.lease_seconds")?
                    .or(f.runs.lease_seconds)
                    .unwrap_or(30)
                    .max(2),
            ),
            max_attempts: env
                .parse("SWITCHBOARD_MAX_ATTEMPTS", "runs.max_attempts")?
                .or(f.runs.max_attempts)
                .unwrap_or(6)
                .max(1),
            max_depth: env
                .parse("SWITCHBOARD_MAX_DEPTH", "runs.max_depth")?
                .or(f.runs.max_depth)
                .unwrap_or(4),
            poll_interval: Duration::from_millis(
                env.parse("SWITCHBOARD_POLL_INTERVAL_MS", "runs.poll_interval_ms")?
                    .or(f.runs.poll_interval_ms)
                    .unwrap_or(500)
                    .max(10),
            ),
            retry_base: Duration::from_millis(
                env.parse("SWITCHBOARD_RETRY_BASE_MS", "runs.retry_base_ms")?
                    .or(f.runs.retry_base_ms)
                    .unwrap_or(2_000),
            ),
        };

        let script = scripts::script_config(&f.script, &f.http, env)?;
        let integrations = scripts::integrations(&f.integrations, env)?;
        let secrets = scripts::secrets(&f.secrets, env)?;
        let webhooks = doors::webhooks(&f.webhooks, env)?;
        let manual = doors::manual(&f.manual, env)?;
        let edits = doors::edits(&f.edits, env)?;
        let retention = retention::retention(&f.retention, env)?;
        Ok(Config {
            listen,
            public_url,
            automations_dir,
            slack,
            database,
            support,
            runs,
            script,
            integrations,
            secrets,
            webhooks,
            manual,
            edits,
            retention,
        })
    }

    /// The secret that proves Slack's deliveries genuine: the signing secret, or over
    /// Socket Mode the app token (it also keys run links). An error tells the operator
    /// how to set one.
    pub fn require_slack_secret(&self) -> Result<&SecretString, ConfigError> {
        self.slack
            .signing_secret
            .as_ref()
            .or(self.slack.socket.as_ref().map(|s| &s.app_token))
            .ok_or(ConfigError::Missing {
                env: "SLACK_SIGNING_SECRET",
                key: "slack.signing_secret",
                hint: "copy it from your Slack app's Basic Information page, or set SLACK_APP_TOKEN to receive Slack's deliveries over Socket Mode without a public URL",
            })
    }

    /// The bot token, or an error telling the operator how to set it.
    pub fn require_bot_token(&self) -> Result<&SecretString, ConfigError> {
        self.slack.bot_token.as_ref().ok_or(ConfigError::Missing {
            env: "SLACK_BOT_TOKEN",
            key: "slack.bot_token",
            hint: "install the app to your workspace and copy the xoxb- token from OAuth & Permissions",
        })
    }
}

fn socket_config(f: &file::FileSlack, env: &Env<'_>) -> Result<Option<SocketConfig>, ConfigError> {
    let Some(app_token) = env
        .get("SLACK_APP_TOKEN")
        .map(SecretString)
        .or(f.app_token.clone())
        .filter(|s| !s.0.is_empty())
    else {
        return Ok(None);
    };
    if !app_token.0.starts_with("xapp-") {
        return Err(invalid(
            "SLACK_APP_TOKEN",
            "slack.app_token",
            "an app-level token starts with `xapp-`: generate one with the connections:write scope under Basic Information → App-Level Tokens".into(),
        ));
    }
    let connections = env
        .parse::<usize>("SWITCHBOARD_SOCKET_CONNECTIONS", "slack.socket_connections")?
        .or(f.socket_connections)
        .unwrap_or(2);
    if !(1..=10).contains(&connections) {
        return Err(invalid(
            "SWITCHBOARD_SOCKET_CONNECTIONS",
            "slack.socket_connections",
            format!("{connections}: Slack allows 1 to 10 connections"),
        ));
    }
    let ping_ms = env
        .parse::<u64>("SWITCHBOARD_SOCKET_PING_MS", "slack.socket_ping_ms")?
        .or(f.socket_ping_ms)
        .unwrap_or(10_000)
        .max(50);
    Ok(Some(SocketConfig {
        app_token,
        connections,
        ping_interval: Duration::from_millis(ping_ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_without_any_setting() {
        let config = Config::load_from(None, &env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database.url, DEFAULT_DATABASE_URL);
        assert_eq!(config.slack.api_url.as_str(), DEFAULT_SLACK_API_URL);
        assert_eq!(config.automations_dir, PathBuf::from("./automations"));
        assert!(config.support.channels.is_none());
        assert!(config.require_slack_secret().is_err());
        assert_eq!(config.public_url, None);
        let with = Config::load_from(
            None,
            &env(&[("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com/x")]),
        );
        assert_eq!(
            with.unwrap().public_url.unwrap().as_str(),
            "https://sb.example.com/x/"
        );
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let cases = [
            ("SWITCHBOARD_LISTEN", "nowhere", "SWITCHBOARD_LISTEN"),
            ("SLACK_API_URL", "ftp://x/", "SLACK_API_URL"),
            (
                "SWITCHBOARD_PUBLIC_URL",
                "sb.example.com",
                "SWITCHBOARD_PUBLIC_URL",
            ),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            ("SWITCHBOARD_WORKERS", "many", "SWITCHBOARD_WORKERS"),
            ("SWITCHBOARD_SQLITE_SYNC", "off", "SWITCHBOARD_SQLITE_SYNC"),
            ("SWITCHBOARD_EDITORS", "dana", "SWITCHBOARD_EDITORS"),
            ("SWITCHBOARD_SUPPORT_TEAM", "C0SUPPORT1", "not channels"),
            (
                "SWITCHBOARD_SUPPORT_TEAM",
                "dana",
                "SWITCHBOARD_SUPPORT_TEAM",
            ),
            (
                "SWITCHBOARD_SUPPORT_TEAM_REACTIONS",
                "sometimes",
                "SWITCHBOARD_SUPPORT_TEAM_REACTIONS",
            ),
            (
                "SWITCHBOARD_SUPPORT_CUSTOMERS",
                "C1",
                "SWITCHBOARD_SUPPORT_CUSTOMERS",
            ),
        ];
        for (var, value, named) in cases {
            let err = Config::load_from(None, &env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(named), "{var}: {err}");
        }
    }

    #[test]
    fn missing_secrets_say_where_to_find_them() {
        let config = Config::load_from(None, &env(&[])).unwrap();
        let err = config.require_bot_token().unwrap_err().to_string();
        assert!(
            err.contains("SLACK_BOT_TOKEN") && err.contains("OAuth"),
            "{err}"
        );
    }

    #[test]
    fn an_app_token_selects_socket_mode_without_a_signing_secret() {
        let config =
            Config::load_from(None, &env(&[("SLACK_APP_TOKEN", "xapp-1-A1-1-abc")])).unwrap();
        let socket = config.slack.socket.as_ref().unwrap();
        assert_eq!(
            (socket.connections, socket.ping_interval.as_secs()),
            (2, 10)
        );
        assert_eq!(
            config.require_slack_secret().unwrap().expose(),
            "xapp-1-A1-1-abc"
        );
        for (pairs, named) in [
            (vec![("SLACK_APP_TOKEN", "xoxb-1")], "xapp-"),
            (
                vec![
                    ("SLACK_APP_TOKEN", "xapp-1"),
                    ("SWITCHBOARD_SOCKET_CONNECTIONS", "11"),
                ],
                "SWITCHBOARD_SOCKET_CONNECTIONS",
            ),
        ] {
            let err = Config::load_from(None, &env(&pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(
            &path,
            r#"
listen = "127.0.0.1:4000"
[slack]
bot_token = "xoxb-file"
api_url = "http://127.0.0.1:9/api"
[support]
channels = ["C1", "C2"]
customers = { C1 = "Acme" }
"#,
        )
        .unwrap();
        let config = Config::load_from(
            Some(&path),
            &env(&[("SWITCHBOARD_LISTEN", "127.0.0.1:5000")]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 5000);
        assert_eq!(config.require_bot_token().unwrap().expose(), "xoxb-file");
        assert_eq!(config.slack.api_url.as_str(), "http://127.0.0.1:9/api/");
        assert_eq!(config.support.customers["C1"], "Acme");
        assert!(config.support.is_support_channel("C2", Some("channel")));
        assert!(!config.support.is_support_channel("C3", Some("channel")));
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, "[slack]\nbot_tokn = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("bot_tokn"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = SecretString::new("xoxb-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn direct_messages_are_not_support_channels_by_default() {
        let support = SupportConfig::default();
        assert!(support.is_support_channel("C1", Some("channel")));
        assert!(support.is_support_channel("G1", Some("group")));
        assert!(!support.is_support_channel("D1", Some("im")));
    }
}
