//! Polling intervals and maintenance windows (hawkBit's `ControllerPollProperties`,
//! `MaintenanceScheduleHelper` and `JpaControllerManagement.EventTimer`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

/// Parses `HH:MM:SS`.
pub fn parse_hms(s: &str) -> Option<Duration> {
    let mut parts = s.trim().split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let sec: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60 + sec))
}

/// Formats as `HH:MM:SS`, the only form real clients parse; capped at 23:59:59.
pub fn format_hms(d: Duration) -> String {
    let s = d.as_secs().min(86_399);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A tenant's `pollingTime`: an interval with an optional random deviation (`00:05:00~10%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollingTime {
    pub interval: Duration,
    pub deviation_percent: u8,
}

impl PollingTime {
    pub fn parse(s: &str) -> Option<Self> {
        let (interval, deviation) = match s.split_once('~') {
            Some((i, d)) => (i, Some(d.trim().strip_suffix('%')?.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let deviation_percent = deviation.unwrap_or(0);
        if deviation_percent > 99 {
            return None;
        }
        Some(Self {
            interval: parse_hms(interval)?,
            deviation_percent,
        })
    }

    /// The interval to hand out for one poll, with the deviation applied and clamped to `[min, max]`.
    pub fn next_sleep(self, min: Duration, max: Duration) -> Duration {
        let mut secs = self.interval.as_secs() as i64;
        if self.deviation_percent > 0 {
            let spread = secs * i64::from(self.deviation_percent) / 100;
            if spread > 0 {
                let r = i64::from(random_u32() % (2 * spread as u32 + 1));
                secs += r - spread;
            }
        }
        Duration::from_secs(secs.max(0) as u64).clamp(min, max)
    }
}

/// A tenant's `pollingTime` value (hawkBit ≥ 0.10): a default interval, then overrides
/// `<condition> -> <interval>` separated by commas; the first matching override wins.
///
/// Conditions use hawkBit's RSQL spelling for the target fields a poll knows (`controllerid`,
/// `name`, `updatestatus`) with `==`, `!=`, `*` wildcards and `;` for "and". Other fields are
/// refused when the value is set, so nothing silently never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollingConfig {
    pub default: PollingTime,
    pub overrides: Vec<(Vec<Condition>, PollingTime)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: TargetField,
    pub negate: bool,
    pub pattern: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetField {
    ControllerId,
    Name,
    UpdateStatus,
}

/// What a polling override can look at.
pub struct PollSubject<'a> {
    pub controller_id: &'a str,
    pub name: &'a str,
    pub update_status: &'a str,
}

impl PollingConfig {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let first = parts.next().unwrap_or_default().trim();
        let default = PollingTime::parse(first)
            .ok_or_else(|| format!("{first:?} is not an interval (HH:MM:SS[~N%])"))?;
        let mut overrides = Vec::new();
        for part in parts {
            let (cond, interval) = part
                .split_once("->")
                .ok_or_else(|| format!("override {:?} lacks `-> interval`", part.trim()))?;
            let time = PollingTime::parse(interval.trim())
                .ok_or_else(|| format!("{:?} is not an interval (HH:MM:SS[~N%])", interval.trim()))?;
            let conditions = cond
                .split(';')
                .map(Condition::parse)
                .collect::<Result<Vec<_>, _>>()?;
            overrides.push((conditions, time));
        }
        Ok(Self { default, overrides })
    }

    /// Every interval in the value, for range checks.
    pub fn intervals(&self) -> impl Iterator<Item = Duration> + '_ {
        std::iter::once(self.default.interval).chain(self.overrides.iter().map(|(_, t)| t.interval))
    }

    pub fn for_target(&self, subject: &PollSubject<'_>) -> PollingTime {
        self.overrides
            .iter()
            .find(|(conds, _)| conds.iter().all(|c| c.matches(subject)))
            .map_or(self.default, |(_, t)| *t)
    }
}

