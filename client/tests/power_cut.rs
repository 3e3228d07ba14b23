#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue acceptance: a full A/B update through the state machine on every backend's on-disk format,
//! with the power cut after every single write (and, in the property test, after random writes in
//! several boots in a row). Every boot must start a complete image, the permanent default must be a
//! good slot, and the journal after recovery must say what happened.

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use tempfile::TempDir;
use updraft_client::journal::{JournalStore, Phase, RollbackReason};
use updraft_client::slots::sim::{Firmware, GrubFirmware, RpiFirmware, SimFirmware, UbootFirmware};
use updraft_client::slots::tryboot::{Autoboot, MarkerFile};
use updraft_client::slots::uboot::EnvLayout;
use updraft_client::slots::{
    GrubEnv, Outcome, PowerCut, RealFs, RpiTryboot, SimBootloader, Slot, SlotBackend, Storage, UbootEnv,
    Updater,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UbootSingle,
    UbootRedundant,
    /// Three trial boots before U-Boot falls back, so a cut during the trial retries it.
    UbootBootlimit3,
    Grub,
    Tryboot,
    Sim,
}

const KINDS: [Kind; 6] = [
    Kind::UbootSingle,
    Kind::UbootRedundant,
    Kind::UbootBootlimit3,
    Kind::Grub,
    Kind::Tryboot,
    Kind::Sim,
];
const ENV_SIZE: usize = 0x2000;

fn image(version: u8) -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i as u8) ^ version.wrapping_mul(37))
        .collect()
}

/// A temp dir standing in for the device: slot images, bootloader files, /proc, /data.
struct Rig {
    dir: TempDir,
    kind: Kind,
}

impl Rig {
    fn new(kind: Kind) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let rig = Rig { dir, kind };
        for sub in ["boot", "data", "proc", "dt"] {
            std::fs::create_dir_all(rig.path(sub)).unwrap();
        }
        std::fs::write(rig.image_path(Slot::A), image(1)).unwrap();
        std::fs::write(rig.image_path(Slot::B), b"leftover from an older update").unwrap();
        match kind {
            // Provisioned but never written: U-Boot starts from its default env (slot A).
            Kind::UbootSingle | Kind::UbootRedundant | Kind::UbootBootlimit3 => {
                for copy in &rig.layout().copies {
                    std::fs::write(&copy.path, vec![0u8; ENV_SIZE]).unwrap();
                }
            }
            Kind::Tryboot => {
                std::fs::write(
                    rig.path("boot/autoboot.txt"),
                    Autoboot { all: 2, tryboot: 3 }.render(),
                )
                .unwrap();
            }
            Kind::Grub | Kind::Sim => {}
        }
        rig
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn image_path(&self, slot: Slot) -> PathBuf {
        self.path(&format!("slot-{slot}.img"))
    }

    fn layout(&self) -> EnvLayout {
        match self.kind {
            Kind::UbootRedundant | Kind::UbootBootlimit3 => EnvLayout::redundant(
                self.path("boot/uboot.env"),
                self.path("boot/uboot-redund.env"),
                ENV_SIZE,
            ),
            _ => EnvLayout::single(self.path("boot/uboot.env"), ENV_SIZE),
        }
    }

    fn backend(&self, storage: Arc<dyn Storage>) -> Box<dyn SlotBackend> {
        let cmdline = self.path("proc/cmdline");
        match self.kind {
            Kind::UbootSingle | Kind::UbootRedundant => {
                Box::new(UbootEnv::new(storage, self.layout(), cmdline))
            }
            Kind::UbootBootlimit3 => {
                Box::new(UbootEnv::new(storage, self.layout(), cmdline).with_bootlimit(3))
            }
            Kind::Grub => Box::new(GrubEnv::new(storage, self.path("boot/grubenv"), cmdline)),
            Kind::Tryboot => Box::new(RpiTryboot::new(
                storage.clone(),
                self.path("boot/autoboot.txt"),
                self.path("dt"),
                Box::new(MarkerFile::new(storage, self.path("tryboot-flag"))),
            )),
            Kind::Sim => Box::new(SimBootloader::new(storage, self.path("boot"))),
        }
    }

    fn firmware(&self) -> Box<dyn Firmware> {
        let cmdline = self.path("proc/cmdline");
        match self.kind {
            Kind::UbootSingle | Kind::UbootRedundant | Kind::UbootBootlimit3 => Box::new(UbootFirmware {
                layout: self.layout(),
                cmdline,
            }),
            Kind::Grub => Box::new(GrubFirmware {
                grubenv: self.path("boot/grubenv"),
                cmdline,
            }),
            Kind::Tryboot => Box::new(RpiFirmware {
                autoboot: self.path("boot/autoboot.txt"),
                flag: self.path("tryboot-flag"),
                device_tree: self.path("dt"),
                partitions: [2, 3],
            }),
            Kind::Sim => Box::new(SimFirmware {
                dir: self.path("boot"),
            }),
        }
    }

