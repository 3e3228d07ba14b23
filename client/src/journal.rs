//! The update journal: one small JSON file on the data partition recording the phase of the current
//! update, written with temp + fsync + rename so a power cut leaves the previous or the new record.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::slots::{Result, Slot, SlotError, Storage};

/// Why an update ended on the old slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackReason {
    /// The power was cut (or the client died) while the image was written; the slot is garbage.
    InstallInterrupted,
    /// The trial boot came up but failed its health check.
    Unhealthy,
    /// We came back on the old slot although a trial was armed: the trial slot did not boot (or hung
    /// before the client ran) and the bootloader fell back.
    BootedOldSlot,
    /// The trial slot booted and the client started its health check, but the device was reset
    /// (watchdog, power loss) before the commit, and the bootloader came back on the old slot.
    TrialReset,
}

impl RollbackReason {
    /// What happened, as a clause for messages: "the new slot failed its health check". `old` is
    /// the slot the device runs again.
    pub fn describe(self, old: Slot) -> String {
        match self {
            RollbackReason::InstallInterrupted => "the install was interrupted".into(),
            RollbackReason::Unhealthy => "the new slot failed its health check".into(),
            RollbackReason::BootedOldSlot => {
                format!("the new slot did not boot, and the bootloader fell back to slot {old}")
            }
            RollbackReason::TrialReset => format!(
                "the new slot was reset (watchdog or power loss) before it was committed, and the \
                 bootloader fell back to slot {old}"
            ),
        }
    }

    /// The value of the `updraft.rollback_reason` attribute (docs/fleet-health.md); `None` for an
    /// interrupted install, which never got to a trial.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            RollbackReason::InstallInterrupted => None,
            RollbackReason::Unhealthy => Some("health"),
            RollbackReason::BootedOldSlot => Some("bootloader"),
            RollbackReason::TrialReset => Some("watchdog"),
        }
    }
}

impl std::fmt::Display for RollbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RollbackReason::InstallInterrupted => "the install was interrupted",
            RollbackReason::Unhealthy => "the new slot failed its health check",
            RollbackReason::BootedOldSlot => "the new slot did not boot and the bootloader fell back",
            RollbackReason::TrialReset => "the new slot was reset before it was committed",
        })
    }
}

/// The phase of the current (or last) update, in the order it goes through them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Idle,
    /// Writing the image to `slot`; the slot is unbootable until the phase moves on.
    Installing {
        slot: Slot,
        version: String,
    },
    /// Image written and verified; the bootloader is (being) armed for one trial boot of `slot`.
    Armed {
        slot: Slot,
        version: String,
    },
    /// Running the trial boot of `slot`, health check pending.
    Trial {
        slot: Slot,
        version: String,
    },
    Committed {
        slot: Slot,
        version: String,
    },
    RolledBack {
        slot: Slot,
        version: String,
        reason: RollbackReason,
    },
}

impl Phase {
    /// Nothing is in flight.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Phase::Idle | Phase::Committed { .. } | Phase::RolledBack { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// hawkBit action id of the update, if it came from the server.
    pub action_id: Option<String>,
    #[serde(flatten)]
    pub phase: Phase,
    /// Unix seconds of the start of the update and of the last phase change.
    pub started_at: u64,
    pub updated_at: u64,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            action_id: None,
            phase: Phase::Idle,
            started_at: 0,
            updated_at: 0,
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the journal lives (e.g. `/data/updraft/journal.json`).
pub struct JournalStore {
    storage: Arc<dyn Storage>,
    path: PathBuf,
}

impl JournalStore {
    pub fn new(storage: Arc<dyn Storage>, path: impl Into<PathBuf>) -> Self {
        JournalStore {
            storage,
            path: path.into(),
        }
    }

    /// The journal; `Idle` when none was written yet.
    pub fn load(&self) -> Result<Journal> {
        match self.storage.read(&self.path) {
            Ok(raw) => serde_json::from_slice(&raw).map_err(|e| SlotError::Journal(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn save(&self, journal: &Journal) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(journal).map_err(|e| SlotError::Journal(e.to_string()))?;
        self.storage.replace(&self.path, &bytes)?;
        Ok(())
    }

    /// Moves the journal to `phase`, keeping action id and start time.
    pub fn advance(&self, phase: Phase) -> Result<Journal> {
        let mut journal = self.load()?;
        journal.phase = phase;
        journal.updated_at = now();
        self.save(&journal)?;
        Ok(journal)
    }
}
