//! How long history is kept: runs, approval records, copies of Slack messages.

use std::time::Duration;

use super::ConfigError;
use super::env::{Env, invalid};
use super::file::FileRetention;
use crate::automations::duration;

/// How long each kind of history is kept; `None` keeps it forever. What is still
/// waiting or queued is never deleted, whatever its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Finished runs with their steps, log lines and stored triggers
    /// (`SWITCHBOARD_RETAIN_RUNS`, `retention.runs`; default 90 days).
    pub runs: Option<Duration>,
    /// Decided approval requests and their votes (`SWITCHBOARD_RETAIN_APPROVALS`,
    /// `retention.approvals`; default 365 days). A run is kept while its approval
    /// records are.
    pub approvals: Option<Duration>,
    /// Copies of a conversation's Slack messages, except the thread's first, which
    /// finds the conversation (`SWITCHBOARD_RETAIN_MESSAGES`, `retention.messages`;
    /// default 365 days).
    pub messages: Option<Duration>,
}

const DAY: u64 = 86_400;

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            runs: Some(Duration::from_secs(90 * DAY)),
            approvals: Some(Duration::from_secs(365 * DAY)),
            messages: Some(Duration::from_secs(365 * DAY)),
        }
    }
}

pub(super) fn retention(f: &FileRetention, env: &Env<'_>) -> Result<RetentionConfig, ConfigError> {
    let defaults = RetentionConfig::default();
    let period =
        |var: &'static str, key: &'static str, file: &Option<String>, default: Option<Duration>| {
            match env.get(var).or_else(|| file.clone()) {
                None => Ok(default),
                Some(text) => parse_period(&text).map_err(|reason| invalid(var, key, reason)),
            }
        };
    Ok(RetentionConfig {
        runs: period(
            "SWITCHBOARD_RETAIN_RUNS",
            "retention.runs",
            &f.runs,
            defaults.runs,
        )?,
        approvals: period(
            "SWITCHBOARD_RETAIN_APPROVALS",
            "retention.approvals",
            &f.approvals,
            defaults.approvals,
        )?,
        messages: period(
            "SWITCHBOARD_RETAIN_MESSAGES",
            "retention.messages",
            &f.messages,
            defaults.messages,
        )?,
    })
}

/// `90d`, `1w`, `2y` is not a unit (write `730d`), or `forever`.
pub fn parse_period(text: &str) -> Result<Option<Duration>, String> {
    if text.trim().eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let length = duration::parse_any(text).map_err(|e| format!("{e}, or \"forever\""))?;
    if length < Duration::from_secs(DAY) {
        return Err(format!(
            "{text:?} is shorter than a day: history is kept at least a day"
        ));
    }
    Ok(Some(length))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn periods_from_the_environment_and_the_file() {
        let vars = HashMap::from([
            ("SWITCHBOARD_RETAIN_RUNS".to_string(), "30d".to_string()),
            (
                "SWITCHBOARD_RETAIN_MESSAGES".to_string(),
                "forever".to_string(),
            ),
        ]);
        let file = FileRetention {
            runs: Some("7d".into()),
            approvals: Some("730d".into()),
            messages: None,
        };
        let config = retention(&file, &Env(&vars)).unwrap();
        assert_eq!(config.runs, Some(Duration::from_secs(30 * DAY)));
        assert_eq!(config.approvals, Some(Duration::from_secs(730 * DAY)));
        assert_eq!(config.messages, None);

        let defaults = retention(&FileRetention::default(), &Env(&HashMap::new())).unwrap();
        assert_eq!(defaults, RetentionConfig::default());
    }

    #[test]
    fn a_bad_period_names_its_setting() {
        for bad in ["90", "1h", "soon", "0d"] {
            let vars = HashMap::from([("SWITCHBOARD_RETAIN_RUNS".to_string(), bad.to_string())]);
            let err = retention(&FileRetention::default(), &Env(&vars))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("SWITCHBOARD_RETAIN_RUNS") && err.contains("retention.runs"),
                "{bad}: {err}"
            );
        }
    }
}
