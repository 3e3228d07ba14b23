#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Raspberry Pi tryboot backend on a directory standing in for the mounted config FAT partition
//! and a fake `/proc/device-tree`.

use std::path::Path;
use std::sync::Arc;

use updraft_client::slots::tryboot::{Autoboot, MarkerFile, TrybootFlag};
use updraft_client::slots::{RealFs, RpiTryboot, Slot, SlotBackend};

const A_FILE: &str = "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n";
const B_FILE: &str = "[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=2\n";

fn set_dt(root: &Path, partition: u32, tryboot: u32) {
    let node = root.join("dt/chosen/bootloader");
    std::fs::create_dir_all(&node).unwrap();
    std::fs::write(node.join("partition"), partition.to_be_bytes()).unwrap();
    std::fs::write(node.join("tryboot"), tryboot.to_be_bytes()).unwrap();
}

fn backend(root: &Path) -> RpiTryboot {
    let fs = Arc::new(RealFs);
    RpiTryboot::new(
        fs.clone(),
        root.join("autoboot.txt"),
        root.join("dt"),
        Box::new(MarkerFile::new(fs, root.join("flag"))),
    )
}

#[test]
fn autoboot_files_are_the_64_byte_raspberry_pi_examples() {
    assert_eq!(Autoboot { all: 2, tryboot: 3 }.render(), A_FILE);
    assert_eq!(A_FILE.len(), 64);
    assert_eq!(Autoboot::parse(B_FILE).unwrap(), Autoboot { all: 3, tryboot: 2 });
    assert!(
        Autoboot::parse("[all]\nboot_partition=2\n").is_err(),
        "tryboot_a_b=1 is required"
    );
    assert!(
        Autoboot::parse("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\nkernel=x\n")
            .is_err()
    );
}

#[test]
fn trial_is_read_from_the_device_tree_and_commit_rewrites_autoboot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("autoboot.txt"), A_FILE).unwrap();
    set_dt(root, 2, 0);
    let b = backend(root);
    let s = b.status().unwrap();
    assert_eq!((s.booted, s.committed, s.trial), (Slot::A, Slot::A, false));
    assert_eq!(b.other().unwrap(), Slot::B);

    b.prepare_install(Slot::B).unwrap();
    assert!(
        b.prepare_install(Slot::A).is_err(),
        "never install over the booted slot"
    );
    b.arm_trial(Slot::B).unwrap();
    assert!(
        root.join("flag").exists(),
        "armed: the reboot must pass '0 tryboot'"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("autoboot.txt")).unwrap(),
        A_FILE,
        "arming leaves autoboot.txt alone"
    );

    // The firmware booted [tryboot] and cleared the flag.
    std::fs::remove_file(root.join("flag")).unwrap();
    set_dt(root, 3, 1);
    assert!(b.in_trial().unwrap());
    b.commit().unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("autoboot.txt")).unwrap(),
        B_FILE
    );
    assert!(!root.join("autoboot.txt.updraft-tmp").exists());
    let s = b.status().unwrap();
    assert_eq!((s.booted, s.committed, s.trial), (Slot::B, Slot::B, false));
    b.commit().unwrap(); // idempotent
}

#[test]
fn booting_the_old_slot_after_arming_is_not_a_trial_and_commit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("autoboot.txt"), A_FILE).unwrap();
    set_dt(root, 2, 0);
    let b = backend(root);
    b.arm_trial(Slot::B).unwrap();
    // A plain reset after arming, or the trial failed and the board came back on [all].
    set_dt(root, 2, 0);
    assert!(!b.in_trial().unwrap());
    b.rollback().unwrap();
    assert!(!root.join("flag").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("autoboot.txt")).unwrap(),
        A_FILE
    );
    let flag = MarkerFile::new(Arc::new(RealFs), root.join("flag"));
    assert!(!flag.get().unwrap());
}

#[test]
fn missing_device_tree_node_is_an_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("autoboot.txt"), A_FILE).unwrap();
    assert!(backend(dir.path()).status().is_err());
}

