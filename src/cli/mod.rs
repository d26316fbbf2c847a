//! The command line: `serve`, `migrate`, `check`, `runs`, `conversations`,
//! `approvals`, `secrets`, `kv`, `backup`, `restore`, `schema`, `types`.

mod approvals;
mod automations;
mod backup;
mod check;
mod conversations;
mod kv;
mod run;
mod runs;
mod secrets;

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
    /// Run a manual automation by hand (the server's workers execute it).
    Run {
        /// Automation id.
        automation: String,
        /// Run it on this conversation (its number).
        #[arg(long)]
        conversation: Option<i64>,
        /// An input, `name=value`; repeat for several.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Seconds to wait for the run to finish (0: just queue it).
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Inspect runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Inspect tracked conversations: fields, SLA clocks, timers, history, runs.
    #[command(subcommand)]
    Conversations(ConversationsCommand),
    /// The automations in the directory, how each is started, webhook URLs.
    #[command(subcommand)]
    Automations(AutomationsCommand),
    /// Inspect approval requests and their decisions.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Manage encrypted secrets (values are read from standard input, never printed).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Read and write the scripts' key-value store.
    #[command(subcommand)]
    Kv(KvCommand),
    /// Copy the SQLite database to FILE while the server runs (consistent, compact).
    Backup {
        /// The copy to write; must not exist.
        file: PathBuf,
    },
    /// Put a backup in the place of the SQLite database; refused while a server runs.
    /// The database it replaces is kept beside it.
    Restore {
        /// The backup to restore.
        file: PathBuf,
    },
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
    /// Delete finished runs older than a period now, as the server does in the
    /// background (`retention.runs`); queued, running and waiting runs stay.
    Prune {
        /// How old a finished run must be, e.g. `30d` (at least a day).
        #[arg(long, value_name = "PERIOD")]
        older_than: String,
    },
}

/// `conversations` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// Recent conversations, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One conversation: fields, SLA clocks, running timers, field history, runs.
    Show {
        /// Conversation id (its number).
        id: i64,
    },
}

/// `automations` subcommands.
#[derive(Debug, Subcommand)]
pub enum AutomationsCommand {
    /// Every automation: id, whether enabled, trigger, name.
    List,
    /// One automation: trigger, webhook URL, schedule, inputs, steps.
    Show {
        /// Automation id (its file name without `.toml`).
        id: String,
    },
    /// Replace a webhook automation's token; the old URL stops working at once.
    RotateWebhook {
        /// Automation id.
        id: String,
    },
}

/// `approvals` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Requests, newest first.
    List {
        /// Only requests in this status (pending, approved, denied, expired).
        #[arg(long)]
        status: Option<String>,
        /// Only requests of this run.
        #[arg(long)]
        run: Option<i64>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One request: who asked, who may decide, every vote, the decision.
    Show {
        /// Request id.
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `secrets` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a new version of a secret; the value is read from standard input.
    Set {
        /// Name, e.g. OKTA_API_TOKEN.
        name: String,
        /// Team id the secret belongs to; `*` (default) for every workspace.
        #[arg(long, default_value = "*")]
        workspace: String,
        /// Who is changing it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Names, versions, who changed them and when; never values.
    List,
    /// Delete every version of a secret.
    Delete {
        /// Name.
        name: String,
        /// Team id, or `*`.
        #[arg(long, default_value = "*")]
        workspace: String,
    },
    /// Re-wrap every data key under a new key-encryption key (values are not touched).
    RotateKey,
}

/// `kv` subcommands. Namespaces are `automation:<id>` or `shared:<name>`.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Print a key's value (JSON).
    Get {
        /// `automation:<id>` or `shared:<name>`.
        namespace: String,
        /// The key.
        key: String,
        /// Team id.
        #[arg(long)]
        workspace: String,
    },
    /// Set a key to a JSON value (argument or standard input).
    Set {
        /// `automation:<id>` or `shared:<name>`.
        namespace: String,
        /// The key.
        key: String,
        /// JSON value; read from standard input if absent.
        value: Option<String>,
        /// Seconds until the key expires.
        #[arg(long)]
        ttl: Option<u64>,
        /// Team id.
        #[arg(long)]
        workspace: String,
    },
    /// Keys and values, in key order.
    List {
        /// `automation:<id>` or `shared:<name>`.
        namespace: String,
        /// Only keys starting with this.
        #[arg(default_value = "")]
        prefix: String,
        /// Team id.
        #[arg(long)]
        workspace: String,
    },
    /// Delete a key.
    Delete {
        /// `automation:<id>` or `shared:<name>`.
        namespace: String,
        /// The key.
        key: String,
        /// Team id.
        #[arg(long)]
        workspace: String,
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
        Command::Conversations(command) => {
            let db = Db::connect(&config.database).await?;
            db.migrate().await?;
            conversations::run(&db, command).await
        }
        Command::Automations(command) => automations::run(&config, command).await,
        Command::Run {
            automation,
            conversation,
            inputs,
            wait,
        } => {
            let args = run::RunArgs {
                automation,
                conversation,
                inputs,
                wait: std::time::Duration::from_secs(wait),
            };
            run::run(&config, args).await
        }
        Command::Approvals(command) => {
            let db = Db::connect(&config.database).await?;
            db.migrate().await?;
            approvals::run(&db, command).await
        }
        Command::Secrets(command) => secrets::run(&config, command).await,
        Command::Kv(command) => kv::run(&config, command).await,
        Command::Backup { file } => backup::backup(&config, &file),
        Command::Restore { file } => backup::restore(&config, &file),
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
