//! The scripts' key-value store: JSON values by key, per workspace, in a namespace of
//! their automation's own (`automation:<id>`) unless they name a shared one
//! (`shared:<name>`). Keys may expire (TTL): an expired key is invisible at once and
//! purged in the background. Increments and compare-and-set are atomic, also across
//! runs and replicas (optimistic writes on a version number, retried on conflict).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::clock::Clock;
use crate::db::Db;
use crate::db::kv::{self as rows, Slot};

/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, as JSON bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most keys `list` returns.
pub const MAX_LIST: i64 = 1000;
/// Attempts of an optimistic write before giving up (heavy contention).
const ATTEMPTS: usize = 50;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The arguments break a documented limit.
    #[error("{0}")]
    Invalid(String),
    /// The stored value is not what the operation needs (e.g. incrementing text).
    #[error("{0}")]
    Conflict(String),
    /// The database failed: may work later.
    #[error("the key-value store is unavailable: {0}")]
    Database(#[from] sqlx::Error),
}

/// A namespace: an automation's own, or a shared one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// The namespace of automation `id`.
    pub fn automation(id: &str) -> Self {
        Self(format!("automation:{id}"))
    }

    /// A shared namespace called `name`.
    pub fn shared(name: &str) -> Result<Self, KvError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(Self(format!("shared:{name}")))
        } else {
            Err(KvError::Invalid(format!(
                "{name:?} is not a shared namespace name: use letters, digits, `-`, `_` and `.`"
            )))
        }
    }

    /// Parses `automation:<id>` or `shared:<name>` (as the CLI takes them).
    pub fn parse(text: &str) -> Result<Self, KvError> {
        match text.split_once(':') {
            Some(("automation", id)) if !id.is_empty() => Ok(Self::automation(id)),
            Some(("shared", name)) => Self::shared(name),
            _ => Err(KvError::Invalid(format!(
                "{text:?}: a namespace is automation:<id> or shared:<name>"
            ))),
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The store.
#[derive(Debug, Clone)]
pub struct KvStore {
    db: Db,
    clock: Arc<dyn Clock>,
}

fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KvError::Invalid(format!(
            "keys must be 1 to {MAX_KEY_BYTES} bytes long"
        )));
    }
    Ok(())
}

fn encode(value: &Value) -> Result<String, KvError> {
    let text = value.to_string();
    if text.len() > MAX_VALUE_BYTES {
        return Err(KvError::Invalid(format!(
            "the value is {} bytes of JSON; the limit is {MAX_VALUE_BYTES} bytes",
            text.len()
        )));
    }
    Ok(text)
}

