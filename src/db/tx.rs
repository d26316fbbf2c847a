//! One way to run SQL on either backend, for the code that must run on both a sqlx
//! connection and the SQLite writer thread's own connection (`db::sqlite`).
//!
//! A [`Tx`] executes a statement with positional arguments (`$1`, `$2`… in order of
//! first appearance, which both SQLite and PostgreSQL accept) and returns rows as
//! [`Row`]s. The functions of `db/` that the event path uses take `&mut dyn Tx`, so the
//! same SQL runs in the batch writer and in an ordinary sqlx transaction.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row as _};

use super::Backend;

/// A statement argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An integer, or NULL.
    Int(Option<i64>),
    /// A text, or NULL.
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Self::Int(Some(i64::from(v)))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_owned))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Self::Text(v.clone())
    }
}

/// Statement arguments: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::tx::Arg::from($value)),*]
    };
}

/// A value read from the SQLite writer's connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// A text.
    Text(String),
    /// A blob.
    Blob(Vec<u8>),
}

/// A result row, from either kind of connection.
pub enum Row {
    /// From a sqlx connection.
    Any(AnyRow),
    /// From the SQLite writer's connection.
    Cells(Vec<Cell>),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any(row) => f.debug_struct("Row").field("columns", &row.len()).finish(),
            Self::Cells(cells) => f.debug_tuple("Row").field(cells).finish(),
        }
    }
}

fn decode_error(index: usize, expected: &str, found: &Cell) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: format!("expected {expected}, found {found:?}").into(),
    }
}

fn missing(index: usize) -> sqlx::Error {
    sqlx::Error::ColumnIndexOutOfBounds { index, len: 0 }
}

impl Row {
    /// Column `i` as an integer (not NULL).
    pub fn int(&self, i: usize) -> sqlx::Result<i64> {
        self.opt_int(i)?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source: "unexpected NULL".into(),
        })
    }

    /// Column `i` as an integer or NULL.
    pub fn opt_int(&self, i: usize) -> sqlx::Result<Option<i64>> {
        match self {
            Self::Any(row) => row.try_get(i),
            Self::Cells(cells) => match cells.get(i).ok_or_else(|| missing(i))? {
                Cell::Null => Ok(None),
                Cell::Int(v) => Ok(Some(*v)),
                other => Err(decode_error(i, "an integer", other)),
            },
        }
    }

    /// Column `i` as a text (not NULL).
    pub fn text(&self, i: usize) -> sqlx::Result<String> {
        self.opt_text(i)?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source: "unexpected NULL".into(),
        })
    }

    /// Column `i` as a text or NULL.
    pub fn opt_text(&self, i: usize) -> sqlx::Result<Option<String>> {
        match self {
            Self::Any(row) => row.try_get(i),
            Self::Cells(cells) => match cells.get(i).ok_or_else(|| missing(i))? {
                Cell::Null => Ok(None),
                Cell::Text(v) => Ok(Some(v.clone())),
                other => Err(decode_error(i, "a text", other)),
            },
        }
    }
}

/// A connection (usually inside a transaction) that runs statements.
pub trait Tx: Send {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Executes `sql`; returns the number of rows it changed.
    fn execute<'a>(&'a mut self, sql: &'a str, args: Vec<Arg>) -> BoxFuture<'a, sqlx::Result<u64>>;

    /// Runs `sql` and returns every row it produces.
    fn fetch_all<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, sqlx::Result<Vec<Row>>>;

    /// Executes `sql` when it suits the connection, at the latest before the next
    /// statement whose result is awaited (or the commit), whose error it then reports.
    /// For statements whose result nobody needs: a pipelining connection sends them
    /// along with the next one.
    fn defer<'a>(&'a mut self, sql: &'a str, args: Vec<Arg>) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(async move {
            self.execute(sql, args).await?;
            Ok(())
        })
    }

    /// Like [`defer`](Self::defer), for a statement whose rows are wanted later: they
    /// can be read from the returned [`Deferred`] after the next [`sync`](Self::sync)
    /// (or any statement whose result is awaited, or the commit).
    fn defer_fetch<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, sqlx::Result<Deferred>> {
        Box::pin(async move { Ok(Deferred::ready(self.fetch_all(sql, args).await?)) })
    }

    /// Executes what is deferred, reporting the first error.
    fn sync(&mut self) -> BoxFuture<'_, sqlx::Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Whether a statement costs less than parsing a new one: then many rows go as the
    /// same prepared one-row statement, run once per row, rather than as one
    /// statement whose text changes with the number of rows. True of the SQLite
    /// writer's own connection; elsewhere a statement is a round trip.
    fn statements_are_cheap(&self) -> bool {
        false
    }
}

