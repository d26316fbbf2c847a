//! All SQL lives here, one file per table group, written once for both backends through
//! sqlx's `Any` driver: integers, text and JSON-as-text only, `$n` placeholders, and
//! timestamps as milliseconds since the epoch. The few dialect differences are confined
//! to single functions (`runs::claim`).
//!
//! SQLite gets one writer connection (SQLite serializes writes anyway, and a single
//! writer never sees `SQLITE_BUSY`) and a pool of readers; PostgreSQL one shared pool.

pub mod approvals;
pub mod automations;
pub mod conversations;
pub mod doors;
pub mod events;
pub mod kv;
pub mod runs;
pub mod script_journals;
pub mod secrets;
pub mod workspaces;

use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::{DatabaseConfig, SqliteSync};

/// The database behind one of the two supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, for scale and several replicas.
    Postgres,
}

/// Connection pools.
#[derive(Debug, Clone)]
pub struct Db {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
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
        })
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

    /// The pool for writes and for reads that must see them (transactions).
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes waits for another
    /// process's writer (a CLI command next to the server) instead of failing with
    /// "database is locked" when it comes to write.
    pub async fn begin(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
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

    /// Closes the pools.
    pub async fn close(&self) {
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
