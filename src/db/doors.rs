//! Webhook tokens and schedule ticks: what the doors that start one named automation
//! keep.

use sqlx::{AnyConnection, AnyPool, Row};

/// A webhook automation's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookToken {
    /// The automation.
    pub automation_id: String,
    /// The token in its URL.
    pub token: String,
    /// When it was made (or last rotated).
    pub created_at: i64,
}

/// Stores `token` for `automation_id` unless it already has one; returns the token in
/// force.
pub async fn ensure_token(
    pool: &AnyPool,
    automation_id: &str,
    token: &str,
    token_hash: &str,
    now_ms: i64,
) -> sqlx::Result<String> {
    sqlx::query(
        "INSERT INTO webhook_tokens (automation_id, token, token_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (automation_id) DO NOTHING",
    )
    .bind(automation_id)
    .bind(token)
    .bind(token_hash)
    .bind(now_ms)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT token FROM webhook_tokens WHERE automation_id = $1")
        .bind(automation_id)
        .fetch_one(pool)
        .await
}

/// Replaces the token of `automation_id`; the old one stops working at once.
pub async fn rotate_token(
    pool: &AnyPool,
    automation_id: &str,
    token: &str,
    token_hash: &str,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_tokens (automation_id, token, token_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (automation_id) DO UPDATE SET token = excluded.token,
             token_hash = excluded.token_hash, created_at = excluded.created_at",
    )
    .bind(automation_id)
    .bind(token)
    .bind(token_hash)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// The automation whose token hashes to `token_hash`.
pub async fn automation_for(pool: &AnyPool, token_hash: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT automation_id FROM webhook_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

/// The token of `automation_id`, if it has one.
pub async fn token_of(pool: &AnyPool, automation_id: &str) -> sqlx::Result<Option<WebhookToken>> {
    let row = sqlx::query(
        "SELECT automation_id, token, created_at FROM webhook_tokens WHERE automation_id = $1",
    )
    .bind(automation_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(WebhookToken {
            automation_id: r.try_get(0)?,
            token: r.try_get(1)?,
            created_at: r.try_get(2)?,
        })
    })
    .transpose()
}

/// Claims a schedule tick; `false` if another process (or an earlier life of this one)
/// already did.
pub async fn claim_tick(
    conn: &mut AnyConnection,
    automation_id: &str,
    tick: i64,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO schedule_ticks (automation_id, tick, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (automation_id, tick) DO NOTHING",
    )
    .bind(automation_id)
    .bind(tick)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records the run a tick started.
pub async fn set_tick_run(
    conn: &mut AnyConnection,
    automation_id: &str,
    tick: i64,
    run_id: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE schedule_ticks SET run_id = $1 WHERE automation_id = $2 AND tick = $3")
        .bind(run_id)
        .bind(automation_id)
        .bind(tick)
        .execute(conn)
        .await?;
    Ok(())
}

/// The latest tick claimed for `automation_id`.
pub async fn last_tick(pool: &AnyPool, automation_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(tick) FROM schedule_ticks WHERE automation_id = $1")
        .bind(automation_id)
        .fetch_one(pool)
        .await
}
