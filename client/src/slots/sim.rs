//! A simulated bootloader backend, and firmware models of every backend for tests.
//!
//! [`SimBootloader`] keeps "the firmware's" state in a small JSON file (`committed`, `armed`); on a
//! simulated reboot ([`SimFirmware`], `updraft sim boot|reboot`) it boots the armed slot once,
//! otherwise the committed one. `updraft sim fail-next-boot` makes the next trial boot fail, so the
//! firmware falls back to the committed slot as U-Boot's boot counter would. Each boot writes a new
//! boot id (`boot-id`, the sim backend's default `[agent] boot_id_file`) and clears the reboot the
//! agent asked for (`reboot-requested`, written by the sim backend's default `reboot_command`).
//! The other firmware models run the documented U-Boot and GRUB scripts and the Pi firmware's tryboot
//! rules against the real on-disk formats, with the same codecs the client uses, and write what the
//! kernel would show (`updraft.slot=` on the command line, device-tree nodes).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::grub::{self, GrubEnvFile};
use super::tryboot::{Autoboot, RpiTryboot};
use super::uboot::{self, EnvLayout, EnvStore};
use super::{BootStatus, RealFs, Result, Slot, SlotBackend, SlotError, Storage};

/// Something that boots a slot: the bootloader plus firmware. Boots write through [`RealFs`]: the
/// firmware runs after the simulated power cut.
pub trait Firmware {
    fn boot(&self) -> Result<Slot>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct SimState {
    committed: Slot,
    armed: Option<Slot>,
    /// The next trial boot fails (set by `updraft sim fail-next-boot`).
    #[serde(default)]
    fail_next_boot: bool,
}

/// What the simulated firmware booted last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimBooted {
    /// The slot running now.
    pub slot: Slot,
    /// It runs a trial boot (the armed slot, booted once).
    pub trial: bool,
    /// The armed slot that failed to boot before the firmware fell back to `slot`.
    #[serde(default)]
    pub failed: Option<Slot>,
    /// Boots since the state directory was created: the boot id.
    #[serde(default)]
    pub boot: u64,
}

const DEFAULT_STATE: SimState = SimState {
    committed: Slot::A,
    armed: None,
    fail_next_boot: false,
};

/// The boot id file of the simulated device, in its state directory.
pub const BOOT_ID_FILE: &str = "boot-id";
/// Written by the sim backend's default `reboot_command`: the agent asked for a reboot.
pub const REBOOT_REQUESTED_FILE: &str = "reboot-requested";
const STATE_FILE: &str = "sim-state.json";
const BOOTED_FILE: &str = "sim-booted.json";

fn load_json<T: for<'de> Deserialize<'de>>(storage: &dyn Storage, path: &std::path::Path) -> Option<T> {
    serde_json::from_slice(&storage.read(path).ok()?).ok()
}

fn save_json<T: Serialize>(storage: &dyn Storage, path: &std::path::Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| SlotError::Format(e.to_string()))?;
    storage.replace(path, &bytes)?;
    Ok(())
}

/// The simulated bootloader: state in `<dir>/sim-state.json`, the last boot in `<dir>/sim-booted.json`.
pub struct SimBootloader {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
}

impl SimBootloader {
    pub fn new(storage: Arc<dyn Storage>, dir: impl Into<PathBuf>) -> Self {
        SimBootloader {
            storage,
            dir: dir.into(),
        }
    }

    fn state(&self) -> SimState {
        load_json(self.storage.as_ref(), &self.dir.join(STATE_FILE)).unwrap_or(DEFAULT_STATE)
    }

    fn set_state(&self, state: SimState) -> Result<()> {
        if self.state() == state {
            return Ok(());
        }
        save_json(self.storage.as_ref(), &self.dir.join(STATE_FILE), &state)
    }

    /// The last boot of the simulated firmware; an error naming `updraft sim boot` before the first.
    pub fn last_boot(&self) -> Result<SimBooted> {
        load_json(self.storage.as_ref(), &self.dir.join(BOOTED_FILE)).ok_or_else(|| {
            SlotError::UnknownBootedSlot(format!(
                "the simulated device in {} has not been booted yet; run `updraft sim boot` to \
                 start it (on slot A the first time)",
                self.dir.display()
            ))
        })
    }

