//! Deleting history past its retention period, a small batch per call so that no call
//! holds the writer for long. What a run still needs (it is queued, running or
//! waiting) is never selected.

use sqlx::{AnyConnection, Row as _};

/// Runs created before `cutoff_ms`, from `from_ms` on, oldest first, through the
/// index on `created_at` alone: `(id, created_at, expired)`, where expired means
/// finished before the cutoff with no kept approval record.
pub async fn runs_created_before(
    conn: &mut AnyConnection,
    cutoff_ms: i64,
    from_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64, bool)>> {
    let rows = sqlx::query(
        "SELECT id, created_at,
                CAST(CASE WHEN status IN ('succeeded', 'failed') AND finished_at < $2
                      AND NOT EXISTS (SELECT 1 FROM approvals WHERE approvals.run_id = runs.id)
                     THEN 1 ELSE 0 END AS BIGINT)
         FROM runs
         WHERE created_at >= $1 AND created_at < $2
         ORDER BY created_at LIMIT $3",
    )
    .bind(from_ms)
    .bind(cutoff_ms)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<i64, _>(2)? == 1)))
        .collect()
}

/// Deletes runs `ids` with everything recorded about them: steps, log lines, script
/// journals and waits. Only finished runs go (a run retried meanwhile stays, with its
/// journal). Returns how many runs.
pub async fn delete_runs(conn: &mut AnyConnection, ids: &[i64]) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = id_list(ids);
    let finished =
        format!("SELECT id FROM runs WHERE id IN ({list}) AND status IN ('succeeded', 'failed')");
    for table in ["run_log", "run_steps", "script_journals", "script_waits"] {
        let sql = format!("DELETE FROM {table} WHERE run_id IN ({finished})");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    let sql =
        format!("DELETE FROM runs WHERE id IN ({list}) AND status IN ('succeeded', 'failed')");
    let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected())
}

/// Deletes up to `limit` approval requests created before `cutoff_ms` whose run has
/// finished, with their votes. Returns how many requests.
pub async fn delete_expired_approvals(
    conn: &mut AnyConnection,
    cutoff_ms: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT approvals.id FROM approvals JOIN runs ON runs.id = approvals.run_id
         WHERE approvals.created_at < $1 AND runs.status IN ('succeeded', 'failed')
         ORDER BY approvals.id LIMIT $2",
    )
    .bind(cutoff_ms)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let list = id_list(&ids);
    let sql = format!("DELETE FROM approval_votes WHERE approval_id IN ({list})");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    let sql = format!("DELETE FROM approvals WHERE id IN ({list})");
    let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected())
}

/// Deletes up to `limit` copies of Slack messages received before `cutoff_ms`, except
/// the first message of each thread, through which the conversation is found.
pub async fn delete_expired_messages(
    conn: &mut AnyConnection,
    cutoff_ms: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    let deleted = sqlx::query(
        "DELETE FROM messages WHERE (channel_id, ts) IN (
             SELECT m.channel_id, m.ts FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             WHERE m.created_at < $1 AND m.ts <> c.thread_ts
             ORDER BY m.created_at LIMIT $2)",
    )
    .bind(cutoff_ms)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(deleted.rows_affected())
}

/// Row ids written into a statement: integers only, so nothing from outside reaches
/// the SQL, and the same text works on both backends.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
