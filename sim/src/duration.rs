//! Durations as hawkBit writes them (`HH:MM:SS` polling sleep) and as the CLI takes them (`50ms`, `2s`).

use std::time::Duration;

/// hawkBit's `config.polling.sleep`: `HH:MM:SS`, the only form every known client parses.
pub fn parse_polling_sleep(s: &str) -> Option<Duration> {
    let mut parts = s.trim().split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let sec: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60 + sec))
}

/// A CLI duration: a number with `ms`, `s`, `m` or `h` (`1.5s`, `250ms`), a bare number of seconds,
/// or `HH:MM:SS`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.contains(':') {
        return parse_polling_sleep(s).ok_or_else(|| format!("`{s}` is not HH:MM:SS"));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 500ms, 2s, 5m or 1h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn polling_sleep_is_hh_mm_ss() {
        assert_eq!(parse_polling_sleep("00:05:00"), Some(Duration::from_secs(300)));
        assert_eq!(parse_polling_sleep("01:00:01"), Some(Duration::from_secs(3601)));
        assert_eq!(parse_polling_sleep("PT5M"), None);
        assert_eq!(parse_polling_sleep("00:61:00"), None);
        assert_eq!(parse_polling_sleep("00:01"), None);
    }

    #[test]
    fn cli_durations_take_units() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("00:00:10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }
}
