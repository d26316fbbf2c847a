//! Where the scripts of `code` steps are read from: the automations directory when
//! loading files, or the stored version when a run executes an older version.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A source of script files, by the name an automation gives them.
pub trait ScriptFiles {
    /// The script's text, or why it cannot be read.
    fn read(&self, name: &str) -> Result<String, String>;
    /// The path to show in messages.
    fn path(&self, name: &str) -> PathBuf;
}

/// Scripts next to the automation file.
#[derive(Debug, Clone)]
pub struct DirScripts {
    dir: PathBuf,
}

impl DirScripts {
    /// Scripts in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Scripts in the directory of `automation_file`.
    pub fn beside(automation_file: &Path) -> Self {
        Self::new(automation_file.parent().unwrap_or(Path::new(".")))
    }
}

impl ScriptFiles for DirScripts {
    fn read(&self, name: &str) -> Result<String, String> {
        let relative = Path::new(name);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(format!(
                "{name:?} must be a path inside the automations directory (no `..`, not absolute)"
            ));
        }
        std::fs::read_to_string(self.dir.join(relative))
            .map_err(|e| format!("cannot read {}: {e}", self.path(name).display()))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Scripts stored with an automation version.
#[derive(Debug, Clone, Default)]
pub struct StoredScripts {
    scripts: BTreeMap<String, String>,
}

impl StoredScripts {
    /// Scripts from a stored version.
    pub fn new(scripts: BTreeMap<String, String>) -> Self {
        Self { scripts }
    }
}

impl ScriptFiles for StoredScripts {
    fn read(&self, name: &str) -> Result<String, String> {
        self.scripts
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the stored version has no script {name:?}"))
    }

    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(name)
    }
}
