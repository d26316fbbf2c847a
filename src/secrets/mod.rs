//! Managed secrets: values encrypted at rest (envelope encryption, see [`envelope`]),
//! decrypted in the worker at the moment of use, and redacted from everything a run
//! writes (see [`redact`]). The key-encryption key comes from a [`provider`]: a local
//! key file by default, or Google Cloud KMS.

pub mod envelope;
pub mod kms;
pub mod local;
pub mod provider;
pub mod redact;
pub mod run;

use std::sync::Arc;

use crate::config::SecretsConfig;

use zeroize::Zeroizing;

use crate::config::SecretString;
use crate::db::{self, Db};
use envelope::{EnvelopeError, Sealed, associated_data};
use provider::KeyProvider;

/// The workspace scope that matches every workspace of this deployment.
pub const ANY_WORKSPACE: &str = "*";

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Encryption or the key provider failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The database failed.
    #[error("the secrets table is unavailable: {0}")]
    Database(#[from] sqlx::Error),
    /// A name or value that cannot be stored.
    #[error("{0}")]
    Invalid(String),
}

impl SecretError {
    /// Whether trying again later may work (a KMS outage, a database hiccup).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Envelope(EnvelopeError::Provider(p)) => p.is_transient(),
            Self::Database(_) => true,
            _ => false,
        }
    }
}

/// A secret as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Team id or `*`.
    pub workspace: String,
    /// Name.
    pub name: String,
    /// Latest version.
    pub version: i64,
    /// Who set the latest version.
    pub changed_by: String,
    /// When, ms since the epoch.
    pub changed_at: i64,
    /// The key that wraps it.
    pub key_id: String,
}

/// Secret names are upper snake case: `OKTA_API_TOKEN`.
pub fn check_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(SecretError::Invalid(format!(
            "{name:?} is not a secret name: use upper case letters, digits and _, like OKTA_API_TOKEN"
        )))
    }
}

/// Secrets in the database, encrypted with `provider`.
#[derive(Debug, Clone)]
pub struct SecretStore {
    db: Db,
    provider: Arc<dyn KeyProvider>,
}

fn sealed(row: &db::secrets::SecretRow) -> Sealed {
    Sealed {
        ciphertext: row.ciphertext.clone(),
        nonce: row.nonce.clone(),
        wrapped_key: row.wrapped_key.clone(),
        key_id: row.key_id.clone(),
    }
}

impl SecretStore {
    /// A store over `db` with `provider`.
    pub fn new(db: Db, provider: Arc<dyn KeyProvider>) -> Self {
        Self { db, provider }
    }

    /// The key provider, described.
    pub fn provider(&self) -> String {
        self.provider.describe()
    }

    /// Encrypts other sensitive data (a waiting script's journal) as secrets are
    /// encrypted, bound to `aad`.
    pub async fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, SecretError> {
        Ok(envelope::seal(self.provider.as_ref(), plaintext, aad).await?)
    }

    /// Decrypts what [`Self::seal`] sealed with the same `aad`.
    pub async fn open(
        &self,
        sealed: &Sealed,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        Ok(envelope::open(self.provider.as_ref(), sealed, aad).await?)
    }

