//! What switchboard knows about its workspace (from `auth.test`).

use sqlx::{AnyConnection, AnyPool, Row};

/// A workspace as `auth.test` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Team id.
    pub team_id: String,
    /// Team name.
    pub name: String,
    /// Workspace URL, e.g. `https://acme.slack.com/`.
    pub url: String,
    /// The bot's user id.
    pub bot_user_id: String,
}

/// Stores or refreshes a workspace.
pub async fn upsert(conn: &mut AnyConnection, w: &Workspace, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO workspaces (team_id, name, url, bot_user_id, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (team_id) DO UPDATE SET name = excluded.name, url = excluded.url,
             bot_user_id = excluded.bot_user_id, updated_at = excluded.updated_at",
    )
    .bind(&w.team_id)
    .bind(&w.name)
    .bind(&w.url)
    .bind(&w.bot_user_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every known workspace.
pub async fn all(pool: &AnyPool) -> sqlx::Result<Vec<Workspace>> {
    let rows = sqlx::query("SELECT team_id, name, url, bot_user_id FROM workspaces")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Workspace {
                team_id: r.try_get(0)?,
                name: r.try_get(1)?,
                url: r.try_get(2)?,
                bot_user_id: r.try_get(3)?,
            })
        })
        .collect()
}
