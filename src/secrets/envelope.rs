//! Envelope encryption of one secret value: a fresh random 256-bit data key and nonce
//! per value, AES-256-GCM, associated data binding the ciphertext to its workspace,
//! name and version; the data key is wrapped by a key-encryption key provider (with the
//! same associated data), so neither the ciphertext nor the wrapped key can be moved to
//! another row, name or version.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::provider::{KeyProvider, ProviderError};

/// A sealed value, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// AES-256-GCM ciphertext with its tag.
    pub ciphertext: Vec<u8>,
    /// The 96-bit nonce.
    pub nonce: Vec<u8>,
    /// The data key, wrapped by the provider.
    pub wrapped_key: Vec<u8>,
    /// Which key-encryption key wrapped it.
    pub key_id: String,
}

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The key provider failed (KMS down, wrong key…).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The ciphertext does not decrypt with this data key and associated data: it was
    /// altered, moved to another row or name, or wrapped by another key.
    #[error("the secret does not decrypt: it was altered or moved, or the key is wrong")]
    Corrupt,
}

/// The associated data of a secret: what it must stay bound to.
pub fn associated_data(workspace: &str, name: &str, version: i64) -> Vec<u8> {
    format!("switchboard secret v1\0{workspace}\0{name}\0{version}").into_bytes()
}

/// Encrypts `plaintext` under a fresh data key wrapped by `provider`.
pub async fn seal(
    provider: &dyn KeyProvider,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Sealed, EnvelopeError> {
    let mut data_key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(data_key.as_mut());
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new_from_slice(data_key.as_ref()).expect("32-byte key");
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| EnvelopeError::Corrupt)?;
    let (wrapped_key, key_id) = provider.wrap(data_key.as_ref(), aad).await?;
    Ok(Sealed {
        ciphertext,
        nonce: nonce.to_vec(),
        wrapped_key,
        key_id,
    })
}

/// Decrypts a sealed value.
pub async fn open(
    provider: &dyn KeyProvider,
    sealed: &Sealed,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let data_key = provider
        .unwrap(&sealed.wrapped_key, &sealed.key_id, aad)
        .await?;
    if data_key.len() != 32 || sealed.nonce.len() != 12 {
        return Err(EnvelopeError::Corrupt);
    }
    let cipher = Aes256Gcm::new_from_slice(&data_key).map_err(|_| EnvelopeError::Corrupt)?;
    cipher
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| EnvelopeError::Corrupt)
}

/// Re-wraps a sealed value's data key under `to`, leaving the ciphertext as it is.
pub async fn rewrap(
    from: &dyn KeyProvider,
    to: &dyn KeyProvider,
    sealed: &Sealed,
    aad: &[u8],
) -> Result<Sealed, EnvelopeError> {
    let data_key = from
        .unwrap(&sealed.wrapped_key, &sealed.key_id, aad)
        .await?;
    let (wrapped_key, key_id) = to.wrap(&data_key, aad).await?;
    Ok(Sealed {
        wrapped_key,
        key_id,
        ..sealed.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::local::LocalKeys;

    fn keys() -> LocalKeys {
        LocalKeys::from_keys(vec![[7u8; 32]])
    }

    #[tokio::test]
    async fn round_trip_with_fresh_keys_and_nonces() {
        let keys = keys();
        let aad = associated_data("T1", "OKTA_API_TOKEN", 1);
        let a = seal(&keys, b"s3cr3t-value", &aad).await.unwrap();
        let b = seal(&keys, b"s3cr3t-value", &aad).await.unwrap();
        assert_ne!(a.nonce, b.nonce, "a fresh nonce each time");
        assert_ne!(a.wrapped_key, b.wrapped_key, "a fresh data key each time");
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(
            open(&keys, &a, &aad).await.unwrap().as_slice(),
            b"s3cr3t-value"
        );
    }

    #[tokio::test]
    async fn tampering_and_moving_fail_to_decrypt() {
        let keys = keys();
        let aad = associated_data("T1", "OKTA_API_TOKEN", 1);
        let sealed = seal(&keys, b"s3cr3t-value", &aad).await.unwrap();
        let other = seal(
            &keys,
            b"another-value",
            &associated_data("T1", "JIRA_API_TOKEN", 1),
        )
        .await
        .unwrap();

        let mut flipped = sealed.clone();
        flipped.ciphertext[3] ^= 0x01;
        let mut flipped_key = sealed.clone();
        flipped_key.wrapped_key[20] ^= 0x80;
        let mut flipped_nonce = sealed.clone();
        flipped_nonce.nonce[0] ^= 0x01;
        let swapped_key = Sealed {
            wrapped_key: other.wrapped_key.clone(),
            ..sealed.clone()
        };
        let swapped_rows = Sealed {
            ciphertext: other.ciphertext.clone(),
            nonce: other.nonce.clone(),
            ..sealed.clone()
        };

        let cases: Vec<(&str, &Sealed, Vec<u8>)> = vec![
            ("flipped ciphertext bit", &flipped, aad.clone()),
            ("flipped wrapped key bit", &flipped_key, aad.clone()),
            ("flipped nonce bit", &flipped_nonce, aad.clone()),
            ("another row's data key", &swapped_key, aad.clone()),
            ("another row's ciphertext", &swapped_rows, aad.clone()),
            (
                "another name",
                &sealed,
                associated_data("T1", "JIRA_API_TOKEN", 1),
            ),
            (
                "another version",
                &sealed,
                associated_data("T1", "OKTA_API_TOKEN", 2),
            ),
            (
                "another workspace",
                &sealed,
                associated_data("T2", "OKTA_API_TOKEN", 1),
            ),
        ];
        for (name, sealed, aad) in cases {
            assert!(open(&keys, sealed, &aad).await.is_err(), "{name} decrypted");
        }
        let wrong_key = LocalKeys::from_keys(vec![[8u8; 32]]);
        let err = open(&wrong_key, &sealed, &aad).await.unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
    }

    #[tokio::test]
    async fn rewrapping_keeps_the_value_readable_under_the_new_key_only() {
        let old = LocalKeys::from_keys(vec![[1u8; 32]]);
        let new = LocalKeys::from_keys(vec![[2u8; 32]]);
        let aad = associated_data("T1", "X", 1);
        let sealed = seal(&old, b"value", &aad).await.unwrap();
        let moved = rewrap(&old, &new, &sealed, &aad).await.unwrap();
        assert_eq!(
            moved.ciphertext, sealed.ciphertext,
            "values are not touched"
        );
        assert_ne!(moved.key_id, sealed.key_id);
        assert_eq!(open(&new, &moved, &aad).await.unwrap().as_slice(), b"value");
        assert!(open(&old, &moved, &aad).await.is_err());
    }
}
