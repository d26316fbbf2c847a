//! The command line: `serve`, `migrate`, `check`, `runs`, `schema`.

mod check;
mod runs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::Config;
use crate::db::Db;

/// switchboard: automations for support teams that live in Slack.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: receive Slack events, run automations.
    Serve,
    /// Apply database migrations and exit (`serve` also migrates on start).
    Migrate,
    /// Check automation files; prints every error with file, line and column.
    Check {
        /// Directory (or single file) to check; default: the automations directory.
        path: Option<PathBuf>,
    },
    /// Inspect runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Print the JSON Schema of automation files.
    Schema,
    /// Write switchboard.d.ts (and a tsconfig.json) for editing scripts with completion.
    Types {
        /// Where to write them; default: the automations directory.
        dir: Option<PathBuf>,
    },
    /// Run scripts for a switchboard server over stdin/stdout (started by `serve`).
    #[command(hide = true)]
    Sandbox {
        /// Memory scripts may use, in MiB, on top of the process's own.
        #[arg(long, default_value_t = 256)]
        memory_mb: u64,
    },
}

/// `runs` subcommands.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        /// Only runs in this status (queued, running, waiting, succeeded, failed).
        #[arg(long)]
        status: Option<String>,
        /// Only runs of this automation.
        #[arg(long)]
        automation: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: status, trigger, steps, timings, errors and log.
    Show {
        /// Run id.
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let app = App::build(config).await?;
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = Db::connect(&config.database).await?;
            db.migrate().await?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { path } => {
            let path = path.unwrap_or(config.automations_dir);
            check::check(&path)
        }
        Command::Runs(command) => {
            let db = Db::connect(&config.database).await?;
            db.migrate().await?;
            runs::run(&db, command).await
        }
        Command::Schema => {
            print!("{}", crate::automations::definition::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Types { dir } => {
            let dir = dir.unwrap_or(config.automations_dir);
            for path in crate::script::types::write_types(&dir)? {
                println!("wrote {}", path.display());
            }
            println!("scripts can now `import type {{ Context }} from \"./switchboard\";`");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox { memory_mb } => Ok(crate::script::sandbox::main(memory_mb * 1024 * 1024)),
    }
}