    /// The slot armed for the next boot, if any.
    pub fn armed(&self) -> Option<Slot> {
        self.state().armed
    }

    /// Whether the next trial boot is set to fail.
    pub fn fails_next_boot(&self) -> bool {
        self.state().fail_next_boot
    }

    /// Makes the next trial boot fail (or not): the firmware then falls back to the committed slot.
    pub fn set_fail_next_boot(&self, fail: bool) -> Result<()> {
        let state = self.state();
        self.set_state(SimState {
            fail_next_boot: fail,
            ..state
        })
    }

    /// The agent asked for a reboot that has not happened yet.
    pub fn reboot_requested(&self) -> bool {
        self.storage.read(&self.dir.join(REBOOT_REQUESTED_FILE)).is_ok()
    }
}

impl SlotBackend for SimBootloader {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn status(&self) -> Result<BootStatus> {
        let booted = self.last_boot()?;
        let committed = self.state().committed;
        Ok(BootStatus {
            booted: booted.slot,
            committed,
            trial: booted.trial && booted.slot != committed,
        })
    }

    fn prepare_install(&self, target: Slot) -> Result<()> {
        let state = self.state();
        if target == self.booted()? {
            return Err(SlotError::Refused(format!("slot {target} is the booted slot")));
        }
        self.set_state(SimState { armed: None, ..state })
    }

    fn arm_trial(&self, target: Slot) -> Result<()> {
        let state = self.state();
        self.set_state(SimState {
            armed: Some(target),
            ..state
        })
    }

    fn commit(&self) -> Result<()> {
        let status = self.status()?;
        if !status.trial && status.committed != status.booted {
            return Err(SlotError::Refused(format!(
                "booted slot {} is not a trial",
                status.booted
            )));
        }
        let state = self.state();
        self.set_state(SimState {
            committed: status.booted,
            armed: None,
            ..state
        })
    }

    fn rollback(&self) -> Result<()> {
        let state = self.state();
        self.set_state(SimState { armed: None, ..state })
    }
}

/// The simulated firmware of [`SimBootloader`].
pub struct SimFirmware {
    pub dir: PathBuf,
}

impl SimFirmware {
    /// Boots (or reboots) the simulated device: the armed slot once on trial, unless the trial is set
    /// to fail, else the committed slot. Answers what came up.
    pub fn power_cycle(&self) -> Result<SimBooted> {
        let state: SimState = load_json(&RealFs, &self.dir.join(STATE_FILE)).unwrap_or(DEFAULT_STATE);
        let previous: Option<SimBooted> = load_json(&RealFs, &self.dir.join(BOOTED_FILE));
        let boot = previous.map_or(1, |b| b.boot + 1);
        let booted = match state.armed {
            Some(slot) => {
                // One shot: consumed before the trial slot starts, like tryboot or EFI BootNext. A
                // trial set to fail hangs before the client runs; the firmware falls back.
                save_json(
                    &RealFs,
                    &self.dir.join(STATE_FILE),
                    &SimState {
                        armed: None,
                        fail_next_boot: false,
                        ..state
                    },
                )?;
                if state.fail_next_boot {
                    SimBooted {
                        slot: state.committed,
                        trial: false,
                        failed: Some(slot),
                        boot,
                    }
                } else {
                    SimBooted {
                        slot,
                        trial: true,
                        failed: None,
                        boot,
                    }
                }
            }
            None => SimBooted {
                slot: state.committed,
                trial: false,
                failed: None,
                boot,
            },
        };
        save_json(&RealFs, &self.dir.join(BOOTED_FILE), &booted)?;
        RealFs.replace(
            &self.dir.join(BOOT_ID_FILE),
            format!("sim-boot-{boot}\n").as_bytes(),
        )?;
        RealFs.remove(&self.dir.join(REBOOT_REQUESTED_FILE))?;
        Ok(booted)
    }
}

impl Firmware for SimFirmware {
    fn boot(&self) -> Result<Slot> {
        Ok(self.power_cycle()?.slot)
    }
}

fn write_cmdline(path: &std::path::Path, slot: Slot) -> Result<()> {
    RealFs.replace(
        path,
        format!("console=ttyS0 root=/dev/slot{slot} updraft.slot={slot}\n").as_bytes(),
    )?;
    Ok(())
}

