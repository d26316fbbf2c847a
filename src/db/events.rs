//! Ingested event ids: the first line of defence against redelivery.

use std::collections::HashSet;

use sqlx::AnyConnection;

use super::tx::{Shape, Tx};

/// An event id to record.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// Slack's event id (or another door's idempotency key).
    pub event_id: &'a str,
    /// Workspace.
    pub team_id: &'a str,
    /// What it was, for the operator.
    pub kind: &'a str,
}

/// Records event ids; for each, whether it is new (a redelivery, or an id given twice
/// here, is not).
pub async fn record_many(
    tx: &mut dyn Tx,
    events: &[NewEvent<'_>],
    now_ms: i64,
) -> sqlx::Result<Vec<bool>> {
    let mut rows = Vec::with_capacity(events.len() * 4);
    for e in events {
        rows.extend(crate::args![e.event_id, e.team_id, e.kind, now_ms]);
    }
    let mut new = tx
        .expand(
            "INSERT INTO events (event_id, team_id, kind, received_at) VALUES {}
             ON CONFLICT (event_id) DO NOTHING
             RETURNING event_id",
            vec![],
            Shape::Rows(4),
            rows,
        )
        .await?
        .iter()
        .map(|r| r.text(0))
        .collect::<sqlx::Result<HashSet<String>>>()?;
    Ok(events.iter().map(|e| new.remove(e.event_id)).collect())
}

/// Forgets event ids older than `before_ms`; Slack stops retrying after about an hour.
pub async fn purge_before(conn: &mut AnyConnection, before_ms: i64) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM events WHERE received_at < $1")
        .bind(before_ms)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected())
}
