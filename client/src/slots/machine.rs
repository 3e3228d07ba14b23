//! The update state machine: the journal plus what the backend reports decide the next step.
//!
//! Order of writes during an update (each one alone is power-cut safe):
//! 1. backend `prepare_install(target)`: target unbootable, stale trials disarmed;
//! 2. journal `Installing`; then the image is written and verified by the caller;
//! 3. journal `Armed` *before* the backend is armed (write-ahead: after a cut in between, the journal
//!    says more than happened, which recovery reads as "the trial did not boot");
//! 4. backend `arm_trial`; reboot;
//! 5. after the boot, [`Updater::recover`]: journal `Trial`, health check, backend `commit` then journal
//!    `Committed` (so a cut in between is recognised by the backend already being committed), or
//!    backend `rollback` then journal `RolledBack`.

use super::{Result, Slot, SlotBackend, SlotError};
use crate::journal::{Journal, JournalStore, Phase, RollbackReason, now};

/// What [`Updater::recover`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No update in flight.
    Nothing,
    /// The trial slot passed its health check and is now the default.
    Committed(Slot),
    /// The update ended on the old slot. With `reboot_needed`, we still run the failed trial slot and
    /// must reboot into the committed one.
    RolledBack {
        reason: RollbackReason,
        reboot_needed: bool,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Nothing => f.write_str("no update in flight"),
            Outcome::Committed(slot) => write!(f, "slot {slot} passed its health check and is committed"),
            Outcome::RolledBack {
                reason,
                reboot_needed,
            } => {
                write!(f, "rolled back: {reason}")?;
                if *reboot_needed {
                    f.write_str("; the committed slot boots next")?;
                }
                Ok(())
            }
        }
    }
}

pub struct Updater<'a> {
    backend: &'a dyn SlotBackend,
    journal: &'a JournalStore,
}

impl<'a> Updater<'a> {
    pub fn new(backend: &'a dyn SlotBackend, journal: &'a JournalStore) -> Self {
        Updater { backend, journal }
    }

    /// Starts an update: refuses while a trial is open or another update is in flight; returns the
    /// slot to write.
    pub fn begin_install(&self, action_id: Option<&str>, version: &str) -> Result<Slot> {
        let status = self.backend.status()?;
        if status.trial {
            return Err(SlotError::Refused(format!(
                "slot {} runs an uncommitted trial boot; run `updraft commit` to keep it or \
                 `updraft rollback` to go back, then install again",
                status.booted
            )));
        }
        let journal = self.journal.load()?;
        if let Some(why) = in_flight(&journal.phase) {
            return Err(SlotError::Refused(why));
        }
        let target = status.booted.other();
        self.backend.prepare_install(target)?;
        let at = now();
        self.journal.save(&Journal {
            action_id: action_id.map(str::to_owned),
            phase: Phase::Installing {
                slot: target,
                version: version.to_owned(),
            },
            started_at: at,
            updated_at: at,
        })?;
        Ok(target)
    }

    /// The image is written and verified: arm one trial boot. The caller reboots next.
    pub fn finish_install(&self) -> Result<Slot> {
        let Phase::Installing { slot, version } = self.journal.load()?.phase else {
            return Err(SlotError::Refused("no install in progress".into()));
        };
        self.journal.advance(Phase::Armed { slot, version })?;
        self.backend.arm_trial(slot)?;
        Ok(slot)
    }

    /// Runs on every start: reconciles the journal with what the bootloader booted. `healthy` is the
    /// health check of the trial slot; it is only called during an uncommitted trial.
    pub fn recover(&self, healthy: impl FnOnce(Slot) -> bool) -> Result<Outcome> {
        let journal = self.journal.load()?;
        let status = self.backend.status()?;
        let was_trial = matches!(journal.phase, Phase::Trial { .. });
        let (slot, version) = match journal.phase {
            Phase::Installing { slot, version } => {
                // The image may be half written: keep it unbootable and record the failure.
                self.backend.rollback()?;
                return self.rolled_back(
                    slot,
                    version,
                    RollbackReason::InstallInterrupted,
                    status.booted == slot,
                );
            }
            Phase::Armed { slot, version } | Phase::Trial { slot, version } => (slot, version),
            Phase::Idle | Phase::Committed { .. } | Phase::RolledBack { .. } => {
                if status.trial {
                    // A trial nobody asked for (a stale arm): never let it become the default.
                    self.backend.rollback()?;
                    return Ok(Outcome::RolledBack {
                        reason: RollbackReason::Unhealthy,
                        reboot_needed: true,
                    });
                }
                return Ok(Outcome::Nothing);
            }
        };
        if status.booted != slot {
            // From `Armed` the trial never reached the client: the bootloader fell back. From `Trial`
            // the client ran in it, so a reset (watchdog, power) ended the trial before its commit.
            let reason = if was_trial {
                RollbackReason::TrialReset
            } else {
                RollbackReason::BootedOldSlot
            };
            self.backend.rollback()?;
            return self.rolled_back(slot, version, reason, false);
        }
        if !status.trial {
            // From `Trial`: the commit reached the bootloader, the power went before the journal
            // followed. From `Armed` the bootloader cannot have been committed by us (its env was lost
            // or reset), so the slot has to pass the health check first.
            if status.committed == slot && (was_trial || healthy(slot)) {
                self.journal.advance(Phase::Committed { slot, version })?;
                return Ok(Outcome::Committed(slot));
            }
            self.backend.rollback()?;
            return self.rolled_back(slot, version, RollbackReason::Unhealthy, true);
        }
        self.journal.advance(Phase::Trial {
            slot,
            version: version.clone(),
        })?;
        if healthy(slot) {
            self.backend.commit()?;
            self.journal.advance(Phase::Committed { slot, version })?;
            Ok(Outcome::Committed(slot))
        } else {
            self.backend.rollback()?;
            self.rolled_back(slot, version, RollbackReason::Unhealthy, true)
        }
    }

    fn rolled_back(
        &self,
        slot: Slot,
        version: String,
        reason: RollbackReason,
        reboot_needed: bool,
    ) -> Result<Outcome> {
        self.journal.advance(Phase::RolledBack {
            slot,
            version,
            reason,
        })?;
        Ok(Outcome::RolledBack {
            reason,
            reboot_needed,
        })
    }
}

/// Why a new install has to wait for the update in flight, and what to do about it, as a sentence;
/// `None` when nothing is in flight.
pub fn in_flight(phase: &Phase) -> Option<String> {
    match phase {
        Phase::Idle | Phase::Committed { .. } | Phase::RolledBack { .. } => None,
        Phase::Installing { slot, version } => Some(format!(
            "an install of version {version} into slot {slot} is running or was interrupted; if none \
             is running, start `updraft agent` (it settles the journal at start-up) or run \
             `updraft rollback`, then install again"
        )),
        Phase::Armed { slot, version } => Some(format!(
            "version {version} is installed in slot {slot} and armed for a trial boot; reboot to try \
             it (`updraft agent` commits or rolls it back at start-up, or run `updraft commit`), or \
             run `updraft rollback` to drop it, then install again"
        )),
        Phase::Trial { slot, version } => Some(format!(
            "version {version} in slot {slot} is on trial and not committed yet; run `updraft \
             commit` to keep it or `updraft rollback` to go back, then install again"
        )),
    }
}
