//! Client-side pacing by Slack's rate-limit tiers, so switchboard slows itself down
//! before Slack has to answer 429. A 429 that still happens blocks the method for its
//! `Retry-After`. <https://api.slack.com/apis/rate-limits>

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Calls per minute and burst size of a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Sustained calls per minute.
    pub per_minute: f64,
    /// Calls allowed at once.
    pub burst: f64,
}

const TIER_2: Limit = Limit {
    per_minute: 20.0,
    burst: 20.0,
};
const TIER_3: Limit = Limit {
    per_minute: 50.0,
    burst: 50.0,
};
const TIER_4: Limit = Limit {
    per_minute: 100.0,
    burst: 100.0,
};
/// `chat.postMessage`: about one message per second per channel, short bursts allowed.
const POST_PER_CHANNEL: Limit = Limit {
    per_minute: 60.0,
    burst: 5.0,
};

/// The tier of a Web API method, from Slack's method documentation.
pub fn limit_for(method: &str) -> Limit {
    match method {
        "chat.postMessage" => POST_PER_CHANNEL,
        "auth.test" | "users.info" | "chat.getPermalink" | "conversations.info"
        | "views.publish" => TIER_4,
        "usergroups.list" | "usergroups.users.list" | "conversations.list" | "users.list" => TIER_2,
        _ => TIER_3,
    }
}

/// The bucket a call draws from: per method, and per channel for `chat.postMessage`.
pub fn bucket_key(method: &str, channel: Option<&str>) -> String {
    match (method, channel) {
        ("chat.postMessage", Some(channel)) => format!("{method}:{channel}"),
        _ => method.to_owned(),
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    blocked_until: Option<Instant>,
}

/// Token buckets keyed by [`bucket_key`].
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes a token for `key`, or says how long until one is available.
    pub fn try_acquire(&self, key: &str, limit: Limit) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: limit.burst,
            updated: now,
            blocked_until: None,
        });
        if let Some(until) = bucket.blocked_until {
            if until > now {
                return Err(until - now);
            }
            bucket.blocked_until = None;
        }
        let per_sec = limit.per_minute / 60.0;
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }

    /// Blocks `key` until `retry_after` has passed (Slack answered 429).
    pub fn block(&self, key: &str, retry_after: Duration) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: 0.0,
            updated: now,
            blocked_until: None,
        });
        bucket.tokens = 0.0;
        bucket.updated = now;
        bucket.blocked_until = Some(now + retry_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_table() {
        assert_eq!(limit_for("chat.postMessage"), POST_PER_CHANNEL);
        assert_eq!(limit_for("reactions.add"), TIER_3);
        assert_eq!(limit_for("usergroups.list"), TIER_2);
        assert_eq!(limit_for("users.info"), TIER_4);
        assert_eq!(
            bucket_key("chat.postMessage", Some("C1")),
            "chat.postMessage:C1"
        );
        assert_eq!(bucket_key("reactions.add", Some("C1")), "reactions.add");
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces() {
        let limiter = RateLimiter::default();
        let limit = Limit {
            per_minute: 60.0,
            burst: 2.0,
        };
        assert!(limiter.try_acquire("k", limit).is_ok());
        assert!(limiter.try_acquire("k", limit).is_ok());
        let wait = limiter.try_acquire("k", limit).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        // Other keys are independent.
        assert!(limiter.try_acquire("other", limit).is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.try_acquire("k", limit).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_the_key() {
        let limiter = RateLimiter::default();
        let limit = TIER_4;
        limiter.block("k", Duration::from_secs(3));
        let wait = limiter.try_acquire("k", limit).unwrap_err();
        assert_eq!(wait, Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(limiter.try_acquire("k", limit).is_ok());
    }
}
