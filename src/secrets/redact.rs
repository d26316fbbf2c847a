//! The one choke point for secret values: every text a run writes (log lines, step
//! outputs, errors) passes through the run's [`Redactor`], which replaces each secret
//! value the run has read, and its base64 and URL-encoded forms, with `[secret NAME]`.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Values shorter than this are not redacted (they would blank out ordinary text); such
/// secrets are refused when set.
pub const MIN_SECRET_LEN: usize = 8;

/// The secret values a run has seen, and their encodings.
#[derive(Debug, Default)]
pub struct Redactor {
    patterns: RwLock<Vec<(String, String)>>,
}

impl Redactor {
    /// Starts redacting `value` (read as secret `name`).
    pub fn add(&self, name: &str, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let label = format!("[secret {name}]");
        let mut forms = vec![value.to_owned()];
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            forms.push(engine.encode(value));
        }
        forms.push(url::form_urlencoded::byte_serialize(value.as_bytes()).collect());
        forms.push(
            value
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
        );
        // JSON escapes what a value contains when it sits inside a JSON string.
        if let Ok(json) = serde_json::to_string(value) {
            forms.push(json[1..json.len() - 1].to_owned());
        }
        let mut patterns = self.patterns.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if !patterns.iter().any(|(p, _)| *p == form) {
                patterns.push((form, label.clone()));
            }
        }
        // Longest first, so that a value inside a longer encoding is not cut in two.
        patterns.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// `text` with every known secret form replaced.
    pub fn redact(&self, text: &str) -> String {
        let patterns = self.patterns.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_owned();
        for (pattern, label) in patterns.iter() {
            if out.contains(pattern.as_str()) {
                out = out.replace(pattern.as_str(), label);
            }
        }
        out
    }

    /// Whether any secret has been seen (nothing to do otherwise).
    pub fn is_empty(&self) -> bool {
        self.patterns
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_redacted() {
        let r = Redactor::default();
        let secret = "p@ss w0rd/+=?&";
        r.add("OKTA_API_TOKEN", secret);
        let forms = [
            secret.to_owned(),
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            "p%40ss%20w0rd%2F%2B%3D%3F%26".to_owned(),
        ];
        for form in forms {
            let text = format!("before {form} after");
            assert_eq!(
                r.redact(&text),
                "before [secret OKTA_API_TOKEN] after",
                "{form}"
            );
        }
        let json = serde_json::json!({ "token": "quote\"inside-secret" }).to_string();
        r.add("Q", "quote\"inside-secret");
        assert!(
            !r.redact(&json).contains("inside-secret"),
            "{}",
            r.redact(&json)
        );
    }

    #[test]
    fn short_values_are_left_alone() {
        let r = Redactor::default();
        r.add("X", "abc");
        assert_eq!(r.redact("abc"), "abc");
        assert!(r.is_empty());
    }
}
