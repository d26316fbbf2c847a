//! `switchboard backup FILE` and `switchboard restore FILE`, for SQLite; PostgreSQL is
//! backed up with its own tools, as the README says.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{Config, SecretsConfig};
use crate::db::backup::{self, Summary};
use crate::db::{Backend, Db, sqlite};

const POSTGRES: &str = "DATABASE_URL is PostgreSQL: use its own tools, e.g. `pg_dump --format=custom --file switchboard.dump \"$DATABASE_URL\"` and `pg_restore --clean --if-exists --dbname \"$DATABASE_URL\" switchboard.dump` with every server stopped (README: Running it for years)";

pub fn backup(config: &Config, to: &Path) -> anyhow::Result<ExitCode> {
    let Some(db_path) = sqlite_path(config)? else {
        eprintln!("{POSTGRES}");
        return Ok(ExitCode::FAILURE);
    };
    let summary = backup::backup(&db_path, to)?;
    println!(
        "backed up {} to {} ({} bytes)",
        db_path.display(),
        to.display(),
        std::fs::metadata(to)?.len()
    );
    print_summary(&summary);
    println!("{}", key_reminder(&config.secrets));
    Ok(ExitCode::SUCCESS)
}

pub fn restore(config: &Config, from: &Path) -> anyhow::Result<ExitCode> {
    let Some(db_path) = sqlite_path(config)? else {
        eprintln!("{POSTGRES}");
        return Ok(ExitCode::FAILURE);
    };
    let restored = backup::restore(from, &db_path, Db::latest_migration(Backend::Sqlite))?;
    println!("restored {} from {}", db_path.display(), from.display());
    print_summary(&restored.summary);
    if let Some(aside) = &restored.set_aside {
        println!(
            "the database it replaced is kept as {} (delete it when you no longer need it)",
            aside.display()
        );
    }
    println!(
        "start the server with the same secret key as when the backup was made ({}); it applies any newer migrations",
        key_name(&config.secrets)
    );
    Ok(ExitCode::SUCCESS)
}

fn sqlite_path(config: &Config) -> anyhow::Result<Option<std::path::PathBuf>> {
    if config.database.url.starts_with("sqlite:") {
        sqlite::path_of(&config.database.url).map(Some)
    } else {
        Ok(None)
    }
}

fn print_summary(s: &Summary) {
    println!(
        "  schema {}, {} conversations, {} runs, {} event ids, {} secret versions, {} keys",
        s.schema_version, s.conversations, s.runs, s.events, s.secrets, s.kv_keys
    );
}

fn key_name(secrets: &SecretsConfig) -> String {
    match secrets {
        SecretsConfig::Local { key: Some(_), .. } => "SWITCHBOARD_SECRET_KEY".into(),
        SecretsConfig::Local { key_file, .. } => format!("the key file {}", key_file.display()),
        SecretsConfig::GcpKms(_) => "the Cloud KMS key SWITCHBOARD_KMS_KEY".into(),
    }
}

fn key_reminder(secrets: &SecretsConfig) -> String {
    match secrets {
        SecretsConfig::GcpKms(_) => "secrets in it are encrypted under the Cloud KMS key SWITCHBOARD_KMS_KEY: keep that key (and its versions) enabled for as long as you keep this backup".into(),
        local => format!(
            "secrets in it can be read only with {}: keep a copy of the key too, but not beside this file (whoever has both has every secret)",
            key_name(local)
        ),
    }
}
