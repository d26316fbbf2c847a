//! `switchboard check`: every error of every file, then a summary.

use std::path::Path;
use std::process::ExitCode;

use crate::automations::{DirScripts, compile, load_dir};

pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let (ok, errors, files) = if path.is_file() {
        let source = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        match compile(path, &source, &DirScripts::beside(path)) {
            Ok(_) => (1, vec![], 1),
            Err(errors) => (0, errors, 1),
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
        )
    };
    for error in &errors {
        println!("{error}");
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