impl Condition {
    fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (field, negate, value) = if let Some((f, v)) = s.split_once("!=") {
            (f, true, v)
        } else if let Some((f, v)) = s.split_once("==") {
            (f, false, v)
        } else {
            return Err(format!("condition {s:?} needs == or !="));
        };
        let field = match field.trim().to_ascii_lowercase().as_str() {
            "controllerid" => TargetField::ControllerId,
            "name" => TargetField::Name,
            "updatestatus" => TargetField::UpdateStatus,
            other => {
                return Err(format!(
                    "field {other:?} is not supported in pollingTime overrides"
                ));
            }
        };
        let v = value.trim();
        let pattern = v
            .strip_prefix('\'')
            .and_then(|x| x.strip_suffix('\''))
            .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            .unwrap_or(v)
            .to_owned();
        Ok(Self {
            field,
            negate,
            pattern,
        })
    }

    fn matches(&self, subject: &PollSubject<'_>) -> bool {
        let value = match self.field {
            TargetField::ControllerId => subject.controller_id,
            TargetField::Name => subject.name,
            TargetField::UpdateStatus => subject.update_status,
        };
        wildcard_match(&self.pattern.to_ascii_lowercase(), &value.to_ascii_lowercase()) != self.negate
    }
}

/// `*` matches any run of characters; comparison is case-insensitive like hawkBit's RSQL.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first)
        || !value[first.len()..].ends_with(last)
        || value.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

/// An action's maintenance window: a Quartz cron schedule, a duration and a fixed UTC offset.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    schedule: cron::Schedule,
    duration: chrono::Duration,
    offset: FixedOffset,
}

impl MaintenanceWindow {
    /// Validates all three parts, as hawkBit does when an assignment is made.
    pub fn parse(schedule: &str, duration: &str, timezone: &str) -> Result<Self, String> {
        // Quartz allows `?` for "no specific value"; the cron crate spells it `*`.
        let normalized = schedule.replace('?', "*");
        let schedule = cron::Schedule::from_str(&normalized)
            .map_err(|e| format!("invalid maintenance schedule {schedule:?}: {e}"))?;
        let duration = parse_hms(duration)
            .ok_or_else(|| format!("invalid maintenance window duration {duration:?}, expected HH:mm:ss"))?;
        let offset = parse_offset(timezone)
            .ok_or_else(|| format!("invalid maintenance window timezone {timezone:?}, expected +hh:mm"))?;
        Ok(Self {
            schedule,
            duration: chrono::Duration::from_std(duration).map_err(|e| e.to_string())?,
            offset,
        })
    }

    fn at(&self, now_ms: i64) -> DateTime<FixedOffset> {
        Utc.timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or_default()
            .with_timezone(&self.offset)
    }

    /// The start of the window that contains `now`, or else the next one (None: no window ever again).
    pub fn current_or_next_start(&self, now_ms: i64) -> Option<i64> {
        let now = self.at(now_ms);
        let from = now - self.duration - chrono::Duration::seconds(1);
        self.schedule
            .after(&from)
            .find(|start| *start + self.duration > now)
            .map(|start| start.timestamp_millis())
    }

    pub fn is_available(&self, now_ms: i64) -> bool {
        self.current_or_next_start(now_ms)
            .is_some_and(|start| start <= now_ms)
    }

