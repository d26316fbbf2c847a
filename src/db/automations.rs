//! Automation versions: each distinct content of a file gets a number, and runs record
//! the number they matched, so a run executes exactly what was in force at ingest.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AnyPool, Row};

/// A stored version's file text and path.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// The file's text.
    pub source: String,
    /// The path it was loaded from.
    pub path: String,
    /// The scripts it uses: file name → TypeScript source.
    pub scripts: BTreeMap<String, String>,
}

/// What makes a version: the definition and the scripts it uses.
#[derive(Debug, Clone, Copy)]
pub struct VersionContent<'a> {
    /// Automation id.
    pub automation_id: &'a str,
    /// Hash over the definition and the scripts.
    pub content_hash: &'a str,
    /// The definition file's text.
    pub source: &'a str,
    /// Where it was loaded from.
    pub path: &'a str,
    /// The scripts it uses.
    pub scripts: &'a BTreeMap<String, String>,
}

/// The version number of this content, recording a new version if it is new.
pub async fn record_version(
    conn: &mut AnyConnection,
    content: VersionContent<'_>,
    now_ms: i64,
) -> sqlx::Result<i64> {
    let VersionContent {
        automation_id,
        content_hash,
        source,
        path,
        scripts,
    } = content;
    let scripts = serde_json::to_string(scripts).map_err(|e| sqlx::Error::Encode(e.into()))?;
    // Several replicas may record the same new content at once: the unique constraints
    // make one of them win and the others read its number on the next try.
    let mut last_error = None;
    for _ in 0..5 {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM automation_versions WHERE automation_id = $1 AND content_hash = $2",
        )
        .bind(automation_id)
        .bind(content_hash)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(version) = existing {
            return Ok(version);
        }
        let inserted = sqlx::query_scalar(
            "INSERT INTO automation_versions (automation_id, version, content_hash, source, path, scripts, created_at)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6
             FROM automation_versions WHERE automation_id = $1
             RETURNING version",
        )
        .bind(automation_id)
        .bind(content_hash)
        .bind(source)
        .bind(path)
        .bind(&scripts)
        .bind(now_ms)
        .fetch_one(&mut *conn)
        .await;
        match inserted {
            Ok(version) => return Ok(version),
            Err(e) if super::is_unique_violation(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or(sqlx::Error::RowNotFound))
}

/// Records that `in_force` (automation id, version) are the automations in force: a
/// version that was not already in force is in force from `now_ms`, and automations
/// no longer loaded are forgotten.
pub async fn mark_in_force(
    conn: &mut AnyConnection,
    in_force: &[(&str, i64)],
    now_ms: i64,
) -> sqlx::Result<()> {
    let known: Vec<String> = sqlx::query_scalar("SELECT automation_id FROM automations_in_force")
        .fetch_all(&mut *conn)
        .await?;
    for gone in known
        .iter()
        .filter(|k| !in_force.iter().any(|(id, _)| id == k))
    {
        sqlx::query("DELETE FROM automations_in_force WHERE automation_id = $1")
            .bind(gone)
            .execute(&mut *conn)
            .await?;
    }
    for (id, version) in in_force {
        sqlx::query(
            "INSERT INTO automations_in_force (automation_id, version, since) VALUES ($1, $2, $3)
             ON CONFLICT (automation_id) DO UPDATE SET version = excluded.version, since = excluded.since
             WHERE automations_in_force.version <> excluded.version",
        )
        .bind(*id)
        .bind(*version)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Since when `version` of an automation has been in force, if it is the one in force.
pub async fn in_force_since(
    pool: &AnyPool,
    automation_id: &str,
    version: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT since FROM automations_in_force WHERE automation_id = $1 AND version = $2",
    )
    .bind(automation_id)
    .bind(version)
    .fetch_optional(pool)
    .await
}

/// A stored version, if it exists.
pub async fn load_version(
    pool: &AnyPool,
    automation_id: &str,
    version: i64,
) -> sqlx::Result<Option<StoredVersion>> {
    let row = sqlx::query(
        "SELECT source, path, scripts FROM automation_versions WHERE automation_id = $1 AND version = $2",
    )
    .bind(automation_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let scripts: String = r.try_get(2)?;
        Ok(StoredVersion {
            source: r.try_get(0)?,
            path: r.try_get(1)?,
            scripts: serde_json::from_str(&scripts).map_err(|e| sqlx::Error::ColumnDecode {
                index: "scripts".into(),
                source: e.into(),
            })?,
        })
    })
    .transpose()
}
