//! Secret rows: ciphertext, nonce and wrapped data key, by workspace, name and version.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// A stored secret version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Team id, or `*`.
    pub workspace: String,
    /// Name, e.g. `OKTA_API_TOKEN`.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// AES-256-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
    /// Nonce.
    pub nonce: Vec<u8>,
    /// Wrapped data key.
    pub wrapped_key: Vec<u8>,
    /// Key-encryption key that wrapped it.
    pub key_id: String,
    /// Who set it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

const COLUMNS: &str =
    "workspace, name, version, ciphertext, nonce, wrapped_key, key_id, created_by, created_at";

fn from_row(r: &AnyRow) -> sqlx::Result<SecretRow> {
    Ok(SecretRow {
        workspace: r.try_get(0)?,
        name: r.try_get(1)?,
        version: r.try_get(2)?,
        ciphertext: r.try_get(3)?,
        nonce: r.try_get(4)?,
        wrapped_key: r.try_get(5)?,
        key_id: r.try_get(6)?,
        created_by: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

/// The next version number of a secret.
pub async fn next_version(
    conn: &mut AnyConnection,
    workspace: &str,
    name: &str,
) -> sqlx::Result<i64> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM secrets WHERE workspace = $1 AND name = $2")
            .bind(workspace)
            .bind(name)
            .fetch_one(conn)
            .await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Stores a version.
pub async fn insert(conn: &mut AnyConnection, row: &SecretRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO secrets (workspace, name, version, ciphertext, nonce, wrapped_key, key_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.workspace)
    .bind(&row.name)
    .bind(row.version)
    .bind(&row.ciphertext)
    .bind(&row.nonce)
    .bind(&row.wrapped_key)
    .bind(&row.key_id)
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest version of `name` in `workspace`.
pub async fn latest(
    pool: &AnyPool,
    workspace: &str,
    name: &str,
) -> sqlx::Result<Option<SecretRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets WHERE workspace = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(workspace)
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The latest version of every secret, by workspace and name.
pub async fn list_latest(pool: &AnyPool) -> sqlx::Result<Vec<SecretRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets s WHERE version = (SELECT MAX(version) FROM secrets m
             WHERE m.workspace = s.workspace AND m.name = s.name)
         ORDER BY workspace, name"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Every stored version (for re-wrapping).
pub async fn all(conn: &mut AnyConnection) -> sqlx::Result<Vec<SecretRow>> {
    let sql = format!("SELECT {COLUMNS} FROM secrets ORDER BY workspace, name, version");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces the wrapping of one version's data key.
pub async fn rewrap(conn: &mut AnyConnection, row: &SecretRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE secrets SET wrapped_key = $1, key_id = $2 WHERE workspace = $3 AND name = $4 AND version = $5",
    )
    .bind(&row.wrapped_key)
    .bind(&row.key_id)
    .bind(&row.workspace)
    .bind(&row.name)
    .bind(row.version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes every version of a secret; returns how many.
pub async fn delete(conn: &mut AnyConnection, workspace: &str, name: &str) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM secrets WHERE workspace = $1 AND name = $2")
        .bind(workspace)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected())
}