    /// Stores a new version of `name`; returns the version.
    pub async fn set(
        &self,
        workspace: &str,
        name: &str,
        value: &[u8],
        by: &str,
        now_ms: i64,
    ) -> Result<i64, SecretError> {
        check_name(name)?;
        if value.len() < redact::MIN_SECRET_LEN {
            return Err(SecretError::Invalid(format!(
                "the value is shorter than {} bytes: too short to keep out of logs reliably",
                redact::MIN_SECRET_LEN
            )));
        }
        for _ in 0..5 {
            let mut tx = self.db.begin().await?;
            let version = db::secrets::next_version(&mut tx, workspace, name).await?;
            let sealed = envelope::seal(
                self.provider.as_ref(),
                value,
                &associated_data(workspace, name, version),
            )
            .await?;
            let row = db::secrets::SecretRow {
                workspace: workspace.to_owned(),
                name: name.to_owned(),
                version,
                ciphertext: sealed.ciphertext,
                nonce: sealed.nonce,
                wrapped_key: sealed.wrapped_key,
                key_id: sealed.key_id,
                created_by: by.to_owned(),
                created_at: now_ms,
            };
            match db::secrets::insert(&mut tx, &row).await {
                Ok(()) => {
                    tx.commit().await?;
                    return Ok(version);
                }
                // Another writer took this version number: try the next.
                Err(e) if db::is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(SecretError::Invalid(format!(
            "{name} is being changed concurrently; try again"
        )))
    }

    /// The latest value of `name` for `workspace` (or for every workspace).
    pub async fn get(
        &self,
        workspace: &str,
        name: &str,
    ) -> Result<Option<SecretString>, SecretError> {
        let mut row = db::secrets::latest(self.db.reader(), workspace, name).await?;
        if row.is_none() && workspace != ANY_WORKSPACE {
            row = db::secrets::latest(self.db.reader(), ANY_WORKSPACE, name).await?;
        }
        let Some(row) = row else { return Ok(None) };
        let aad = associated_data(&row.workspace, &row.name, row.version);
        let plain: Zeroizing<Vec<u8>> =
            envelope::open(self.provider.as_ref(), &sealed(&row), &aad).await?;
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| SecretError::Invalid(format!("{name} is not UTF-8 text")))?;
        Ok(Some(SecretString::new(text)))
    }

    /// Every secret's latest version, without values.
    pub async fn list(&self) -> Result<Vec<SecretInfo>, SecretError> {
        Ok(db::secrets::list_latest(self.db.reader())
            .await?
            .into_iter()
            .map(|r| SecretInfo {
                workspace: r.workspace,
                name: r.name,
                version: r.version,
                changed_by: r.created_by,
                changed_at: r.created_at,
                key_id: r.key_id,
            })
            .collect())
    }

    /// Deletes every version of `name`; returns whether there was one.
    pub async fn delete(&self, workspace: &str, name: &str) -> Result<bool, SecretError> {
        let mut conn = self.db.write().await?;
        Ok(db::secrets::delete(&mut conn, workspace, name).await? > 0)
    }

    /// Re-wraps every data key under `to`, in one transaction: those of the secrets,
    /// of waiting scripts' journals and of webhook tokens; values are not touched. Returns how many
    /// secret versions.
    pub async fn rewrap_all(&self, to: &dyn KeyProvider) -> Result<usize, SecretError> {
        let mut tx = self.db.begin().await?;
        for (run_id, step, sealed) in db::script_journals::all(&mut tx).await? {
            let aad = crate::script::journal::associated_data(run_id, step as usize);
            let moved = envelope::rewrap(self.provider.as_ref(), to, &sealed, &aad).await?;
            db::script_journals::rewrap(&mut tx, run_id, step, &moved).await?;
        }
        crate::webhooks::rewrap_tokens(&mut tx, self.provider.as_ref(), to).await?;
        let rows = db::secrets::all(&mut tx).await?;
        for row in &rows {
            let aad = associated_data(&row.workspace, &row.name, row.version);
            let moved = envelope::rewrap(self.provider.as_ref(), to, &sealed(row), &aad).await?;
            let updated = db::secrets::SecretRow {
                wrapped_key: moved.wrapped_key,
                key_id: moved.key_id,
                ..row.clone()
            };
            db::secrets::rewrap(&mut tx, &updated).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}

/// The key provider `config` names (a local key file is created on first use).
pub async fn open_provider(config: &SecretsConfig) -> anyhow::Result<Arc<dyn KeyProvider>> {
    Ok(match config {
        SecretsConfig::Local { key: Some(key), .. } => {
            Arc::new(local::LocalKeys::from_env(key.expose())?)
        }
        SecretsConfig::Local { key_file, .. } => {
            Arc::new(local::LocalKeys::load_or_create(key_file)?)
        }
        SecretsConfig::GcpKms(kms) => Arc::new(kms::GcpKms::connect(kms).await?),
    })
}
