//! SWUpdate's script handlers (`shellscript`, `preinstall`, `postinstall`), run only from signed
//! bundles: a script is code the device executes as root, so it must come under the same signature
//! as the images.
//!
//! The stream cannot go back, so a script that must run before the images (`preinstall`, and
//! `shellscript` with `preinst`) has to come before them in the archive; one that comes later is
//! refused. After-install scripts run once every image is written and verified, before the slot is
//! armed: a failing one fails the install.

use std::io::Read;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::slots::{RealFs, Slot, Storage};

/// Largest script accepted; they are read into memory to be checked before they run.
const MAX_SCRIPT: u64 = 1024 * 1024;

pub struct Scripts {
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
    after: Vec<(PathBuf, &'static str)>,
}

/// When a script handler runs, and with which argument (SWUpdate's `preinst`/`postinst`).
fn phases(handler: &str) -> anyhow::Result<(bool, bool)> {
    Ok(match handler {
        "shellscript" => (true, true),
        "preinstall" => (true, false),
        "postinstall" => (false, true),
        other => {
            bail!("script handler {other:?} is not supported (shellscript, preinstall, postinstall are)")
        }
    })
}

/// Checks a script artifact at planning time: the handler is known and the bundle is signed.
pub fn check(name: &str, handler: &str, signed: bool) -> anyhow::Result<()> {
    if !signed {
        bail!("{name:?}: scripts run only from signed bundles; set [bundle] ca to the trusted signer");
    }
    phases(handler).map(|_| ())
}

impl Scripts {
    pub fn new(data_dir: &Path, target: Slot, device: &Path) -> Self {
        Scripts {
            dir: data_dir.join("scripts"),
            env: vec![
                ("UPDRAFT_TARGET_SLOT", target.to_string()),
                ("UPDRAFT_TARGET_DEVICE", device.display().to_string()),
            ],
            after: Vec::new(),
        }
    }

    /// Reads a script (bounded); the caller verifies its hash before calling [`Scripts::take`].
    pub fn read(data: &mut dyn Read, name: &str) -> anyhow::Result<Vec<u8>> {
        let mut buf = Vec::new();
        data.take(MAX_SCRIPT + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_SCRIPT {
            bail!("{name:?}: scripts may be at most {MAX_SCRIPT} bytes");
        }
        Ok(buf)
    }

    /// Stores a verified script; runs its before-install part now (refused once images were
    /// written) and keeps its after-install part for [`Scripts::run_after`].
    pub fn take(
        &mut self,
        name: &str,
        handler: &str,
        body: &[u8],
        images_written: usize,
    ) -> anyhow::Result<()> {
        let (before, after) = phases(handler)?;
        if before && images_written > 0 {
            bail!("{name:?}: a {handler} script must come before the images in the bundle");
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let file_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.dir.join(file_name);
        RealFs.replace(&path, body)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        if before {
            self.run(
                &path,
                if handler == "shellscript" {
                    Some("preinst")
                } else {
                    None
                },
            )?;
        }
        if after {
            self.after
                .push((path, if handler == "shellscript" { "postinst" } else { "" }));
        }
        Ok(())
    }

    /// Runs the after-install scripts in bundle order.
    pub fn run_after(&self) -> anyhow::Result<()> {
        for (path, arg) in &self.after {
            self.run(path, (!arg.is_empty()).then_some(*arg))?;
        }
        Ok(())
    }

    fn run(&self, path: &Path, arg: Option<&str>) -> anyhow::Result<()> {
        tracing::info!(script = %path.display(), ?arg, "running install script");
        let mut cmd = Command::new("sh");
        cmd.arg(path)
            .args(arg)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        let out = cmd
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "script {} failed ({}): {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}
