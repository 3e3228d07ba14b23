//! The device's side of fleet health (`docs/fleet-health.md`): the `updraft.*` attributes that tell
//! the server which slot runs, what each slot holds, how the last trial ended and whether the device
//! is healthy.
//!
//! What they are built from outlives the journal's single record (the last trial's outcome, the
//! health verdict, boots since the commit), so it is kept in `<data_dir>/fleet-state.json` together
//! with the attribute set the server last accepted: the agent sends the set only when it differs
//! (or when the server asks), not on every poll.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::journal::{Journal, Phase};
use crate::slots::{BootStatus, RealFs, Slot, Storage};

/// The state file, in the data dir.
pub const STATE_FILE: &str = "fleet-state.json";

/// What the agent remembers between polls and boots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetState {
    /// The attribute set the server last accepted.
    #[serde(default)]
    pub sent: BTreeMap<String, String>,
    /// The version in slot A and slot B, as far as known (empty: unknown or half written).
    #[serde(default)]
    pub versions: [String; 2],
    /// `committed` or `rolled_back`: how the last trial ended.
    pub outcome: Option<String>,
    /// `bootloader`, `health` or `watchdog`: why the last rollback happened.
    pub rollback_reason: Option<String>,
    /// `ok` or `failed: <reason>`: the last health check.
    pub health: Option<String>,
    /// The boot the last observation was made in.
    pub boot_id: Option<String>,
    /// Boots since the last committed update, the boot that committed it included.
    #[serde(default)]
    pub boot_count: u64,
    /// Unix seconds of the last commit (the journal's time of it).
    pub committed_at: Option<u64>,
}

impl FleetState {
    /// The saved state; a missing or unreadable file starts afresh (it only holds what is re-learnt).
    pub fn load(data_dir: &Path) -> FleetState {
        std::fs::read(data_dir.join(STATE_FILE))
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .unwrap_or_default()
    }

    /// Writes the state: temp file, fsync, rename.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        RealFs.replace(&data_dir.join(STATE_FILE), &bytes)?;
        Ok(())
    }

    fn version_mut(&mut self, slot: Slot) -> &mut String {
        match slot {
            Slot::A => &mut self.versions[0],
            Slot::B => &mut self.versions[1],
        }
    }

    pub fn version(&self, slot: Slot) -> &str {
        match slot {
            Slot::A => &self.versions[0],
            Slot::B => &self.versions[1],
        }
    }

    /// Learns from the journal and the bootloader what changed since the last observation.
    /// `running_version` is what the device says it runs (`[device] version`), `boot_id` this boot.
    pub fn observe(
        &mut self,
        journal: &Journal,
        status: BootStatus,
        running_version: Option<&str>,
        boot_id: Option<&str>,
    ) {
        let mut journal_names_booted = false;
        match &journal.phase {
            Phase::Idle => {}
            Phase::Installing { slot, .. } => self.version_mut(*slot).clear(),
            Phase::Armed { slot, version } | Phase::Trial { slot, version } => {
                version.clone_into(self.version_mut(*slot));
                journal_names_booted = *slot == status.booted;
            }
            Phase::Committed { slot, version } => {
                version.clone_into(self.version_mut(*slot));
                if status.booted != *slot && !status.trial {
                    // Committed, and yet the other slot came up: the bootloader went back.
                    self.outcome = Some("rolled_back".into());
                    self.rollback_reason = Some("bootloader".into());
                } else {
                    journal_names_booted = true;
                    self.outcome = Some("committed".into());
                    if self.committed_at != Some(journal.updated_at) {
                        self.committed_at = Some(journal.updated_at);
                        self.boot_count = 1;
                        self.boot_id = boot_id.map(str::to_owned);
                    }
                }
            }
            Phase::RolledBack {
                slot,
                version,
                reason,
            } => match reason.attribute() {
                None => self.version_mut(*slot).clear(),
                Some(why) => {
                    version.clone_into(self.version_mut(*slot));
                    self.outcome = Some("rolled_back".into());
                    self.rollback_reason = Some(why.to_owned());
                }
            },
        }
        if !journal_names_booted && let Some(v) = running_version {
            v.clone_into(self.version_mut(status.booted));
        }
        if let Some(id) = boot_id
            && self.boot_id.as_deref() != Some(id)
        {
            self.boot_id = Some(id.to_owned());
            self.boot_count += 1;
        }
    }

    /// The `updraft.*` attributes (docs/fleet-health.md) of this state. `in_flight`: an update is
    /// being installed, armed or tried.
    pub fn attributes(&self, status: BootStatus, in_flight: bool) -> BTreeMap<String, String> {
        let name = |s: Slot| s.as_str().to_ascii_lowercase();
        let mut a = BTreeMap::new();
        a.insert("updraft.slot.booted".into(), name(status.booted));
        a.insert("updraft.slot.committed".into(), name(status.committed));
        a.insert("updraft.slot.a.version".into(), self.versions[0].clone());
        a.insert("updraft.slot.b.version".into(), self.versions[1].clone());
        let trial = if status.trial || in_flight {
            "running"
        } else {
            "none"
        };
        a.insert("updraft.trial".into(), trial.into());
        if let Some(o) = &self.outcome {
            a.insert("updraft.trial.outcome".into(), o.clone());
        }
        if let Some(r) = &self.rollback_reason {
            a.insert("updraft.rollback_reason".into(), r.clone());
        }
        if let Some(h) = &self.health {
            a.insert("updraft.health".into(), h.clone());
        }
        a.insert("updraft.boot_count".into(), self.boot_count.to_string());
        if let Some(at) = self.committed_at {
            a.insert("updraft.update.committed_at".into(), rfc3339(at));
        }
        a.insert("updraft.client.version".into(), env!("CARGO_PKG_VERSION").into());
        // What the agent can install besides full bundles: chunk deltas (`*.zck`) and per-source
        // patches (`*.patch.swu`); the server offers patches only to devices that say so.
        a.insert("updraft.delta".into(), "chunk,patch".into());
        let running = self.version(status.booted);
        if !running.is_empty() {
            a.insert("updraft.version".into(), running.to_owned());
        }
        a.into_iter().map(|(k, v)| (k, attribute_value(&v))).collect()
    }
}

