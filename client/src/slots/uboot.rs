//! U-Boot environment backend: a native `fw_printenv`/`fw_setenv` compatible env codec and a
//! boot-count scheme in the style of U-Boot's `BOOTCOUNT_ENV` and Mender.
//!
//! Env format (u-boot `env/common.c`, libubootenv `src/uboot_env.c`):
//! - single copy: `crc32 (u32 LE) | data`, data = `name=value\0...\0\0` padded with `\0` to `size - 4`;
//!   the CRC covers the whole data area including padding;
//! - redundant: two copies of `crc32 (u32 LE) | flags (u8) | data`; the CRC does not cover `flags`. The
//!   valid copy with the newer flags wins (255 → 0 wraps), equal flags pick copy 1. A write goes to the
//!   other copy with `flags + 1`, so the old copy stays the fallback until the new one is complete.
//!
//! Variables (all written by the client in one env write, so each step is atomic):
//! - `boot_slot` = `A`|`B`: the slot the script boots;
//! - `upgrade_available` = `1` while `boot_slot` is an uncommitted trial, else `0`;
//! - `bootcount`: boots of the trial so far (the script increments it while `upgrade_available=1`);
//! - `bootlimit`: trial boots allowed before falling back (default 1: one trial, like tryboot);
//! - `mmcpart` is derived by the script from `boot_slot` (2 for A, 3 for B), and `ustate=3`
//!   (SWUpdate's FAILED) records a fallback the bootloader did on its own.
//!
//! The matching `boot.scr` part is [`BOOT_SCR`].
//!
//! A missing or corrupt env makes U-Boot use its default env, where the script boots A. Our writes never
//! leave it corrupt (redundant: the other copy stays valid; single: the file is replaced atomically),
//! but a single env written in place at a raw offset could be torn: use the redundant env there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BootStatus, Result, Slot, SlotBackend, SlotError, Storage};

pub type EnvVars = BTreeMap<String, String>;

/// The slot selection for `boot.scr` (compile with `mkimage -T script`). Stock U-Boot builds (Debian's
/// `rpi_arm64`) have no `BOOTCOUNT_LIMIT`, so the counting is in the script, as in RAUC's script;
/// `setexpr` computes in hex, which is fine for counts below 10. It runs `saveenv` only during a trial,
/// so normal boots never write the env. `tests/qemu_uboot.rs` runs it in Debian's U-Boot under QEMU.
pub const BOOT_SCR: &str = r#"test -n "${boot_slot}" || setenv boot_slot A
test -n "${bootlimit}" || setenv bootlimit 1
if test "${upgrade_available}" = 1; then
  test -n "${bootcount}" || setenv bootcount 0
  setexpr bootcount ${bootcount} + 1
  if test ${bootcount} -gt ${bootlimit}; then
    if test "${boot_slot}" = A; then setenv boot_slot B; else setenv boot_slot A; fi
    setenv upgrade_available 0; setenv bootcount 0; setenv ustate 3
  fi
  saveenv
fi
if test "${boot_slot}" = A; then setenv mmcpart 2; else setenv mmcpart 3; fi
setenv bootargs "${bootargs} root=/dev/mmcblk0p${mmcpart} updraft.slot=${boot_slot}"
"#;

/// One env copy: a file (or block device) and the offset of the env in it, as in `fw_env.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCopy {
    pub path: PathBuf,
    pub offset: u64,
}

/// Where the env lives: one copy, or two for the redundant env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLayout {
    pub copies: Vec<EnvCopy>,
    pub size: usize,
}

impl EnvLayout {
    pub fn single(path: impl Into<PathBuf>, size: usize) -> Self {
        EnvLayout {
            copies: vec![EnvCopy {
                path: path.into(),
                offset: 0,
            }],
            size,
        }
    }

    pub fn redundant(first: impl Into<PathBuf>, second: impl Into<PathBuf>, size: usize) -> Self {
        EnvLayout {
            copies: vec![
                EnvCopy {
                    path: first.into(),
                    offset: 0,
                },
                EnvCopy {
                    path: second.into(),
                    offset: 0,
                },
            ],
            size,
        }
    }

