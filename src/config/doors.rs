//! Settings of the doors that start one named automation: webhook limits, and who may
//! start automations by hand.

use super::ConfigError;
use super::env::{Env, invalid, split_list};
use super::file::{FileEdits, FileManual, FileWebhooks};
use crate::principal::Principal;

/// Webhook limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Largest body accepted (`SWITCHBOARD_WEBHOOK_MAX_BODY_KB`, default 256 KiB).
    pub max_body_bytes: usize,
    /// Calls per minute per webhook, on average (`SWITCHBOARD_WEBHOOK_PER_MINUTE`, 60).
    pub per_minute: u32,
    /// Calls a webhook may make at once above that rate (`SWITCHBOARD_WEBHOOK_BURST`, 20).
    pub burst: u32,
}

/// Manual runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualConfig {
    /// Who may run every manual automation (`SWITCHBOARD_ADMINS`: user ids and
    /// `@groups`, comma-separated). When empty, the workspace's admins and owners.
    pub admins: Vec<Principal>,
    /// The slash command, as in `manifest.yml` (`SWITCHBOARD_COMMAND`, `/switchboard`).
    pub command: String,
}

pub(super) fn webhooks(f: &FileWebhooks, env: &Env<'_>) -> Result<WebhookConfig, ConfigError> {
    Ok(WebhookConfig {
        max_body_bytes: env
            .parse::<usize>("SWITCHBOARD_WEBHOOK_MAX_BODY_KB", "webhooks.max_body_kb")?
            .or(f.max_body_kb)
            .unwrap_or(256)
            .max(1)
            * 1024,
        per_minute: env
            .parse("SWITCHBOARD_WEBHOOK_PER_MINUTE", "webhooks.per_minute")?
            .or(f.per_minute)
            .unwrap_or(60)
            .max(1),
        burst: env
            .parse("SWITCHBOARD_WEBHOOK_BURST", "webhooks.burst")?
            .or(f.burst)
            .unwrap_or(20)
            .max(1),
    })
}

pub(super) fn manual(f: &FileManual, env: &Env<'_>) -> Result<ManualConfig, ConfigError> {
    let raw = env
        .get("SWITCHBOARD_ADMINS")
        .map(|v| split_list(&v))
        .or_else(|| f.admins.clone())
        .unwrap_or_default();
    let admins = raw
        .iter()
        .map(|a| match a.parse::<Principal>() {
            Ok(Principal::Channel(_)) => {
                Err(format!("{a:?}: name users or user groups, not channels"))
            }
            other => other,
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("SWITCHBOARD_ADMINS", "manual.admins", e))?;
    let command = env
        .get("SWITCHBOARD_COMMAND")
        .or_else(|| f.command.clone())
        .unwrap_or_else(|| "/switchboard".into());
    if !command.starts_with('/') || command.len() < 2 {
        return Err(invalid(
            "SWITCHBOARD_COMMAND",
            "manual.command",
            format!("{command:?}: a slash command starts with `/`"),
        ));
    }
    Ok(ManualConfig { admins, command })
}

/// Who may edit conversations from Slack (thread commands, the "Edit conversation"
/// form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditsConfig {
    /// `SWITCHBOARD_EDITORS`: user ids, `@groups` and `#channels`, comma-separated.
    /// When empty, whoever may post in a support channel's thread.
    pub editors: Vec<Principal>,
}

pub(super) fn edits(f: &FileEdits, env: &Env<'_>) -> Result<EditsConfig, ConfigError> {
    let editors = env
        .get("SWITCHBOARD_EDITORS")
        .map(|v| split_list(&v))
        .or_else(|| f.editors.clone())
        .unwrap_or_default()
        .iter()
        .map(|e| e.parse::<Principal>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("SWITCHBOARD_EDITORS", "edits.editors", e))?;
    Ok(EditsConfig { editors })
}
