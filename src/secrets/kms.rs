//! The `gcp-kms` provider: Google Cloud KMS wraps and unwraps data keys, through
//! Google's official Rust SDK (REST). The data key's associated data goes to KMS as
//! its additional authenticated data, so a wrapped key only unwraps for its own row.
//! An outage fails closed: the run that needed the secret is retried later.

use std::time::Duration;

use futures::future::BoxFuture;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt};
use google_cloud_kms_v1::client::KeyManagementService;
use zeroize::Zeroizing;

use super::provider::{KeyProvider, ProviderError};

/// Where the KMS key is and how to reach it.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
    pub key: String,
    /// API endpoint; default Google's.
    pub endpoint: Option<String>,
    /// Application default credentials (`false`: anonymous, for emulators and tests).
    pub use_default_credentials: bool,
}

/// Cloud KMS as a key provider.
#[derive(Debug, Clone)]
pub struct GcpKms {
    client: KeyManagementService,
    key: String,
}

impl GcpKms {
    /// A client for `config`.
    pub async fn connect(config: &KmsConfig) -> anyhow::Result<Self> {
        let credentials = if config.use_default_credentials {
            google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| {
                    anyhow::anyhow!("Google application default credentials are not available: {e}")
                })?
        } else {
            google_cloud_auth::credentials::anonymous::Builder::new().build()
        };
        let mut builder = KeyManagementService::builder()
            .with_credentials(credentials)
            .with_retry_policy(Aip194Strict.with_attempt_limit(3))
            .with_attempt_timeout(Duration::from_secs(10));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        let client = builder
            .build()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the Cloud KMS client: {e}"))?;
        Ok(Self {
            client,
            key: config.key.clone(),
        })
    }

    fn id(&self) -> String {
        format!("gcp-kms:{}", self.key)
    }
}

fn failure(error: &google_cloud_kms_v1::Error) -> ProviderError {
    let status = error.http_status_code();
    let transient = error.is_timeout()
        || error.is_transport()
        || error.is_io()
        || error.is_connect()
        || error.is_exhausted()
        || status.is_some_and(|s| s == 429 || s >= 500);
    let message = format!("Cloud KMS: {error}");
    if transient {
        ProviderError::Unavailable(message)
    } else {
        ProviderError::Refused(message)
    }
}

impl KeyProvider for GcpKms {
    fn wrap<'a>(
        &'a self,
        key: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<(Vec<u8>, String), ProviderError>> {
        Box::pin(async move {
            let response = self
                .client
                .encrypt()
                .set_name(self.key.clone())
                .set_plaintext(bytes::Bytes::copy_from_slice(key))
                .set_additional_authenticated_data(bytes::Bytes::copy_from_slice(aad))
                .send()
                .await
                .map_err(|e| failure(&e))?;
            Ok((response.ciphertext.to_vec(), self.id()))
        })
    }

    fn unwrap<'a>(
        &'a self,
        wrapped: &'a [u8],
        key_id: &'a str,
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Zeroizing<Vec<u8>>, ProviderError>> {
        Box::pin(async move {
            if key_id != self.id() {
                return Err(ProviderError::UnknownKey(key_id.to_owned()));
            }
            let response = self
                .client
                .decrypt()
                .set_name(self.key.clone())
                .set_ciphertext(bytes::Bytes::copy_from_slice(wrapped))
                .set_additional_authenticated_data(bytes::Bytes::copy_from_slice(aad))
                .send()
                .await
                .map_err(|e| failure(&e))?;
            Ok(Zeroizing::new(response.plaintext.to_vec()))
        })
    }

    fn describe(&self) -> String {
        format!("Cloud KMS key {}", self.key)
    }
}