/// Runs the `boot.scr` from the [`uboot`] module docs.
pub struct UbootFirmware {
    pub layout: EnvLayout,
    pub cmdline: PathBuf,
}

impl Firmware for UbootFirmware {
    fn boot(&self) -> Result<Slot> {
        let env = EnvStore::new(Arc::new(RealFs), self.layout.clone());
        let mut vars = env.load();
        if vars.get("upgrade_available").is_some_and(|v| v == "1") {
            let count = vars
                .get("bootcount")
                .and_then(|v| u32::from_str_radix(v, 16).ok())
                .unwrap_or(0)
                + 1;
            let limit = vars
                .get("bootlimit")
                .and_then(|v| u32::from_str_radix(v, 16).ok())
                .unwrap_or(1);
            vars.insert("bootcount".into(), format!("{count:x}"));
            if count > limit {
                let back = uboot::boot_slot(&vars).other();
                vars.insert("boot_slot".into(), back.to_string());
                vars.insert("upgrade_available".into(), "0".into());
                vars.insert("bootcount".into(), "0".into());
                vars.insert("ustate".into(), "3".into());
            }
            env.save(&vars)?;
        }
        let slot = uboot::boot_slot(&vars);
        write_cmdline(&self.cmdline, slot)?;
        Ok(slot)
    }
}

/// Runs the `grub.cfg` from the [`grub`] module docs.
pub struct GrubFirmware {
    pub grubenv: PathBuf,
    pub cmdline: PathBuf,
}

impl Firmware for GrubFirmware {
    fn boot(&self) -> Result<Slot> {
        let env = GrubEnvFile::new(Arc::new(RealFs), &self.grubenv);
        // GRUB's load_env on an unreadable block leaves the variables unset: the script's defaults.
        let vars = env.load().unwrap_or_default();
        let one = |k: &str| vars.get(k).is_some_and(|v| v == "1");
        let slot = if one("A_TRY") || one("B_TRY") {
            let slot = if one("A_TRY") { Slot::A } else { Slot::B };
            env.update(|v| {
                v.insert(format!("{slot}_TRY"), "0".into());
            })?;
            slot
        } else {
            grub::default_slot(&vars)
        };
        write_cmdline(&self.cmdline, slot)?;
        Ok(slot)
    }
}

/// The Pi EEPROM bootloader: reads `autoboot.txt`, consumes the tryboot flag, fills the device tree.
pub struct RpiFirmware {
    pub autoboot: PathBuf,
    pub flag: PathBuf,
    pub device_tree: PathBuf,
    pub partitions: [u32; 2],
}

impl Firmware for RpiFirmware {
    fn boot(&self) -> Result<Slot> {
        let tryboot = RealFs.read(&self.flag).is_ok();
        // The bootloader clears the flag before it starts the firmware.
        RealFs.remove(&self.flag)?;
        let autoboot = RealFs
            .read(&self.autoboot)
            .ok()
            .and_then(|raw| Autoboot::parse(&String::from_utf8_lossy(&raw)).ok());
        // Unreadable autoboot.txt or unbootable partition: the firmware fails over to the first slot.
        let partition = match autoboot {
            Some(a) if tryboot => a.tryboot,
            Some(a) => a.all,
            None => self.partitions[0],
        };
        let partition = if self.partitions.contains(&partition) {
            partition
        } else {
            self.partitions[0]
        };
        let node = self.device_tree.join("chosen/bootloader");
        std::fs::create_dir_all(&node)?;
        RealFs.replace(&node.join("partition"), &partition.to_be_bytes())?;
        RealFs.replace(&node.join("tryboot"), &u32::from(tryboot).to_be_bytes())?;
        let probe = RpiTryboot::new(
            Arc::new(RealFs),
            &self.autoboot,
            &self.device_tree,
            Box::new(NoFlag),
        )
        .with_partitions(self.partitions[0], self.partitions[1]);
        probe.slot_of(partition)
    }
}

struct NoFlag;

impl super::tryboot::TrybootFlag for NoFlag {
    fn set(&self, _: bool) -> Result<()> {
        Ok(())
    }

    fn get(&self) -> Result<bool> {
        Ok(false)
    }
}