#[test]
fn partition_zero_from_an_old_eeprom_asks_for_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("autoboot.txt"), A_FILE).unwrap();
    set_dt(root, 0, 0);
    let err = backend(root).status().unwrap_err().to_string();
    assert!(err.contains("does not report the boot partition"), "{err}");
}

/// `updraft status` with `[bootloader] backend = "rpi-tryboot"` reads the device tree under the
/// configured `device_tree` root instead of `/proc/device-tree`.
#[test]
fn configured_device_tree_root_drives_updraft_status() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("autoboot.txt"), A_FILE).unwrap();
    let config = root.join("updraft.toml");
    let p = |name: &str| root.join(name).display().to_string();
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[bootloader]\nbackend = \"rpi-tryboot\"\nautoboot = {:?}\n\
             device_tree = {:?}\n[slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\n",
            p("data"),
            p("autoboot.txt"),
            p("dt"),
            p("p2"),
            p("p3"),
        ),
    )
    .unwrap();
    let status = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(["status", "--config"])
            .arg(&config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };

    let out = status();
    assert!(
        out.contains("chosen/bootloader/partition"),
        "no device tree yet: {out}"
    );
    set_dt(root, 2, 0);
    let out = status();
    assert!(
        out.contains("slot A:      booted and committed") && out.contains("slot B:      inactive"),
        "{out}"
    );
    // The firmware took the [tryboot] partition: a trial of B.
    set_dt(root, 3, 1);
    let out = status();
    assert!(
        out.contains("slot B:      booted on trial") && out.contains("slot A:      committed, the fallback"),
        "{out}"
    );
}

/// The shipped `client/dist/rpi/autoboot.txt` is the file the backend writes for slot A.
#[test]
fn shipped_autoboot_txt_is_the_backends_slot_a_file() {
    let shipped = include_str!("../dist/rpi/autoboot.txt");
    assert_eq!(shipped, Autoboot { all: 2, tryboot: 3 }.render());
    assert_eq!(Autoboot::parse(shipped).unwrap(), Autoboot { all: 2, tryboot: 3 });
}

/// The shipped reboot script turns the marker the backend writes when arming into
/// `systemctl reboot --reboot-argument='0 tryboot'`, removes it, and reboots plainly without one.
#[test]
fn shipped_reboot_script_turns_the_marker_into_reboot_0_tryboot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("autoboot.txt"), A_FILE).unwrap();
    set_dt(root, 2, 0);
    // A stand-in for `systemctl reboot` that records its arguments, one per line.
    let fake = root.join("fake-reboot");
    let calls = root.join("calls");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"argc=$#\" >> '{0}'\nfor a in \"$@\"; do echo \"arg=$a\" >> '{0}'; done\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &fake,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/dist/rpi/updraft-tryboot-reboot");
    let reboot = || {
        let out = std::process::Command::new(script)
            .env("UPDRAFT_TRYBOOT_MARKER", root.join("flag"))
            .env("UPDRAFT_REBOOT", &fake)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(&calls).unwrap_or_default()
    };

    backend(root).arm_trial(Slot::B).unwrap();
    assert!(root.join("flag").exists());
    assert_eq!(reboot(), "argc=1\narg=--reboot-argument=0 tryboot\n");
    assert!(
        !root.join("flag").exists(),
        "the marker is one-shot, like the firmware's flag"
    );

    std::fs::remove_file(&calls).unwrap();
    assert_eq!(reboot(), "argc=0\n", "no trial armed: a plain reboot");

    // A marker the script does not understand stops it rather than rebooting into a guess.
    std::fs::write(root.join("flag"), "1 something\n").unwrap();
    std::fs::remove_file(&calls).unwrap();
    let out = std::process::Command::new(script)
        .env("UPDRAFT_TRYBOOT_MARKER", root.join("flag"))
        .env("UPDRAFT_REBOOT", &fake)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to reboot"));
    assert!(!calls.exists());
}