    /// Parses `fw_env.config` (`device offset size [sectorsize [nsectors]]`, `#` comments); one line is
    /// a single env, two lines a redundant one. Negative (from the end of a device) offsets are not
    /// supported.
    pub fn from_fw_env_config(text: &str) -> Result<Self> {
        let mut copies = Vec::new();
        let mut size = None;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [path, offset, len, ..] = fields.as_slice() else {
                return Err(SlotError::Format(format!("fw_env.config: {line:?}")));
            };
            let offset = parse_number(offset)?;
            let len = usize::try_from(parse_number(len)?).map_err(|_| SlotError::Format(line.to_owned()))?;
            if size.is_some_and(|s| s != len) {
                return Err(SlotError::Format(
                    "fw_env.config: copies of different sizes".into(),
                ));
            }
            size = Some(len);
            copies.push(EnvCopy {
                path: PathBuf::from(path),
                offset,
            });
        }
        match (copies.len(), size) {
            (1 | 2, Some(size)) if size > 5 => Ok(EnvLayout { copies, size }),
            _ => Err(SlotError::Format(
                "fw_env.config needs one or two env lines".into(),
            )),
        }
    }

    pub fn is_redundant(&self) -> bool {
        self.copies.len() == 2
    }

    /// The same layout as `fw_env.config` lines (`device offset size`).
    pub fn fw_env_config(&self) -> String {
        self.copies
            .iter()
            .map(|c| format!("{} {:#x} {:#x}", c.path.display(), c.offset, self.size))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }
}

fn parse_number(text: &str) -> Result<u64> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| SlotError::Format(format!("fw_env.config: bad number {text:?}")))
}

/// Encodes `vars` into one env copy of `size` bytes; `flags` is `Some` for a redundant copy.
pub fn encode(vars: &EnvVars, size: usize, flags: Option<u8>) -> Result<Vec<u8>> {
    let header = if flags.is_some() { 5 } else { 4 };
    let mut data = Vec::with_capacity(size);
    for (k, v) in vars {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(SlotError::Format(format!("invalid U-Boot variable {k:?}")));
        }
        data.extend_from_slice(k.as_bytes());
        data.push(b'=');
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    data.push(0);
    if header + data.len() > size {
        return Err(SlotError::Format(format!("env does not fit in {size} bytes")));
    }
    data.resize(size - header, 0);
    let mut out = crc32fast::hash(&data).to_le_bytes().to_vec();
    out.extend(flags);
    out.extend_from_slice(&data);
    Ok(out)
}

/// Decodes one env copy; the flags byte is returned for a redundant copy.
pub fn decode(buf: &[u8], redundant: bool) -> Result<(Option<u8>, EnvVars)> {
    let header = if redundant { 5 } else { 4 };
    if buf.len() <= header {
        return Err(SlotError::Format("env too short".into()));
    }
    let crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let data = &buf[header..];
    if crc32fast::hash(data) != crc {
        return Err(SlotError::Format("env CRC mismatch".into()));
    }
    let mut vars = EnvVars::new();
    let mut rest = data;
    loop {
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| SlotError::Format("env data not terminated".into()))?;
        if end == 0 {
            break;
        }
        let entry = String::from_utf8_lossy(&rest[..end]);
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| SlotError::Format(format!("env entry without '=': {entry:?}")))?;
        vars.insert(k.to_owned(), v.to_owned());
        rest = &rest[end + 1..];
    }
    Ok(((redundant).then_some(buf[4]), vars))
}

/// U-Boot's `env_check_redund`: the newer flags win, with 255 → 0 wrapping; a tie picks copy 1.
fn newer(a: u8, b: u8) -> bool {
    match (a, b) {
        (255, 0) => false,
        (0, 255) => true,
        _ => a >= b,
    }
}

/// Reads and writes the env the way U-Boot and libubootenv do.
pub struct EnvStore {
    storage: Arc<dyn Storage>,
    layout: EnvLayout,
    lock: Option<PathBuf>,
}

/// The lock file libubootenv's `fw_setenv` takes (flock) around a read-modify-write.
pub const FW_ENV_LOCK: &str = "/var/lock/fw_printenv.lock";

