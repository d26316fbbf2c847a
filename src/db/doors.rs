//! Webhook tokens and schedule ticks: what the doors that start one named automation
//! keep.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::secrets::envelope::Sealed;

/// A webhook automation's token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The automation.
    pub automation_id: String,
    /// The token, encrypted; `None` for a token made before tokens were sealed.
    pub sealed: Option<Sealed>,
    /// Such an old token, in the clear (sealed the next time a server starts).
    pub plaintext: Option<String>,
    /// When it was made (or last rotated).
    pub created_at: i64,
}

const TOKEN_COLUMNS: &str =
    "automation_id, token, ciphertext, nonce, wrapped_key, key_id, created_at";

fn stored_token(r: &AnyRow) -> sqlx::Result<StoredToken> {
    let plaintext: String = r.try_get(1)?;
    let ciphertext: Option<Vec<u8>> = r.try_get(2)?;
    let sealed = match ciphertext {
        Some(ciphertext) => Some(Sealed {
            ciphertext,
            nonce: r.try_get(3)?,
            wrapped_key: r.try_get(4)?,
            key_id: r.try_get(5)?,
        }),
        None => None,
    };
    Ok(StoredToken {
        automation_id: r.try_get(0)?,
        sealed,
        plaintext: (!plaintext.is_empty()).then_some(plaintext),
        created_at: r.try_get(6)?,
    })
}

/// What storing a token does to the one an automation already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Keep it: the new token is not stored.
    Keep,
    /// Replace it: the old token stops working at once.
    Replace,
}

/// Stores a sealed token for `automation_id`; `false` if one was kept instead.
pub async fn store_token(
    conn: &mut AnyConnection,
    automation_id: &str,
    sealed: &Sealed,
    token_hash: &str,
    now_ms: i64,
    existing: Existing,
) -> sqlx::Result<bool> {
    let on_conflict = match existing {
        Existing::Keep => "DO NOTHING",
        Existing::Replace => {
            "DO UPDATE SET token = '', token_hash = excluded.token_hash,
             ciphertext = excluded.ciphertext, nonce = excluded.nonce,
             wrapped_key = excluded.wrapped_key, key_id = excluded.key_id,
             created_at = excluded.created_at"
        }
    };
    let sql = format!(
        "INSERT INTO webhook_tokens (automation_id, token, token_hash, ciphertext, nonce, wrapped_key, key_id, created_at)
         VALUES ($1, '', $2, $3, $4, $5, $6, $7)
         ON CONFLICT (automation_id) {on_conflict}"
    );
    let result = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(automation_id)
        .bind(token_hash)
        .bind(&sealed.ciphertext)
        .bind(&sealed.nonce)
        .bind(&sealed.wrapped_key)
        .bind(&sealed.key_id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Stores the sealed form of a token: an old one kept in the clear, now sealed (the
/// same token, so its URL does not change), or one whose data key was re-wrapped.
pub async fn seal_token(
    conn: &mut AnyConnection,
    automation_id: &str,
    sealed: &Sealed,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_tokens SET token = '', ciphertext = $1, nonce = $2, wrapped_key = $3, key_id = $4
         WHERE automation_id = $5",
    )
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.wrapped_key)
    .bind(&sealed.key_id)
    .bind(automation_id)
    .execute(conn)
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
pub async fn token_of(pool: &AnyPool, automation_id: &str) -> sqlx::Result<Option<StoredToken>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM webhook_tokens WHERE automation_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(automation_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(stored_token)
        .transpose()
}

/// Every token (to seal old ones, and to re-wrap all on a key rotation).
pub async fn all_tokens(conn: &mut AnyConnection) -> sqlx::Result<Vec<StoredToken>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM webhook_tokens");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?
        .iter()
        .map(stored_token)
        .collect()
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

/// Forgets ticks claimed before `before_ms`, except each schedule's latest (which says
/// where the schedule stands). Returns how many.
pub async fn prune_ticks(conn: &mut AnyConnection, before_ms: i64) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM schedule_ticks WHERE created_at < $1
         AND tick < (SELECT MAX(latest.tick) FROM schedule_ticks latest
                     WHERE latest.automation_id = schedule_ticks.automation_id)",
    )
    .bind(before_ms)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}
