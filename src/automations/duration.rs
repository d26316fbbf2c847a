//! Durations as people write them in automation files: `90s`, `30m`, `4h`, `2d`, `1w`,
//! or several parts such as `1h30m`.

use std::time::Duration;

/// The longest duration: runs and approvals do not wait for more than a year.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// Parses `text`, or says what is wrong with it.
pub fn parse(text: &str) -> Result<Duration, String> {
    let length = parse_any(text)?;
    if length > MAX {
        return Err(format!(
            "{text:?} is longer than a year (365d), the longest wait"
        ));
    }
    Ok(length)
}

/// Parses `text` without the one-year cap of waits: how long history is kept, say.
pub fn parse_any(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration: write a number and a unit (s, m, h, d, w), e.g. \"30m\", \"4h\", \"2d\" or \"1h30m\""
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_table() {
        let cases = [
            ("90s", Some(90)),
            ("30m", Some(1800)),
            ("4h", Some(14_400)),
            ("2d", Some(172_800)),
            ("1w", Some(604_800)),
            ("1h30m", Some(5400)),
            (" 5m ", Some(300)),
            ("365d", Some(31_536_000)),
            ("366d", None),
            ("99999999999999w", None),
            ("", None),
            ("5", None),
            ("0m", None),
            ("m", None),
            ("5 minutes", None),
            ("1.5h", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).ok().map(|d| d.as_secs()), want, "{text:?}");
        }
        assert_eq!(parse_any("730d").map(|d| d.as_secs()), Ok(730 * 86_400));
        assert!(parse_any("0d").is_err());
    }
}
