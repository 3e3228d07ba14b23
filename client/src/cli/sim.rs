//! `updraft sim boot|reboot|fail-next-boot`: the power button and the firmware of the simulated
//! device (`[bootloader] backend = "sim"`), so the whole update cycle runs on a laptop.

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::install::StatusArgs;
use crate::config::{Bootloader, Config};
use crate::slots::sim::{SimBooted, SimFirmware};
use crate::slots::{RealFs, SimBootloader};

#[derive(Subcommand)]
pub enum SimCommand {
    /// Power on the simulated device: the firmware boots the committed slot (slot A the first
    /// time), or the armed slot once on trial.
    Boot(StatusArgs),
    /// Reboot the simulated device, carrying out the reboot the agent asked for: an armed trial slot
    /// boots once (or fails, after `fail-next-boot`, and the firmware falls back to the committed
    /// slot); otherwise the committed slot boots again.
    Reboot(StatusArgs),
    /// Make the next trial boot fail: at the next `updraft sim reboot` the armed slot does not come
    /// up and the firmware falls back to the committed slot, as U-Boot's boot counter or the Pi's
    /// tryboot do; `updraft agent` then reports the failed update by itself.
    FailNextBoot(StatusArgs),
}

pub fn run(cmd: &SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Boot(args) => {
            let sim = Sim::load(args)?;
            if let Ok(booted) = sim.bootloader.last_boot() {
                bail!(
                    "the simulated device is already running slot {}; `updraft sim reboot` restarts it",
                    booted.slot
                );
            }
            let booted = sim.firmware.power_cycle()?;
            outln!("powered on: {}", describe(booted));
            Ok(())
        }
        SimCommand::Reboot(args) => {
            let sim = Sim::load(args)?;
            let booted = sim.firmware.power_cycle()?;
            outln!("rebooted: {}", describe(booted));
            if booted.trial {
                outln!("next: `updraft agent` checks its health and commits it (or `updraft commit`)");
            } else if booted.failed.is_some() {
                outln!("next: `updraft agent` reports the failed update and takes the next one");
            }
            Ok(())
        }
        SimCommand::FailNextBoot(args) => {
            let sim = Sim::load(args)?;
            sim.bootloader.set_fail_next_boot(true)?;
            match sim.bootloader.armed() {
                Some(slot) => outln!(
                    "slot {slot} is armed for a trial boot; it will fail at the next `updraft sim \
                     reboot`, and the firmware will fall back to the committed slot"
                ),
                None => outln!(
                    "no trial boot is armed yet; the next one (after an install) will fail, and the \
                     firmware will fall back to the committed slot"
                ),
            }
            Ok(())
        }
    }
}

/// What came up, as a sentence.
pub fn describe(booted: SimBooted) -> String {
    match (booted.trial, booted.failed) {
        (true, _) => format!(
            "slot {} is running a trial boot (boot {}); it is not committed yet",
            booted.slot, booted.boot
        ),
        (false, Some(failed)) => format!(
            "the trial boot of slot {failed} failed, and the firmware fell back to slot {} (boot {})",
            booted.slot, booted.boot
        ),
        (false, None) => format!("slot {} is running (boot {})", booted.slot, booted.boot),
    }
}

struct Sim {
    bootloader: SimBootloader,
    firmware: SimFirmware,
}

impl Sim {
    fn load(args: &StatusArgs) -> anyhow::Result<Sim> {
        let config: Config = args.load()?;
        let Bootloader::Sim { state_dir } = &config.bootloader else {
            bail!(
                "`updraft sim` drives the simulated bootloader, but {} configures a real one; set \
                 `[bootloader] backend = \"sim\"` and `state_dir` to use it",
                args.config.display()
            );
        };
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating the sim state_dir {}", state_dir.display()))?;
        Ok(Sim {
            bootloader: SimBootloader::new(std::sync::Arc::new(RealFs), state_dir),
            firmware: SimFirmware {
                dir: state_dir.clone(),
            },
        })
    }
}
