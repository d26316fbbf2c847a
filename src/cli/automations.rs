//! `switchboard automations list|show|rotate-webhook`: what the automations directory
//! holds, how each is started (webhook URLs included), and replacing a webhook token.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::AutomationsCommand;
use crate::automations::{Automation, load_dir};
use crate::clock::{Clock, SystemClock, format_ms};
use crate::config::Config;
use crate::db::Db;
use crate::secrets::{self, SecretStore};
use crate::trigger::TriggerKind;
use crate::webhooks;

pub async fn run(config: &Config, command: AutomationsCommand) -> anyhow::Result<ExitCode> {
    let automations = load(&config.automations_dir)?;
    let find = |id: &str| {
        automations.iter().find(|a| a.id == id).ok_or_else(|| {
            anyhow::anyhow!(
                "no automation `{id}` in {} (see `switchboard automations list`)",
                config.automations_dir.display()
            )
        })
    };
    match command {
        AutomationsCommand::List => {
            print!("{}", table(&automations));
            Ok(ExitCode::SUCCESS)
        }
        AutomationsCommand::Show { id } => {
            let a = find(&id)?;
            let token = match a.trigger.kind {
                TriggerKind::Webhook => Some(token(config, &a.id, false).await?),
                _ => None,
            };
            print!("{}", details(a, token.as_ref(), config));
            Ok(ExitCode::SUCCESS)
        }
        AutomationsCommand::RotateWebhook { id } => {
            let a = find(&id)?;
            if a.trigger.kind != TriggerKind::Webhook {
                anyhow::bail!(
                    "automation `{id}` has a {} trigger, not a webhook",
                    a.trigger.kind
                );
            }
            let (token, _) = token(config, &a.id, true).await?;
            println!("new webhook URL for {id}: {}", hook_url(config, &token));
            println!("the previous URL stopped working");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(dir: &Path) -> anyhow::Result<Vec<Automation>> {
    let report = load_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the automations directory {}: {e}",
            dir.display()
        )
    })?;
    for error in &report.errors {
        eprintln!("{error}");
    }
    Ok(report.automations)
}

/// The webhook token of `id` and when it was made: the one in force, a new one if it
/// has none, or a replacement when `rotate`.
async fn token(config: &Config, id: &str, rotate: bool) -> anyhow::Result<(String, i64)> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    let secrets = SecretStore::new(db.clone(), secrets::open_provider(&config.secrets).await?);
    let now = SystemClock.now_ms();
    let token = if rotate {
        (webhooks::rotate(&db, &secrets, id, now).await?, now)
    } else {
        webhooks::token_for(&db, &secrets, id, now).await?
    };
    db.close().await;
    Ok(token)
}

fn table(automations: &[Automation]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<28} {:<8} {:<22} NAME", "ID", "ENABLED", "TRIGGER");
    for a in automations {
        let _ = writeln!(
            out,
            "{:<28} {:<8} {:<22} {}",
            a.id,
            if a.enabled { "yes" } else { "no" },
            a.trigger.kind,
            a.name
        );
    }
    if automations.is_empty() {
        out.push_str("(no automations)\n");
    }
    out
}

fn details(a: &Automation, token: Option<&(String, i64)>, config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  ({})", a.id, a.name);
    if let Some(d) = &a.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(out, "file          {}", a.path.display());
    let _ = writeln!(out, "enabled       {}", a.enabled);
    let _ = writeln!(out, "trigger       {}", a.trigger.kind);
    if let Some((token, created_at)) = token {
        let _ = writeln!(out, "webhook URL   {}", hook_url(config, token));
        let _ = writeln!(
            out,
            "              (since {}; `switchboard automations rotate-webhook {}` replaces it)",
            format_ms(*created_at),
            a.id
        );
    }
    if let Some(s) = &a.trigger.schedule {
        let _ = writeln!(out, "schedule      {} ({})", s.expression, s.timezone);
    }
    if let Some(m) = &a.trigger.manual {
        let names: Vec<&str> = m.inputs.iter().map(|i| i.name.as_str()).collect();
        let _ = writeln!(
            out,
            "inputs        {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
        if m.needs_conversation {
            let _ = writeln!(out, "              started from a conversation only");
        }
    }
    let steps: Vec<&str> = a.steps.iter().map(|s| s.action.type_name()).collect();
    let _ = writeln!(out, "steps         {}", steps.join(" → "));
    out
}

/// A webhook's URL under `SWITCHBOARD_PUBLIC_URL`, or its path when that is not set.
fn hook_url(config: &Config, token: &str) -> String {
    match &config.public_url {
        Some(base) => format!("{base}hooks/{token}"),
        None => {
            format!("https://YOUR-HOST/hooks/{token} (set SWITCHBOARD_PUBLIC_URL to show the host)")
        }
    }
}
