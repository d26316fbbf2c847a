//! `switchboard check`: every error of every file, then a summary.

use std::path::Path;
use std::process::ExitCode;

use crate::automations::{Automation, DirScripts, compile, load_dir};
use crate::trigger::TriggerKind;

/// Whether `automation` tells the team's answers from the requester side's.
fn waits_for_answers(automation: &Automation) -> bool {
    matches!(
        automation.trigger.kind,
        TriggerKind::NoResponse | TriggerKind::NoReply
    )
}

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let (ok, errors, files, answers) = if path.is_file() {
        let source = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        match compile(path, &source, &DirScripts::beside(path)) {
            Ok(a) => (1, vec![], 1, waits_for_answers(&a)),
            Err(errors) => (0, errors, 1, false),
        }
    } else {
        let report = load_dir(path)
            .map_err(|e| anyhow::anyhow!("cannot read the directory {}: {e}", path.display()))?;
        let files = report.automations.len()
            + report.failed_files.len()
            + report.calendars.len()
            + report.failed_calendars.len()
            + report.slas.0.len()
            + report.failed_slas.len();
        (
            report.automations.len() + report.calendars.len() + report.slas.0.len(),
            report.errors,
            files,
            report.automations.iter().any(waits_for_answers),
        )
    };
    for error in &errors {
        println!("{error}");
    }
    if answers {
        println!(
            "note: no_response and no_reply count a reply in the thread by a member of the support team (SWITCHBOARD_SUPPORT_TEAM, `support.team`) as the team's answer, and every other person's message as the requester side's; bot messages and commands to switchboard count for neither"
        );
    }
    if errors.is_empty() {
        println!("{ok} file(s) OK in {}", path.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} error(s); {} of {files} file(s) OK in {}",
            errors.len(),
            ok,
            path.display()
        );
        Ok(ExitCode::FAILURE)
    }
}
