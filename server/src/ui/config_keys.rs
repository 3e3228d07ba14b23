//! How the console shows hawkBit's tenant configuration keys: a label, help, a group, whether
//! Updraft acts on the key at all, and a unit; with the conversions between what a person types
//! ("30 days", "5 minutes") and what is stored (milliseconds, `HH:MM:SS`).

/// How a value is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    /// On or off.
    Switch,
    /// Free text.
    Text,
    /// A whole number with a unit word after it.
    Number(&'static str),
    /// A duration stored as `HH:MM:SS`, entered in seconds, minutes or hours.
    Hms,
    /// A duration stored in milliseconds, entered in minutes, hours or days; empty means never
    /// (stored `-1`).
    Millis,
}

/// Where a key is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Authentication,
    Polling,
    Deployment,
    /// Stored and served for hawkBit clients; Updraft does not act on it.
    NotActedOn,
}

/// One key as the console shows it.
pub struct Shown {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub group: Group,
    pub widget: Widget,
}

const fn shown(
    key: &'static str,
    label: &'static str,
    group: Group,
    widget: Widget,
    help: &'static str,
) -> Shown {
    Shown {
        key,
        label,
        help,
        group,
        widget,
    }
}

use Group::{Authentication, Deployment, NotActedOn, Polling};

/// The keys shown, in order. `multi.assignments.enabled` is not among them: Updraft does not offer
/// multi-assignment (the Management API refuses to switch it on), so the console offers no switch.
pub const SHOWN: &[Shown] = &[
    shown(
        "authentication.targettoken.enabled",
        "Device tokens",
        Authentication,
        Widget::Switch,
        "Each device authenticates with its own security token (Authorization: TargetToken …).",
    ),
    shown(
        "authentication.gatewaytoken.enabled",
        "Gateway token",
        Authentication,
        Widget::Switch,
        "Any device may authenticate with the tenant's shared gateway token (Authorization: GatewayToken …).",
    ),
    shown(
        "authentication.gatewaytoken.key",
        "Gateway token value",
        Authentication,
        Widget::Text,
        "The shared gateway token; keep it secret.",
    ),
    shown(
        "authentication.header.enabled",
        "Client certificates via proxy",
        Authentication,
        Widget::Switch,
        "Devices authenticate by a client certificate checked by a reverse proxy, which passes the issuer hash in a header.",
    ),
    shown(
        "authentication.header.authority",
        "Trusted issuer hashes",
        Authentication,
        Widget::Text,
        "The issuer hashes the proxy may pass for certificate authentication, separated by ; or ,.",
    ),
    shown(
        "pollingTime",
        "Polling interval",
        Polling,
        Widget::Hms,
        "How often devices ask for work. Per-device-group overrides (HH:MM:SS, then a comma and more) can be set through the Management API.",
    ),
    shown(
        "pollingOverdueTime",
        "Overdue after",
        Polling,
        Widget::Hms,
        "How long after its polling interval a silent device counts as overdue.",
    ),
    shown(
        "maintenanceWindowPollCount",
        "Polls per maintenance window",
        Polling,
        Widget::Number("polls"),
        "How many polls a device should make within a maintenance window.",
    ),
    shown(
        "rollout.approval.enabled",
        "Rollouts need approval",
        Deployment,
        Widget::Switch,
        "A new rollout waits for someone with APPROVE_ROLLOUT before it can start.",
    ),
    shown(
        "repository.actions.autoclose.enabled",
        "New assignment closes open ones",
        Deployment,
        Widget::Switch,
        "A new assignment closes a device's open actions instead of canceling them first.",
    ),
    shown(
        "user.confirmation.flow.enabled",
        "Devices confirm updates",
        Deployment,
        Widget::Switch,
        "Devices (or their users) must confirm an update before it is installed.",
    ),
    shown(
        "implicit.lock.enabled",
        "Lock sets on assignment",
        Deployment,
        Widget::Switch,
        "Assigning a distribution set locks it and its modules against changes.",
    ),
    shown(
        "batch.assignments.enabled",
        "Batch messages for gateways (DMF)",
        Deployment,
        Widget::Switch,
        "Gateways connected over AMQP receive one batch message per assignment to many devices.",
    ),
    shown(
        "auto.assignment.approval.enabled",
        "Auto-assignments need approval",
        NotActedOn,
        Widget::Switch,
        "hawkBit's approval of auto-assignments; Updraft starts auto-assignments without one.",
    ),
    shown(
        "action.cleanup.auto.expiry",
        "Delete closed actions after",
        NotActedOn,
        Widget::Millis,
        "hawkBit's action cleanup; Updraft deletes closed actions after action_retention_days of the server configuration instead. Empty: never.",
    ),
    shown(
        "action.cleanup.auto.status",
        "Statuses the cleanup deletes",
        NotActedOn,
        Widget::Text,
        "hawkBit's action cleanup, comma-separated statuses (CANCELED, ERROR, FINISHED).",
    ),
    shown(
        "action.cleanup.onQuotaHit.percent",
        "Cleanup on quota hit",
        NotActedOn,
        Widget::Number("%"),
        "hawkBit deletes this percentage of a device's oldest closed actions when it hits its action quota.",
    ),
    shown(
        "action.delete.allowed.statuses",
        "Deletable action statuses",
        NotActedOn,
        Widget::Text,
        "hawkBit's statuses in which actions may be deleted.",
    ),
];