    fn journal(&self, storage: Arc<dyn Storage>) -> JournalStore {
        JournalStore::new(storage, self.path("data/journal.json"))
    }

    fn phase(&self) -> Phase {
        self.journal(Arc::new(RealFs)).load().unwrap().phase
    }

    fn image(&self, slot: Slot) -> Vec<u8> {
        std::fs::read(self.image_path(slot)).unwrap()
    }

    /// Boots like the real firmware would and checks the booted slot holds a complete image.
    fn boot(&self) -> Slot {
        let slot = self.firmware().boot().unwrap();
        let content = self.image(slot);
        assert!(
            (1..=3).any(|v| content == image(v)),
            "{:?} booted slot {slot} with a partial image",
            self.kind
        );
        slot
    }
}

enum Next {
    Reboot,
    Steady,
}

/// One run of the client after a boot: recovery, then (once) the update itself.
fn session(rig: &Rig, storage: Arc<PowerCut>, healthy: bool, update: Option<u8>) -> Result<Next, String> {
    let dyn_storage: Arc<dyn Storage> = storage.clone();
    let backend = rig.backend(dyn_storage.clone());
    let journal = rig.journal(dyn_storage.clone());
    let updater = Updater::new(backend.as_ref(), &journal);
    // Only the update under test can be unhealthy.
    let health = |slot: Slot| healthy || rig.image(slot) != image(3);
    match updater.recover(health).map_err(|e| e.to_string())? {
        Outcome::RolledBack {
            reboot_needed: true, ..
        } => return Ok(Next::Reboot),
        Outcome::Nothing | Outcome::Committed(_) | Outcome::RolledBack { .. } => {}
    }
    let Some(version) = update else {
        return Ok(Next::Steady);
    };
    let target = updater
        .begin_install(Some("42"), &format!("{version}.0"))
        .map_err(|e| e.to_string())?;
    // Two writes, so a cut between them leaves a half-written slot even without torn writes.
    let new = image(version);
    let path = rig.image_path(target);
    dyn_storage
        .write_at(&path, 0, &new[..2048])
        .map_err(|e| e.to_string())?;
    dyn_storage
        .write_at(&path, 2048, &new[2048..])
        .map_err(|e| e.to_string())?;
    if dyn_storage.read(&path).map_err(|e| e.to_string())? != new {
        return Err("verification failed".into());
    }
    updater.finish_install().map_err(|e| e.to_string())?;
    Ok(Next::Reboot)
}

struct Run {
    /// The committed slot before the update under test.
    old: Slot,
    final_slot: Slot,
    final_image: Vec<u8>,
    phase: Phase,
    /// Journal phase on disk right after the first power cut.
    phase_at_first_cut: Option<Phase>,
    writes_per_session: Vec<usize>,
}

/// Drives the device through boots; session `i` gets `schedule[i]` writes before the power goes
/// (`None`: no cut). With `prelude`, a clean update to B (image 2) is committed first, so the update
/// under test (image 3) goes from B back to A, where U-Boot's and GRUB's defaults point at the slot
/// being overwritten.
fn run(kind: Kind, healthy: bool, torn: bool, prelude: bool, schedule: &[Option<usize>]) -> Run {
    let rig = Rig::new(kind);
    let mut old = rig.boot();
    if prelude {
        let clean = || Arc::new(PowerCut::new(None, false));
        assert!(matches!(session(&rig, clean(), true, Some(2)), Ok(Next::Reboot)));
        old = rig.boot();
        assert!(matches!(session(&rig, clean(), true, None), Ok(Next::Steady)));
        assert_eq!(old, Slot::B);
    }
    let mut update_started = false;
    let mut phase_at_first_cut = None;
    let mut writes_per_session = Vec::new();
    let mut slot = old;
    for i in 0.. {
        assert!(i < 20, "{kind:?}: no steady state after 20 boots");
        let storage = Arc::new(PowerCut::new(schedule.get(i).copied().flatten(), torn));
        // The update starts once; after a cut the client only recovers.
        let update = (!std::mem::replace(&mut update_started, true)).then_some(3);
        let next = session(&rig, storage.clone(), healthy, update);
        writes_per_session.push(storage.writes());
        match next {
            Err(e) => {
                assert!(
                    storage.tripped(),
                    "{kind:?}: client failed without a power cut: {e}"
                );
                phase_at_first_cut.get_or_insert_with(|| rig.phase());
            }
            Ok(Next::Steady) => break,
            Ok(Next::Reboot) => {}
        }
        slot = rig.boot();
    }
    // The default is permanent: more boots without updates stay on it and change nothing.
    let phase = rig.phase();
    for _ in 0..2 {
        assert_eq!(
            rig.boot(),
            slot,
            "{kind:?}: the default changed on a plain reboot"
        );
        assert!(matches!(
            session(&rig, Arc::new(PowerCut::new(None, torn)), healthy, None),
            Ok(Next::Steady)
        ));
        assert_eq!(rig.phase(), phase);
    }
    Run {
        old,
        final_slot: slot,
        final_image: rig.image(slot),
        phase,
        phase_at_first_cut,
        writes_per_session,
    }
}

