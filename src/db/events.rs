//! Ingested event ids: the first line of defence against redelivery.

use sqlx::AnyConnection;

/// Records `event_id`; returns `false` if it was already recorded (a redelivery).
pub async fn record(
    conn: &mut AnyConnection,
    event_id: &str,
    team_id: &str,
    kind: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO events (event_id, team_id, kind, received_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(team_id)
    .bind(kind)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Forgets event ids older than `before_ms`; Slack stops retrying after about an hour.
pub async fn purge_before(pool: &sqlx::AnyPool, before_ms: i64) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM events WHERE received_at < $1")
        .bind(before_ms)
        .execute(pool)
        .await?;
    Ok(result.rows_affected())
}
