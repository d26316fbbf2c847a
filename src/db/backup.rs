//! Copies of a SQLite database: a consistent copy taken while the server runs
//! (`VACUUM INTO`, which reads one snapshot and writes a compact file), the check of a
//! copy, and putting a copy in the place of a stopped server's database.
//!
//! A server holds a shared lock on `<database>.lock` for as long as it runs; a restore
//! takes it exclusively, so it never replaces the file under a running server, and a
//! server does not start in the middle of a restore.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use rusqlite::OpenFlags;

/// What a copy holds, to print and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The latest migration applied to it.
    pub schema_version: i64,
    /// Rows of the tables an operator cares about.
    pub conversations: i64,
    /// Runs, of every status.
    pub runs: i64,
    /// Event ids still remembered for deduplication.
    pub events: i64,
    /// Secret versions (ciphertext).
    pub secrets: i64,
    /// Keys of the key-value store.
    pub kv_keys: i64,
}

/// Writes a consistent copy of the database at `db_path` to `to`, which must not exist,
/// while other connections go on writing. The copy appears under its name only once
/// complete and checked.
pub fn backup(db_path: &Path, to: &Path) -> anyhow::Result<Summary> {
    if to.exists() {
        bail!(
            "{} already exists: choose a new file name (a backup never overwrites)",
            to.display()
        );
    }
    if !db_path.exists() {
        bail!("there is no database at {}", db_path.display());
    }
    let partial = sibling(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let conn = rusqlite::Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", db_path.display()))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let target = partial
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", partial.display()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("cannot write the copy to {}", partial.display()))?;
    drop(conn);
    let summary = match inspect(&partial) {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("the copy did not check out; nothing was kept"));
        }
    };
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, to)?;
    sync_dir(to)?;
    Ok(summary)
}

/// Checks that `path` is a whole switchboard database and says what it holds.
pub fn inspect(path: &Path) -> anyhow::Result<Summary> {
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    if integrity != "ok" {
        bail!("{} is damaged: {integrity}", path.display());
    }
    let schema_version: i64 = conn
        .query_row(
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )
        .ok()
        .flatten()
        .with_context(|| format!("{} is not a switchboard database", path.display()))?;
    let count = |table: &str| -> anyhow::Result<i64> {
        Ok(conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
    };
    Ok(Summary {
        schema_version,
        conversations: count("conversations")?,
        runs: count("runs")?,
        events: count("events")?,
        secrets: count("secrets")?,
        kv_keys: count("kv")?,
    })
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// What the restored database holds.
    pub summary: Summary,
    /// Where the database that was replaced now is (with its `-wal`), if there was one.
    pub set_aside: Option<PathBuf>,
}

/// Puts the copy `from` in the place of the database at `db_path`, keeping the database
/// it replaces beside it. Refuses while a server runs on `db_path`, and refuses a copy
/// from a newer switchboard than this one (`known_version`: its latest migration).
pub fn restore(from: &Path, db_path: &Path, known_version: i64) -> anyhow::Result<Restored> {
    let summary = inspect(from)?;
    if summary.schema_version > known_version {
        bail!(
            "{} was made by a newer switchboard (schema {}, this one knows up to {known_version}): restore it with that version",
            from.display(),
            summary.schema_version
        );
    }
    let _lock = ServerLock::exclusive(db_path)?;
    let incoming = sibling(db_path, ".restoring");
    std::fs::copy(from, &incoming).with_context(|| {
        format!(
            "cannot copy {} beside {}",
            from.display(),
            db_path.display()
        )
    })?;
    File::open(&incoming)?.sync_all()?;
    let set_aside = if db_path.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = sibling(db_path, &format!(".before-restore-{stamp}"));
        std::fs::rename(db_path, &aside)?;
        // The log and index of the replaced database go with it: left here they would
        // be applied to the restored one.
        for suffix in ["-wal", "-shm"] {
            let file = sibling(db_path, suffix);
            if file.exists() {
                std::fs::rename(&file, sibling(&aside, suffix))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, db_path)?;
    sync_dir(db_path)?;
    Ok(Restored { summary, set_aside })
}

/// The lock a server holds on its SQLite database while it runs.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

impl ServerLock {
    /// The lock for a server on the database `config` names: none on PostgreSQL,
    /// which `pg_restore` serves instead.
    pub fn for_server(config: &crate::config::DatabaseConfig) -> anyhow::Result<Option<Self>> {
        if !config.url.starts_with("sqlite:") {
            return Ok(None);
        }
        let path = super::sqlite::path_of(&config.url)?;
        Self::shared(&path).map(Some)
    }

    /// Taken by a server: any number share it, but not while a restore holds it.
    pub fn shared(db_path: &Path) -> anyhow::Result<Self> {
        Self::take(db_path, libc::LOCK_SH).with_context(|| {
            format!(
                "a restore of {} is in progress; start the server when it has finished",
                db_path.display()
            )
        })
    }

    /// Taken by a restore: only when no server runs.
    pub fn exclusive(db_path: &Path) -> anyhow::Result<Self> {
        Self::take(db_path, libc::LOCK_EX).with_context(|| {
            format!(
                "a switchboard server is running on {}: stop it (every replica) before restoring",
                db_path.display()
            )
        })
    }

    fn take(db_path: &Path, mode: libc::c_int) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd as _;
        let path = sibling(db_path, ".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let taken = unsafe { libc::flock(file.as_raw_fd(), mode | libc::LOCK_NB) };
        if taken != 0 {
            bail!("{} is locked", path.display());
        }
        Ok(Self { _file: file })
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_waits_for_no_server_and_a_server_for_no_restore() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("switchboard.db");
        let server = ServerLock::shared(&db).unwrap();
        let replica = ServerLock::shared(&db).unwrap();
        let err = ServerLock::exclusive(&db).unwrap_err();
        assert!(format!("{err:#}").contains("server is running"), "{err:#}");
        drop((server, replica));
        let restore = ServerLock::exclusive(&db).unwrap();
        let err = ServerLock::shared(&db).unwrap_err();
        assert!(format!("{err:#}").contains("restore"), "{err:#}");
        drop(restore);
        ServerLock::shared(&db).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_switchboard_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"definitely not sqlite").unwrap();
        assert!(inspect(&junk).is_err());
        let empty = dir.path().join("empty.db");
        rusqlite::Connection::open(&empty)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = inspect(&empty).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a switchboard database"),
            "{err:#}"
        );
    }
}
