#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A whole disk on loop devices, as root: an MBR image with a FAT boot partition (handled with
//! mtools; this kernel has no vfat), a raw U-Boot environment partition and block-device slots A
//! and B. `updraft install` streams a signed bundle onto slot B's block device and arms U-Boot; the
//! firmware model boots B on trial, `updraft commit` makes it the default. Debian's `fw_printenv`
//! reads the environment we wrote on the block device.
//!
//! This kernel does not scan partitions of loop devices, so each partition gets its own loop device
//! at its offset (`losetup -o --sizelimit`), the way a partition device would look.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use updraft_client::slots::sim::{Firmware, UbootFirmware};
use updraft_client::slots::uboot::{EnvLayout, EnvStore};
use updraft_client::slots::{RealFs, Slot};
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage};
use updraft_swu::signature::Signer;

const SECTOR: u64 = 512;
/// (start, size) in sectors: boot FAT, U-Boot env, slot A, slot B.
const BOOT: (u64, u64) = (2048, 16384);
const ENV: (u64, u64) = (18432, 2048);
const SLOT_A: (u64, u64) = (20480, 40960);
const SLOT_B: (u64, u64) = (61440, 40960);
const ENV_SIZE: usize = 0x4000;

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Root, loop devices and the tools; missing ones fail under CI=true and skip elsewhere.
fn available() -> bool {
    let mut missing = Vec::new();
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        missing.push("root".to_owned());
    }
    for tool in ["losetup", "sfdisk", "mkfs.vfat", "mcopy", "mtype", "openssl"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            missing.push(tool.to_owned());
        }
    }
    if missing.is_empty() && !Path::new("/dev/loop-control").exists() {
        missing.push("/dev/loop-control".to_owned());
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "loop device test needs {missing:?} under CI=true (apt-get install fdisk dosfstools mtools)"
    );
    eprintln!("skipping: missing {missing:?}");
    false
}

/// Loop devices detached on drop, even when the test fails.
struct Disk {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    image: PathBuf,
    loops: Vec<PathBuf>,
}

impl Drop for Disk {
    fn drop(&mut self) {
        for l in &self.loops {
            let _ = Command::new("losetup").arg("-d").arg(l).status();
        }
    }
}

impl Disk {
    fn new() -> Disk {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let image = dir.join("disk.img");
        let total = SLOT_B.0 + SLOT_B.1 + 2048;
        std::fs::File::create(&image)
            .unwrap()
            .set_len(total * SECTOR)
            .unwrap();
        let table = format!(
            "label: dos\nstart={}, size={}, type=e\nstart={}, size={}, type=da\n\
             start={}, size={}, type=83\nstart={}, size={}, type=83\n",
            BOOT.0, BOOT.1, ENV.0, ENV.1, SLOT_A.0, SLOT_A.1, SLOT_B.0, SLOT_B.1
        );
        let mut sfdisk = Command::new("sfdisk")
            .args(["-q", "--no-reread", "--no-tell-kernel"])
            .arg(&image)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(sfdisk.stdin.as_mut().unwrap(), table.as_bytes()).unwrap();
        assert!(sfdisk.wait().unwrap().success());
        // The boot partition: FAT with the files the firmware loads.
        run(Command::new("mkfs.vfat")
            .args(["-n", "BOOT", "--offset", &BOOT.0.to_string()])
            .arg(&image)
            .arg((BOOT.1 * SECTOR / 1024).to_string()));
        std::fs::write(dir.join("boot.scr"), b"# updraft A/B boot script\n").unwrap();
        run(Command::new("mcopy")
            .arg("-i")
            .arg(format!("{}@@{}", image.display(), BOOT.0 * SECTOR))
            .arg(dir.join("boot.scr"))
            .arg("::boot.scr"));
        let mut disk = Disk {
            _tmp: tmp,
            dir,
            image,
            loops: Vec::new(),
        };
        for part in [ENV, SLOT_A, SLOT_B] {
            let out = run(Command::new("losetup")
                .args(["-f", "--show", "-o", &(part.0 * SECTOR).to_string()])
                .args(["--sizelimit", &(part.1 * SECTOR).to_string()])
                .arg(&disk.image));
            let dev = String::from_utf8(out.stdout).unwrap().trim().to_owned();
            disk.loops.push(PathBuf::from(dev));
        }
        disk
    }

    fn env(&self) -> &Path {
        &self.loops[0]
    }
    fn slot_a(&self) -> &Path {
        &self.loops[1]
    }
    fn slot_b(&self) -> &Path {
        &self.loops[2]
    }

    fn read_dev(dev: &Path, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        std::io::Read::read_exact(&mut std::fs::File::open(dev).unwrap(), &mut buf).unwrap();
        buf
    }

    fn boot_file(&self, name: &str) -> Vec<u8> {
        run(Command::new("mtype")
            .arg("-i")
            .arg(format!("{}@@{}", self.image.display(), BOOT.0 * SECTOR))
            .arg(format!("::{name}")))
        .stdout
    }

    /// Two copies of the env on the env partition (U-Boot's redundant env): a single copy on a
    /// block device is refused, since a power cut during its rewrite would lose it.
    fn fw_env_config(&self) -> String {
        let dev = self.env().display();
        format!("{dev} 0x0 {ENV_SIZE:#x}\n{dev} {ENV_SIZE:#x} {ENV_SIZE:#x}\n")
    }

