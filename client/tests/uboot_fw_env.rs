#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The native U-Boot env codec against Debian's libubootenv tools (`fw_printenv`/`fw_setenv`,
//! package `libubootenv-tool`): our writes read back with the tools and theirs with ours.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use updraft_client::slots::RealFs;
use updraft_client::slots::uboot::{EnvLayout, EnvStore, EnvVars};

/// `true` when the tools are there; without them, fail on CI and skip elsewhere.
fn have_tools() -> bool {
    let found = Command::new("fw_printenv").arg("-V").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "fw_printenv missing on CI (apt-get install libubootenv-tool)"
        );
        eprintln!("skipping: fw_printenv not installed (apt-get install libubootenv-tool)");
    }
    found
}

/// Writes `fw_env.config`; like an image build, it provisions every copy as a zero-filled file,
/// because libubootenv refuses a config naming a file that does not exist.
fn write_config(dir: &Path, layout: &EnvLayout) -> std::path::PathBuf {
    for copy in &layout.copies {
        std::fs::write(&copy.path, vec![0u8; layout.size]).unwrap();
    }
    let cfg = dir.join("fw_env.config");
    std::fs::write(&cfg, layout.fw_env_config()).unwrap();
    cfg
}

fn printenv(cfg: &Path) -> EnvVars {
    let out = Command::new("fw_printenv").arg("-c").arg(cfg).output().unwrap();
    assert!(
        out.status.success(),
        "fw_printenv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn setenv(cfg: &Path, name: &str, value: &str) {
    let out = Command::new("fw_setenv")
        .arg("-c")
        .arg(cfg)
        .arg(name)
        .arg(value)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fw_setenv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn vars(pairs: &[(&str, &str)]) -> EnvVars {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn round_trip(layout: &EnvLayout, dir: &Path) {
    let cfg = write_config(dir, layout);
    // The config the tools read describes the same layout for us.
    assert_eq!(
        &EnvLayout::from_fw_env_config(&std::fs::read_to_string(&cfg).unwrap()).unwrap(),
        layout
    );
    let store = EnvStore::new(Arc::new(RealFs), layout.clone());
    let ours = vars(&[
        ("boot_slot", "B"),
        ("upgrade_available", "1"),
        ("bootcount", "0"),
        ("bootargs", "console=ttyS0 a=b c"),
    ]);
    store.save(&ours).unwrap();
    assert_eq!(printenv(&cfg), ours, "fw_printenv reads what we wrote");

    setenv(&cfg, "bootcount", "1");
    setenv(&cfg, "ustate", "3");
    let mut expected = ours.clone();
    expected.insert("bootcount".into(), "1".into());
    expected.insert("ustate".into(), "3".into());
    assert_eq!(store.load(), expected, "we read what fw_setenv wrote");

    // And back once more: our write after theirs goes to the right (older) copy.
    expected.insert("upgrade_available".into(), "0".into());
    store.save(&expected).unwrap();
    assert_eq!(printenv(&cfg), expected);
    // Without a value fw_setenv deletes the variable.
    let out = Command::new("fw_setenv")
        .arg("-c")
        .arg(&cfg)
        .arg("bootcount")
        .output()
        .unwrap();
    assert!(out.status.success());
    expected.remove("bootcount");
    assert_eq!(store.load(), expected);
}

#[test]
fn single_env_round_trips_with_fw_printenv_and_fw_setenv() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    round_trip(
        &EnvLayout::single(dir.path().join("uboot.env"), 0x4000),
        dir.path(),
    );
}

#[test]
fn redundant_env_round_trips_with_fw_printenv_and_fw_setenv() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = EnvLayout::redundant(
        dir.path().join("uboot.env"),
        dir.path().join("uboot-redund.env"),
        0x4000,
    );
    round_trip(&layout, dir.path());
}

#[test]
fn redundant_writes_alternate_copies_with_increasing_flags() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2) = (dir.path().join("e1"), dir.path().join("e2"));
    let layout = EnvLayout::redundant(&e1, &e2, 0x2000);
    let cfg = write_config(dir.path(), &layout);
    let store = EnvStore::new(Arc::new(RealFs), layout);
    store.save(&vars(&[("n", "1")])).unwrap();
    store.save(&vars(&[("n", "2")])).unwrap();
    let flag = |p: &Path| std::fs::read(p).unwrap()[4];
    assert_eq!((flag(&e1), flag(&e2)), (1, 2));
    setenv(&cfg, "n", "3");
    // fw_setenv writes the older copy with the next flag, as we do.
    assert_eq!((flag(&e1), flag(&e2)), (3, 2));
    store.save(&vars(&[("n", "4")])).unwrap();
    assert_eq!((flag(&e1), flag(&e2)), (3, 4));
    assert_eq!(printenv(&cfg), vars(&[("n", "4")]));
}

