//! Rate limits per webhook: token buckets in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Token buckets per webhook: `burst` calls at once, refilled at `per_minute`.
#[derive(Debug)]
pub(super) struct Limiter {
    per_ms: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl Limiter {
    pub(super) fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_ms: f64::from(per_minute) / 60_000.0,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a call from `key`'s bucket, or says how long until one is there.
    pub(super) fn take(&self, key: &str, now_ms: i64) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.burst, now_ms));
        let elapsed = (now_ms - *at).max(0) as f64;
        *tokens = (*tokens + elapsed * self.per_ms).min(self.burst);
        *at = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = ((1.0 - *tokens) / self.per_ms).ceil() as u64;
            Err(Duration::from_millis(wait_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_the_rate() {
        let limiter = Limiter::new(60, 2);
        assert!(limiter.take("a", 0).is_ok());
        assert!(limiter.take("a", 0).is_ok());
        let wait = limiter.take("a", 0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(
            limiter.take("b", 0).is_ok(),
            "each webhook has its own bucket"
        );
        assert!(
            limiter.take("a", 1000).is_ok(),
            "one call per second refills"
        );
        assert!(limiter.take("a", 1000).is_err());
    }
}
