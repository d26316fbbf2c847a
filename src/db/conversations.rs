//! Conversations, their messages and their field history.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row as _};

use super::tx::{Arg, Later, Row, Shape, Tx};
use crate::conversations::sla::Sla;
use crate::conversations::{Conversation, FieldChange, NewConversation, Status};
use crate::trigger::Message;

const COLUMNS: &str = "c.id, c.team_id, c.channel_id, c.thread_ts, c.requester, c.customer, c.title, \
     c.status, c.priority, c.ticket_type, c.assignee, c.tags, c.permalink, c.created_at, c.updated_at, c.sla";

fn from_row(row: &Row) -> sqlx::Result<Conversation> {
    let decode = |column: &str, e: String| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.into(),
    };
    let status = row.text(7)?;
    let priority = row.text(8)?;
    let tags = row.text(11)?;
    Ok(Conversation {
        id: row.int(0)?,
        team_id: row.text(1)?,
        channel: row.text(2)?,
        thread_ts: row.text(3)?,
        requester: row.text(4)?,
        customer: row.opt_text(5)?,
        title: row.text(6)?,
        status: status.parse().map_err(|e| decode("status", e))?,
        priority: priority.parse().map_err(|e| decode("priority", e))?,
        ticket_type: row.text(9)?,
        assignee: row.opt_text(10)?,
        tags: serde_json::from_str(&tags).map_err(|e| decode("tags", e.to_string()))?,
        permalink: row.text(12)?,
        created_at: row.int(13)?,
        updated_at: row.int(14)?,
        sla: sla_from(row.opt_text(15)?)?,
    })
}

/// The stored SLA column: JSON, or NULL for none.
fn sla_from(json: Option<String>) -> sqlx::Result<Sla> {
    json.map_or(Ok(Sla::default()), |json| {
        serde_json::from_str(&json).map_err(|e| sqlx::Error::ColumnDecode {
            index: "sla".into(),
            source: e.into(),
        })
    })
}

/// The conversations that messages `(channel, ts)` (first messages or replies)
/// belong to, by message, once the statement has run.
pub async fn find_by_messages(
    tx: &mut dyn Tx,
    messages: &[(&str, &str)],
) -> sqlx::Result<Later<HashMap<(String, String), Conversation>>> {
    let sql = format!(
        "SELECT {COLUMNS}, m.channel_id, m.ts FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE (m.channel_id, m.ts) IN (VALUES {{}})"
    );
    let rows = messages
        .iter()
        .flat_map(|(channel, ts)| [Arg::from(*channel), Arg::from(*ts)])
        .collect();
    let found = tx
        .expand_deferred_fetch(&sql, vec![], Shape::Rows(2), rows)
        .await?;
    Ok(Later::new(found, |rows| {
        let mut found = HashMap::new();
        for row in rows {
            found.insert((row.text(16)?, row.text(17)?), from_row(&row)?);
        }
        Ok(found)
    }))
}

/// The conversation a message (first message or reply) belongs to.
pub async fn find_by_message(
    tx: &mut dyn Tx,
    channel: &str,
    ts: &str,
) -> sqlx::Result<Option<Conversation>> {
    let found = find_by_messages(tx, &[(channel, ts)]).await?;
    tx.sync().await?;
    Ok(found.resolve()?.into_values().next())
}

/// The open and pending conversations assigned to `user`, most recently changed first.
pub async fn assigned_to(
    tx: &mut dyn Tx,
    user: &str,
    limit: i64,
) -> sqlx::Result<Vec<Conversation>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations c
         WHERE c.assignee = $1 AND c.status IN ('open', 'pending')
         ORDER BY c.updated_at DESC LIMIT $2"
    );
    let rows = tx.fetch_all(&sql, crate::args![user, limit]).await?;
    rows.iter().map(from_row).collect()
}

/// Conversations by id.
pub async fn get_many(tx: &mut dyn Tx, ids: &[i64]) -> sqlx::Result<HashMap<i64, Conversation>> {
    let sql = format!("SELECT {COLUMNS} FROM conversations c WHERE c.id IN ({{}})");
    let ids = ids.iter().map(|id| Arg::from(*id)).collect();
    let mut found = HashMap::new();
    for row in tx.expand(&sql, vec![], Shape::List, ids).await? {
        let c = from_row(&row)?;
        found.insert(c.id, c);
    }
    Ok(found)
}

/// A conversation by id.
pub async fn get(tx: &mut dyn Tx, id: i64) -> sqlx::Result<Option<Conversation>> {
    Ok(get_many(tx, &[id]).await?.remove(&id))
}

