//! A/B slot switching: one file per bootloader backend plus the update state machine.
//!
//! Every backend answers the same questions (RAUC's custom-backend verbs `get-current`, `get-primary`,
//! `set-primary`, `set-state`; Rugix's `BootFlow`): which slot is booted, which one the bootloader boots
//! by default, whether this boot is a not-yet-committed trial, and it can arm the other slot for one
//! trial boot, commit the booted trial, or roll back. All on-disk changes go through [`Storage`], which
//! only offers power-cut safe operations and lets tests cut the power after any write.

pub mod grub;
pub mod machine;
pub mod sim;
pub mod storage;
pub mod tryboot;
pub mod uboot;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use grub::GrubEnv;
pub use machine::{Outcome, Updater};
pub use sim::SimBootloader;
pub use storage::{PowerCut, RealFs, Storage};
pub use tryboot::RpiTryboot;
pub use uboot::UbootEnv;

/// One of the two A/B slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    #[must_use]
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Slot {
    type Err = SlotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "A" | "a" => Ok(Slot::A),
            "B" | "b" => Ok(Slot::B),
            other => Err(SlotError::Format(format!("unknown slot name {other:?}"))),
        }
    }
}

/// What the bootloader reports about the current boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootStatus {
    /// The slot the running system was booted from.
    pub booted: Slot,
    /// The slot the bootloader boots when no trial is armed (RAUC's "primary").
    pub committed: Slot,
    /// This boot is a trial of `booted` that has not been committed yet.
    pub trial: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad on-disk format: {0}")]
    Format(String),
    #[error("cannot tell which slot is booted: {0}")]
    UnknownBootedSlot(String),
    #[error("refusing: {0}")]
    Refused(String),
    #[error("journal: {0}")]
    Journal(String),
}

pub type Result<T, E = SlotError> = std::result::Result<T, E>;

/// A bootloader's view of the A/B slots.
///
/// Implementations must keep every single write power-cut safe: after a cut at any point the
/// bootloader sees either the old or the new state, never a torn one.
pub trait SlotBackend {
    fn name(&self) -> &'static str;

    /// Booted slot, default slot, and whether this boot is an uncommitted trial.
    fn status(&self) -> Result<BootStatus>;

    /// The slot we are running from.
    fn booted(&self) -> Result<Slot> {
        Ok(self.status()?.booted)
    }

    /// The slot an update goes to.
    fn other(&self) -> Result<Slot> {
        Ok(self.booted()?.other())
    }

    /// This boot is a trial that has not been committed.
    fn in_trial(&self) -> Result<bool> {
        Ok(self.status()?.trial)
    }

    /// Makes `target` unbootable (and clears any stale armed trial) before it is overwritten, so a
    /// power cut during the install can never boot a half-written slot.
    fn prepare_install(&self, target: Slot) -> Result<()>;

    /// Arms `target` for exactly one trial boot (or `bootlimit` attempts for U-Boot); the committed
    /// slot stays the fallback.
    fn arm_trial(&self, target: Slot) -> Result<()>;

    /// Makes the booted trial slot the default. Idempotent; refuses when the booted slot is
    /// not the trial one.
    fn commit(&self) -> Result<()>;

    /// Disarms any pending trial and keeps the committed slot as the default, so the next boot
    /// (now, if we run a failed trial) goes back to the committed slot. Idempotent.
    fn rollback(&self) -> Result<()>;
}

/// Reads the `updraft.slot=` parameter that the U-Boot and GRUB scripts put on the kernel
/// command line (the way RAUC uses `rauc.slot=`).
pub(crate) fn slot_from_cmdline(storage: &dyn Storage, path: &std::path::Path) -> Result<Slot> {
    let raw = storage
        .read(path)
        .map_err(|e| SlotError::UnknownBootedSlot(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .find_map(|p| p.strip_prefix("updraft.slot="))
        .ok_or_else(|| SlotError::UnknownBootedSlot(format!("no updraft.slot= in {}", path.display())))?
        .parse()
}
