//! `switchboard run AUTOMATION [--conversation ID] [--input k=v]…`: a manual run from
//! the shell. The run is queued in the database like one started from Slack and
//! executed by the server's workers; the command waits for it and prints its record.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::automations::{VersionedAutomation, load_dir};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::{self, Db};
use crate::launch::{self, Launched};
use crate::manual::{self, ManualStart};
use crate::runs::report::RunReport;
use crate::trigger::TriggerKind;

/// What `switchboard run` was asked.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Automation id.
    pub automation: String,
    /// Conversation to run on.
    pub conversation: Option<i64>,
    /// `name=value` pairs.
    pub inputs: Vec<String>,
    /// How long to wait for the run to finish (0: do not wait).
    pub wait: Duration,
}

pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    let report = load_dir(&config.automations_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the automations directory {}: {e}",
            config.automations_dir.display()
        )
    })?;
    let automation = report
        .automations
        .into_iter()
        .find(|a| a.id == args.automation)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no automation `{}` checks out in {} (see `switchboard check`)",
                args.automation,
                config.automations_dir.display()
            )
        })?;
    if automation.trigger.kind != TriggerKind::Manual {
        anyhow::bail!(
            "`{}` has a {} trigger; only manual automations run by hand",
            automation.id,
            automation.trigger.kind
        );
    }
    if !automation.enabled {
        anyhow::bail!(
            "`{}` is disabled (`enabled = false` in its file)",
            automation.id
        );
    }
    let now = SystemClock.now_ms();
    let version = crate::automations::reload::record_version(&db, &automation, now).await?;
    let automation = VersionedAutomation {
        automation: std::sync::Arc::new(automation),
        version,
    };

    let team = db::workspaces::all(db.reader())
        .await?
        .into_iter()
        .map(|w| w.team_id)
        .min()
        .ok_or_else(|| anyhow::anyhow!("switchboard does not know its Slack workspace yet: start the server once (`switchboard serve`)"))?;
    let conversation = match args.conversation {
        Some(id) => {
            let mut conn = db.reader().acquire().await?;
            Some(
                db::conversations::get(&mut conn, id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("there is no conversation {id}"))?,
            )
        }
        None => None,
    };
    let mut given = BTreeMap::new();
    for pair in &args.inputs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--input {pair:?}: write name=value"))?;
        given.insert(k.trim().to_owned(), Value::String(v.to_owned()));
    }
    let user = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    let request = ManualStart {
        user,
        given,
        conversation: conversation.clone(),
        source: "cli".into(),
        reply_to: None,
        reply_thread: None,
    };
    let trigger = match manual::trigger(&automation, request, team) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}", e.0.replace('*', ""));
            return Ok(ExitCode::FAILURE);
        }
    };
    let run_id = match launch::queue(&db, now, &automation, &trigger, conversation.as_ref()).await?
    {
        (Launched::Queued(id), _) => id,
        (Launched::Filtered, _) => {
            eprintln!("{}", manual::filtered(&automation).0.replace('*', ""));
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("queued run {run_id} of {}", automation.automation.id);
    if args.wait.is_zero() {
        return Ok(ExitCode::SUCCESS);
    }
    let code = wait_for(&db, run_id, args.wait).await?;
    db.close().await;
    Ok(code)
}

/// Waits for the run to end; prints it like `runs show`.
async fn wait_for(db: &Db, run_id: i64, within: Duration) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut told = false;
    loop {
        let run = db::runs::get(db.reader(), run_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run_id} vanished"))?;
        if run.status == "succeeded" || run.status == "failed" {
            if let Some(report) = RunReport::load(db, run_id).await? {
                print!("{}", report.text(true));
            }
            return Ok(if run.status == "succeeded" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        if !told && run.status == "queued" && started.elapsed() > Duration::from_secs(5) {
            eprintln!("still queued: is `switchboard serve` running against this database?");
            told = true;
        }
        if started.elapsed() > within {
            eprintln!(
                "run {run_id} is {} after {} s; `switchboard runs show {run_id}` follows it",
                run.status,
                within.as_secs()
            );
            return Ok(ExitCode::from(2));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