/// Creates conversations and records their first messages. Says for each, once the
/// statements have run, the new conversation, or `None` if its thread is already
/// tracked (or comes twice).
pub async fn create_many(
    tx: &mut dyn Tx,
    new: &[(&NewConversation, &Message)],
    now_ms: i64,
) -> sqlx::Result<Later<Vec<Option<Conversation>>>> {
    let mut rows = Vec::with_capacity(new.len() * 14);
    let mut first = Vec::with_capacity(new.len() * 5);
    for (c, m) in new {
        rows.extend(crate::args![
            &c.team_id,
            &c.channel,
            &c.thread_ts,
            &c.requester,
            &c.customer,
            &c.title,
            &c.ticket_type,
            &c.permalink,
            now_ms,
            Status::Open.as_str(),
            crate::conversations::Priority::Medium.as_str(),
            None::<String>,
            "[]",
            now_ms,
        ]);
        first.extend(crate::args![&m.channel, &m.ts, &m.user, &m.text, now_ms]);
    }
    let inserted = tx
        .expand_deferred_fetch(
            "INSERT INTO conversations (team_id, channel_id, thread_ts, requester, customer, title,
                 ticket_type, permalink, created_at, status, priority, assignee, tags, updated_at)
             VALUES {}
             ON CONFLICT (channel_id, thread_ts) DO NOTHING
             RETURNING id, channel_id, thread_ts",
            vec![],
            Shape::Rows(14),
            rows,
        )
        .await?;
    // The first messages find their conversation by its thread, so this statement
    // need not wait for the ids (a thread tracked before has its first message).
    tx.expand_deferred(
        "INSERT INTO messages (channel_id, ts, conversation_id, user_id, text, created_at)
         SELECT v.column1, v.column2, c.id, v.column3, v.column4, v.column5
         FROM (VALUES {}) AS v JOIN conversations c ON c.channel_id = v.column1 AND c.thread_ts = v.column2
         WHERE true
         ON CONFLICT (channel_id, ts) DO NOTHING",
        vec![],
        Shape::Rows(5),
        first,
    )
    .await?;
    let new: Vec<NewConversation> = new.iter().map(|(c, _)| (*c).clone()).collect();
    Ok(Later::new(inserted, move |rows| {
        let mut ids: HashMap<(String, String), i64> = HashMap::new();
        for row in rows {
            ids.insert((row.text(1)?, row.text(2)?), row.int(0)?);
        }
        Ok(new
            .into_iter()
            .map(|c| {
                let id = ids.remove(&(c.channel.clone(), c.thread_ts.clone()))?;
                Some(Conversation {
                    id,
                    team_id: c.team_id,
                    channel: c.channel,
                    thread_ts: c.thread_ts,
                    requester: c.requester,
                    customer: c.customer,
                    title: c.title,
                    status: Status::Open,
                    priority: crate::conversations::Priority::Medium,
                    ticket_type: c.ticket_type,
                    assignee: None,
                    tags: vec![],
                    permalink: c.permalink,
                    created_at: now_ms,
                    updated_at: now_ms,
                    sla: Default::default(),
                })
            })
            .collect())
    }))
}

const INSERT_MESSAGES: &str =
    "INSERT INTO messages (channel_id, ts, conversation_id, user_id, text, created_at)
     VALUES {} ON CONFLICT (channel_id, ts) DO NOTHING";

fn message_rows(messages: &[(i64, &Message)], now_ms: i64) -> Vec<Arg> {
    let mut rows = Vec::with_capacity(messages.len() * 6);
    for (conversation_id, m) in messages {
        rows.extend(crate::args![
            &m.channel,
            &m.ts,
            *conversation_id,
            &m.user,
            &m.text,
            now_ms
        ]);
    }
    rows
}

/// Records messages `(conversation id, message)`; for each, whether it is new (a
/// message recorded before, or twice here, is not).
pub async fn add_messages(
    tx: &mut dyn Tx,
    messages: &[(i64, &Message)],
    now_ms: i64,
) -> sqlx::Result<Vec<bool>> {
    let mut added: HashSet<(String, String)> = HashSet::new();
    let inserted = tx
        .expand(
            &format!("{INSERT_MESSAGES} RETURNING channel_id, ts"),
            vec![],
            Shape::Rows(6),
            message_rows(messages, now_ms),
        )
        .await?;
    for row in inserted {
        added.insert((row.text(0)?, row.text(1)?));
    }
    Ok(messages
        .iter()
        .map(|(_, m)| added.remove(&(m.channel.clone(), m.ts.clone())))
        .collect())
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

/// What was said and changed in a conversation within a time span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Messages: (author, when), oldest first.
    pub messages: Vec<(String, i64)>,
    /// Field changes: (field, value after, when), oldest first.
    pub changes: Vec<(String, serde_json::Value, i64)>,
}

