//! `updraft status`: what runs, what each slot holds, how the last trial ended and what is in
//! flight, in sentences.

use crate::agent::fleet::FleetState;
use crate::config::Bootloader;
use crate::journal::Phase;
use crate::slots::machine::in_flight;
use crate::slots::{BootStatus, RealFs, SimBootloader, Slot};

use super::install::StatusArgs;

pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let backend = config.backend()?;
    let journal = config.journal().load()?;
    let boot = backend.status();
    let running = config.current_version().ok().flatten();
    outln!("bootloader:  {}", backend.name());
    match &boot {
        Ok(status) => {
            // The agent's view of the slots, brought up to date with the journal (not saved).
            let mut fleet = FleetState::load(&config.data_dir);
            fleet.observe(&journal, *status, running.as_deref(), None);
            let version = |slot: Slot| match fleet.version(slot) {
                "" => "version unknown".to_owned(),
                v => format!("version {v}"),
            };
            let trial = if status.trial {
                " on a trial boot (not committed yet)"
            } else {
                ""
            };
            outln!(
                "running:     slot {}{trial}, {}",
                status.booted,
                version(status.booted)
            );
            for slot in [Slot::A, Slot::B] {
                outln!(
                    "slot {slot}:      {}, {}",
                    slot_role(*status, slot),
                    version(slot)
                );
            }
        }
        Err(e) => {
            outln!("running:     unknown: {e}");
            if let Some(v) = &running {
                outln!("             ([device] says version {v})");
            }
        }
    }
    outln!("last trial:  {}", last_trial(&journal.phase));
    outln!(
        "in flight:   {}",
        in_flight(&journal.phase).unwrap_or_else(|| "nothing; the next update is accepted".into())
    );
    if let Some(action) = &journal.action_id {
        outln!("action:      {action} (the server's id of the last update)");
    }
    if let Some(record) = crate::install::load_record(&config) {
        let what = match (&record.version, record.slot) {
            (Some(v), Some(slot)) => format!("version {v} into slot {slot}"),
            (Some(v), None) => format!("version {v}"),
            _ => "a bundle".to_owned(),
        };
        let how = match &record.reason {
            Some(reason) => format!("{}: {reason}", record.result),
            None => record.result.clone(),
        };
        outln!("last install: {what} from {}, {how}", record.bundle);
    }
    if let Bootloader::Sim { state_dir } = &config.bootloader {
        let sim = SimBootloader::new(std::sync::Arc::new(RealFs), state_dir);
        if sim.reboot_requested() {
            outln!("sim:         the agent asked for a reboot; run `updraft sim reboot`");
        }
        if sim.fails_next_boot() {
            outln!("sim:         the next trial boot will fail (`updraft sim fail-next-boot`)");
        }
    }
    Ok(())
}

/// What the bootloader does with `slot`.
fn slot_role(status: BootStatus, slot: Slot) -> String {
    match (slot == status.booted, slot == status.committed) {
        (true, true) => "booted and committed".into(),
        (true, false) if status.trial => "booted on trial".into(),
        (true, false) => format!(
            "booted, not the default (reboot to go back to slot {})",
            status.committed
        ),
        (false, true) => "committed, the fallback".into(),
        (false, false) => "inactive, updates go here".into(),
    }
}

/// How the last update that reached an end ended, as a sentence.
fn last_trial(phase: &Phase) -> String {
    match phase {
        Phase::Committed { slot, version } => {
            format!("version {version} in slot {slot} booted, passed its health check and was committed")
        }
        Phase::RolledBack {
            slot,
            version,
            reason,
        } => format!(
            "version {version} in slot {slot} was rolled back: {}",
            reason.describe(slot.other())
        ),
        Phase::Idle => "none recorded".into(),
        Phase::Installing { .. } | Phase::Armed { .. } | Phase::Trial { .. } => {
            "the current update has not ended yet (see in flight)".into()
        }
    }
}