/// The rows of a deferred statement ([`Tx::defer_fetch`]), once the connection has
/// executed it.
#[derive(Debug, Clone, Default)]
pub struct Deferred(Arc<Mutex<Option<Vec<Row>>>>);

impl Deferred {
    /// Rows already read.
    pub fn ready(rows: Vec<Row>) -> Self {
        Self(Arc::new(Mutex::new(Some(rows))))
    }

    /// Stores the rows when the statement has run.
    pub fn set(&self, rows: Vec<Row>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
    }

    /// Takes the rows; an error if the statement has not run yet (read before the
    /// connection synced, a bug) or they were taken already.
    pub fn rows(&self) -> sqlx::Result<Vec<Row>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                sqlx::Error::Protocol("deferred rows read before the statement ran".into())
            })
    }
}

/// The result of deferred statements: their rows, and what to make of them, once the
/// connection has run them ([`Tx::sync`], or any awaited statement, or the commit).
pub struct Later<T> {
    rows: Vec<Deferred>,
    make: Box<dyn FnOnce(Vec<Row>) -> sqlx::Result<T> + Send>,
}

impl<T> std::fmt::Debug for Later<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Later")
            .field("statements", &self.rows.len())
            .finish()
    }
}

impl<T: 'static> Later<T> {
    /// What `rows` will yield, made by `make`.
    pub fn new(
        rows: Vec<Deferred>,
        make: impl FnOnce(Vec<Row>) -> sqlx::Result<T> + Send + 'static,
    ) -> Self {
        Self {
            rows,
            make: Box::new(make),
        }
    }

    /// The result (an error if the statements have not run).
    pub fn resolve(self) -> sqlx::Result<T> {
        let mut all = Vec::new();
        for rows in self.rows {
            all.extend(rows.rows()?);
        }
        (self.make)(all)
    }
}

/// An error of the batch writer's own connections, as sqlx would report it (so that
/// `db::is_unique_violation` recognizes a unique-constraint violation).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    message: String,
    unique: bool,
}

impl DbError {
    /// An error saying `message`; `unique` for a unique-constraint violation.
    pub fn new(message: String, unique: bool) -> Self {
        Self { message, unique }
    }
}

impl sqlx::error::DatabaseError for DbError {
    fn message(&self) -> &str {
        &self.message
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        if self.unique {
            sqlx::error::ErrorKind::UniqueViolation
        } else {
            sqlx::error::ErrorKind::Other
        }
    }
}

/// How the rows of [`expand`](trait.Tx.html#method.expand) are written into a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `($3, $4), ($5, $6)`: rows of this many values (`VALUES {}`).
    Rows(usize),
    /// `$3, $4`: single values (`IN ({})`).
    List,
}

