//! When to try a run again after a transient failure: exponential backoff with jitter,
//! or exactly what the remote side asked for (`Retry-After`), plus a little jitter so
//! that many runs limited at once do not come back at once.

use std::time::Duration;

use rand::Rng;

/// Longest backoff between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// Delay before attempt `attempt + 1`, after `attempt` attempts (1-based) failed.
pub fn delay(base: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let mut rng = rand::rng();
    match retry_after {
        Some(wait) => {
            let jitter_ms = (wait.as_millis() as u64 / 10).min(1000);
            wait + Duration::from_millis(rng.random_range(0..=jitter_ms))
        }
        None => {
            let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
            let capped = exp.min(MAX_BACKOFF);
            // "Equal jitter": between half and all of the backoff.
            let half = capped / 2;
            half + Duration::from_millis(rng.random_range(0..=half.as_millis() as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let cases = [
            (1, 1_000, 2_000),
            (2, 2_000, 4_000),
            (3, 4_000, 8_000),
            (30, 300_000, 600_000),
        ];
        for (attempt, lo, hi) in cases {
            for _ in 0..50 {
                let d = delay(base, attempt, None).as_millis() as u64;
                assert!((lo..=hi).contains(&d), "attempt {attempt}: {d}");
            }
        }
    }

    #[test]
    fn retry_after_is_respected() {
        for _ in 0..50 {
            let d = delay(Duration::from_secs(2), 1, Some(Duration::from_secs(3)));
            assert!(
                d >= Duration::from_secs(3) && d <= Duration::from_millis(3_300),
                "{d:?}"
            );
        }
    }
}
