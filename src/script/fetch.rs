//! `http.fetch` for scripts: a per-request timeout, a response size cap, and the address
//! policy applied after DNS resolution (a resolver that drops forbidden addresses, so a
//! name cannot be rebound to one between check and connect) and to every redirect
//! (followed here, one hop at a time, so each hop is checked).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::address::{AddressPolicy, Allowed};

/// Settings of `http.fetch`.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Hosts and networks allowed although not public.
    pub allow: Vec<Allowed>,
    /// Longest a request may take (a script may ask for less).
    pub timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: usize,
    /// Redirects followed.
    pub max_redirects: usize,
}

/// A request, as a script describes it.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// Absolute http(s) URL.
    pub url: String,
    /// Method; default GET.
    pub method: Option<String>,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<String>,
    /// Timeout for this request, at most the configured one.
    pub timeout_ms: Option<u64>,
}

/// A response, as a script sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchResponse {
    /// HTTP status.
    pub status: u16,
    /// Reason phrase.
    pub status_text: String,
    /// Response headers (lower-case names; repeated ones joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: String,
    /// The final URL, after redirects.
    pub url: String,
    /// Whether a redirect was followed.
    pub redirected: bool,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The address policy refused the destination.
    #[error("http.fetch refused {0}")]
    Refused(String),
    /// The request is malformed.
    #[error("http.fetch: {0}")]
    Invalid(String),
    /// The response is over the size limit.
    #[error("http.fetch: the response of {url} is larger than {limit} bytes, the limit")]
    TooLarge {
        /// Where.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Timeout or connection failure: may work later.
    #[error("http.fetch {url} failed: {reason}")]
    Transient {
        /// Where.
        url: String,
        /// What happened.
        reason: String,
    },
}

#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// Resolves names and drops the addresses the policy forbids.
struct PolicyResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.host_allowed(&host) {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let mut reasons = Vec::new();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        reasons.push(reason);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = reasons
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "no address".into());
                return Err(Box::new(Refusal(format!(
                    "{host}: it resolves to {why}; add the host to http.allow if scripts must reach it"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The fetcher.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    config: FetchConfig,
}

impl Fetcher {
    /// A fetcher with `config`.
    pub fn new(config: FetchConfig) -> anyhow::Result<Self> {
        let policy = Arc::new(AddressPolicy::new(config.allow.clone()));
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicyResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.timeout)
            .build()?;
        Ok(Self {
            client,
            policy,
            config,
        })
    }

    /// Performs `request`, following redirects.
    pub async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, FetchError> {
        let mut url = Url::parse(&request.url)
            .map_err(|e| FetchError::Invalid(format!("{:?} is not a URL: {e}", request.url)))?;
        let mut method = match &request.method {
            Some(m) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| FetchError::Invalid(format!("{m:?} is not an HTTP method")))?,
            None => reqwest::Method::GET,
        };
        let mut body = request.body.clone();
        let timeout = request
            .timeout_ms
            .map(Duration::from_millis)
            .map_or(self.config.timeout, |t| t.min(self.config.timeout));
        for hop in 0..=self.config.max_redirects {
            self.check_url(&url)?;
            let mut builder = self
                .client
                .request(method.clone(), url.clone())
                .timeout(timeout);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let response = builder.send().await.map_err(|e| classify(&url, &e))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                let location = location.to_str().unwrap_or_default();
                url = url.join(location).map_err(|e| {
                    FetchError::Invalid(format!("bad redirect to {location:?}: {e}"))
                })?;
                if status == reqwest::StatusCode::SEE_OTHER
                    || (matches!(status.as_u16(), 301 | 302) && method == reqwest::Method::POST)
                {
                    method = reqwest::Method::GET;
                    body = None;
                }
                continue;
            }
            let mut headers = BTreeMap::new();
            for (name, value) in response.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                headers
                    .entry(name.as_str().to_owned())
                    .and_modify(|v: &mut String| {
                        v.push_str(", ");
                        v.push_str(&value);
                    })
                    .or_insert(value);
            }
            let final_url = response.url().to_string();
            let body = self.read_body(response, &url).await?;
            return Ok(FetchResponse {
                status: status.as_u16(),
                status_text: status.canonical_reason().unwrap_or_default().to_owned(),
                headers,
                body,
                url: final_url,
                redirected: hop > 0,
            });
        }
        Err(FetchError::Invalid(format!(
            "more than {} redirects",
            self.config.max_redirects
        )))
    }

    /// Checks a URL's scheme and, for address literals (which never reach the resolver),
    /// the address.
    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Invalid(format!(
                "only http and https URLs can be fetched, not {url}"
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(FetchError::Invalid(format!("{url} has no host"))),
        };
        self.policy.check(ip).map_err(|why| {
            FetchError::Refused(format!(
                "{url}: {why}; add it to http.allow if scripts must reach it"
            ))
        })
    }

    async fn read_body(
        &self,
        response: reqwest::Response,
        url: &Url,
    ) -> Result<String, FetchError> {
        let limit = self.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|n| n as usize > limit)
        {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(url, &e))?;
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

fn classify(url: &Url, error: &reqwest::Error) -> FetchError {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return FetchError::Refused(refusal.0.clone());
        }
        source = e.source();
    }
    let reason = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        error.to_string()
    };
    FetchError::Transient {
        url: url.to_string(),
        reason,
    }
}
