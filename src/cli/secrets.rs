//! `switchboard secrets set|list|delete|rotate-key`.

use std::io::Read;
use std::process::ExitCode;

use zeroize::Zeroizing;

use super::SecretsCommand;
use crate::clock::{Clock, SystemClock, format_ms};
use crate::config::{Config, SecretsConfig};
use crate::db::Db;
use crate::secrets::local::{LocalKeys, next_path, write_new_key};
use crate::secrets::{self, SecretStore};

pub async fn run(config: &Config, command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    let provider = secrets::open_provider(&config.secrets).await?;
    let store = SecretStore::new(db.clone(), provider);
    match command {
        SecretsCommand::Set {
            name,
            workspace,
            by,
        } => {
            secrets::check_name(&name)?;
            let mut value = Zeroizing::new(Vec::new());
            std::io::stdin().read_to_end(&mut value)?;
            // A trailing newline from `echo` or a terminal is not part of the value.
            while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                value.pop();
            }
            if value.is_empty() {
                anyhow::bail!(
                    "no value on standard input: pipe it in, e.g. `switchboard secrets set {name} < token.txt`"
                );
            }
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let version = store
                .set(&workspace, &name, &value, &by, SystemClock.now_ms())
                .await?;
            println!("{name} version {version} stored ({})", store.provider());
        }
        SecretsCommand::List => {
            let list = store.list().await?;
            if list.is_empty() {
                println!("(no secrets; add one with `switchboard secrets set NAME < value-file`)");
            }
            for s in list {
                println!(
                    "{:<32} v{:<4} workspace {:<12} changed {} by {}  ({})",
                    s.name,
                    s.version,
                    s.workspace,
                    format_ms(s.changed_at),
                    s.changed_by,
                    s.key_id
                );
            }
        }
        SecretsCommand::Delete { name, workspace } => {
            if store.delete(&workspace, &name).await? {
                println!("{name} deleted (every version)");
            } else {
                eprintln!("no secret {name} in workspace {workspace}");
                return Ok(ExitCode::FAILURE);
            }
        }
        SecretsCommand::RotateKey => {
            let count = match &config.secrets {
                SecretsConfig::Local { key: Some(_), .. } => anyhow::bail!(
                    "the key comes from SWITCHBOARD_SECRET_KEY: rotate by setting a new key file instead (unset it and set SWITCHBOARD_SECRET_KEY_FILE), then run rotate-key"
                ),
                SecretsConfig::Local { key_file, .. } => {
                    // The new key is written beside the old one first: if anything stops
                    // half-way, both keys are loaded next time and every secret reads.
                    let next = next_path(key_file);
                    if !next.exists() {
                        write_new_key(&next)?;
                    }
                    let new = LocalKeys::load_or_create(&next)?;
                    let count = store.rewrap_all(&new).await?;
                    std::fs::rename(&next, key_file)?;
                    println!("new key in {} ({})", key_file.display(), new.current_id());
                    count
                }
                // Cloud KMS re-wraps under the key's current primary version.
                SecretsConfig::GcpKms(_) => {
                    let kms = secrets::open_provider(&config.secrets).await?;
                    store.rewrap_all(kms.as_ref()).await?
                }
            };
            println!("re-wrapped the data keys of {count} secret version(s); values unchanged");
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
