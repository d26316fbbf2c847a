//! Webhook tokens: 256 random bits each, looked up by their SHA-256 and kept sealed
//! with the secrets' envelope encryption (bound to the automation id), so that a copy
//! of the database cannot call the webhooks.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::automations::VersionedAutomation;
use crate::db::doors::Existing;
use crate::db::{self, Db};
use crate::secrets::envelope::{self, Sealed};
use crate::secrets::provider::KeyProvider;
use crate::secrets::{SecretError, SecretStore};
use crate::trigger::TriggerKind;

/// A new token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How tokens are looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What binds a sealed token to its automation.
fn associated_data(automation_id: &str) -> Vec<u8> {
    format!("switchboard webhook token {automation_id}").into_bytes()
}

/// A new token for `automation_id`: in the clear, sealed, and hashed for lookups.
async fn mint(
    secrets: &SecretStore,
    automation_id: &str,
) -> Result<(String, Sealed, String), SecretError> {
    let token = new_token();
    let sealed = secrets
        .seal(token.as_bytes(), &associated_data(automation_id))
        .await?;
    let hash = token_hash(&token);
    Ok((token, sealed, hash))
}

/// Gives every webhook automation a token (once; tokens survive reloads and edits),
/// and seals tokens kept in the clear by earlier versions.
pub async fn ensure_tokens(
    db: &Db,
    secrets: &SecretStore,
    automations: &[VersionedAutomation],
    now_ms: i64,
) -> anyhow::Result<()> {
    let mut conn = db.write().await?;
    for old in db::doors::all_tokens(&mut conn).await? {
        if let Some(token) = &old.plaintext {
            let sealed = secrets
                .seal(token.as_bytes(), &associated_data(&old.automation_id))
                .await?;
            db::doors::seal_token(&mut conn, &old.automation_id, &sealed).await?;
            tracing::info!(automation = %old.automation_id, "webhook token sealed (its URL is unchanged)");
        }
    }
    drop(conn);
    for a in automations {
        let id = &a.automation.id;
        if a.automation.trigger.kind == TriggerKind::Webhook
            && db::doors::token_of(db.reader(), id).await?.is_none()
        {
            let (_, sealed, hash) = mint(secrets, id).await?;
            db::doors::store_token(
                &mut *db.write().await?,
                id,
                &sealed,
                &hash,
                now_ms,
                Existing::Keep,
            )
            .await?;
        }
    }
    Ok(())
}

/// A webhook's token in the clear, with when it was made; `None` if it has none.
pub async fn reveal(
    db: &Db,
    secrets: &SecretStore,
    automation_id: &str,
) -> anyhow::Result<Option<(String, i64)>> {
    let Some(stored) = db::doors::token_of(db.reader(), automation_id).await? else {
        return Ok(None);
    };
    let token = match (&stored.sealed, stored.plaintext) {
        (_, Some(plaintext)) => plaintext,
        (Some(sealed), None) => {
            let opened = secrets
                .open(sealed, &associated_data(automation_id))
                .await?;
            String::from_utf8(opened.to_vec())?
        }
        (None, None) => anyhow::bail!("the token of {automation_id} is empty"),
    };
    Ok(Some((token, stored.created_at)))
}

/// A webhook's token in the clear, made now if it has none yet (its automation was
/// not loaded by a server yet).
pub async fn token_for(
    db: &Db,
    secrets: &SecretStore,
    automation_id: &str,
    now_ms: i64,
) -> anyhow::Result<(String, i64)> {
    if let Some(found) = reveal(db, secrets, automation_id).await? {
        return Ok(found);
    }
    let (_, sealed, hash) = mint(secrets, automation_id).await?;
    db::doors::store_token(
        &mut *db.write().await?,
        automation_id,
        &sealed,
        &hash,
        now_ms,
        Existing::Keep,
    )
    .await?;
    // A server may have made one at the same moment: the stored one is in force.
    reveal(db, secrets, automation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the token of {automation_id} vanished"))
}

/// Replaces a webhook's token; the old URL stops working at once. Returns the new one.
pub async fn rotate(
    db: &Db,
    secrets: &SecretStore,
    automation_id: &str,
    now_ms: i64,
) -> anyhow::Result<String> {
    let (token, sealed, hash) = mint(secrets, automation_id).await?;
    db::doors::store_token(
        &mut *db.write().await?,
        automation_id,
        &sealed,
        &hash,
        now_ms,
        Existing::Replace,
    )
    .await?;
    Ok(token)
}

/// Re-wraps the data keys of every sealed token under `to` (a key rotation), in `conn`'s
/// transaction.
pub async fn rewrap_tokens(
    conn: &mut AnyConnection,
    from: &dyn KeyProvider,
    to: &dyn KeyProvider,
) -> Result<(), SecretError> {
    for stored in db::doors::all_tokens(conn).await? {
        if let Some(sealed) = &stored.sealed {
            let aad = associated_data(&stored.automation_id);
            let moved = envelope::rewrap(from, to, sealed, &aad).await?;
            db::doors::seal_token(conn, &stored.automation_id, &moved).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
    }
}
