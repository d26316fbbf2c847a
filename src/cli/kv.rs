//! `switchboard kv get|set|list|delete`.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::KvCommand;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::db::Db;
use crate::kv::{KvStore, Namespace};

pub async fn run(config: &Config, command: KvCommand) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    let kv = KvStore::new(db.clone(), Arc::new(SystemClock));
    let code = match command {
        KvCommand::Get {
            namespace,
            key,
            workspace,
        } => {
            match kv
                .get(&workspace, &Namespace::parse(&namespace)?, &key)
                .await?
            {
                Some(value) => {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("no key {key:?} in {namespace}");
                    ExitCode::FAILURE
                }
            }
        }
        KvCommand::Set {
            namespace,
            key,
            value,
            ttl,
            workspace,
        } => {
            let text = match value {
                Some(v) => v,
                None => {
                    let mut v = String::new();
                    std::io::stdin().read_to_string(&mut v)?;
                    v
                }
            };
            let value: Value = serde_json::from_str(text.trim()).map_err(|e| {
                anyhow::anyhow!("the value must be JSON (a string needs quotes: '\"text\"'): {e}")
            })?;
            kv.set(
                &workspace,
                &Namespace::parse(&namespace)?,
                &key,
                &value,
                ttl.map(Duration::from_secs),
            )
            .await?;
            println!("set {key:?} in {namespace}");
            ExitCode::SUCCESS
        }
        KvCommand::List {
            namespace,
            prefix,
            workspace,
        } => {
            for (key, value) in kv
                .list(&workspace, &Namespace::parse(&namespace)?, &prefix)
                .await?
            {
                println!("{key}\t{value}");
            }
            ExitCode::SUCCESS
        }
        KvCommand::Delete {
            namespace,
            key,
            workspace,
        } => {
            if kv
                .delete(&workspace, &Namespace::parse(&namespace)?, &key)
                .await?
            {
                println!("deleted {key:?} from {namespace}");
                ExitCode::SUCCESS
            } else {
                eprintln!("no key {key:?} in {namespace}");
                ExitCode::FAILURE
            }
        }
    };
    db.close().await;
    Ok(code)
}