fn decode(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl KvStore {
    /// A store over `db`, expiring keys by `clock`.
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    fn expiry(&self, ttl: Option<Duration>) -> Result<Option<i64>, KvError> {
        match ttl {
            None => Ok(None),
            Some(t) if t.is_zero() => Err(KvError::Invalid("a ttl must be positive".into())),
            Some(t) => Ok(Some(
                self.clock.now_ms() + t.as_millis().min(i64::MAX as u128 / 2) as i64,
            )),
        }
    }

    /// The live value of a key.
    pub async fn get(
        &self,
        workspace: &str,
        ns: &Namespace,
        key: &str,
    ) -> Result<Option<Value>, KvError> {
        check_key(key)?;
        let mut conn = self.db.reader().acquire().await?;
        let entry = rows::get(&mut conn, slot(workspace, ns, key)).await?;
        Ok(entry
            .filter(|e| e.live(self.clock.now_ms()))
            .map(|e| decode(&e.value)))
    }

    /// Sets a key, with an optional time to live.
    pub async fn set(
        &self,
        workspace: &str,
        ns: &Namespace,
        key: &str,
        value: &Value,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        check_key(key)?;
        let text = encode(value)?;
        let expires = self.expiry(ttl)?;
        let mut conn = self.db.write().await?;
        rows::put(
            &mut conn,
            slot(workspace, ns, key),
            &text,
            expires,
            self.clock.now_ms(),
        )
        .await?;
        Ok(())
    }

    /// Deletes a key; `true` if it existed.
    pub async fn delete(
        &self,
        workspace: &str,
        ns: &Namespace,
        key: &str,
    ) -> Result<bool, KvError> {
        check_key(key)?;
        let mut conn = self.db.write().await?;
        Ok(rows::delete(&mut conn, slot(workspace, ns, key), self.clock.now_ms()).await?)
    }

    /// Live keys starting with `prefix`, with their values, in key order (at most 1000).
    pub async fn list(
        &self,
        workspace: &str,
        ns: &Namespace,
        prefix: &str,
    ) -> Result<Vec<(String, Value)>, KvError> {
        if prefix.len() > MAX_KEY_BYTES {
            return Err(KvError::Invalid(format!(
                "a prefix is at most {MAX_KEY_BYTES} bytes"
            )));
        }
        let found = rows::list(
            self.db.reader(),
            workspace,
            ns.as_str(),
            prefix,
            self.clock.now_ms(),
            MAX_LIST,
        )
        .await?;
        Ok(found.into_iter().map(|(k, v)| (k, decode(&v))).collect())
    }

    /// Adds `by` to a number (a missing or expired key counts as 0); returns the new
    /// value. Keeps the key's expiry.
    pub async fn increment(
        &self,
        workspace: &str,
        ns: &Namespace,
        key: &str,
        by: f64,
    ) -> Result<f64, KvError> {
        check_key(key)?;
        if !by.is_finite() {
            return Err(KvError::Invalid("increment by a finite number".into()));
        }
        let slot = slot(workspace, ns, key);
        for _ in 0..ATTEMPTS {
            let mut conn = self.db.write().await?;
            let now = self.clock.now_ms();
            let current = rows::get(&mut conn, slot).await?;
            let (base, expires) = match current.as_ref().filter(|e| e.live(now)) {
                Some(e) => match decode(&e.value).as_f64() {
                    Some(n) => (n, e.expires_at),
                    None => {
                        return Err(KvError::Conflict(format!(
                            "cannot increment {key:?}: its value is not a number"
                        )));
                    }
                },
                None => (0.0, None),
            };
            let next = base + by;
            let text = encode(&serde_json::json!(next))?;
            let written = match &current {
                Some(e) => {
                    rows::replace_version(&mut conn, slot, e.version, &text, expires, now).await?
                }
                None => rows::insert_new(&mut conn, slot, &text, expires, now).await?,
            };
            if written {
                return Ok(next);
            }
        }
        Err(KvError::Conflict(format!(
            "{key:?} is changing too fast; try again"
        )))
    }

    /// Sets `key` to `next` only if its live value equals `expected` (`None`: only if it
    /// does not exist). Returns whether it did; exactly one of concurrent callers wins.
    pub async fn compare_and_set(
        &self,
        workspace: &str,
        ns: &Namespace,
        key: &str,
        expected: Option<&Value>,
        next: &Value,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        check_key(key)?;
        let text = encode(next)?;
        let expires = self.expiry(ttl)?;
        let slot = slot(workspace, ns, key);
        for _ in 0..ATTEMPTS {
            let mut conn = self.db.write().await?;
            let now = self.clock.now_ms();
            let current = rows::get(&mut conn, slot).await?;
            let live = current
                .as_ref()
                .filter(|e| e.live(now))
                .map(|e| decode(&e.value));
            if live.as_ref() != expected {
                return Ok(false);
            }
            let written = match &current {
                Some(e) => {
                    rows::replace_version(&mut conn, slot, e.version, &text, expires, now).await?
                }
                None => rows::insert_new(&mut conn, slot, &text, expires, now).await?,
            };
            if written {
                return Ok(true);
            }
            // Someone wrote in between: look again.
        }
        Err(KvError::Conflict(format!(
            "{key:?} is changing too fast; try again"
        )))
    }

    /// Deletes expired keys; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, KvError> {
        let mut conn = self.db.write().await?;
        Ok(rows::purge_expired(&mut conn, self.clock.now_ms()).await?)
    }
}

fn slot<'a>(workspace: &'a str, ns: &'a Namespace, key: &'a str) -> Slot<'a> {
    Slot {
        workspace,
        namespace: ns.as_str(),
        key,
    }
}
