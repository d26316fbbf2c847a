//! Conversations, their messages and their field history.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::conversations::{Conversation, FieldChange, NewConversation, Status};
use crate::trigger::Message;

const COLUMNS: &str = "c.id, c.team_id, c.channel_id, c.thread_ts, c.requester, c.customer, c.title, \
     c.status, c.priority, c.ticket_type, c.assignee, c.tags, c.permalink, c.created_at, c.updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Conversation> {
    let decode = |column: &str, e: String| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.into(),
    };
    let status: String = row.try_get(7)?;
    let priority: String = row.try_get(8)?;
    let tags: String = row.try_get(11)?;
    Ok(Conversation {
        id: row.try_get(0)?,
        team_id: row.try_get(1)?,
        channel: row.try_get(2)?,
        thread_ts: row.try_get(3)?,
        requester: row.try_get(4)?,
        customer: row.try_get(5)?,
        title: row.try_get(6)?,
        status: status.parse().map_err(|e| decode("status", e))?,
        priority: priority.parse().map_err(|e| decode("priority", e))?,
        ticket_type: row.try_get(9)?,
        assignee: row.try_get(10)?,
        tags: serde_json::from_str(&tags).map_err(|e| decode("tags", e.to_string()))?,
        permalink: row.try_get(12)?,
        created_at: row.try_get(13)?,
        updated_at: row.try_get(14)?,
    })
}

/// The conversation a message (first message or reply) belongs to.
pub async fn find_by_message(
    conn: &mut AnyConnection,
    channel: &str,
    ts: &str,
) -> sqlx::Result<Option<Conversation>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.channel_id = $1 AND m.ts = $2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(channel)
        .bind(ts)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A conversation by id.
pub async fn get(conn: &mut AnyConnection, id: i64) -> sqlx::Result<Option<Conversation>> {
    let sql = format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Creates a conversation and records its first message. Returns `None` if the thread
/// is already tracked.
pub async fn create(
    conn: &mut AnyConnection,
    new: &NewConversation,
    first: &Message,
    now_ms: i64,
) -> sqlx::Result<Option<Conversation>> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (team_id, channel_id, thread_ts, requester, customer, title,
             status, priority, ticket_type, assignee, tags, permalink, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', 'medium', $7, NULL, '[]', $8, $9, $9)
         ON CONFLICT (channel_id, thread_ts) DO NOTHING
         RETURNING id",
    )
    .bind(&new.team_id)
    .bind(&new.channel)
    .bind(&new.thread_ts)
    .bind(&new.requester)
    .bind(&new.customer)
    .bind(&new.title)
    .bind(&new.ticket_type)
    .bind(&new.permalink)
    .bind(now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else { return Ok(None) };
    add_message(&mut *conn, id, first, now_ms).await?;
    Ok(Some(Conversation {
        id,
        team_id: new.team_id.clone(),
        channel: new.channel.clone(),
        thread_ts: new.thread_ts.clone(),
        requester: new.requester.clone(),
        customer: new.customer.clone(),
        title: new.title.clone(),
        status: Status::Open,
        priority: crate::conversations::Priority::Medium,
        ticket_type: new.ticket_type.clone(),
        assignee: None,
        tags: vec![],
        permalink: new.permalink.clone(),
        created_at: now_ms,
        updated_at: now_ms,
    }))
}

/// Records a message of a conversation; returns `false` if it was already recorded.
pub async fn add_message(
    conn: &mut AnyConnection,
    conversation_id: i64,
    message: &Message,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO messages (channel_id, ts, conversation_id, user_id, text, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, ts) DO NOTHING",
    )
    .bind(&message.channel)
    .bind(&message.ts)
    .bind(conversation_id)
    .bind(&message.user)
    .bind(&message.text)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Who or what caused field changes.
#[derive(Debug, Clone, Copy)]
pub struct ChangeCause<'a> {
    /// Event id, or `run:<id>/step:<n>` for an automation.
    pub cause: &'a str,
    /// The person, if a person did it.
    pub actor: Option<&'a str>,
    /// When.
    pub at_ms: i64,
}

/// Stores a conversation's new field values and the history of `changes`.
pub async fn save_changes(
    conn: &mut AnyConnection,
    conversation: &Conversation,
    changes: &[FieldChange],
    cause: ChangeCause<'_>,
) -> sqlx::Result<()> {
    let tags = serde_json::to_string(&conversation.tags).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "UPDATE conversations SET status = $1, priority = $2, ticket_type = $3, assignee = $4,
             tags = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(conversation.status.as_str())
    .bind(conversation.priority.as_str())
    .bind(&conversation.ticket_type)
    .bind(&conversation.assignee)
    .bind(tags)
    .bind(cause.at_ms)
    .bind(conversation.id)
    .execute(&mut *conn)
    .await?;
    for change in changes {
        sqlx::query(
            "INSERT INTO conversation_changes
                 (conversation_id, field, before_value, after_value, cause, actor, changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(conversation.id)
        .bind(change.field.as_str())
        .bind(change.before.to_string())
        .bind(change.after.to_string())
        .bind(cause.cause)
        .bind(cause.actor)
        .bind(cause.at_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A recorded field change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Field name.
    pub field: String,
    /// JSON before.
    pub before: String,
    /// JSON after.
    pub after: String,
    /// What caused it.
    pub cause: String,
    /// Who, if a person.
    pub actor: Option<String>,
}

/// A conversation's field history, oldest first.
pub async fn changes(
    conn: &mut AnyConnection,
    conversation_id: i64,
) -> sqlx::Result<Vec<ChangeRecord>> {
    let rows = sqlx::query(
        "SELECT field, before_value, after_value, cause, actor FROM conversation_changes
         WHERE conversation_id = $1 ORDER BY id",
    )
    .bind(conversation_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ChangeRecord {
                field: r.try_get(0)?,
                before: r.try_get(1)?,
                after: r.try_get(2)?,
                cause: r.try_get(3)?,
                actor: r.try_get(4)?,
            })
        })
        .collect()
}

/// Number of messages recorded for a conversation.
pub async fn message_count(conn: &mut AnyConnection, conversation_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE conversation_id = $1")
        .bind(conversation_id)
        .fetch_one(conn)
        .await
}

/// Every conversation, newest first (at most `limit`).
pub async fn list(conn: &mut AnyConnection, limit: i64) -> sqlx::Result<Vec<Conversation>> {
    let sql = format!("SELECT {COLUMNS} FROM conversations c ORDER BY c.id DESC LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}
