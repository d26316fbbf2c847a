//! Ingested event ids: the first line of defence against redelivery.

use std::collections::HashSet;

use sqlx::AnyConnection;

use super::tx::{Later, Shape, Tx};

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

/// Records event ids; says, once the statement has run, whether each is new (a
/// redelivery, or an id given twice here, is not).
pub async fn record_many(
    tx: &mut dyn Tx,
    events: &[NewEvent<'_>],
    now_ms: i64,
) -> sqlx::Result<Later<Vec<bool>>> {
    let mut rows = Vec::with_capacity(events.len() * 4);
    for e in events {
        rows.extend(crate::args![e.event_id, e.team_id, e.kind, now_ms]);
    }
    let inserted = tx
        .expand_deferred_fetch(
            "INSERT INTO events (event_id, team_id, kind, received_at) VALUES {}
             ON CONFLICT (event_id) DO NOTHING
             RETURNING event_id",
            vec![],
            Shape::Rows(4),
            rows,
        )
        .await?;
    let ids: Vec<String> = events.iter().map(|e| e.event_id.to_owned()).collect();
    Ok(Later::new(inserted, move |rows| {
        let mut new = rows
            .iter()
            .map(|r| r.text(0))
            .collect::<sqlx::Result<HashSet<String>>>()?;
        Ok(ids.iter().map(|id| new.remove(id)).collect())
    }))
}

/// Forgets up to `limit` event ids recorded before `before_ms`, oldest first.
pub async fn purge_before(
    conn: &mut AnyConnection,
    before_ms: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "DELETE FROM events WHERE event_id IN (
             SELECT event_id FROM events WHERE received_at < $1
             ORDER BY received_at LIMIT $2)",
    )
    .bind(before_ms)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected())
}
