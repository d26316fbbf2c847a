//! The key-value store's rows. Writes are compare-and-swap on a version number, so
//! increments and compare-and-set are atomic on both backends without locks.

use sqlx::{AnyConnection, AnyPool, Row};

/// Where a key lives.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// Team id.
    pub workspace: &'a str,
    /// `automation:<id>` or `shared:<name>`.
    pub namespace: &'a str,
    /// The key.
    pub key: &'a str,
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// JSON text.
    pub value: String,
    /// Write counter.
    pub version: i64,
    /// Expiry, ms since the epoch.
    pub expires_at: Option<i64>,
}

impl Entry {
    /// Whether the entry is still visible at `now_ms`.
    pub fn live(&self, now_ms: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now_ms)
    }
}

/// The row of a key, expired or not.
pub async fn get(conn: &mut AnyConnection, slot: Slot<'_>) -> sqlx::Result<Option<Entry>> {
    let row = sqlx::query(
        "SELECT value, version, expires_at FROM kv WHERE workspace = $1 AND namespace = $2 AND key = $3",
    )
    .bind(slot.workspace)
    .bind(slot.namespace)
    .bind(slot.key)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Entry {
            value: r.try_get(0)?,
            version: r.try_get(1)?,
            expires_at: r.try_get(2)?,
        })
    })
    .transpose()
}

/// Writes a key whatever is there.
pub async fn put(
    conn: &mut AnyConnection,
    slot: Slot<'_>,
    value: &str,
    expires_at: Option<i64>,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO kv (workspace, namespace, key, value, version, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, $5, $6)
         ON CONFLICT (workspace, namespace, key) DO UPDATE SET value = excluded.value,
             version = kv.version + 1, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
    )
    .bind(slot.workspace)
    .bind(slot.namespace)
    .bind(slot.key)
    .bind(value)
    .bind(expires_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a key only if it has no row; `false` if one appeared meanwhile.
pub async fn insert_new(
    conn: &mut AnyConnection,
    slot: Slot<'_>,
    value: &str,
    expires_at: Option<i64>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO kv (workspace, namespace, key, value, version, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, $5, $6)
         ON CONFLICT (workspace, namespace, key) DO NOTHING",
    )
    .bind(slot.workspace)
    .bind(slot.namespace)
    .bind(slot.key)
    .bind(value)
    .bind(expires_at)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Writes a key only if its row still has `version`; `false` if it changed meanwhile.
pub async fn replace_version(
    conn: &mut AnyConnection,
    slot: Slot<'_>,
    version: i64,
    value: &str,
    expires_at: Option<i64>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE kv SET value = $1, version = version + 1, expires_at = $2, updated_at = $3
         WHERE workspace = $4 AND namespace = $5 AND key = $6 AND version = $7",
    )
    .bind(value)
    .bind(expires_at)
    .bind(now_ms)
    .bind(slot.workspace)
    .bind(slot.namespace)
    .bind(slot.key)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a key; `true` if it was there and not expired.
pub async fn delete(conn: &mut AnyConnection, slot: Slot<'_>, now_ms: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "DELETE FROM kv WHERE workspace = $1 AND namespace = $2 AND key = $3
             AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(slot.workspace)
    .bind(slot.namespace)
    .bind(slot.key)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    // An expired row goes too, but does not count as deleted.
    sqlx::query("DELETE FROM kv WHERE workspace = $1 AND namespace = $2 AND key = $3")
        .bind(slot.workspace)
        .bind(slot.namespace)
        .bind(slot.key)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Live keys starting with `prefix`, in key order, with their JSON values.
pub async fn list(
    pool: &AnyPool,
    workspace: &str,
    namespace: &str,
    prefix: &str,
    now_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = sqlx::query(
        "SELECT key, value FROM kv WHERE workspace = $1 AND namespace = $2
             AND key LIKE $3 ESCAPE '\\' AND (expires_at IS NULL OR expires_at > $4)
         ORDER BY key LIMIT $5",
    )
    .bind(workspace)
    .bind(namespace)
    .bind(pattern)
    .bind(now_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Deletes expired rows; returns how many.
pub async fn purge_expired(conn: &mut AnyConnection, now_ms: i64) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= $1")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected())
}
