//! Raspberry Pi firmware tryboot backend (Pi 4/400/CM4/5, EEPROM bootloader).
//!
//! `autoboot.txt` on the config FAT partition selects the slot (Raspberry Pi docs, `autoboot.adoc`):
//! ```text
//! [all]
//! tryboot_a_b=1
//! boot_partition=2
//! [tryboot]
//! boot_partition=3
//! ```
//! `[all]` is the committed slot; `[tryboot]` the one booted once when the one-shot tryboot flag is set.
//! The firmware clears the flag before it starts the OS, so any reset after a trial boots `[all]` again.
//! Arming sets the flag through [`TrybootFlag`] (on a device: `reboot '0 tryboot'`, or the mailbox tag
//! `0x00038064`); the booted partition and the trial come from `/proc/device-tree/chosen/bootloader/`
//! `partition` and `tryboot` (big-endian u32). Commit rewrites `autoboot.txt` with temp + fsync + rename.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BootStatus, Result, Slot, SlotBackend, SlotError, Storage};

/// The one-shot "next boot is a tryboot" flag.
pub trait TrybootFlag: Send + Sync {
    fn set(&self, armed: bool) -> Result<()>;
    fn get(&self) -> Result<bool>;
}

/// The flag as a marker file: the reboot step runs `reboot '0 tryboot'` when it exists (a Pi's reboot
/// argument, see raspberrypi/linux `rpi_firmware_notify_reboot`), and tests' firmware model consumes it.
pub struct MarkerFile {
    storage: Arc<dyn Storage>,
    path: PathBuf,
}

impl MarkerFile {
    pub fn new(storage: Arc<dyn Storage>, path: impl Into<PathBuf>) -> Self {
        MarkerFile {
            storage,
            path: path.into(),
        }
    }
}

impl TrybootFlag for MarkerFile {
    fn set(&self, armed: bool) -> Result<()> {
        if armed == self.get()? {
            return Ok(());
        }
        if armed {
            self.storage.replace(&self.path, b"0 tryboot\n")?;
        } else {
            self.storage.remove(&self.path)?;
        }
        Ok(())
    }

