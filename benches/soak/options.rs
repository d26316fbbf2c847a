//! Options.

use super::*;

pub(crate) struct Options {
    pub(crate) duration: Duration,
    pub(crate) rate: u64,
    /// The shortest and longest time between two kills; `None`: no kills.
    pub(crate) kill_every: Option<(Duration, Duration)>,
    pub(crate) lease_seconds: u64,
    pub(crate) drain: Duration,
    pub(crate) sample_every: Duration,
    pub(crate) seed: u64,
}

impl Options {
    pub(crate) fn parse() -> Self {
        let duration = arg("--duration")
            .or_else(|| std::env::var("SOAK_DURATION").ok())
            .map(|d| parse_duration(&d).expect("--duration takes 30s, 10m, 1h"))
            .unwrap_or(Duration::from_secs(600));
        let kill_every = match arg("--kill-every").as_deref() {
            Some("off" | "never" | "0") => None,
            Some(range) => {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                let low = parse_duration(low).expect("--kill-every takes 2s-8s or off");
                let high = parse_duration(high).expect("--kill-every takes 2s-8s or off");
                Some((low, high.max(low)))
            }
            None => Some((Duration::from_secs(2), Duration::from_secs(8))),
        };
        // About twenty rows whatever the length, at most one a minute.
        let sample_every = arg("--sample-every")
            .map(|d| parse_duration(&d).expect("--sample-every takes 10s"))
            .unwrap_or_else(|| {
                (duration / 20).clamp(Duration::from_secs(5), Duration::from_secs(60))
            });
        let number =
            |name: &str, default: u64| arg(name).map_or(default, |v| v.parse().expect("a number"));
        let seed = number(
            "--seed",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        Options {
            duration,
            rate: number("--rate", 60).max(1),
            kill_every,
            lease_seconds: number("--lease-seconds", 10),
            drain: arg("--drain")
                .map(|d| parse_duration(&d).expect("--drain takes 3m"))
                .unwrap_or(Duration::from_secs(180)),
            sample_every,
            seed,
        }
    }
}
