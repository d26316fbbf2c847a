//! Slack's v0 request signatures: HMAC-SHA256 over `v0:{timestamp}:{raw body}` with the
//! signing secret, compared in constant time, with the timestamp within five minutes.
//! <https://api.slack.com/authentication/verifying-requests-from-slack>

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the request timestamp may be from our clock.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Header carrying the request timestamp.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// The timestamp is not a number.
    #[error("malformed request timestamp")]
    BadTimestamp,
    /// The timestamp is too far from now (a replay, or a wrong clock).
    #[error("request timestamp is {0} s away from the server clock (limit {MAX_SKEW_SECS} s)")]
    Stale(i64),
    /// The signature does not have the `v0=<hex>` form.
    #[error("malformed signature")]
    BadFormat,
    /// The signature does not match the body.
    #[error("signature mismatch")]
    Mismatch,
}

/// Verifies a request signed by Slack at `now_secs` (Unix seconds).
pub fn verify(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = signature.ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = now_secs.saturating_sub(ts).saturating_abs();
    if skew > MAX_SKEW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    let expected = signature
        .strip_prefix("v0=")
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
        .ok_or(SignatureError::BadFormat)?;
    mac(signing_secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Signs a body as Slack does; for tests, fakes and the load generator.
pub fn sign(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(signing_secret, timestamp, body).finalize().into_bytes();
    format!("v0={}", hex::encode(tag))
}

fn mac(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example from Slack's documentation.
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1531420618 + 10;

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(
            verify(SECRET, Some(TIMESTAMP), Some(SIGNATURE), BODY, NOW),
            Ok(())
        );
        assert_eq!(sign(SECRET, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn refusals_table() {
        let mut flipped = BODY.to_vec();
        flipped[10] ^= 1;
        let bad_sig = SIGNATURE.replace("a2114", "a2115");
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            i64,
            SignatureError,
        );
        let cases: Vec<Case> = vec![
            (
                "flipped body byte",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                &flipped,
                NOW,
                SignatureError::Mismatch,
            ),
            (
                "wrong signature",
                Some(TIMESTAMP),
                Some(&bad_sig),
                BODY,
                NOW,
                SignatureError::Mismatch,
            ),
            (
                "stale",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY,
                NOW + 600,
                SignatureError::Stale(610),
            ),
            (
                "from the future",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY,
                NOW - 700,
                SignatureError::Stale(690),
            ),
            (
                "no timestamp",
                None,
                Some(SIGNATURE),
                BODY,
                NOW,
                SignatureError::MissingHeader(TIMESTAMP_HEADER),
            ),
            (
                "no signature",
                Some(TIMESTAMP),
                None,
                BODY,
                NOW,
                SignatureError::MissingHeader(SIGNATURE_HEADER),
            ),
            (
                "timestamp not a number",
                Some("soon"),
                Some(SIGNATURE),
                BODY,
                NOW,
                SignatureError::BadTimestamp,
            ),
            (
                "no v0 prefix",
                Some(TIMESTAMP),
                Some(&SIGNATURE[3..]),
                BODY,
                NOW,
                SignatureError::BadFormat,
            ),
            (
                "not hex",
                Some(TIMESTAMP),
                Some("v0=zz"),
                BODY,
                NOW,
                SignatureError::BadFormat,
            ),
        ];
        for (name, ts, sig, body, now, want) in cases {
            assert_eq!(verify(SECRET, ts, sig, body, now), Err(want), "{name}");
        }
    }

    #[test]
    fn a_wrong_secret_fails() {
        assert_eq!(
            verify(
                b"another-secret",
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY,
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
    }
}