/// `value` as the server takes it (hawkBit's rule): at most 128 characters, each a letter, digit,
/// whitespace or one of `_-!@#$%^&*()+=[]{}|;:'",.<>/\?`; anything else becomes `_`.
pub fn attribute_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ' ' || "_-!@#$%^&*()+=[]{}|;:'\",.<>/\\?".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

/// `secs` since the Unix epoch as RFC 3339 UTC, e.g. `2026-12-07T03:04:05Z`.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RollbackReason;

    fn status(booted: Slot, committed: Slot, trial: bool) -> BootStatus {
        BootStatus {
            booted,
            committed,
            trial,
        }
    }

    fn journal(phase: Phase, at: u64) -> Journal {
        Journal {
            action_id: Some("7".into()),
            phase,
            started_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn values_are_what_the_server_takes() {
        assert_eq!(
            attribute_value("failed: exit code 1 (`df` says 99%)"),
            "failed: exit code 1 (_df_ says 99%)"
        );
        assert_eq!(attribute_value("1.0~rc1\tx"), "1.0_rc1_x");
        assert_eq!(attribute_value(&"é".repeat(200)).chars().count(), 128);
    }

    #[test]
    fn rfc3339_is_utc_calendar_time() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_526_245), "2026-12-06T03:04:05Z");
    }

    #[test]
    fn a_commit_starts_the_boot_count_and_a_fallback_is_a_bootloader_rollback() {
        let mut s = FleetState::default();
        s.observe(
            &Journal::default(),
            status(Slot::A, Slot::A, false),
            Some("1.0"),
            Some("boot1"),
        );
        let a = s.attributes(status(Slot::A, Slot::A, false), false);
        assert_eq!(a["updraft.slot.booted"], "a");
        assert_eq!(a["updraft.slot.a.version"], "1.0");
        assert_eq!(a["updraft.slot.b.version"], "");
        assert_eq!(a["updraft.trial"], "none");
        assert!(!a.contains_key("updraft.trial.outcome"));

        let committed = journal(
            Phase::Committed {
                slot: Slot::B,
                version: "2.0".into(),
            },
            100,
        );
        s.observe(
            &committed,
            status(Slot::B, Slot::B, false),
            Some("1.0"),
            Some("boot2"),
        );
        s.observe(
            &committed,
            status(Slot::B, Slot::B, false),
            Some("1.0"),
            Some("boot2"),
        );
        let a = s.attributes(status(Slot::B, Slot::B, false), false);
        assert_eq!(
            a["updraft.version"], "2.0",
            "the journal names the running version"
        );
        assert_eq!(a["updraft.slot.a.version"], "1.0");
        assert_eq!(a["updraft.trial.outcome"], "committed");
        assert_eq!(a["updraft.boot_count"], "1");
        assert_eq!(a["updraft.update.committed_at"], "1970-01-01T00:01:40Z");
        s.observe(
            &committed,
            status(Slot::B, Slot::B, false),
            Some("1.0"),
            Some("boot3"),
        );
        assert_eq!(s.boot_count, 2);

        let back = journal(
            Phase::RolledBack {
                slot: Slot::A,
                version: "3.0".into(),
                reason: RollbackReason::BootedOldSlot,
            },
            200,
        );
        s.observe(&back, status(Slot::B, Slot::B, false), Some("2.0"), Some("boot4"));
        let a = s.attributes(status(Slot::B, Slot::B, false), false);
        assert_eq!(a["updraft.trial.outcome"], "rolled_back");
        assert_eq!(a["updraft.rollback_reason"], "bootloader");
        assert_eq!(
            a["updraft.slot.a.version"], "3.0",
            "the image is in slot A, not committed"
        );
        assert_eq!(a["updraft.boot_count"], "3", "a rollback is no new commit");
    }
}
