//! Key-encryption-key providers: they wrap and unwrap data keys. `local` keeps the key
//! in a file (the embedded default); `gcp-kms` asks Google Cloud KMS.

use futures::future::BoxFuture;
use zeroize::Zeroizing;

/// Why a provider could not wrap or unwrap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider is unreachable or failing: fail closed, retry later.
    #[error("the key provider is unavailable: {0}")]
    Unavailable(String),
    /// The data key was wrapped by a key this server does not have.
    #[error(
        "the secret was encrypted with key {0}, which this server does not have (wrong key file or KMS key?)"
    )]
    UnknownKey(String),
    /// The provider refused (wrong key, permissions, corrupt data).
    #[error("the key provider refused: {0}")]
    Refused(String),
}

impl ProviderError {
    /// Whether trying again later may work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Wraps and unwraps data keys with a key-encryption key.
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// Wraps `key`, bound to `aad`; returns the wrapped key and the id of the key that
    /// wrapped it.
    fn wrap<'a>(
        &'a self,
        key: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<(Vec<u8>, String), ProviderError>>;

    /// Unwraps a key wrapped by key `key_id`, bound to `aad`.
    fn unwrap<'a>(
        &'a self,
        wrapped: &'a [u8],
        key_id: &'a str,
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, ProviderError>>;

    /// What the provider is, for messages (never key material).
    fn describe(&self) -> String;
}
