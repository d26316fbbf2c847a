//! The `local` provider: a 256-bit key in a file that only its owner may read (created
//! with mode 0600 on first use), or in `SWITCHBOARD_SECRET_KEY`. A rotation writes the
//! new key beside the old one (`<file>.next`) before re-wrapping, so an interrupted
//! rotation leaves every secret readable.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::provider::{KeyProvider, ProviderError};

/// Local key-encryption keys: the current one first, then any others still needed to
/// unwrap (an interrupted rotation's new key).
pub struct LocalKeys {
    keys: Vec<(String, Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys")
            .field(
                "ids",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Other users may read it.
    #[error(
        "the secret key file {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// It does not hold a base64 256-bit key.
    #[error("the secret key in {0} is not 32 bytes of base64")]
    Malformed(String),
    /// It could not be read or created.
    #[error("the secret key file {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        reason: String,
    },
}

fn key_id(key: &[u8; 32]) -> String {
    format!("local:{}", &hex::encode(Sha256::digest(key))[..16])
}

fn parse_key(text: &str, origin: &str) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| KeyFileError::Malformed(origin.to_owned()))?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileError::Malformed(origin.to_owned()))?;
    Ok(Zeroizing::new(key))
}

/// The file a rotation writes the new key to before it takes over.
pub fn next_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

impl LocalKeys {
    /// Keys from raw bytes, the first current; for tests and rotation.
    pub fn from_keys(keys: Vec<[u8; 32]>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|k| (key_id(&k), Zeroizing::new(k)))
                .collect(),
        }
    }

    /// The key from `SWITCHBOARD_SECRET_KEY` (base64).
    pub fn from_env(value: &str) -> Result<Self, KeyFileError> {
        let key = parse_key(value, "SWITCHBOARD_SECRET_KEY")?;
        Ok(Self {
            keys: vec![(key_id(&key), key)],
        })
    }

    /// The key in `path`, created (mode 0600) if there is none; plus an interrupted
    /// rotation's new key, if one is beside it.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        if !path.exists() {
            write_new_key(path)?;
            tracing::info!(path = %path.display(), "created a new secret key file (mode 0600): back it up, secrets cannot be read without it");
        }
        let mut keys = vec![read_key_file(path)?];
        let next = next_path(path);
        if next.exists() {
            tracing::warn!(path = %next.display(), "found the new key of an interrupted key rotation; run `switchboard secrets rotate-key` again to finish it");
            keys.push(read_key_file(&next)?);
        }
        Ok(Self { keys })
    }

    /// The id of the current key.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }
}

/// Creates a key file with a fresh key, readable only by its owner.
pub fn write_new_key(path: &Path) -> Result<(), KeyFileError> {
    let io = |e: std::io::Error| KeyFileError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(key.as_mut());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    let encoded = Zeroizing::new(STANDARD.encode(key.as_ref()));
    file.write_all(encoded.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

fn read_key_file(path: &Path) -> Result<(String, Zeroizing<[u8; 32]>), KeyFileError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| KeyFileError::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: shown, mode });
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    let key = parse_key(&text, &shown)?;
    Ok((key_id(&key), key))
}

impl KeyProvider for LocalKeys {
    fn wrap<'a>(
        &'a self,
        key: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<(Vec<u8>, String), ProviderError>> {
        Box::pin(async move {
            let (id, kek) = &self.keys[0];
            let mut nonce = [0u8; 12];
            rand::rng().fill_bytes(&mut nonce);
            let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("32-byte key");
            let sealed = cipher
                .encrypt(Nonce::from_slice(&nonce), Payload { msg: key, aad })
                .map_err(|_| ProviderError::Refused("could not wrap the data key".into()))?;
            let mut wrapped = nonce.to_vec();
            wrapped.extend_from_slice(&sealed);
            Ok((wrapped, id.clone()))
        })
    }

    fn unwrap<'a>(
        &'a self,
        wrapped: &'a [u8],
        key_id: &'a str,
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, ProviderError>> {
        Box::pin(async move {
            let (_, kek) = self
                .keys
                .iter()
                .find(|(id, _)| id == key_id)
                .ok_or_else(|| ProviderError::UnknownKey(key_id.to_owned()))?;
            if wrapped.len() < 12 {
                return Err(ProviderError::Refused(
                    "the wrapped data key is truncated".into(),
                ));
            }
            let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("32-byte key");
            cipher
                .decrypt(
                    Nonce::from_slice(&wrapped[..12]),
                    Payload {
                        msg: &wrapped[12..],
                        aad,
                    },
                )
                .map(Zeroizing::new)
                .map_err(|_| {
                    ProviderError::Refused(
                        "the wrapped data key does not unwrap (altered or moved)".into(),
                    )
                })
        })
    }

    fn describe(&self) -> String {
        format!("local key {}", self.current_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_created_private_and_refused_when_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.key");
        let keys = LocalKeys::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The same key comes back.
        assert_eq!(
            LocalKeys::load_or_create(&path).unwrap().current_id(),
            keys.current_id()
        );
        for loose in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
            let err = LocalKeys::load_or_create(&path).unwrap_err().to_string();
            assert!(
                err.contains("readable by others") && err.contains("chmod 600"),
                "{err}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not base64!").unwrap();
        assert!(
            LocalKeys::load_or_create(&path)
                .unwrap_err()
                .to_string()
                .contains("not 32 bytes")
        );
    }

    #[test]
    fn keys_come_from_the_environment_too() {
        let key = STANDARD.encode([9u8; 32]);
        assert!(LocalKeys::from_env(&key).is_ok());
        assert!(LocalKeys::from_env("short").is_err());
    }
}
