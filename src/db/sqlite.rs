//! The SQLite writer thread's connection.
//!
//! sqlx runs each SQLite statement on a worker thread of its own and hands the result
//! back through a channel: two thread wake-ups per statement, which on a small virtual
//! machine cost more than the statement (measured: 70 µs of CPU for a one-row insert).
//! The batch writer (`db::writer`) instead owns a rusqlite connection on its own
//! thread and runs whole batches there, statement after statement, with no hand-off
//! in between. The SQL is the same as everywhere else (`$1`… placeholders, which
//! SQLite numbers in order of first appearance).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use rusqlite::types::ValueRef;

use super::Backend;
use super::tx::{Arg, Cell, DbError, Row, Tx};
use crate::config::SqliteSync;

/// A rusqlite connection that speaks [`Tx`]; its futures are always ready.
#[derive(Debug)]
pub struct SqliteConn {
    conn: rusqlite::Connection,
}

/// The database file a `sqlite:` URL names.
pub fn path_of(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .with_context(|| format!("{url} is not a sqlite: URL"))?;
    let path = rest.split('?').next().unwrap_or_default();
    anyhow::ensure!(
        !path.is_empty() && !path.contains(":memory:"),
        "the batch writer needs a database file, not {url}"
    );
    Ok(PathBuf::from(path))
}

impl SqliteConn {
    /// Opens the database of `url` (created by then) with the server's settings.
    pub fn open(url: &str, sync: SqliteSync) -> anyhow::Result<Self> {
        let path = path_of(url)?;
        let conn = rusqlite::Connection::open(&path)
            .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let sync = match sync {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
        ))?;
        // Multi-row statements come in a few sizes each.
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Self { conn })
    }

    fn run_execute(&self, sql: &str, args: Vec<Arg>) -> sqlx::Result<u64> {
        let mut statement = self.conn.prepare_cached(sql).map_err(error)?;
        bind(&mut statement, args)?;
        statement.raw_execute().map(|n| n as u64).map_err(error)
    }

    fn run_fetch(&self, sql: &str, args: Vec<Arg>) -> sqlx::Result<Vec<Row>> {
        let mut statement = self.conn.prepare_cached(sql).map_err(error)?;
        bind(&mut statement, args)?;
        let columns = statement.column_count();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match row.get_ref(i).map_err(error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                });
            }
            out.push(Row::Cells(cells));
        }
        Ok(out)
    }
}

fn bind(statement: &mut rusqlite::Statement<'_>, args: Vec<Arg>) -> sqlx::Result<()> {
    let expected = statement.parameter_count();
    if expected != args.len() {
        return Err(sqlx::Error::Protocol(format!(
            "statement takes {expected} arguments, {} given",
            args.len()
        )));
    }
    for (i, arg) in args.into_iter().enumerate() {
        // `$n` must be the n-th parameter: SQLite numbers them by first appearance.
        debug_assert_eq!(
            statement.parameter_name(i + 1),
            Some(format!("${}", i + 1).as_str()),
            "placeholders must first appear in order"
        );
        match arg {
            Arg::Int(v) => statement.raw_bind_parameter(i + 1, v),
            Arg::Text(v) => statement.raw_bind_parameter(i + 1, v),
        }
        .map_err(error)?;
    }
    Ok(())
}

impl Tx for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute<'a>(&'a mut self, sql: &'a str, args: Vec<Arg>) -> BoxFuture<'a, sqlx::Result<u64>> {
        Box::pin(std::future::ready(self.run_execute(sql, args)))
    }

    fn fetch_all<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, sqlx::Result<Vec<Row>>> {
        Box::pin(std::future::ready(self.run_fetch(sql, args)))
    }

    fn statements_are_cheap(&self) -> bool {
        true
    }
}

/// A rusqlite error as a sqlx one, so callers handle both alike (a unique-constraint
/// violation is recognized by `db::is_unique_violation`).
fn error(e: rusqlite::Error) -> sqlx::Error {
    let unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    );
    sqlx::Error::Database(Box::new(DbError::new(e.to_string(), unique)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file() {
        assert_eq!(
            path_of("sqlite:///tmp/a.db?mode=rwc").unwrap(),
            PathBuf::from("/tmp/a.db")
        );
        assert_eq!(
            path_of("sqlite://switchboard.db").unwrap(),
            PathBuf::from("switchboard.db")
        );
        assert!(path_of("sqlite::memory:").is_err());
    }

    #[tokio::test]
    async fn statements_bind_in_order_and_report_unique_violations() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let mut conn = SqliteConn::open(&url, SqliteSync::Full).unwrap();
        let tx: &mut dyn Tx = &mut conn;
        tx.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)",
            vec![],
        )
        .await
        .unwrap();
        // `$2` appears again after `$3`: still the second parameter.
        tx.execute(
            "INSERT INTO t (name, n) VALUES ($1, $2), ($3, $2)",
            crate::args!["a", 7, "b"],
        )
        .await
        .unwrap();
        tx.execute(
            "INSERT INTO t (name, n) VALUES ($1, $2)",
            crate::args!["c", None::<i64>],
        )
        .await
        .unwrap();
        let rows = tx
            .fetch_all("SELECT name, n FROM t ORDER BY id", vec![])
            .await
            .unwrap();
        assert_eq!(rows[0].text(0).unwrap(), "a");
        assert_eq!(rows[1].int(1).unwrap(), 7);
        assert_eq!(rows[2].opt_int(1).unwrap(), None);
        let duplicate = tx
            .execute("INSERT INTO t (name) VALUES ($1)", crate::args!["a"])
            .await
            .unwrap_err();
        assert!(crate::db::is_unique_violation(&duplicate));
    }
}
