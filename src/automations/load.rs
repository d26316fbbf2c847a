//! Reading a directory of automation files. Every file is checked on its own, so one
//! broken file is reported and never takes the others down.

use std::io;
use std::path::{Path, PathBuf};

use super::{Automation, Diagnostic, DirScripts, compile};

/// What loading a directory found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files that checked out.
    pub automations: Vec<Automation>,
    /// Problems, in file order.
    pub errors: Vec<Diagnostic>,
    /// Files that did not check out.
    pub failed_files: Vec<PathBuf>,
}

/// Loads every `*.toml` file of `dir`, in name order.
pub fn load_dir(dir: &Path) -> io::Result<LoadReport> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut report = LoadReport::default();
    for file in files {
        let source = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(Diagnostic {
                    file: file.clone(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read the file: {e}"),
                });
                report.failed_files.push(file);
                continue;
            }
        };
        match compile(&file, &source, &DirScripts::beside(&file)) {
            Ok(a) => report.automations.push(a),
            Err(mut errors) => {
                report.errors.append(&mut errors);
                report.failed_files.push(file);
            }
        }
    }
    Ok(report)
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
}