#[test]
fn torn_redundant_copy_falls_back_to_the_other_for_both_readers() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2) = (dir.path().join("e1"), dir.path().join("e2"));
    let layout = EnvLayout::redundant(&e1, &e2, 0x2000);
    let cfg = write_config(dir.path(), &layout);
    let store = EnvStore::new(Arc::new(RealFs), layout);
    store.save(&vars(&[("boot_slot", "A")])).unwrap();
    store.save(&vars(&[("boot_slot", "B")])).unwrap();
    // Tear the newer copy (e2) as a power cut mid-write would.
    let mut raw = std::fs::read(&e2).unwrap();
    raw[10] ^= 0xff;
    std::fs::write(&e2, raw).unwrap();
    assert_eq!(store.load(), vars(&[("boot_slot", "A")]));
    assert_eq!(printenv(&cfg), vars(&[("boot_slot", "A")]));
}

#[test]
fn fw_env_config_lines_parse_like_libubootenv() {
    let layout = EnvLayout::from_fw_env_config("# comment\n/boot/uboot.env 0x0000 0x4000\n").unwrap();
    assert_eq!(layout, EnvLayout::single("/boot/uboot.env", 0x4000));
    let layout = EnvLayout::from_fw_env_config(
        "/dev/mmcblk0 0x400000 0x4000 0x200\n/dev/mmcblk0 0x404000 0x4000 0x200\n",
    )
    .unwrap();
    assert!(layout.is_redundant());
    assert_eq!(layout.copies[1].offset, 0x0040_4000);
    assert!(EnvLayout::from_fw_env_config("").is_err());
    assert!(EnvLayout::from_fw_env_config("/a 0 0x4000\n/b 0 0x2000\n").is_err());
    assert!(EnvLayout::from_fw_env_config("/dev/mmcblk0 -0x4000 0x4000\n").is_err());
}

#[test]
fn env_writes_wait_for_the_fw_printenv_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("fw_printenv.lock");
    let store = EnvStore::new(
        Arc::new(RealFs),
        EnvLayout::single(dir.path().join("uboot.env"), 0x1000),
    )
    .with_lock(&lock);
    let held = std::fs::File::create(&lock).unwrap();
    held.lock().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        store
            .update(|v| {
                v.insert("a".into(), "1".into());
            })
            .unwrap();
        tx.send(store.load()).unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        rx.try_recv().is_err(),
        "the write waits for the lock holder (like fw_setenv's flock)"
    );
    held.unlock().unwrap();
    assert_eq!(rx.recv().unwrap(), vars(&[("a", "1")]));
    writer.join().unwrap();
}

#[test]
fn boot_count_scheme_reads_back_with_fw_printenv() {
    use updraft_client::slots::sim::{Firmware, UbootFirmware};
    use updraft_client::slots::{Slot, SlotBackend, UbootEnv};
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = EnvLayout::redundant(
        dir.path().join("uboot.env"),
        dir.path().join("uboot-redund.env"),
        0x4000,
    );
    let cfg = write_config(dir.path(), &layout);
    let cmdline = dir.path().join("cmdline");
    let firmware = UbootFirmware {
        layout: layout.clone(),
        cmdline: cmdline.clone(),
    };
    let backend = UbootEnv::new(Arc::new(RealFs), layout, &cmdline);
    assert_eq!(firmware.boot().unwrap(), Slot::A);

    backend.prepare_install(Slot::B).unwrap();
    backend.arm_trial(Slot::B).unwrap();
    let env = printenv(&cfg);
    for (k, v) in [
        ("boot_slot", "B"),
        ("upgrade_available", "1"),
        ("bootcount", "0"),
        ("bootlimit", "1"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }

    assert_eq!(firmware.boot().unwrap(), Slot::B);
    assert_eq!(printenv(&cfg).get("bootcount").map(String::as_str), Some("1"));
    assert!(backend.in_trial().unwrap());
    backend.commit().unwrap();
    let env = printenv(&cfg);
    assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));
    assert_eq!(env.get("boot_slot").map(String::as_str), Some("B"));

    // A device-side `fw_setenv` (e.g. SWUpdate's bootenv) arming A, then a failed trial: the script's
    // fallback is visible to both readers.
    setenv(&cfg, "boot_slot", "A");
    setenv(&cfg, "upgrade_available", "1");
    assert_eq!(firmware.boot().unwrap(), Slot::A);
    assert!(backend.in_trial().unwrap());
    assert_eq!(
        firmware.boot().unwrap(),
        Slot::B,
        "second boot exceeds bootlimit=1"
    );
    assert_eq!(printenv(&cfg).get("ustate").map(String::as_str), Some("3"));
    let status = backend.status().unwrap();
    assert_eq!(
        (status.booted, status.committed, status.trial),
        (Slot::B, Slot::B, false)
    );
}

#[test]
fn single_env_on_a_device_node_is_refused_rather_than_renamed_over() {
    let store = EnvStore::new(Arc::new(RealFs), EnvLayout::single("/dev/null", 0x1000));
    assert!(store.save(&vars(&[("a", "1")])).is_err());
}