fn check(kind: Kind, healthy: bool, run: &Run) {
    let ctx = format!(
        "{kind:?} healthy={healthy} from {} writes={:?} cut at {:?} -> {:?}",
        run.old, run.writes_per_session, run.phase_at_first_cut, run.phase
    );
    let (old, new) = (run.old, run.old.other());
    match &run.phase {
        Phase::Committed { slot, version } if version == "3.0" => {
            assert!(healthy, "{ctx}: committed an unhealthy slot");
            assert_eq!((*slot, run.final_slot), (new, new), "{ctx}");
        }
        Phase::RolledBack {
            slot,
            reason,
            version,
        } => {
            assert_eq!(
                (*slot, version.as_str(), run.final_slot),
                (new, "3.0", old),
                "{ctx}"
            );
            match (&run.phase_at_first_cut, reason) {
                (Some(Phase::Installing { .. }), RollbackReason::InstallInterrupted)
                | (
                    Some(Phase::Armed { .. } | Phase::Trial { .. }),
                    RollbackReason::BootedOldSlot | RollbackReason::TrialReset,
                ) => {}
                (_, RollbackReason::Unhealthy) => assert!(!healthy, "{ctx}"),
                _ => panic!("{ctx}: rollback reason does not match where the power was cut"),
            }
        }
        // The cut came before the update reached the journal: nothing happened.
        Phase::Idle | Phase::Committed { .. } => {
            assert_eq!(run.final_slot, old, "{ctx}");
            assert!(
                run.phase_at_first_cut.as_ref().is_some_and(Phase::is_final),
                "{ctx}"
            );
        }
        other => panic!("{ctx}: journal left in flight: {other:?}"),
    }
    let expected = if run.final_slot == old {
        if old == Slot::A { image(1) } else { image(2) }
    } else {
        image(3)
    };
    assert_eq!(
        run.final_image, expected,
        "{ctx}: the default slot does not hold the expected image"
    );
}

#[test]
fn clean_update_commits_when_healthy_and_rolls_back_when_not() {
    for kind in KINDS {
        for prelude in [false, true] {
            let ok = run(kind, true, false, prelude, &[]);
            let new = ok.old.other();
            assert_eq!(ok.final_slot, new, "{kind:?}");
            assert!(
                matches!(ok.phase, Phase::Committed { slot, .. } if slot == new),
                "{kind:?}: {:?}",
                ok.phase
            );
            let bad = run(kind, false, false, prelude, &[]);
            assert_eq!(bad.final_slot, bad.old, "{kind:?}");
            assert!(
                matches!(bad.phase, Phase::RolledBack { slot, reason: RollbackReason::Unhealthy, .. } if slot == new),
                "{kind:?}: {:?}",
                bad.phase
            );
        }
    }
}

#[test]
fn power_cut_after_every_single_write_boots_a_good_slot() {
    for kind in KINDS {
        for (healthy, prelude) in [(true, false), (false, false), (true, true), (false, true)] {
            let clean = run(kind, healthy, false, prelude, &[]);
            for (session, &writes) in clean.writes_per_session.iter().enumerate() {
                for n in 0..writes {
                    for torn in [false, true] {
                        let mut schedule = vec![None; session];
                        schedule.push(Some(n));
                        let r = run(kind, healthy, torn, prelude, &schedule);
                        assert!(
                            r.phase_at_first_cut.is_some(),
                            "{kind:?}: write {n} of boot {session} was not cut"
                        );
                        check(kind, healthy, &r);
                    }
                }
            }
        }
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(KINDS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Power cuts in several boots in a row, including during recovery and rollback.
    #[test]
    fn repeated_power_cuts_never_leave_a_bad_default(
        kind in kind(),
        healthy in any::<bool>(),
        torn in any::<bool>(),
        prelude in any::<bool>(),
        schedule in prop::collection::vec(prop::option::of(0usize..8), 0..6),
    ) {
        let r = run(kind, healthy, torn, prelude, &schedule);
        check(kind, healthy, &r);
    }
}
