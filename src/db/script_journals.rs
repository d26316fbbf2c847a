//! Sealed host-call journals of scripts that wait (see `script::journal`).

use sqlx::{AnyConnection, AnyPool, Row};

use crate::secrets::envelope::Sealed;

/// Stores (or replaces) a step's journal.
pub async fn save(
    conn: &mut AnyConnection,
    run_id: i64,
    step_index: i64,
    sealed: &Sealed,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO script_journals (run_id, step_index, ciphertext, nonce, wrapped_key, key_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (run_id, step_index) DO UPDATE SET ciphertext = excluded.ciphertext,
             nonce = excluded.nonce, wrapped_key = excluded.wrapped_key, key_id = excluded.key_id,
             updated_at = excluded.updated_at",
    )
    .bind(run_id)
    .bind(step_index)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.wrapped_key)
    .bind(&sealed.key_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every journal: (run, step, sealed).
pub async fn all(conn: &mut AnyConnection) -> sqlx::Result<Vec<(i64, i64, Sealed)>> {
    let rows = sqlx::query(
        "SELECT run_id, step_index, ciphertext, nonce, wrapped_key, key_id FROM script_journals",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                Sealed {
                    ciphertext: r.try_get(2)?,
                    nonce: r.try_get(3)?,
                    wrapped_key: r.try_get(4)?,
                    key_id: r.try_get(5)?,
                },
            ))
        })
        .collect()
}

/// Replaces the wrapping of a journal's data key.
pub async fn rewrap(
    conn: &mut AnyConnection,
    run_id: i64,
    step_index: i64,
    sealed: &Sealed,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE script_journals SET wrapped_key = $1, key_id = $2 WHERE run_id = $3 AND step_index = $4")
        .bind(&sealed.wrapped_key)
        .bind(&sealed.key_id)
        .bind(run_id)
        .bind(step_index)
        .execute(conn)
        .await?;
    Ok(())
}

/// A step's journal, if it has one.
pub async fn load(pool: &AnyPool, run_id: i64, step_index: i64) -> sqlx::Result<Option<Sealed>> {
    let row = sqlx::query(
        "SELECT ciphertext, nonce, wrapped_key, key_id FROM script_journals WHERE run_id = $1 AND step_index = $2",
    )
    .bind(run_id)
    .bind(step_index)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(Sealed {
            ciphertext: r.try_get(0)?,
            nonce: r.try_get(1)?,
            wrapped_key: r.try_get(2)?,
            key_id: r.try_get(3)?,
        })
    })
    .transpose()
}

/// The wait `call_index` of a script step: (since, deadline), started at `since` with
/// `deadline` if it is new. Either way, the one stored.
pub async fn wait_of(
    conn: &mut AnyConnection,
    slot: (i64, i64, i64),
    since: i64,
    deadline: i64,
) -> sqlx::Result<(i64, i64)> {
    let (run_id, step_index, call_index) = slot;
    sqlx::query(
        "INSERT INTO script_waits (run_id, step_index, call_index, since, deadline)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, step_index, call_index) DO NOTHING",
    )
    .bind(run_id)
    .bind(step_index)
    .bind(call_index)
    .bind(since)
    .bind(deadline)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(
        "SELECT since, deadline FROM script_waits
         WHERE run_id = $1 AND step_index = $2 AND call_index = $3",
    )
    .bind(run_id)
    .bind(step_index)
    .bind(call_index)
    .fetch_one(conn)
    .await
}