    fn layout(&self) -> EnvLayout {
        EnvLayout::from_fw_env_config(&self.fw_env_config()).unwrap()
    }

    fn firmware(&self) -> UbootFirmware {
        UbootFirmware {
            layout: self.layout(),
            cmdline: self.dir.join("cmdline"),
        }
    }
}

#[test]
fn a_bundle_installs_onto_the_slot_b_block_device_and_uboot_switches_to_it() {
    if !available() {
        return;
    }
    let disk = Disk::new();
    let dir = disk.dir.clone();
    let p = |name: &str| dir.join(name);

    // Provisioning, as an image build does: slot A holds the system, U-Boot boots A.
    let active: Vec<u8> = b"slot A root filesystem\n".repeat(1000);
    std::fs::write(p("a.rootfs"), &active).unwrap();
    run(Command::new("dd")
        .arg(format!("if={}", p("a.rootfs").display()))
        .arg(format!("of={}", disk.slot_a().display()))
        .args(["bs=64k", "conv=fsync", "status=none"]));
    let env = EnvStore::new(Arc::new(RealFs), disk.layout());
    env.save(
        &[
            ("boot_slot".to_owned(), "A".to_owned()),
            ("bootlimit".to_owned(), "1".to_owned()),
        ]
        .into(),
    )
    .unwrap();
    assert_eq!(disk.firmware().boot().unwrap(), Slot::A);

    run(Command::new("openssl")
        .current_dir(&dir)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"])
        .args([
            "-keyout",
            "signer.key",
            "-out",
            "signer.pem",
            "-subj",
            "/CN=updraft-loop",
        ]));
    let image: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(p("b.rootfs"), &image).unwrap();
    BundleWriter::new(Manifest {
        version: "2.0.0".into(),
        description: None,
        hardware_compatibility: vec!["1.0".into()],
        images: vec![ManifestImage::raw(
            p("b.rootfs"),
            "rootfs.img",
            disk.slot_b().to_str().unwrap(),
        )],
    })
    .with_signer(Signer::from_pem_files(p("signer.pem"), p("signer.key")).unwrap())
    .write(std::fs::File::create(p("update.swu")).unwrap())
    .unwrap();

    std::fs::write(p("fw_env.config"), disk.fw_env_config()).unwrap();
    let config = p("updraft.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[bootloader]\nbackend = \"uboot\"\nfw_env_config = {:?}\n\
             cmdline = {:?}\n[slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\n[bundle]\nca = {:?}\n\
             [device]\nboard = \"pi\"\nhardware_revision = \"1.0\"\nversion = \"1.0.0\"\n",
            p("data"),
            p("fw_env.config"),
            p("cmdline"),
            disk.slot_a(),
            disk.slot_b(),
            p("signer.pem"),
        ),
    )
    .unwrap();
    let updraft = |args: &[&str]| -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        eprintln!(
            "updraft {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };

    assert!(
        updraft(&["install", p("update.swu").to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        Disk::read_dev(disk.slot_b(), image.len()),
        image,
        "slot B's block device holds the image"
    );
    assert_eq!(
        Disk::read_dev(disk.slot_a(), active.len()),
        active,
        "slot A is untouched"
    );
    assert_eq!(
        disk.boot_file("boot.scr"),
        b"# updraft A/B boot script\n",
        "the FAT partition is intact"
    );
    if Command::new("fw_printenv").arg("-V").output().is_ok() {
        let out = run(Command::new("fw_printenv").arg("-c").arg(p("fw_env.config")));
        let vars = String::from_utf8(out.stdout).unwrap();
        assert!(vars.contains("upgrade_available=1"), "{vars}");
        assert!(vars.contains("boot_slot=B"), "{vars}");
    }

    assert_eq!(disk.firmware().boot().unwrap(), Slot::B, "U-Boot tries slot B");
    assert!(updraft(&["commit"]).status.success());
    assert_eq!(
        disk.firmware().boot().unwrap(),
        Slot::B,
        "slot B is the default after the commit"
    );
    let status = String::from_utf8(updraft(&["status"]).stdout).unwrap();
    assert!(
        status.contains("slot B:      booted and committed") && status.contains("and was committed"),
        "{status}"
    );
}

#[test]
fn a_failed_trial_on_the_block_devices_falls_back_to_slot_a() {
    if !available() {
        return;
    }
    let disk = Disk::new();
    let env = EnvStore::new(Arc::new(RealFs), disk.layout());
    // Armed as `updraft install` leaves it: one try of B.
    env.save(
        &[
            ("boot_slot".to_owned(), "B".to_owned()),
            ("upgrade_available".to_owned(), "1".to_owned()),
            ("bootcount".to_owned(), "0".to_owned()),
            ("bootlimit".to_owned(), "1".to_owned()),
        ]
        .into(),
    )
    .unwrap();
    assert_eq!(disk.firmware().boot().unwrap(), Slot::B, "the one trial");
    // B hangs; the watchdog resets; U-Boot counts past the limit and goes back to A.
    assert_eq!(disk.firmware().boot().unwrap(), Slot::A);
    let vars = env.load();
    assert_eq!(
        vars.get("upgrade_available").map(String::as_str),
        Some("0"),
        "{vars:?}"
    );
    assert_eq!(vars.get("boot_slot").map(String::as_str), Some("A"), "{vars:?}");
}