/// The units a duration widget offers, with their length in seconds.
pub fn units(w: Widget) -> &'static [(&'static str, i64)] {
    match w {
        Widget::Hms => &[("seconds", 1), ("minutes", 60), ("hours", 3600)],
        Widget::Millis => &[("minutes", 60), ("hours", 3600), ("days", 86_400)],
        _ => &[],
    }
}

/// Seconds as the largest unit of `w` that divides them: (amount, unit).
fn in_units(w: Widget, secs: i64) -> (i64, &'static str) {
    let us = units(w);
    let (name, len) = us
        .iter()
        .rev()
        .find(|(_, len)| secs % len == 0)
        .or_else(|| us.first())
        .copied()
        .unwrap_or(("seconds", 1));
    (secs / len, name)
}

/// A stored duration as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// A negative stored value: the feature is off.
    Never,
    /// This many of this unit.
    Of(i64, &'static str),
}

/// A stored duration as the console shows it: `None` when the stored text does not fit the widget
/// (a polling time with overrides, shown as text instead).
pub fn to_amount(w: Widget, stored: &str) -> Option<Amount> {
    match w {
        Widget::Hms => {
            let s = crate::polling::parse_hms(stored.trim())?;
            let (n, unit) = in_units(w, i64::try_from(s.as_secs()).ok()?);
            Some(Amount::Of(n, unit))
        }
        Widget::Millis => {
            let ms: i64 = stored.trim().parse().ok()?;
            if ms < 0 {
                return Some(Amount::Never);
            }
            // Minutes are the smallest unit shown; a value stored in finer steps is rounded up.
            let (n, unit) = in_units(w, (ms + 59_999) / 60_000 * 60);
            Some(Amount::Of(n, unit))
        }
        _ => None,
    }
}

/// What a person typed for a duration, as the stored text; a refusal is a sentence.
pub fn from_amount(s: &Shown, amount: &str, unit: &str) -> Result<String, String> {
    let amount = amount.trim();
    let Some(&(_, len)) = units(s.widget).iter().find(|(n, _)| *n == unit) else {
        return Err(format!("{} needs a unit: {}.", s.label, names(s.widget)));
    };
    if amount.is_empty() && s.widget == Widget::Millis {
        return Ok("-1".to_owned());
    }
    let n: i64 = amount.parse().map_err(|_| {
        format!(
            "{} must be a whole number of {} (you entered “{amount}”).",
            s.label,
            names(s.widget)
        )
    })?;
    if n < 0 || (n == 0 && s.widget == Widget::Hms) {
        return Err(format!("{} must be more than zero.", s.label));
    }
    let secs = n
        .checked_mul(len)
        .filter(|s| *s < 100 * 365 * 86_400)
        .ok_or_else(|| format!("{} must be less than 100 years.", s.label))?;
    Ok(match s.widget {
        Widget::Millis => (secs * 1000).to_string(),
        _ => format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
    })
}

fn names(w: Widget) -> String {
    units(w).iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> &'static Shown {
        SHOWN.iter().find(|s| s.key == k).unwrap_or(&SHOWN[0])
    }

    #[test]
    fn durations_round_trip_through_their_units() {
        let expiry = key("action.cleanup.auto.expiry");
        assert_eq!(from_amount(expiry, "30", "days").as_deref(), Ok("2592000000"));
        assert_eq!(
            to_amount(Widget::Millis, "2592000000"),
            Some(Amount::Of(30, "days"))
        );
        assert_eq!(
            to_amount(Widget::Millis, "5400000"),
            Some(Amount::Of(90, "minutes"))
        );
        assert_eq!(from_amount(expiry, "", "days").as_deref(), Ok("-1"));
        assert_eq!(to_amount(Widget::Millis, "-1"), Some(Amount::Never));
        let polling = key("pollingTime");
        assert_eq!(from_amount(polling, "90", "seconds").as_deref(), Ok("00:01:30"));
        assert_eq!(to_amount(Widget::Hms, "00:05:00"), Some(Amount::Of(5, "minutes")));
        assert_eq!(to_amount(Widget::Hms, "00:05:00, 00:01:00"), None);
        assert!(
            from_amount(polling, "five", "minutes").is_err_and(|e| e.contains("whole number of seconds"))
        );
        assert!(from_amount(polling, "0", "minutes").is_err());
        assert!(from_amount(polling, "5", "fortnights").is_err());
    }

    #[test]
    fn every_shown_key_is_a_hawkbit_key_and_multi_assignment_is_not_offered() {
        for s in SHOWN {
            assert!(crate::store::tenants::key_def(s.key).is_some(), "{}", s.key);
        }
        assert!(SHOWN.iter().all(|s| s.key != "multi.assignments.enabled"));
    }
}
