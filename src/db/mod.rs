//! All SQL lives here, one file per table group, written once for both backends:
//! integers, text and JSON-as-text only, `$n` placeholders, and timestamps as
//! milliseconds since the epoch. The few dialect differences are confined to single
//! functions (`runs::claim_due`).
//!
//! Most of it runs through sqlx's `Any` driver. The event path (recording events, the
//! runs' journal, claims) runs through the batch writer (`writer`), which takes the
//! same SQL through [`tx::Tx`]: on SQLite a thread with a connection of its own
//! (`sqlite`), on PostgreSQL tasks with dedicated connections.
//!
//! SQLite gets one writer at a time: the batch writer and sqlx's single writer
//! connection take turns through an in-process lock (SQLite serializes writes anyway,
//! and this way neither meets `SQLITE_BUSY`), and readers use a pool. PostgreSQL has
//! one shared pool besides the writers' connections.

pub mod approvals;
pub mod automations;
pub mod backup;
pub mod conversations;
pub mod doors;
pub mod events;
pub mod kv;
pub mod postgres;
pub mod retention;
pub mod runs;
pub mod script_journals;
pub mod secrets;
pub mod sqlite;
pub mod timers;
pub mod tx;
pub mod workspaces;
pub mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::OwnedMutexGuard;

use crate::config::{DatabaseConfig, SqliteSync};

/// The database behind one of the two supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, for scale and several replicas.
    Postgres,
}

/// Connection pools, and the batch writers once started.
#[derive(Clone)]
pub struct Db {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
    config: DatabaseConfig,
    /// SQLite: one writer at a time, the batch writer or sqlx's writer connection.
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    writers: Arc<Mutex<Writers>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the configuration: its URL may hold a password.
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Writers {
    events: Option<writer::Writer>,
    runs: Option<writer::Writer>,
}

/// sqlx's writer connection, for the writes outside the event path; on SQLite it holds
/// the write turn until dropped.
#[derive(Debug)]
pub struct WriteConn {
    conn: PoolConnection<Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// A write transaction on sqlx's writer connection; on SQLite it holds the write turn
/// until committed, rolled back or dropped.
#[derive(Debug)]
pub struct WriteTx {
    tx: sqlx::Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits.
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl tx::Tx for WriteTx {
    fn backend(&self) -> Backend {
        self.tx.backend()
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<tx::Arg>,
    ) -> futures::future::BoxFuture<'a, sqlx::Result<u64>> {
        self.tx.execute(sql, args)
    }

    fn fetch_all<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<tx::Arg>,
    ) -> futures::future::BoxFuture<'a, sqlx::Result<Vec<tx::Row>>> {
        self.tx.fetch_all(sql, args)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to the configured database (creating a SQLite file if needed).
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        if config.url.starts_with("sqlite:") {
            Self::connect_sqlite(config).await
        } else {
            let options: AnyConnectOptions = config
                .url
                .parse()
                .context("DATABASE_URL is not a valid PostgreSQL URL")?;
            let pool = AnyPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| {
                    format!(
                        "cannot connect to PostgreSQL at {} (check DATABASE_URL and that the server is running)",
                        redact_url(&config.url)
                    )
                })?;
            Ok(Self {
                writer: pool.clone(),
                reader: pool,
                backend: Backend::Postgres,
                config: config.clone(),
                write_turn: None,
                writers: Arc::default(),
            })
        }
    }

    async fn connect_sqlite(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let url = sqlite_url_with_create(&config.url);
        let sync = match config.sqlite_sync {
            SqliteSync::Full => "PRAGMA synchronous = FULL",
            SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
        };
        let options: AnyConnectOptions = url
            .parse()
            .context("DATABASE_URL is not a valid SQLite URL")?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                // A ping per acquire is a round trip to sqlx's SQLite thread; a local
                // file does not go away between two uses.
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(sync).await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let writer = pool(1)
            .await
            .with_context(|| format!("cannot open the SQLite database {}", config.url))?;
        let reader = pool(config.max_connections)
            .await
            .with_context(|| format!("cannot open the SQLite database {}", config.url))?;
        Ok(Self {
            writer,
            reader,
            backend: Backend::Sqlite,
            config: config.clone(),
            write_turn: Some(Arc::new(tokio::sync::Mutex::new(()))),
            writers: Arc::default(),
        })
    }

    /// The latest migration this build knows for `backend`.
    pub fn latest_migration(backend: Backend) -> i64 {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.writer)
            .await
            .context("database migration failed")?;
        Ok(())
    }

    async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        }
    }

    /// sqlx's writer connection, for statements that commit on their own.
    pub async fn write(&self) -> sqlx::Result<WriteConn> {
        let turn = self.write_turn().await;
        Ok(WriteConn {
            conn: self.writer.acquire().await?,
            _turn: turn,
        })
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes waits for another
    /// process's writer (a CLI command next to the server) instead of failing with
    /// "database is locked" when it comes to write.
    pub async fn begin(&self) -> sqlx::Result<WriteTx> {
        let turn = self.write_turn().await;
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// A lane of the batch writer of `class`, started on first use.
    pub fn lane<K: writer::BatchKind>(
        &self,
        class: writer::Class,
        kind: K,
        share: writer::Share,
    ) -> anyhow::Result<writer::Lane<K>> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        // SQLite has one writer for every class; PostgreSQL one per class.
        let class = match self.backend {
            Backend::Sqlite => writer::Class::Events,
            Backend::Postgres => class,
        };
        let slot = match class {
            writer::Class::Events => &mut writers.events,
            writer::Class::Runs => &mut writers.runs,
        };
        if slot.is_none() {
            let connector = match self.backend {
                Backend::Sqlite => writer::Connector::Sqlite {
                    conn: sqlite::SqliteConn::open(&self.config.url, self.config.sqlite_sync)?,
                    lock: self.write_turn.clone().expect("SQLite has a write turn"),
                },
                Backend::Postgres => writer::Connector::Postgres {
                    url: self.config.url.clone(),
                    // Measured with the stories benchmark: two connections per class
                    // commit the most on this machine (one leaves PostgreSQL idle between
                    // round trips, four make batches too small).
                    connections: 2,
                },
            };
            *slot = Some(writer::Writer::start(connector));
        }
        Ok(slot.as_ref().expect("started above").lane(kind, share))
    }

    /// Stops the batch writers after committing what they hold.
    pub async fn stop_writers(&self) {
        let writers: Vec<writer::Writer> = {
            let mut w = self.writers.lock().unwrap_or_else(|e| e.into_inner());
            [w.events.take(), w.runs.take()]
                .into_iter()
                .flatten()
                .collect()
        };
        for w in writers {
            w.stop().await;
        }
    }

    /// The pool for reads outside transactions.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .context("database is unreachable")?;
        Ok(())
    }

    /// Closes the pools (and stops the batch writers).
    pub async fn close(&self) {
        self.stop_writers().await;
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// SQLite opens read-write-create only when asked to.
fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// A URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file() {
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://u:hunter2@db/x"),
            "postgres://u:***@db/x"
        );
    }
}
