//! GRUB environment block backend (`grubenv`, GRUB's `lib/envblk.c`).
//!
//! Format: exactly 1024 bytes, `# GRUB Environment Block\n`, then `name=value\n` lines (a `\` or newline
//! inside a value is preceded by `\`), padded with `#`. No checksum, so the block is always replaced as
//! a whole (temp + fsync + rename), never edited in place.
//!
//! Variables (RAUC's GRUB names, with a one-shot trial instead of RAUC's per-boot try flag):
//! - `ORDER` = `"A B"` or `"B A"`: preference order of known-good slots, the first is the default;
//! - `A_OK`/`B_OK` = `1` when the slot holds a committed, known-good system, else `0`;
//! - `A_TRY`/`B_TRY` = `1` when the slot is armed for one trial boot; GRUB clears it before booting.
//!
//! The matching `grub.cfg` part is [`GRUB_CFG`] (checked with `grub-script-check` in the tests).
//! A trial is a boot of a slot whose `X_OK` is not `1`; commit sets `X_OK=1` and puts X first in `ORDER`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{BootStatus, Result, Slot, SlotBackend, SlotError, Storage};

pub const GRUBENV_SIZE: usize = 1024;

/// The slot selection for `grub.cfg`. Menu entries need `--id A` / `--id B` and add
/// `updraft.slot=A|B` to the kernel command line. A pending trial wins, and its `X_TRY` is cleared
/// *before* booting it (GRUB's `save_env` rewrites the 1024-byte block in place), so any reset during
/// the trial falls back to the first good slot in `ORDER`.
pub const GRUB_CFG: &str = r#"load_env
if [ -z "${ORDER}" ]; then set ORDER="A B"; set A_OK=1; fi
set default=""
if [ "${A_TRY}" = 1 ]; then set A_TRY=0; save_env A_TRY; set default=A
elif [ "${B_TRY}" = 1 ]; then set B_TRY=0; save_env B_TRY; set default=B
else
  for SLOT in ${ORDER}; do
    if [ "${SLOT}" = A -a "${A_OK}" = 1 ]; then set default=A; break; fi
    if [ "${SLOT}" = B -a "${B_OK}" = 1 ]; then set default=B; break; fi
  done
fi
if [ -z "${default}" ]; then set default=A; fi
"#;
const HEADER: &str = "# GRUB Environment Block\n";

pub type GrubVars = BTreeMap<String, String>;