impl dyn Tx + '_ {
    /// The first row `sql` produces, if any.
    pub async fn fetch_optional(&mut self, sql: &str, args: Vec<Arg>) -> sqlx::Result<Option<Row>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    /// Runs `template` for many rows: `{}` in it stands for the rows' placeholders
    /// (numbered after the `fixed` arguments, which are `$1`…), `rows` holds their
    /// values one row after the other. Returns every row the statements produce.
    pub async fn expand(
        &mut self,
        template: &str,
        fixed: Vec<Arg>,
        shape: Shape,
        rows: Vec<Arg>,
    ) -> sqlx::Result<Vec<Row>> {
        let mut out = Vec::new();
        for (sql, args) in self.statements_for(template, fixed, shape, rows) {
            out.extend(self.fetch_all(&sql, args).await?);
        }
        Ok(out)
    }

    /// [`expand`](Self::expand) for a statement whose result nobody needs ([`Tx::defer`]).
    pub async fn expand_deferred(
        &mut self,
        template: &str,
        fixed: Vec<Arg>,
        shape: Shape,
        rows: Vec<Arg>,
    ) -> sqlx::Result<()> {
        for (sql, args) in self.statements_for(template, fixed, shape, rows) {
            self.defer(&sql, args).await?;
        }
        Ok(())
    }

    /// [`expand`](Self::expand) sent along with later statements ([`Tx::defer_fetch`]).
    pub async fn expand_deferred_fetch(
        &mut self,
        template: &str,
        fixed: Vec<Arg>,
        shape: Shape,
        rows: Vec<Arg>,
    ) -> sqlx::Result<Vec<Deferred>> {
        let mut out = Vec::new();
        for (sql, args) in self.statements_for(template, fixed, shape, rows) {
            out.push(self.defer_fetch(&sql, args).await?);
        }
        Ok(out)
    }

    fn statements_for(
        &self,
        template: &str,
        fixed: Vec<Arg>,
        shape: Shape,
        rows: Vec<Arg>,
    ) -> Vec<(String, Vec<Arg>)> {
        let width = match shape {
            Shape::Rows(columns) => columns,
            Shape::List => 1,
        };
        debug_assert_eq!(rows.len() % width, 0, "whole rows");
        let placeholders = |n: usize| match shape {
            Shape::Rows(columns) => values(n, columns, fixed.len() + 1),
            Shape::List => list(n, fixed.len() + 1),
        };
        let per_statement = if self.statements_are_cheap() {
            1
        } else {
            CHUNK_ROWS
        };
        let mut out = Vec::new();
        let mut rows = rows.into_iter().peekable();
        let mut sql = (0, String::new());
        while rows.peek().is_some() {
            let mut args = fixed.clone();
            args.extend(rows.by_ref().take(per_statement * width));
            let n = (args.len() - fixed.len()) / width;
            if sql.0 != n {
                sql = (n, template.replacen("{}", &placeholders(n), 1));
            }
            out.push((sql.1.clone(), args));
        }
        out
    }
}

fn bind<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    arg: Arg,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    match arg {
        Arg::Int(v) => query.bind(v),
        Arg::Text(v) => query.bind(v),
    }
}

impl Tx for AnyConnection {
    fn backend(&self) -> Backend {
        if self.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    fn execute<'a>(&'a mut self, sql: &'a str, args: Vec<Arg>) -> BoxFuture<'a, sqlx::Result<u64>> {
        Box::pin(async move {
            let query = args
                .into_iter()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
            Ok(query.execute(self).await?.rows_affected())
        })
    }

    fn fetch_all<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, sqlx::Result<Vec<Row>>> {
        Box::pin(async move {
            let query = args
                .into_iter()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
            Ok(query
                .fetch_all(self)
                .await?
                .into_iter()
                .map(Row::Any)
                .collect())
        })
    }
}

/// Forwards to the connection, so `&mut tx` and `&mut pooled` are a `&mut dyn Tx`.
macro_rules! forward_tx {
    ($ty:ty) => {
        impl Tx for $ty {
            fn backend(&self) -> Backend {
                (**self).backend()
            }

            fn execute<'a>(
                &'a mut self,
                sql: &'a str,
                args: Vec<Arg>,
            ) -> BoxFuture<'a, sqlx::Result<u64>> {
                (**self).execute(sql, args)
            }

            fn fetch_all<'a>(
                &'a mut self,
                sql: &'a str,
                args: Vec<Arg>,
            ) -> BoxFuture<'a, sqlx::Result<Vec<Row>>> {
                (**self).fetch_all(sql, args)
            }
        }
    };
}

forward_tx!(sqlx::Transaction<'_, Any>);
forward_tx!(sqlx::pool::PoolConnection<Any>);

/// `($1, $2, $3), ($4, $5, $6)…`: placeholders for `rows` rows of `columns` values,
/// numbered from `$first`.
pub fn values(rows: usize, columns: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * columns + c).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: placeholders for a list of `n` values (`IN (…)`).
pub fn list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Most rows one multi-row statement carries: far below both backends' limits on
/// bound values (SQLite 32,766; PostgreSQL 65,535).
const CHUNK_ROWS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(values(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(1, 2, 4), "($4, $5)");
        assert_eq!(list(3, 2), "$2, $3, $4");
    }
}