/// The current env: its variables and, for a redundant env, which copy holds them.
struct Loaded {
    vars: EnvVars,
    current: Option<(usize, u8)>,
}

impl EnvStore {
    pub fn new(storage: Arc<dyn Storage>, layout: EnvLayout) -> Self {
        EnvStore {
            storage,
            layout,
            lock: None,
        }
    }

    /// Takes the flock on `path` (normally [`FW_ENV_LOCK`]) around every save, so the client and a
    /// `fw_setenv` on the device never interleave their read-modify-write cycles.
    #[must_use]
    pub fn with_lock(mut self, path: impl Into<PathBuf>) -> Self {
        self.lock = Some(path.into());
        self
    }

    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _guard = match &self.lock {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(false)
                    .open(path)?;
                file.lock()?;
                Some(file)
            }
            None => None,
        };
        f()
    }

    pub fn layout(&self) -> &EnvLayout {
        &self.layout
    }

    fn read_copy(&self, copy: &EnvCopy) -> Option<(Option<u8>, EnvVars)> {
        let raw = self.storage.read(&copy.path).ok()?;
        let start = usize::try_from(copy.offset).ok()?;
        let buf = raw.get(start..start + self.layout.size)?;
        decode(buf, self.layout.is_redundant()).ok()
    }

    fn load_full(&self) -> Loaded {
        let copies: Vec<_> = self.layout.copies.iter().map(|c| self.read_copy(c)).collect();
        let best = match copies.as_slice() {
            [Some((Some(f0), _)), Some((Some(f1), _))] => Some(usize::from(!newer(*f0, *f1))),
            [Some(_), ..] => Some(0),
            [None, Some(_)] => Some(1),
            _ => None,
        };
        match best.and_then(|i| copies[i].clone().map(|c| (i, c))) {
            Some((i, (flags, vars))) => Loaded {
                vars,
                current: flags.map(|f| (i, f)),
            },
            // Like U-Boot with no valid copy: the (empty) default env.
            None => Loaded {
                vars: EnvVars::new(),
                current: None,
            },
        }
    }

    /// The env U-Boot would see; empty when no copy is valid.
    pub fn load(&self) -> EnvVars {
        self.load_full().vars
    }

    /// Saves `vars`. Redundant: the non-current copy gets `flags + 1` in place. Single: the whole file
    /// is replaced through temp + fsync + rename, since an in-place write could tear the only copy.
    pub fn save(&self, vars: &EnvVars) -> Result<()> {
        self.locked(|| self.save_unlocked(vars))
    }

    fn save_unlocked(&self, vars: &EnvVars) -> Result<()> {
        if self.layout.is_redundant() {
            let (target, flags) = match self.load_full().current {
                Some((i, f)) => (1 - i, f.wrapping_add(1)),
                None => (0, 1),
            };
            let bytes = encode(vars, self.layout.size, Some(flags))?;
            let copy = &self.layout.copies[target];
            self.storage.write_at(&copy.path, copy.offset, &bytes)?;
        } else {
            let copy = &self.layout.copies[0];
            // Replacing by rename only works for a file (uboot.env on FAT, ENV_IS_IN_FAT); an env at a
            // raw offset of a block device would need an in-place write that a cut can tear.
            if std::fs::metadata(&copy.path).is_ok_and(|m| !m.is_file()) {
                return Err(SlotError::Refused(format!(
                    "single-copy env on {} is not a regular file: use a redundant env",
                    copy.path.display()
                )));
            }
            let bytes = encode(vars, self.layout.size, None)?;
            let mut file = self.storage.read(&copy.path).unwrap_or_default();
            let start = usize::try_from(copy.offset).map_err(|_| SlotError::Format("offset".into()))?;
            if file.len() < start + bytes.len() {
                file.resize(start + bytes.len(), 0);
            }
            file[start..start + bytes.len()].copy_from_slice(&bytes);
            self.storage.replace(&copy.path, &file)?;
        }
        Ok(())
    }

    /// Applies `change` and saves only when something changed, so idempotent steps write nothing.
    pub fn update(&self, change: impl FnOnce(&mut EnvVars)) -> Result<()> {
        self.locked(|| {
            let old = self.load();
            let mut new = old.clone();
            change(&mut new);
            if new == old {
                Ok(())
            } else {
                self.save_unlocked(&new)
            }
        })
    }
}

