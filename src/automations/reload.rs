//! Putting automation files in force: load the directory, record each content as a
//! version, install the set. A file that stops checking out keeps its last good version
//! in force (a typo while editing must not switch off an escalation) and says so loudly.
//! Reloads happen at startup, on `SIGHUP`, and when a file in the directory changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio_util::sync::CancellationToken;

use super::{Automation, Registry, VersionedAutomation, load_dir};
use crate::clock::Clock;
use crate::db::{self, Db};
use crate::secrets::SecretStore;

/// Loads `dir` and installs what checks out. Errors are logged with file, line and column.
pub async fn reload(
    dir: &Path,
    db: &Db,
    secrets: &SecretStore,
    registry: &Registry,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let report = match load_dir(dir) {
        Ok(report) => report,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), "no automations directory: nothing will run until you create it and add automation files (see README)");
            Default::default()
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot read the automations directory {}: {e}",
                dir.display()
            ));
        }
    };
    for error in &report.errors {
        tracing::error!("{error}");
    }
    let previous: HashMap<String, VersionedAutomation> = registry
        .current()
        .iter()
        .map(|a| (a.automation.id.clone(), a.clone()))
        .collect();
    let mut installed = Vec::with_capacity(report.automations.len());
    for automation in report.automations {
        let version = record_version(db, &automation, clock.now_ms()).await?;
        if previous
            .get(&automation.id)
            .is_none_or(|p| p.version != version)
        {
            tracing::info!(automation = %automation.id, version, enabled = automation.enabled, "automation loaded");
        }
        installed.push(VersionedAutomation {
            automation: Arc::new(automation),
            version,
        });
    }
    for file in &report.failed_files {
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if let Some(kept) = previous.get(id) {
            tracing::error!(automation = id, version = kept.version, file = %file.display(), "file has errors; keeping the previous version in force until it is fixed");
            installed.push(kept.clone());
        }
    }
    installed.sort_by(|a, b| a.automation.id.cmp(&b.automation.id));
    let mut calendars = report.calendars;
    let before = registry.calendars();
    for name in &report.failed_calendars {
        if let Some(kept) = before.get(name) {
            tracing::error!(calendar = %name, "calendar file has errors; keeping its previous version in force until it is fixed");
            calendars.keep(kept.clone());
        }
    }
    tracing::info!(
        dir = %dir.display(),
        automations = installed.len(),
        calendars = calendars.len(),
        sla_policies = report.slas.0.len(),
        files_with_errors = report.failed_files.len()
            + report.failed_calendars.len()
            + report.failed_slas.len(),
        "automations in force"
    );
    crate::webhooks::ensure_tokens(db, secrets, &installed, clock.now_ms()).await?;
    let in_force: Vec<(&str, i64)> = installed
        .iter()
        .map(|a| (a.automation.id.as_str(), a.version))
        .collect();
    let mut tx = db.begin().await?;
    db::automations::mark_in_force(&mut tx, &in_force, clock.now_ms()).await?;
    tx.commit().await?;
    if report.failed_slas.is_empty() {
        registry.install_slas(report.slas);
    } else {
        tracing::error!(files = ?report.failed_slas, "SLA policy files have errors; keeping the previous policies in force until they are fixed");
    }
    let calendars_before = registry.calendars();
    registry.install_calendars(calendars);
    registry.install(installed);
    reschedule_silences(db, registry, &previous, &calendars_before).await;
    Ok(())
}

/// Running silences are due by the rule they were set with: after an edit of a silence
/// automation or of its calendar (or at startup, when what changed meanwhile is not
/// known), they are counted again by the rule in force.
async fn reschedule_silences(
    db: &Db,
    registry: &Registry,
    previous: &HashMap<String, VersionedAutomation>,
    calendars_before: &super::calendars::Calendars,
) {
    let calendars = registry.calendars();
    for a in registry.current().iter() {
        let Some(rule) = &a.automation.trigger.silence else {
            continue;
        };
        let edited = previous
            .get(&a.automation.id)
            .is_none_or(|p| p.version != a.version);
        let calendar_edited = rule
            .business_hours
            .as_deref()
            .is_some_and(|name| calendars.get(name) != calendars_before.get(name));
        if !edited && !calendar_edited {
            continue;
        }
        match crate::timers::silence::reschedule(db, a, &calendars).await {
            Ok(0) => {}
            Ok(moved) => {
                tracing::info!(automation = %a.automation.id, moved, "running silences counted again by the rule in force")
            }
            Err(e) => {
                tracing::warn!(automation = %a.automation.id, error = format!("{e:#}"), "running silences could not be counted again; they fall due by the rule they were set with")
            }
        }
    }
}

/// The version number of `automation`'s content, recorded if it is new.
pub async fn record_version(db: &Db, automation: &Automation, now_ms: i64) -> sqlx::Result<i64> {
    let path = automation.path.display().to_string();
    let content = db::automations::VersionContent {
        automation_id: &automation.id,
        content_hash: &automation.content_hash,
        source: &automation.source,
        path: &path,
        scripts: &automation.scripts,
    };
    db::automations::record_version(&mut *db.write().await?, content, now_ms).await
}

/// Reloads on file changes in `dir` and on `SIGHUP`, until `stop`.
pub async fn watch(
    dir: PathBuf,
    db: Db,
    secrets: SecretStore,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher_tx = tx.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = watcher_tx.send(());
        }
    })
    // Recursive: calendars live in a folder of the directory.
    .and_then(|mut w| w.watch(&dir, RecursiveMode::Recursive).map(|()| w));
    let _watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the automations directory; reload with SIGHUP");
            None
        }
    };
    #[cfg(unix)]
    {
        let tx = tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    got = hup.recv() => {
                        if got.is_none() { return; }
                        tracing::info!("SIGHUP: reloading automations");
                        let _ = tx.send(());
                    }
                }
            }
        });
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            got = rx.recv() => if got.is_none() { return },
        }
        // Editors write in several steps: wait for the burst to end.
        tokio::time::sleep(Duration::from_millis(250)).await;
        while rx.try_recv().is_ok() {}
        if let Err(e) = reload(&dir, &db, &secrets, &registry, clock.as_ref()).await {
            tracing::error!(
                error = format!("{e:#}"),
                "reloading automations failed; the previous set stays in force"
            );
        }
    }
}
