//! Links that let whoever started a run follow it in a browser without an account:
//! `<public URL>/runs/<id>?until=<unix seconds>&key=<tag>`. The tag is an HMAC of the
//! run and the expiry under a key derived from the Slack signing secret (over Socket
//! Mode without one, the app token), so every replica accepts every link, links
//! expire, and rotating the secret revokes them all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use crate::config::SecretString;

/// How long a link opens its run's page.
pub const LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Bytes of the tag kept in the link (128 bits).
const TAG_BYTES: usize = 16;

/// Makes and checks run links.
#[derive(Clone)]
pub struct RunLinks {
    /// Where people reach this server (`SWITCHBOARD_PUBLIC_URL`); without it no links
    /// are made, but links made elsewhere are still checked.
    base: Option<Url>,
    key: [u8; 32],
}

impl std::fmt::Debug for RunLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLinks")
            .field("base", &self.base.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl RunLinks {
    /// Links under `base`, keyed by the Slack secret (signing secret or app token).
    pub fn new(base: Option<Url>, slack_secret: &SecretString) -> Self {
        let key = Hmac::<Sha256>::new_from_slice(slack_secret.expose().as_bytes())
            .expect("HMAC takes any key length")
            .chain_update(b"switchboard run links v1")
            .finalize()
            .into_bytes()
            .into();
        Self { base, key }
    }

    /// The link to run `run`'s page, valid for [`LINK_LIFETIME`] from `now`; `None`
    /// when no public URL is configured.
    pub fn url(&self, run: i64, now: DateTime<Utc>) -> Option<String> {
        let mut url = self.base.as_ref()?.join(&format!("runs/{run}")).ok()?;
        let until = now.timestamp() + LINK_LIFETIME.as_secs() as i64;
        let tag = self.mac(run, until).finalize().into_bytes();
        url.query_pairs_mut()
            .append_pair("until", &until.to_string())
            .append_pair("key", &hex::encode(&tag[..TAG_BYTES]));
        Some(url.into())
    }

    /// Whether `key` was made by [`RunLinks::url`] for `run` and `until`, and `until`
    /// has not passed. The comparison takes the same time whatever the key.
    pub fn check(&self, run: i64, until: i64, key: &str, now: DateTime<Utc>) -> bool {
        let Ok(tag) = hex::decode(key) else {
            return false;
        };
        let genuine =
            tag.len() == TAG_BYTES && self.mac(run, until).verify_truncated_left(&tag).is_ok();
        genuine && until >= now.timestamp()
    }

    fn mac(&self, run: i64, until: i64) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes any key length")
            .chain_update(format!("{run}.{until}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> RunLinks {
        RunLinks::new(
            Some(Url::parse("https://sb.example.com/base/").unwrap()),
            &SecretString::new("signing"),
        )
    }

    fn parts(url: &str) -> (i64, i64, String) {
        let url = Url::parse(url).unwrap();
        let run = url.path().rsplit('/').next().unwrap().parse().unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        (run, q["until"].parse().unwrap(), q["key"].clone())
    }

    #[test]
    fn a_link_opens_its_run_until_it_expires() {
        let now = Utc::now();
        let url = links().url(42, now).unwrap();
        assert!(
            url.starts_with("https://sb.example.com/base/runs/42?until="),
            "{url}"
        );
        let (run, until, key) = parts(&url);
        assert_eq!(run, 42);
        assert!(links().check(run, until, &key, now));
        let later = now + LINK_LIFETIME + Duration::from_secs(1);
        assert!(!links().check(run, until, &key, later), "expired");
    }

    #[test]
    fn a_link_opens_nothing_else() {
        let now = Utc::now();
        let (run, until, key) = parts(&links().url(42, now).unwrap());
        assert!(!links().check(run + 1, until, &key, now), "another run");
        assert!(!links().check(run, until + 3600, &key, now), "longer life");
        assert!(!links().check(run, until, &key[..2], now), "a short key");
        assert!(!links().check(run, until, "zz", now), "not hex");
        let other = RunLinks::new(None, &SecretString::new("rotated"));
        assert!(!other.check(run, until, &key, now), "rotated secret");
        assert_eq!(other.url(run, now), None, "no public URL, no link");
    }
}