/// The U-Boot env backend with the boot-count scheme described in the module docs.
pub struct UbootEnv {
    env: EnvStore,
    storage: Arc<dyn Storage>,
    cmdline: PathBuf,
    bootlimit: u32,
}

fn var<'a>(vars: &'a EnvVars, name: &str) -> &'a str {
    vars.get(name).map_or("", String::as_str)
}

/// `boot_slot` as the script reads it: anything but `B` boots A.
pub(crate) fn boot_slot(vars: &EnvVars) -> Slot {
    if var(vars, "boot_slot") == "B" {
        Slot::B
    } else {
        Slot::A
    }
}

impl UbootEnv {
    /// `cmdline` is `/proc/cmdline` on a device (the script adds `updraft.slot=`).
    pub fn new(storage: Arc<dyn Storage>, layout: EnvLayout, cmdline: impl Into<PathBuf>) -> Self {
        UbootEnv {
            env: EnvStore::new(storage.clone(), layout),
            storage,
            cmdline: cmdline.into(),
            bootlimit: 1,
        }
    }

    /// Shares `fw_setenv`'s lock file (see [`EnvStore::with_lock`]).
    #[must_use]
    pub fn with_lock(mut self, path: impl Into<PathBuf>) -> Self {
        self.env = EnvStore {
            lock: Some(path.into()),
            ..self.env
        };
        self
    }

    /// Trial boots allowed before U-Boot falls back (written as `bootlimit` when arming).
    #[must_use]
    pub fn with_bootlimit(mut self, bootlimit: u32) -> Self {
        self.bootlimit = bootlimit.max(1);
        self
    }

    pub fn env(&self) -> &EnvStore {
        &self.env
    }

    pub fn cmdline(&self) -> &Path {
        &self.cmdline
    }
}

impl SlotBackend for UbootEnv {
    fn name(&self) -> &'static str {
        "uboot"
    }

    fn status(&self) -> Result<BootStatus> {
        let vars = self.env.load();
        let booted = super::slot_from_cmdline(self.storage.as_ref(), &self.cmdline)?;
        let target = boot_slot(&vars);
        let armed = var(&vars, "upgrade_available") == "1";
        let committed = if armed { target.other() } else { target };
        Ok(BootStatus {
            booted,
            committed,
            trial: armed && booted == target,
        })
    }

    fn prepare_install(&self, target: Slot) -> Result<()> {
        let booted = self.booted()?;
        if target == booted {
            return Err(SlotError::Refused(format!("slot {target} is the booted slot")));
        }
        // Point the script at the running slot and drop any stale trial: from here on a power cut
        // during the install boots the slot we are running.
        self.env.update(|v| {
            v.insert("boot_slot".into(), booted.to_string());
            v.insert("upgrade_available".into(), "0".into());
            v.insert("bootcount".into(), "0".into());
        })
    }

    fn arm_trial(&self, target: Slot) -> Result<()> {
        let bootlimit = self.bootlimit.to_string();
        self.env.update(|v| {
            v.insert("boot_slot".into(), target.to_string());
            v.insert("upgrade_available".into(), "1".into());
            v.insert("bootcount".into(), "0".into());
            v.insert("bootlimit".into(), bootlimit);
        })
    }

    fn commit(&self) -> Result<()> {
        let status = self.status()?;
        if status.committed == status.booted {
            return Ok(());
        }
        if !status.trial {
            return Err(SlotError::Refused(format!(
                "booted slot {} is not the trial slot",
                status.booted
            )));
        }
        self.env.update(|v| {
            v.insert("upgrade_available".into(), "0".into());
            v.insert("bootcount".into(), "0".into());
            v.insert("ustate".into(), "0".into());
        })
    }

    fn rollback(&self) -> Result<()> {
        let committed = self.status()?.committed;
        self.env.update(|v| {
            v.insert("boot_slot".into(), committed.to_string());
            v.insert("upgrade_available".into(), "0".into());
            v.insert("bootcount".into(), "0".into());
        })
    }
}