pub fn encode(vars: &GrubVars) -> Result<Vec<u8>> {
    let mut out = HEADER.as_bytes().to_vec();
    for (k, v) in vars {
        if k.is_empty() || k.contains(['=', '\n']) {
            return Err(SlotError::Format(format!("invalid GRUB variable {k:?}")));
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        for b in v.bytes() {
            if b == b'\\' || b == b'\n' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'\n');
    }
    if out.len() > GRUBENV_SIZE {
        return Err(SlotError::Format("grubenv does not fit in 1024 bytes".into()));
    }
    out.resize(GRUBENV_SIZE, b'#');
    Ok(out)
}

pub fn decode(buf: &[u8]) -> Result<GrubVars> {
    let body = buf
        .strip_prefix(HEADER.as_bytes())
        .ok_or_else(|| SlotError::Format("missing GRUB environment block header".into()))?;
    if buf.len() != GRUBENV_SIZE {
        return Err(SlotError::Format(format!(
            "grubenv is {} bytes, not 1024",
            buf.len()
        )));
    }
    let mut vars = GrubVars::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'#' {
            // A comment or the padding: skip to the end of the line.
            i += body[i..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(body.len() - i, |p| p + 1);
            continue;
        }
        let mut line = Vec::new();
        let mut closed = false;
        while i < body.len() {
            match body[i] {
                b'\\' if i + 1 < body.len() => {
                    line.push(body[i + 1]);
                    i += 2;
                }
                b'\n' => {
                    i += 1;
                    closed = true;
                    break;
                }
                b => {
                    line.push(b);
                    i += 1;
                }
            }
        }
        if !closed {
            return Err(SlotError::Format("unterminated grubenv line".into()));
        }
        let line = String::from_utf8_lossy(&line);
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(vars)
}

fn ok_var(slot: Slot) -> String {
    format!("{slot}_OK")
}

fn try_var(slot: Slot) -> String {
    format!("{slot}_TRY")
}

/// The slot `grub.cfg` boots when no trial is armed.
pub fn default_slot(vars: &GrubVars) -> Slot {
    let Some(order) = vars.get("ORDER") else {
        return Slot::A;
    };
    order
        .split_whitespace()
        .filter_map(|s| s.parse::<Slot>().ok())
        .find(|s| vars.get(&ok_var(*s)).is_some_and(|v| v == "1"))
        .unwrap_or(Slot::A)
}

/// Reads and replaces the grubenv file.
pub struct GrubEnvFile {
    storage: Arc<dyn Storage>,
    path: PathBuf,
}

impl GrubEnvFile {
    pub fn new(storage: Arc<dyn Storage>, path: impl Into<PathBuf>) -> Self {
        GrubEnvFile {
            storage,
            path: path.into(),
        }
    }

    /// The env with the script's defaults filled in (`ORDER="A B"`, `A_OK=1`) when it is missing.
    pub fn load(&self) -> Result<GrubVars> {
        let mut vars = match self.storage.read(&self.path) {
            Ok(buf) => decode(&buf)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => GrubVars::new(),
            Err(e) => return Err(e.into()),
        };
        if !vars.contains_key("ORDER") {
            vars.insert("ORDER".into(), "A B".into());
            vars.insert("A_OK".into(), "1".into());
        }
        Ok(vars)
    }

    pub fn update(&self, change: impl FnOnce(&mut GrubVars)) -> Result<()> {
        let old = self.load()?;
        let mut new = old.clone();
        change(&mut new);
        if new == old && self.storage.read(&self.path).is_ok() {
            return Ok(());
        }
        self.storage.replace(&self.path, &encode(&new)?)?;
        Ok(())
    }
}

/// The GRUB env backend.
pub struct GrubEnv {
    env: GrubEnvFile,
    storage: Arc<dyn Storage>,
    cmdline: PathBuf,
}

impl GrubEnv {
    pub fn new(storage: Arc<dyn Storage>, grubenv: impl Into<PathBuf>, cmdline: impl Into<PathBuf>) -> Self {
        GrubEnv {
            env: GrubEnvFile::new(storage.clone(), grubenv),
            storage,
            cmdline: cmdline.into(),
        }
    }
}

impl SlotBackend for GrubEnv {
    fn name(&self) -> &'static str {
        "grub"
    }

    fn status(&self) -> Result<BootStatus> {
        let vars = self.env.load()?;
        let booted = super::slot_from_cmdline(self.storage.as_ref(), &self.cmdline)?;
        let committed = default_slot(&vars);
        let booted_ok = vars.get(&ok_var(booted)).is_some_and(|v| v == "1");
        Ok(BootStatus {
            booted,
            committed,
            trial: !booted_ok,
        })
    }

    fn prepare_install(&self, target: Slot) -> Result<()> {
        if target == self.booted()? {
            return Err(SlotError::Refused(format!("slot {target} is the booted slot")));
        }
        self.env.update(|v| {
            v.insert(ok_var(target), "0".into());
            v.insert(try_var(target), "0".into());
        })
    }

    fn arm_trial(&self, target: Slot) -> Result<()> {
        self.env.update(|v| {
            v.insert(try_var(target), "1".into());
        })
    }

    fn commit(&self) -> Result<()> {
        let status = self.status()?;
        if !status.trial && status.committed == status.booted {
            return Ok(());
        }
        let booted = status.booted;
        self.env.update(|v| {
            v.insert(ok_var(booted), "1".into());
            v.insert(try_var(booted), "0".into());
            v.insert("ORDER".into(), format!("{booted} {}", booted.other()));
        })
    }

    fn rollback(&self) -> Result<()> {
        let status = self.status()?;
        self.env.update(|v| {
            for slot in [Slot::A, Slot::B] {
                v.insert(try_var(slot), "0".into());
            }
            if status.trial {
                v.insert(ok_var(status.booted), "0".into());
            }
        })
    }
}