    fn get(&self) -> Result<bool> {
        match self.storage.read(&self.path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The two `boot_partition` values of `autoboot.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoboot {
    pub all: u32,
    pub tryboot: u32,
}

impl Autoboot {
    /// The canonical 64-byte file, as in the Raspberry Pi example (same length for either slot, so it
    /// stays one sector).
    pub fn render(self) -> String {
        format!(
            "[all]\ntryboot_a_b=1\nboot_partition={}\n[tryboot]\nboot_partition={}\n",
            self.all, self.tryboot
        )
    }

    /// Parses only what the firmware supports in `autoboot.txt`; refuses anything that does not set
    /// both partitions with `tryboot_a_b=1`, so we never commit over a file we do not understand.
    pub fn parse(text: &str) -> Result<Autoboot> {
        let (mut section, mut all, mut tryboot, mut ab) = ("all", None, None, false);
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            match line {
                "[all]" => section = "all",
                "[tryboot]" => section = "tryboot",
                "[none]" => section = "none",
                _ => {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| SlotError::Format(format!("autoboot.txt: {line:?}")))?;
                    match (section, k.trim()) {
                        ("all", "tryboot_a_b") => ab = v.trim() == "1",
                        ("all", "boot_partition") => all = v.trim().parse().ok(),
                        ("tryboot", "boot_partition") => tryboot = v.trim().parse().ok(),
                        ("none", _) => {}
                        _ => return Err(SlotError::Format(format!("autoboot.txt: unsupported {line:?}"))),
                    }
                }
            }
        }
        match (all, tryboot, ab) {
            (Some(all), Some(tryboot), true) => Ok(Autoboot { all, tryboot }),
            _ => Err(SlotError::Format(
                "autoboot.txt lacks tryboot_a_b=1 or a boot_partition".into(),
            )),
        }
    }
}

/// The Raspberry Pi tryboot backend.
pub struct RpiTryboot {
    storage: Arc<dyn Storage>,
    autoboot: PathBuf,
    device_tree: PathBuf,
    flag: Box<dyn TrybootFlag>,
    /// Boot partitions of slot A and slot B (p2 and p3 in the usual layout).
    partitions: [u32; 2],
}

/// Reads a big-endian u32 device-tree property.
pub fn read_dt_u32(storage: &dyn Storage, path: &Path) -> Result<u32> {
    let raw = storage
        .read(path)
        .map_err(|e| SlotError::UnknownBootedSlot(format!("{}: {e}", path.display())))?;
    let bytes: [u8; 4] = raw
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SlotError::UnknownBootedSlot(format!("{} is not a u32", path.display())))?;
    Ok(u32::from_be_bytes(bytes))
}

impl RpiTryboot {
    /// `autoboot` is `autoboot.txt` on the mounted config partition; `device_tree` is `/proc/device-tree`.
    pub fn new(
        storage: Arc<dyn Storage>,
        autoboot: impl Into<PathBuf>,
        device_tree: impl Into<PathBuf>,
        flag: Box<dyn TrybootFlag>,
    ) -> Self {
        RpiTryboot {
            storage,
            autoboot: autoboot.into(),
            device_tree: device_tree.into(),
            flag,
            partitions: [2, 3],
        }
    }

    #[must_use]
    pub fn with_partitions(mut self, a: u32, b: u32) -> Self {
        self.partitions = [a, b];
        self
    }

    pub fn partition(&self, slot: Slot) -> u32 {
        self.partitions[usize::from(slot == Slot::B)]
    }

    pub fn slot_of(&self, partition: u32) -> Result<Slot> {
        match self.partitions.iter().position(|p| *p == partition) {
            Some(0) => Ok(Slot::A),
            Some(_) => Ok(Slot::B),
            None => Err(SlotError::UnknownBootedSlot(format!(
                "partition {partition} is not a slot"
            ))),
        }
    }

    pub fn autoboot(&self) -> Result<Autoboot> {
        let raw = self.storage.read(&self.autoboot)?;
        Autoboot::parse(&String::from_utf8_lossy(&raw))
    }

    fn write_autoboot(&self, wanted: Autoboot) -> Result<()> {
        if self.autoboot().ok() == Some(wanted) {
            return Ok(());
        }
        self.storage.replace(&self.autoboot, wanted.render().as_bytes())?;
        Ok(())
    }

    fn bootloader_node(&self, name: &str) -> PathBuf {
        self.device_tree.join("chosen/bootloader").join(name)
    }
}

impl SlotBackend for RpiTryboot {
    fn name(&self) -> &'static str {
        "rpi-tryboot"
    }

    fn status(&self) -> Result<BootStatus> {
        let partition = read_dt_u32(self.storage.as_ref(), &self.bootloader_node("partition"))?;
        if partition == 0 {
            // Early Pi 5 EEPROMs (2024-04) put 0 here whatever they booted (rpi-eeprom issue #575).
            return Err(SlotError::UnknownBootedSlot(format!(
                "{} is 0: this bootloader EEPROM does not report the boot partition; update it \
                 (rpi-eeprom-update)",
                self.bootloader_node("partition").display()
            )));
        }
        let booted = self.slot_of(partition)?;
        let tryboot = read_dt_u32(self.storage.as_ref(), &self.bootloader_node("tryboot"))? == 1;
        let committed = self.slot_of(self.autoboot()?.all)?;
        // Only a tryboot of a slot that is not `[all]` is an open trial (Raspberry Pi docs: commit only
        // when tryboot == 1 and the booted partition is the `[tryboot]` one).
        Ok(BootStatus {
            booted,
            committed,
            trial: tryboot && booted != committed,
        })
    }

    fn prepare_install(&self, target: Slot) -> Result<()> {
        if target == self.booted()? {
            return Err(SlotError::Refused(format!("slot {target} is the booted slot")));
        }
        self.flag.set(false)
    }

    fn arm_trial(&self, target: Slot) -> Result<()> {
        let committed = self.slot_of(self.autoboot()?.all)?;
        if committed == target {
            return Err(SlotError::Refused(format!("slot {target} is already committed")));
        }
        // Normally unchanged: `[tryboot]` already names the other slot.
        self.write_autoboot(Autoboot {
            all: self.partition(committed),
            tryboot: self.partition(target),
        })?;
        self.flag.set(true)
    }

    fn commit(&self) -> Result<()> {
        let status = self.status()?;
        if !status.trial {
            if status.committed == status.booted {
                return Ok(());
            }
            return Err(SlotError::Refused(format!(
                "booted slot {} is not a trial",
                status.booted
            )));
        }
        self.write_autoboot(Autoboot {
            all: self.partition(status.booted),
            tryboot: self.partition(status.booted.other()),
        })
    }

    fn rollback(&self) -> Result<()> {
        // `[all]` still names the committed slot; a failed trial only needs the flag off and a reboot.
        self.flag.set(false)
    }
}