    pub fn has_future_window(&self, now_ms: i64) -> bool {
        self.current_or_next_start(now_ms).is_some()
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=18).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// hawkBit's sleep shortening ahead of a maintenance window: poll `count` times before it opens.
pub fn sleep_before_window(
    polling: Duration,
    min: Duration,
    window_start_ms: i64,
    now_ms: i64,
    count: u32,
) -> Duration {
    if now_ms >= window_start_ms {
        return polling;
    }
    let until = Duration::from_millis((window_start_ms - now_ms) as u64);
    let d = Duration::from_secs(until.as_secs() / u64::from(count.max(1)));
    d.clamp(min.min(polling), polling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_round_trips_and_rejects_garbage() {
        assert_eq!(parse_hms("00:05:00"), Some(Duration::from_secs(300)));
        assert_eq!(format_hms(Duration::from_secs(3723)), "01:02:03");
        assert_eq!(format_hms(Duration::from_secs(200_000)), "23:59:59");
        assert_eq!(parse_hms("5:00"), None);
        assert_eq!(parse_hms("00:61:00"), None);
    }

    #[test]
    fn deviation_stays_within_bounds() {
        let p = PollingTime::parse("00:01:40~10%").unwrap();
        for _ in 0..100 {
            let s = p
                .next_sleep(Duration::from_secs(1), Duration::from_secs(1000))
                .as_secs();
            assert!((90..=110).contains(&s), "{s}");
        }
        assert!(PollingTime::parse("00:01:00~100%").is_none());
    }

    #[test]
    fn overrides_pick_the_first_matching_rule() {
        let p = PollingConfig::parse(
            "00:02:00, controllerid == 4711 -> 00:01:00, name == 'europe-*' -> 00:05:05",
        )
        .unwrap();
        let subject = |cid, name| PollSubject {
            controller_id: cid,
            name,
            update_status: "registered",
        };
        assert_eq!(
            p.for_target(&subject("4711", "x")).interval,
            Duration::from_secs(60)
        );
        assert_eq!(
            p.for_target(&subject("1", "Europe-West")).interval,
            Duration::from_secs(305)
        );
        assert_eq!(
            p.for_target(&subject("1", "asia")).interval,
            Duration::from_secs(120)
        );
        let p =
            PollingConfig::parse("00:02:00, updatestatus != in_sync;controllerid==dev* -> 00:00:10").unwrap();
        assert_eq!(
            p.for_target(&subject("dev7", "x")).interval,
            Duration::from_secs(10)
        );
        assert!(PollingConfig::parse("00:02:00, tag == x -> 00:01:00").is_err());
        assert!(PollingConfig::parse("00:02:00, controllerid == x").is_err());
        assert!(wildcard_match("a*c*e", "abcde") && !wildcard_match("a*c", "ab") && wildcard_match("*", ""));
    }

    #[test]
    fn window_availability_follows_the_schedule() {
        // Every day at 03:00 UTC for one hour.
        let w = MaintenanceWindow::parse("0 0 3 ? * *", "01:00:00", "+00:00").unwrap();
        let day = 1_800_000_000_000_i64 - 1_800_000_000_000_i64 % 86_400_000;
        let three = day + 3 * 3_600_000;
        assert!(!w.is_available(three - 60_000));
        assert!(w.is_available(three + 60_000));
        assert!(!w.is_available(three + 3_600_000 + 1000));
        assert_eq!(w.current_or_next_start(three - 60_000), Some(three));
        assert!(MaintenanceWindow::parse("nonsense", "01:00:00", "+00:00").is_err());
        assert!(MaintenanceWindow::parse("0 0 3 ? * *", "1h", "+00:00").is_err());
        assert!(MaintenanceWindow::parse("0 0 3 ? * *", "01:00:00", "UTC").is_err());
    }

    #[test]
    fn sleep_is_shortened_before_a_window() {
        let p = Duration::from_secs(300);
        let min = Duration::from_secs(30);
        assert_eq!(sleep_before_window(p, min, 16 * 60_000, 0, 3), p);
        let s = sleep_before_window(p, min, 10 * 60_000, 0, 3);
        assert!(s >= Duration::from_secs(180) && s < p);
        assert!(sleep_before_window(p, min, 5 * 60_000, 0, 3) < Duration::from_secs(120));
        assert_eq!(sleep_before_window(p, min, 0, 5 * 60_000, 3), p);
    }
}
