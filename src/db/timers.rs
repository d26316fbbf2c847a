//! Timers: one deadline per (conversation, name), read by the poller in due order.

use sqlx::AnyPool;

use super::tx::{Shape, Tx};
use crate::deadlines::{TimerChange, TimerOp};

/// A timer that has fallen due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The conversation.
    pub conversation_id: i64,
    /// Its name (`silence:<automation>`).
    pub name: String,
    /// When its clock started.
    pub since: i64,
    /// When it fell due.
    pub due_at: i64,
}

/// Applies timer changes (at most one per timer), with the statements deferred: they
/// go with the batch's next awaited statement or its commit.
pub async fn apply(tx: &mut dyn Tx, changes: &[TimerChange]) -> sqlx::Result<()> {
    let (mut restart, mut start, mut stop) = (Vec::new(), Vec::new(), Vec::new());
    for c in changes {
        match c.op {
            TimerOp::Restart { since, due } => {
                restart.extend(crate::args![c.conversation_id, &c.name, since, due]);
            }
            TimerOp::StartIfAbsent { since, due } => {
                start.extend(crate::args![c.conversation_id, &c.name, since, due]);
            }
            TimerOp::Stop => stop.extend(crate::args![c.conversation_id, &c.name]),
        }
    }
    if !restart.is_empty() {
        tx.expand_deferred(
            "INSERT INTO timers (conversation_id, name, since, due_at) VALUES {}
             ON CONFLICT (conversation_id, name) DO UPDATE SET since = excluded.since, due_at = excluded.due_at",
            vec![],
            Shape::Rows(4),
            restart,
        )
        .await?;
    }
    if !start.is_empty() {
        tx.expand_deferred(
            "INSERT INTO timers (conversation_id, name, since, due_at) VALUES {}
             ON CONFLICT (conversation_id, name) DO NOTHING",
            vec![],
            Shape::Rows(4),
            start,
        )
        .await?;
    }
    if !stop.is_empty() {
        tx.expand_deferred(
            "DELETE FROM timers WHERE (conversation_id, name) IN (VALUES {})",
            vec![],
            Shape::Rows(2),
            stop,
        )
        .await?;
    }
    Ok(())
}

/// Up to `limit` timers due at `now_ms`, the most overdue first.
pub async fn due(pool: &AnyPool, now_ms: i64, limit: i64) -> sqlx::Result<Vec<DueTimer>> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT conversation_id, name, since, due_at FROM timers
         WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(conversation_id, name, since, due_at)| DueTimer {
            conversation_id,
            name,
            since,
            due_at,
        })
        .collect())
}

/// Marks `timer` fired, if it is still the same silence and still running: whoever
/// does so fires it (on PostgreSQL a second server waits for the row, then finds it
/// taken).
pub async fn take(tx: &mut dyn Tx, timer: &DueTimer) -> sqlx::Result<bool> {
    let changed = tx
        .execute(
            "UPDATE timers SET due_at = NULL
             WHERE conversation_id = $1 AND name = $2 AND since = $3 AND due_at IS NOT NULL",
            crate::args![timer.conversation_id, &timer.name, timer.since],
        )
        .await?;
    Ok(changed == 1)
}

/// The running timers called `name` of conversations after `after_conversation`, in
/// conversation order, at most `limit` (a page of a walk through all of them).
pub async fn running_named(
    pool: &AnyPool,
    name: &str,
    after_conversation: i64,
    limit: i64,
) -> sqlx::Result<Vec<DueTimer>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT conversation_id, since, due_at FROM timers
         WHERE name = $1 AND due_at IS NOT NULL AND conversation_id > $2
         ORDER BY conversation_id LIMIT $3",
    )
    .bind(name)
    .bind(after_conversation)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(conversation_id, since, due_at)| DueTimer {
            conversation_id,
            name: name.to_owned(),
            since,
            due_at,
        })
        .collect())
}

/// Moves a running timer's due time (its automation now waits longer or shorter).
pub async fn postpone(tx: &mut dyn Tx, timer: &DueTimer, due_at: i64) -> sqlx::Result<()> {
    tx.execute(
        "UPDATE timers SET due_at = $4
         WHERE conversation_id = $1 AND name = $2 AND since = $3 AND due_at IS NOT NULL",
        crate::args![timer.conversation_id, &timer.name, timer.since, due_at],
    )
    .await?;
    Ok(())
}

/// Removes a timer nobody waits for any more (its automation is gone or changed kind).
pub async fn remove(tx: &mut dyn Tx, timer: &DueTimer) -> sqlx::Result<()> {
    tx.execute(
        "DELETE FROM timers WHERE conversation_id = $1 AND name = $2 AND since = $3",
        crate::args![timer.conversation_id, &timer.name, timer.since],
    )
    .await?;
    Ok(())
}

/// Running timers of a conversation: (name, since, due), for reports and tests.
pub async fn of_conversation(
    pool: &AnyPool,
    conversation_id: i64,
) -> sqlx::Result<Vec<(String, i64, Option<i64>)>> {
    sqlx::query_as(
        "SELECT name, since, due_at FROM timers WHERE conversation_id = $1 ORDER BY name",
    )
    .bind(conversation_id)
    .fetch_all(pool)
    .await
}
