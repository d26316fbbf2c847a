//! Reading a directory of automation files. Every file is checked on its own, so one
//! broken file is reported and never takes the others down.

use std::io;
use std::path::{Path, PathBuf};

use super::calendars::{self, Calendars};
use super::diagnostic::{Locator, path};
use super::slas;
use super::{Automation, Diagnostic, DirScripts, compile};
use crate::sla::Policies;
use crate::trigger::TriggerKind;

/// What loading a directory found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files that checked out.
    pub automations: Vec<Automation>,
    /// Problems, in file order.
    pub errors: Vec<Diagnostic>,
    /// Files that did not check out.
    pub failed_files: Vec<PathBuf>,
    /// The calendars of `calendars/` that checked out.
    pub calendars: Calendars,
    /// Calendar files that did not check out (their errors are in `errors`).
    pub failed_calendars: Vec<String>,
    /// The SLA policies of `slas/` that checked out, in the order they are tried.
    pub slas: Policies,
    /// SLA policy files that did not check out (their errors are in `errors`).
    pub failed_slas: Vec<String>,
}

/// Loads every `*.toml` file of `dir`, in name order, and the calendars of
/// `dir/calendars/`; an automation naming a calendar that does not exist fails.
pub fn load_dir(dir: &Path) -> io::Result<LoadReport> {
    let mut report = load_automations(dir)?;
    let (calendars, mut errors, failed) = calendars::load(dir);
    report.errors.append(&mut errors);
    report.calendars = calendars;
    report.failed_calendars = failed
        .iter()
        .filter_map(|f| f.file_stem()?.to_str().map(str::to_owned))
        .collect();
    check_calendar_names(&mut report);
    let (slas, mut errors, failed) = slas::load(dir, &report.calendars);
    report.errors.append(&mut errors);
    report.slas = slas;
    report.failed_slas = failed;
    check_sla_targets(&mut report);
    Ok(report)
}

/// Moves the automations waiting for an SLA target that no policy has to the failed
/// files (unless a policy file has errors: its own errors say what to fix).
fn check_sla_targets(report: &mut LoadReport) {
    if !report.failed_slas.is_empty() {
        return;
    }
    let automations = std::mem::take(&mut report.automations);
    for a in automations {
        let kind = a.trigger.kind;
        let problem = if !matches!(kind, TriggerKind::SlaWarning | TriggerKind::SlaBreached) {
            None
        } else if a.trigger.sla_targets.is_empty() {
            report.slas.is_empty().then(|| {
                (
                    path!["trigger", "type"].to_vec(),
                    format!("{kind} waits for SLA targets, but there is no SLA policy: add one to `{}/` beside the automations", slas::DIR),
                )
            })
        } else {
            a.trigger
                .sla_targets
                .iter()
                .find(|t| !report.slas.defines(**t))
                .map(|target| {
                    (
                        path!["trigger", "target"].to_vec(),
                        format!("no SLA policy has a {target} target: add [{target}] to a policy in `{}/`", slas::DIR),
                    )
                })
        };
        let Some((at, message)) = problem else {
            report.automations.push(a);
            continue;
        };
        report
            .errors
            .push(Locator::new(a.path.clone(), &a.source).at_path(&at, message));
        report.failed_files.push(a.path);
    }
}

/// Moves the automations whose `business_hours` names no calendar to the failed
/// files. A calendar whose file has errors counts as known: its own errors say what
/// to fix, and its previous version stays in force.
fn check_calendar_names(report: &mut LoadReport) {
    let automations = std::mem::take(&mut report.automations);
    for a in automations {
        let missing = a
            .trigger
            .silence
            .as_ref()
            .and_then(|s| s.business_hours.as_deref())
            .filter(|name| {
                report.calendars.get(name).is_none()
                    && !report.failed_calendars.iter().any(|f| f == name)
            });
        let Some(name) = missing else {
            report.automations.push(a);
            continue;
        };
        report
            .errors
            .push(Locator::new(a.path.clone(), &a.source).at_path(
                &path!["trigger", "business_hours"],
                calendars::unknown(name, &report.calendars),
            ));
        report.failed_files.push(a.path);
    }
}

