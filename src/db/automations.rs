//! Automation versions: each distinct content of a file gets a number, and runs record
//! the number they matched, so a run executes exactly what was in force at ingest.

use std::collections::BTreeMap;

use sqlx::{AnyPool, Row};

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
    pool: &AnyPool,
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
        .fetch_optional(pool)
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
        .fetch_one(pool)
        .await;
        match inserted {
            Ok(version) => return Ok(version),
            Err(e) if super::is_unique_violation(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or(sqlx::Error::RowNotFound))
}

/// When a version was first recorded, if it exists.
pub async fn version_recorded_at(
    pool: &AnyPool,
    automation_id: &str,
    version: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT created_at FROM automation_versions WHERE automation_id = $1 AND version = $2",
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
