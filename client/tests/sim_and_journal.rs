#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The simulated bootloader's firmware rules and the journal's on-disk JSON.

use std::sync::Arc;

use updraft_client::journal::{Journal, JournalStore, Phase, RollbackReason};
use updraft_client::slots::sim::{Firmware, SimFirmware};
use updraft_client::slots::{RealFs, SimBootloader, Slot, SlotBackend};

#[test]
fn sim_boots_an_armed_trial_once_then_falls_back_unless_committed() {
    let dir = tempfile::tempdir().unwrap();
    let firmware = SimFirmware {
        dir: dir.path().to_owned(),
    };
    let sim = SimBootloader::new(Arc::new(RealFs), dir.path());
    assert_eq!(firmware.boot().unwrap(), Slot::A);
    assert!(!sim.in_trial().unwrap());

    sim.prepare_install(Slot::B).unwrap();
    sim.arm_trial(Slot::B).unwrap();
    assert_eq!(firmware.boot().unwrap(), Slot::B);
    assert!(sim.in_trial().unwrap());
    // Not committed: the next boot is the committed slot again.
    assert_eq!(firmware.boot().unwrap(), Slot::A);
    assert!(!sim.in_trial().unwrap());
    assert!(sim.commit().is_ok(), "committing the committed slot is a no-op");

    sim.arm_trial(Slot::B).unwrap();
    assert_eq!(firmware.boot().unwrap(), Slot::B);
    sim.commit().unwrap();
    let status = sim.status().unwrap();
    assert_eq!(
        (status.booted, status.committed, status.trial),
        (Slot::B, Slot::B, false)
    );
    assert_eq!(firmware.boot().unwrap(), Slot::B);
    assert!(
        sim.prepare_install(Slot::B).is_err(),
        "never install over the booted slot"
    );
}

#[test]
fn journal_is_small_readable_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = JournalStore::new(Arc::new(RealFs), dir.path().join("journal.json"));
    assert_eq!(store.load().unwrap(), Journal::default());
    store
        .save(&Journal {
            action_id: Some("42".into()),
            phase: Phase::RolledBack {
                slot: Slot::B,
                version: "2.0".into(),
                reason: RollbackReason::BootedOldSlot,
            },
            started_at: 1_700_000_000,
            updated_at: 1_700_000_100,
        })
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("journal.json")).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "action_id": "42",
            "phase": "rolled_back",
            "slot": "B",
            "version": "2.0",
            "reason": "booted_old_slot",
            "started_at": 1_700_000_000u64,
            "updated_at": 1_700_000_100u64,
        })
    );
    let installing = store
        .advance(Phase::Installing {
            slot: Slot::A,
            version: "3.0".into(),
        })
        .unwrap();
    assert_eq!(installing.action_id.as_deref(), Some("42"));
    assert!(!installing.phase.is_final());
    assert!(!dir.path().join("journal.json.updraft-tmp").exists());
}

#[test]
fn no_new_install_while_a_trial_or_an_update_is_open() {
    use updraft_client::slots::Updater;
    let dir = tempfile::tempdir().unwrap();
    let firmware = SimFirmware {
        dir: dir.path().to_owned(),
    };
    let sim = SimBootloader::new(Arc::new(RealFs), dir.path());
    let journal = JournalStore::new(Arc::new(RealFs), dir.path().join("journal.json"));
    let updater = Updater::new(&sim, &journal);
    firmware.boot().unwrap();
    assert_eq!(updater.begin_install(Some("1"), "2.0").unwrap(), Slot::B);
    assert!(
        updater.begin_install(Some("2"), "3.0").is_err(),
        "one update at a time"
    );
    assert_eq!(updater.finish_install().unwrap(), Slot::B);
    assert_eq!(firmware.boot().unwrap(), Slot::B);
    assert!(
        updater.begin_install(Some("2"), "3.0").is_err(),
        "commit or roll back the trial first"
    );
    assert_eq!(
        updater.recover(|_| true).unwrap(),
        updraft_client::slots::Outcome::Committed(Slot::B)
    );
    assert_eq!(journal.load().unwrap().action_id.as_deref(), Some("1"));
    assert_eq!(updater.begin_install(Some("2"), "3.0").unwrap(), Slot::A);
}

#[test]
fn a_reset_during_the_trial_is_a_watchdog_rollback_and_a_fallback_a_bootloader_one() {
    use updraft_client::slots::{Outcome, Updater};
    for (client_ran, reason, attribute) in [
        (true, RollbackReason::TrialReset, "watchdog"),
        (false, RollbackReason::BootedOldSlot, "bootloader"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let firmware = SimFirmware {
            dir: dir.path().to_owned(),
        };
        let sim = SimBootloader::new(Arc::new(RealFs), dir.path());
        let journal = JournalStore::new(Arc::new(RealFs), dir.path().join("journal.json"));
        let updater = Updater::new(&sim, &journal);
        firmware.boot().unwrap();
        updater.begin_install(Some("1"), "2.0").unwrap();
        updater.finish_install().unwrap();
        assert_eq!(firmware.boot().unwrap(), Slot::B);
        if client_ran {
            // The client started the health check in the trial...
            journal
                .advance(Phase::Trial {
                    slot: Slot::B,
                    version: "2.0".into(),
                })
                .unwrap();
        }
        // ...and the device was reset before the commit: the firmware falls back to A.
        assert_eq!(firmware.boot().unwrap(), Slot::A);
        assert_eq!(
            updater
                .recover(|_| panic!("no health check on the old slot"))
                .unwrap(),
            Outcome::RolledBack {
                reason,
                reboot_needed: false
            }
        );
        assert_eq!(reason.attribute(), Some(attribute));
        assert!(journal.load().unwrap().phase.is_final());
        assert_eq!(
            updater.begin_install(Some("2"), "3.0").unwrap(),
            Slot::B,
            "the next update needs no `updraft rollback`"
        );
    }
}