fn load_automations(dir: &Path) -> io::Result<LoadReport> {
    let mut report = LoadReport::default();
    for file in try_toml_files(dir)? {
        let checked =
            read(&file).and_then(|source| compile(&file, &source, &DirScripts::beside(&file)));
        match checked {
            Ok(a) => report.automations.push(a),
            Err(mut errors) => {
                report.errors.append(&mut errors);
                report.failed_files.push(file);
            }
        }
    }
    Ok(report)
}

/// The `*.toml` files of `dir`, in name order; none when it cannot be read (a folder
/// of calendars or policies that does not exist).
pub(super) fn toml_files(dir: &Path) -> Vec<PathBuf> {
    try_toml_files(dir).unwrap_or_default()
}

fn try_toml_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// A file's text, or the diagnostic that says why it cannot be read.
pub(super) fn read(file: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(file).map_err(|e| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the file: {e}"),
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_file_does_not_take_the_others_down() {
        let dir = tempfile::tempdir().unwrap();
        let good = "[trigger]\ntype = \"conversation_created\"\n[[actions]]\ntype = \"reply\"\ntext = \"hi\"\n";
        std::fs::write(dir.path().join("a.toml"), good).unwrap();
        std::fs::write(dir.path().join("b.toml"), "[trigger\n").unwrap();
        std::fs::write(dir.path().join("c.toml"), good).unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        let report = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = report.automations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].file.ends_with("b.toml"));
    }

    #[test]
    fn an_unknown_calendar_is_an_error_at_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let silent = |calendar: &str| {
            format!(
                "[trigger]\ntype = \"no_response\"\nafter = \"30m\"\nbusiness_hours = \"{calendar}\"\n[[actions]]\ntype = \"reply\"\ntext = \"hi\"\n"
            )
        };
        std::fs::write(dir.path().join("a.toml"), silent("emea")).unwrap();
        std::fs::write(dir.path().join("b.toml"), silent("apac")).unwrap();
        std::fs::create_dir(dir.path().join("calendars")).unwrap();
        std::fs::write(
            dir.path().join("calendars/emea.toml"),
            "timezone = \"Europe/Berlin\"\n[hours]\nweekdays = [\"09:00-17:00\"]\n",
        )
        .unwrap();
        let report = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = report.automations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        let error = report.errors[0].to_string();
        assert!(error.contains("b.toml:4:18:"), "{error}");
        assert!(
            error.contains("no calendar \"apac\": the calendars are: emea"),
            "{error}"
        );
        // A calendar whose file is broken is still known: its own error is reported.
        std::fs::write(dir.path().join("calendars/apac.toml"), "timezone = 1\n").unwrap();
        let report = load_dir(dir.path()).unwrap();
        assert_eq!(report.automations.len(), 2);
        assert_eq!(report.failed_calendars, ["apac"]);
        assert!(report.errors[0].to_string().contains("apac.toml"));
    }

    #[test]
    fn an_sla_target_without_a_policy_is_an_error_at_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let breached = |target: &str| {
            format!(
                "[trigger]\ntype = \"sla_breached\"\ntarget = \"{target}\"\n[[actions]]\ntype = \"reply\"\ntext = \"late\"\n"
            )
        };
        std::fs::write(dir.path().join("a.toml"), breached("first_response")).unwrap();
        let report = load_dir(dir.path()).unwrap();
        assert!(report.automations.is_empty());
        let error = report.errors[0].to_string();
        assert!(
            error.contains("a.toml:3:10:")
                && error.contains("no SLA policy has a first_response target"),
            "{error}"
        );

        std::fs::create_dir(dir.path().join("slas")).unwrap();
        std::fs::write(
            dir.path().join("slas/critical.toml"),
            "[first_response]\nwithin = \"15m\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.toml"), breached("resolution")).unwrap();
        let report = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = report.automations.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        let error = report.errors[0].to_string();
        assert!(
            error.contains("b.toml:3:10:")
                && error.contains("no SLA policy has a resolution target"),
            "{error}"
        );
    }
}
