//! `updraft install|status|commit|rollback`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::config::Config;
use crate::install;
use crate::journal::RollbackReason;
use crate::progress::Progress;
use crate::slots::{Outcome, Updater};

#[derive(Args)]
pub struct InstallArgs {
    /// The `.swu` bundle to install: a local file, or an http(s) URL streamed straight into the
    /// slot (resumed with Range when the connection breaks).
    pub file: PathBuf,
    /// Install even if the bundle's version is not newer than the running one.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: StatusArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    /// Client configuration file.
    #[arg(long = "config", env = "UPDRAFT_CONFIG", value_name = "FILE", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
}

impl StatusArgs {
    pub fn load(&self) -> anyhow::Result<Config> {
        Config::load(Some(&self.config))
    }
}

pub fn install(args: &InstallArgs) -> anyhow::Result<()> {
    let file = args.file.to_string_lossy();
    let config = args.config.load()?;
    let done = if file.starts_with("http://") || file.starts_with("https://") {
        let download = crate::agent::ddi::download_url(&config, &file)?;
        let total = download.length();
        install::install_from(
            &config,
            Progress::new(download, "installing", total),
            &file,
            args.force,
            None,
        )?
    } else {
        let source =
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        let total = source.metadata().ok().map(|m| m.len());
        install::install_from(
            &config,
            Progress::new(source, "installing", total),
            &file,
            args.force,
            None,
        )?
    };
    if !done.armed {
        outln!(
            "nothing to install: every image of version {} is installed already ({} skipped by \
             install-if-different or install-if-higher); slot {} was not touched",
            done.version,
            done.skipped,
            done.slot
        );
        return Ok(());
    }
    let skipped = if done.skipped > 0 {
        format!(", {} already installed and skipped", done.skipped)
    } else {
        String::new()
    };
    outln!(
        "installed version {} ({} image(s){skipped}) into slot {}; slot {} is armed for one trial boot",
        done.version,
        done.images,
        done.slot,
        done.slot
    );
    outln!(
        "next: reboot to try slot {}, then run `updraft commit` if it is healthy",
        done.slot
    );
    Ok(())
}

pub fn commit(args: &StatusArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let backend = config.backend()?;
    let journal = config.journal();
    let status = backend.status()?;
    if !status.trial {
        bail!("nothing to commit: slot {} is not booted on trial", status.booted);
    }
    // Running `commit` is the health verdict: the operator (or a health service) checked the slot.
    match Updater::new(backend.as_ref(), &journal).recover(|_| true)? {
        Outcome::Committed(slot) => {
            outln!("committed slot {slot}: it is now the default");
            Ok(())
        }
        other => bail!("not committed: {}", outcome(other)),
    }
}

pub fn rollback(args: &StatusArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let backend = config.backend()?;
    let journal = config.journal();
    let in_flight = !journal.load()?.phase.is_final();
    if !in_flight && !backend.in_trial()? {
        backend.rollback()?;
        outln!(
            "nothing to roll back: slot {} is committed and booted",
            backend.booted()?
        );
        return Ok(());
    }
    match Updater::new(backend.as_ref(), &journal).recover(|_| false)? {
        Outcome::RolledBack {
            reason,
            reboot_needed,
        } => {
            let committed = backend.status()?.committed;
            // `recover(|_| false)` calls the trial unhealthy: here that verdict is the operator's.
            let why = match reason {
                RollbackReason::Unhealthy => "as asked".to_owned(),
                other => format!("because {}", other.describe(committed)),
            };
            outln!("rolled back the update {why}; slot {committed} stays the default");
            if reboot_needed {
                outln!("next: reboot to go back to slot {}", backend.status()?.committed);
            }
            Ok(())
        }
        other => bail!("not rolled back: {}", outcome(other)),
    }
}

/// What the state machine did, as a clause for `commit` and `rollback`.
fn outcome(outcome: Outcome) -> String {
    match outcome {
        Outcome::Nothing => "no update is in flight".to_owned(),
        Outcome::Committed(slot) => format!("slot {slot} was committed instead"),
        Outcome::RolledBack { .. } => {
            "the update was rolled back instead; `updraft status` shows why and which slot runs".to_owned()
        }
    }
}