/// The messages and field changes of a conversation after `after_ms` and up to
/// `until_ms`.
pub async fn history_between(
    pool: &sqlx::AnyPool,
    conversation_id: i64,
    after_ms: i64,
    until_ms: i64,
) -> sqlx::Result<History> {
    let messages: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, created_at FROM messages
         WHERE conversation_id = $1 AND created_at > $2 AND created_at <= $3 ORDER BY created_at",
    )
    .bind(conversation_id)
    .bind(after_ms)
    .bind(until_ms)
    .fetch_all(pool)
    .await?;
    let changes: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT field, after_value, changed_at FROM conversation_changes
         WHERE conversation_id = $1 AND changed_at > $2 AND changed_at <= $3 ORDER BY id",
    )
    .bind(conversation_id)
    .bind(after_ms)
    .bind(until_ms)
    .fetch_all(pool)
    .await?;
    Ok(History {
        messages,
        changes: changes
            .into_iter()
            .map(|(field, after, at)| {
                let after = serde_json::from_str(&after).unwrap_or(serde_json::Value::Null);
                (field, after, at)
            })
            .collect(),
    })
}

/// The SLA state of conversations `ids` as committed now, their rows locked until the
/// transaction ends, so that clocks moved by the ingest and by a run's journal (on
/// PostgreSQL, different connections) are read, moved and written one after the
/// other. On SQLite the one writer already serializes them: nothing is read.
pub async fn lock_sla(tx: &mut dyn Tx, ids: &[i64]) -> sqlx::Result<HashMap<i64, Sla>> {
    let ids: std::collections::BTreeSet<i64> = ids.iter().copied().collect();
    if ids.is_empty() || tx.backend() == super::Backend::Sqlite {
        return Ok(HashMap::new());
    }
    let rows = tx
        .expand(
            "SELECT id, sla FROM conversations WHERE id IN ({}) ORDER BY id FOR UPDATE",
            vec![],
            Shape::List,
            ids.into_iter().map(Arg::from).collect(),
        )
        .await?;
    let mut found = HashMap::new();
    for row in rows {
        found.insert(row.int(0)?, sla_from(row.opt_text(1)?)?);
    }
    Ok(found)
}

/// Stores a conversation's SLA clocks (deferred: sent with the next statement).
pub async fn save_sla(tx: &mut dyn Tx, conversation: &Conversation) -> sqlx::Result<()> {
    let sla = if conversation.sla.is_empty() {
        None
    } else {
        serde_json::to_string(&conversation.sla).ok()
    };
    tx.defer(
        "UPDATE conversations SET sla = $1 WHERE id = $2",
        crate::args![sla, conversation.id],
    )
    .await
}

/// Stores a conversation's new field values and the history of `changes`.
pub async fn save_changes(
    tx: &mut dyn Tx,
    conversation: &Conversation,
    changes: &[FieldChange],
    cause: ChangeCause<'_>,
) -> sqlx::Result<()> {
    let tags = serde_json::to_string(&conversation.tags).unwrap_or_else(|_| "[]".into());
    tx.defer(
        "UPDATE conversations SET status = $1, priority = $2, ticket_type = $3, assignee = $4,
             tags = $5, updated_at = $6 WHERE id = $7",
        crate::args![
            conversation.status.as_str(),
            conversation.priority.as_str(),
            &conversation.ticket_type,
            &conversation.assignee,
            tags,
            cause.at_ms,
            conversation.id,
        ],
    )
    .await?;
    let mut rows = Vec::with_capacity(changes.len() * 7);
    for change in changes {
        rows.extend(crate::args![
            conversation.id,
            change.field.as_str(),
            change.before.to_string(),
            change.after.to_string(),
            cause.cause,
            cause.actor,
            cause.at_ms,
        ]);
    }
    tx.expand_deferred(
        "INSERT INTO conversation_changes
             (conversation_id, field, before_value, after_value, cause, actor, changed_at)
         VALUES {}",
        vec![],
        Shape::Rows(7),
        rows,
    )
    .await?;
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
    rows.into_iter().map(|r| from_row(&Row::Any(r))).collect()
}
