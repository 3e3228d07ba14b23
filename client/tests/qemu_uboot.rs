#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end with a real U-Boot: Debian's `u-boot-qemu` (`qemu_arm64`) in `qemu-system-aarch64`
//! runs our shipped `boot.scr` (`client/dist/uboot/boot.cmd`, which holds [`uboot::BOOT_SCR`]) against a `uboot.env` that our U-Boot backend wrote,
//! boots the slot it selects, counts failed trial boots across resets and falls back on its own; the
//! client reads the env U-Boot left and decides committed or rolled back with the same code the agent
//! runs at start-up.
//!
//! The disk is laid out like a Pi with U-Boot and `ENV_IS_IN_FAT` (rpi-slots.md 2.1, 6.2): p1 FAT with
//! `boot.scr` and the 16 KiB `uboot.env`, p2/p3 the slots A/B (the script's `mmcpart` 2/3). No kernel:
//! "booting a slot" sources that slot's `slot.scr`, which prints its marker and then either powers off
//! (its userspace came up; the client on the host then acts as the booted system would) or resets
//! before userspace (a panic plus watchdog). The client side runs on the host between boots: the env is
//! moved with mtools as the device would see it on its mounted FAT, `/proc/cmdline` is the `bootargs`
//! U-Boot printed, and slot B's partition is the file `updraft install` writes, copied into the disk.
//!
//! In the fallback case `updraft agent --once` runs against a real `updraft-server` on loopback: it
//! settles the journal with no `updraft rollback`, and the Management API shows the device's
//! `updraft.rollback_reason=bootloader` and `updraft.trial.outcome=rolled_back`.
//!
//! One deviation from the production script, forced by QEMU: `saveenv` to the `qemu_arm64` pflash
//! env times out (QEMU issue #2343), so the script loads and saves `uboot.env` by hand with
//! `env import -c`/`env export -c` + `fatwrite`, which is what `ENV_IS_IN_FAT` does with the file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use updraft_client::config::Config;
use updraft_client::journal::{Phase, RollbackReason};
use updraft_client::slots::sim::{Firmware, UbootFirmware};
use updraft_client::slots::uboot::{self, EnvLayout, EnvVars};
use updraft_client::slots::{Outcome, RealFs, Slot, Storage, Updater};
use updraft_server::testing::TestServer;
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage};

const UBOOT_BIN: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";
const SECTOR: u64 = 512;
/// (start, size) in sectors of p1 (boot FAT), p2 (slot A), p3 (slot B).
const PARTS: [(u64, u64); 3] = [(2048, 4096), (6144, 4096), (10240, 4096)];
const ENV_SIZE: usize = 0x4000;
/// A whole run of QEMU (several boots when a trial fails) takes a few seconds on 2 cores; this only
/// stops a script that never powers off.
const QEMU_TIMEOUT: Duration = Duration::from_secs(45);
/// `timeout` kills QEMU after this, whatever happens to the test.
const QEMU_KILL_AFTER: Duration = Duration::from_secs(90);

/// The tools; missing ones fail under CI=true and skip elsewhere.
fn available() -> bool {
    let mut missing: Vec<String> = ["qemu-system-aarch64", "mkimage", "sfdisk", "mkfs.vfat", "mcopy"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .map(str::to_owned)
        .collect();
    if !Path::new(UBOOT_BIN).exists() {
        missing.push(UBOOT_BIN.to_owned());
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the QEMU U-Boot test needs {missing:?} under CI=true \
         (apt-get install qemu-system-arm u-boot-qemu u-boot-tools fdisk dosfstools mtools)"
    );
    eprintln!("skipping: missing {missing:?}");
    false
}

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

/// The shipped `boot.cmd` (`client/dist/uboot/boot.cmd`), booted as it is but for two parts QEMU
/// forces (see the module docs): the env is loaded from and saved to `uboot.env` on p1 by hand
/// instead of `saveenv`, and the kernel part after the marker line becomes "boot the slot": source
/// the `slot.scr` of the partition `mmcpart` names.
fn boot_cmd() -> String {
    let shipped = include_str!("../dist/uboot/boot.cmd");
    let marker = "# -- updraft: boot the selected slot --\n";
    let (selection, _kernel) = shipped
        .split_once(marker)
        .expect("the shipped boot.cmd has the marker");
    assert!(
        selection.ends_with(uboot::BOOT_SCR),
        "the shipped boot.cmd holds the client's BOOT_SCR byte for byte"
    );
    assert_eq!(
        selection.matches("\n  saveenv\n").count(),
        1,
        "the script saves the env in one place"
    );
    let saveenv = format!(
        "\n  env export -c -s {ENV_SIZE:#x} ${{envaddr}}; fatwrite virtio 0:1 ${{envaddr}} uboot.env {ENV_SIZE:#x}\n"
    );
    format!(
        "setenv envaddr 0x46000000\n\
         if fatload virtio 0:1 ${{envaddr}} uboot.env; then env import -c ${{envaddr}} {ENV_SIZE:#x}; fi\n\
         {}\
         echo \"updraft-qemu: cmdline ${{bootargs}}\"\n\
         if fatload virtio 0:${{mmcpart}} ${{kernel_addr_r}} slot.scr; then source ${{kernel_addr_r}}; fi\n\
         echo \"updraft-qemu: nothing to boot in partition ${{mmcpart}}; watchdog reset\"\n\
         reset\n",
        selection.replacen("\n  saveenv\n", &saveenv, 1)
    )
}

/// What a slot does when "booted": prints its marker, then comes up (power off, so the host client
/// takes over) or dies before userspace could commit anything (reset, as the watchdog would).
fn slot_cmd(slot: Slot, version: &str, healthy: bool) -> String {
    let end = if healthy {
        "echo \"updraft-qemu: userspace up\"\npoweroff\n"
    } else {
        "echo \"updraft-qemu: kernel panic before userspace\"\nreset\n"
    };
    format!("echo \"updraft-qemu: slot {slot} running version {version}\"\n{end}")
}

/// One boot as seen on the serial console.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Boot {
    /// `bootargs` as U-Boot would pass them: the `/proc/cmdline` of that boot.
    cmdline: String,
    /// `(slot, version)` from the marker of the slot that ran, if one did.
    ran: Option<(Slot, String)>,
    userspace: bool,
}

impl Boot {
    fn slot(&self) -> Slot {
        self.cmdline
            .split_whitespace()
            .find_map(|p| p.strip_prefix("updraft.slot="))
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn parse_serial(log: &str) -> Vec<Boot> {
    let mut boots: Vec<Boot> = Vec::new();
    for line in log.lines().map(str::trim) {
        let Some(msg) = line.strip_prefix("updraft-qemu: ") else {
            continue;
        };
        if let Some(cmdline) = msg.strip_prefix("cmdline ") {
            boots.push(Boot {
                cmdline: cmdline.trim().to_owned(),
                ran: None,
                userspace: false,
            });
        } else if let Some(rest) = msg.strip_prefix("slot ") {
            let (slot, version) = rest.split_once(" running version ").unwrap();
            boots.last_mut().unwrap().ran = Some((slot.parse().unwrap(), version.to_owned()));
        } else if msg == "userspace up" {
            boots.last_mut().unwrap().userspace = true;
        }
    }
    boots
}

/// QEMU under coreutils' `timeout`, which kills it even if this test process is killed first (say by
/// the test runner's timeout); dropping this (a failed test) ends it through `timeout`, which passes
/// SIGTERM on to QEMU.
struct Qemu(Child);

impl Qemu {
    fn spawn(args: &Command, stderr: std::fs::File) -> Qemu {
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "KILL", &QEMU_KILL_AFTER.as_secs().to_string()])
            .arg(args.get_program())
            .args(args.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        Qemu(cmd.spawn().unwrap())
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if self.0.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = Command::new("kill").arg(self.0.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.0.try_wait().is_ok_and(|s| s.is_none()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

struct Disk {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    image: PathBuf,
    config: PathBuf,
}

impl Disk {
    /// The provisioned device: boot partition with `boot.scr` and no `uboot.env` yet (U-Boot's default
    /// env boots A), slot A holding version 1.0, slot B empty.
    fn new(bootlimit: u32) -> Disk {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let image = dir.join("disk.img");
        let (last_start, last_size) = PARTS[2];
        std::fs::File::create(&image)
            .unwrap()
            .set_len((last_start + last_size + 2048) * SECTOR)
            .unwrap();
        let table = format!(
            "label: dos\nstart={}, size={}, type=c, bootable\nstart={}, size={}, type=c\n\
             start={}, size={}, type=c\n",
            PARTS[0].0, PARTS[0].1, PARTS[1].0, PARTS[1].1, PARTS[2].0, PARTS[2].1
        );
        let mut sfdisk = Command::new("sfdisk")
            .args(["-q", "--no-reread", "--no-tell-kernel"])
            .arg(&image)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        sfdisk
            .stdin
            .as_mut()
            .unwrap()
            .write_all(table.as_bytes())
            .unwrap();
        assert!(sfdisk.wait().unwrap().success());
        let disk = Disk {
            _tmp: tmp,
            config: dir.join("updraft.toml"),
            dir,
            image,
        };
        for (start, size) in &PARTS[..2] {
            run(Command::new("mkfs.vfat")
                .args(["-n", "UPDRAFT", "--offset", &start.to_string()])
                .arg(&disk.image)
                .arg((size * SECTOR / 1024).to_string()));
        }
        disk.script(&boot_cmd(), "boot.scr");
        disk.put(1, &disk.dir.join("boot.scr"), "boot.scr");
        disk.script(&slot_cmd(Slot::A, "1.0", true), "slot.scr");
        disk.put(2, &disk.dir.join("slot.scr"), "slot.scr");

        let p = |name: &str| disk.dir.join(name).display().to_string();
        std::fs::create_dir_all(disk.dir.join("boot")).unwrap();
        for device in ["vda2", "vda3"] {
            std::fs::write(disk.dir.join(device), b"").unwrap();
        }
        // The client's view: `uboot.env` on the mounted boot partition, `/proc/cmdline`, and slot B's
        // partition device (a file here, copied into the disk image after an install).
        std::fs::write(
            &disk.config,
            format!(
                "data_dir = {:?}\n[bootloader]\nbackend = \"uboot\"\nenv_file = {:?}\n\
                 env_size = {ENV_SIZE}\ncmdline = {:?}\nbootlimit = {bootlimit}\n\
                 [slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\n\
                 [device]\nboard = \"qemu\"\nhardware_revision = \"1.0\"\nversion = \"1.0\"\n\
                 [agent]\nreboot_command = \"\"\nboot_id_file = {:?}\n",
                p("data"),
                p("boot/uboot.env"),
                p("cmdline"),
                p("vda2"),
                p("vda3"),
                p("boot_id"),
            ),
        )
        .unwrap();
        disk
    }

    fn env_file(&self) -> PathBuf {
        self.dir.join("boot/uboot.env")
    }

    fn fat(&self, partition: usize) -> String {
        format!("{}@@{}", self.image.display(), PARTS[partition - 1].0 * SECTOR)
    }

    /// Compiles a U-Boot script with `mkimage`.
    fn script(&self, text: &str, name: &str) {
        let src = self.dir.join(format!("{name}.cmd"));
        std::fs::write(&src, text).unwrap();
        run(Command::new("mkimage")
            .args(["-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-d"])
            .arg(&src)
            .arg(self.dir.join(name)));
    }

    fn put(&self, partition: usize, file: &Path, name: &str) {
        run(Command::new("mcopy")
            .args(["-o", "-i", &self.fat(partition)])
            .arg(file)
            .arg(format!("::{name}")));
    }

    /// The env file as the device sees it after a boot; `false` when U-Boot's boot partition has none.
    fn pull_env(&self) -> bool {
        let _ = std::fs::remove_file(self.env_file());
        Command::new("mcopy")
            .args(["-n", "-i", &self.fat(1), "::uboot.env"])
            .arg(self.env_file())
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Puts the env the client wrote onto the boot partition, before the next boot.
    fn push_env(&self) {
        self.put(1, &self.env_file(), "uboot.env");
    }

    fn env(&self) -> EnvVars {
        let raw = std::fs::read(self.env_file()).unwrap();
        assert_eq!(raw.len(), ENV_SIZE);
        uboot::decode(&raw, false).unwrap().1
    }

    /// The partition file `updraft install` wrote goes into the disk at p3, as if it had been /dev/vda3.
    fn flash_slot_b(&self) {
        let data = std::fs::read(self.dir.join("vda3")).unwrap();
        assert!(data.len() as u64 <= PARTS[2].1 * SECTOR);
        RealFs.write_at(&self.image, PARTS[2].0 * SECTOR, &data).unwrap();
    }

    /// Powers the device on and waits until it powers off; returns the boots on the console. The
    /// last boot's `bootargs` become `/proc/cmdline` for the client.
    fn power_on(&self) -> Vec<Boot> {
        // A new boot id per power-on, as the kernel's.
        let boots = std::fs::read_to_string(self.dir.join("boot_id"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        std::fs::write(self.dir.join("boot_id"), format!("{}\n", boots + 1)).unwrap();
        let serial = self.dir.join("serial.log");
        let stderr = self.dir.join("qemu.stderr");
        let mut qemu = Qemu::spawn(
            Command::new("qemu-system-aarch64")
                .args(["-M", "virt", "-cpu", "cortex-a57", "-m", "256"])
                // No NIC: it would need the efi-virtio.rom of ipxe-qemu.
                .args(["-display", "none", "-monitor", "none", "-nic", "none"])
                .arg("-serial")
                .arg(format!("file:{}", serial.display()))
                .args(["-bios", UBOOT_BIN])
                .arg("-drive")
                .arg(format!("if=virtio,format=raw,file={}", self.image.display())),
            std::fs::File::create(&stderr).unwrap(),
        );
        let deadline = Instant::now() + QEMU_TIMEOUT;
        let status = loop {
            if let Some(status) = qemu.0.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                drop(qemu);
                panic!(
                    "QEMU did not power off within {QEMU_TIMEOUT:?}; console:\n{}",
                    std::fs::read_to_string(&serial).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = String::from_utf8_lossy(&std::fs::read(&serial).unwrap()).into_owned();
        assert!(
            status.success(),
            "QEMU failed ({status}): {}; console:\n{log}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        eprintln!("--- console ---\n{log}\n---");
        let boots = parse_serial(&log);
        let last = boots.last().expect("no boot reached our boot.scr");
        assert!(last.userspace, "the run ends with a slot that came up: {boots:?}");
        std::fs::write(self.dir.join("cmdline"), format!("{}\n", last.cmdline)).unwrap();
        boots
    }

    /// Points the client at `server` as device `qemu-1` (registered there) for `updraft agent`.
    fn connect(&self, server: &TestServer) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/rest/v1/targets", server.url))
            .basic_auth(&server.admin_user, Some(&server.admin_password))
            .json(&serde_json::json!([{ "controllerId": "qemu-1", "name": "qemu device" }]))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{r:?}");
        let v: serde_json::Value = r.json().unwrap();
        let token = v[0]["securityToken"].as_str().unwrap();
        let config = std::fs::read_to_string(&self.config).unwrap().replace(
            "[agent]\n",
            &format!(
                "[server]\nurl = {:?}\ncontroller_id = \"qemu-1\"\ntarget_token = {token:?}\n[agent]\n",
                server.url
            ),
        );
        std::fs::write(&self.config, config).unwrap();
    }

    fn updraft(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "updraft {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `updraft install` of a bundle whose raw image is a FAT partition holding slot B's `slot.scr`.
    fn install_slot_b(&self, version: &str, healthy: bool) {
        let fs = self.dir.join("b.fat");
        let _ = std::fs::remove_file(&fs);
        run(Command::new("mkfs.vfat")
            .args(["-n", "UPDRAFT", "-C"])
            .arg(&fs)
            .arg((PARTS[2].1 * SECTOR / 1024).to_string()));
        self.script(&slot_cmd(Slot::B, version, healthy), "slot.scr");
        run(Command::new("mcopy")
            .arg("-i")
            .arg(&fs)
            .arg(self.dir.join("slot.scr"))
            .arg("::slot.scr"));
        let bundle = self.dir.join("update.swu");
        BundleWriter::new(Manifest {
            version: version.into(),
            description: None,
            hardware_compatibility: vec!["1.0".into()],
            images: vec![ManifestImage::raw(
                &fs,
                "slot.vfat",
                self.dir.join("vda3").to_str().unwrap(),
            )],
        })
        .write(std::fs::File::create(&bundle).unwrap())
        .unwrap();
        self.updraft(&["install", bundle.to_str().unwrap()]);
        self.flash_slot_b();
    }
}

fn var<'a>(vars: &'a EnvVars, name: &str) -> Option<&'a str> {
    vars.get(name).map(String::as_str)
}

/// What our firmware model ([`UbootFirmware`]) does to `before` for one boot per entry of `boots`.
fn modelled(disk: &Disk, before: &[u8], boots: usize) -> EnvVars {
    let model = disk.dir.join("model.env");
    std::fs::write(&model, before).unwrap();
    let firmware = UbootFirmware {
        layout: EnvLayout::single(&model, ENV_SIZE),
        cmdline: disk.dir.join("model.cmdline"),
    };
    for _ in 0..boots {
        firmware.boot().unwrap();
    }
    uboot::decode(&std::fs::read(&model).unwrap(), false).unwrap().1
}

const SCHEME: [&str; 5] = [
    "boot_slot",
    "upgrade_available",
    "bootcount",
    "bootlimit",
    "ustate",
];

fn scheme(vars: &EnvVars) -> Vec<(&'static str, Option<&str>)> {
    SCHEME.iter().map(|k| (*k, var(vars, k))).collect()
}

/// Boots the fresh device (slot A, U-Boot's default env), installs slot B with `updraft install`.
fn provision_and_install(disk: &Disk, version: &str, healthy: bool) -> Vec<u8> {
    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::A, "no env yet: the script's default");
    assert_eq!(boots[0].ran, Some((Slot::A, "1.0".to_owned())));
    assert!(!disk.pull_env(), "a boot without a trial writes no env");

    disk.install_slot_b(version, healthy);
    let armed = std::fs::read(disk.env_file()).unwrap();
    let vars = disk.env();
    assert_eq!(var(&vars, "boot_slot"), Some("B"), "{vars:?}");
    assert_eq!(var(&vars, "upgrade_available"), Some("1"), "{vars:?}");
    disk.push_env();
    armed
}

#[test]
fn uboot_boots_the_armed_slot_and_keeps_it_after_the_client_commits() {
    if !available() {
        return;
    }
    let disk = Disk::new(1);
    let armed = provision_and_install(&disk, "2.0", true);

    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::B, "U-Boot boots the armed slot");
    assert_eq!(
        boots[0].ran,
        Some((Slot::B, "2.0".to_owned())),
        "partition 3 holds what updraft install wrote"
    );
    assert!(disk.pull_env());
    let tried = disk.env();
    assert_eq!(var(&tried, "bootcount"), Some("1"), "{tried:?}");
    assert_eq!(var(&tried, "upgrade_available"), Some("1"), "{tried:?}");
    assert_eq!(
        scheme(&tried),
        scheme(&modelled(&disk, &armed, 1)),
        "real U-Boot and our firmware model agree"
    );

    let status = disk.updraft(&["status"]);
    assert!(status.contains("running:     slot B on a trial boot"), "{status}");
    let out = disk.updraft(&["commit"]);
    assert!(out.contains("committed slot B"), "{out}");
    let committed = std::fs::read(disk.env_file()).unwrap();
    let vars = disk.env();
    assert_eq!(var(&vars, "boot_slot"), Some("B"), "{vars:?}");
    assert_eq!(var(&vars, "upgrade_available"), Some("0"), "{vars:?}");
    disk.push_env();

    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::B, "the committed slot stays the default");
    assert_eq!(boots[0].ran, Some((Slot::B, "2.0".to_owned())));
    assert!(disk.pull_env());
    assert_eq!(
        std::fs::read(disk.env_file()).unwrap(),
        committed,
        "a normal boot leaves the env alone"
    );
    let status = disk.updraft(&["status"]);
    assert!(
        status.contains("slot B:      booted and committed") && status.contains("and was committed"),
        "{status}"
    );
}

#[test]
fn uboot_rolls_back_a_failing_slot_and_the_client_detects_it() {
    if !available() {
        return;
    }
    // Two tries, so the count has to survive a reset.
    let disk = Disk::new(2);
    let armed = provision_and_install(&disk, "2.0", false);
    assert_eq!(var(&disk.env(), "bootlimit"), Some("2"));

    let boots = disk.power_on();
    let slots: Vec<Slot> = boots.iter().map(Boot::slot).collect();
    assert_eq!(
        slots,
        [Slot::B, Slot::B, Slot::A],
        "two failed tries of B, then U-Boot falls back to A: {boots:?}"
    );
    assert!(
        boots[..2]
            .iter()
            .all(|b| !b.userspace && b.ran == Some((Slot::B, "2.0".to_owned())))
    );
    assert_eq!(boots[2].ran, Some((Slot::A, "1.0".to_owned())));
    assert!(disk.pull_env());
    let fell_back = disk.env();
    assert_eq!(var(&fell_back, "boot_slot"), Some("A"), "{fell_back:?}");
    assert_eq!(var(&fell_back, "upgrade_available"), Some("0"), "{fell_back:?}");
    assert_eq!(
        var(&fell_back, "ustate"),
        Some("3"),
        "SWUpdate's FAILED: {fell_back:?}"
    );
    assert_eq!(
        scheme(&fell_back),
        scheme(&modelled(&disk, &armed, 3)),
        "real U-Boot and our firmware model agree"
    );

    // The agent starts on the booted system, settles the journal by itself and tells the server.
    let config = Config::load(Some(&disk.config)).unwrap();
    let journal = config.journal();
    assert!(matches!(
        journal.load().unwrap().phase,
        Phase::Armed { slot: Slot::B, .. }
    ));
    let server = TestServer::start();
    disk.connect(&server);
    let out = disk.updraft(&["agent", "--once"]);
    assert!(out.contains("idle"), "{out}");
    assert_eq!(
        journal.load().unwrap().phase,
        Phase::RolledBack {
            slot: Slot::B,
            version: "2.0".into(),
            reason: RollbackReason::BootedOldSlot,
        }
    );
    let status = disk.updraft(&["status"]);
    assert!(
        status.contains("slot A:      booted and committed") && status.contains("slot B:      inactive"),
        "{status}"
    );
    let attrs: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/rest/v1/targets/qemu-1/attributes", server.url))
        .basic_auth(&server.admin_user, Some(&server.admin_password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(attrs["updraft.rollback_reason"], "bootloader", "{attrs}");
    assert_eq!(attrs["updraft.trial.outcome"], "rolled_back", "{attrs}");
    assert_eq!(attrs["updraft.slot.booted"], "a", "{attrs}");
    assert_eq!(attrs["updraft.slot.b.version"], "2.0", "{attrs}");
    // The operator sees it in the fleet's figures and on the device's page.
    let health: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/rest/v1/fleet/health", server.url))
        .basic_auth(&server.admin_user, Some(&server.admin_password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rolled_back = &health["rolledBackLast24h"];
    assert_eq!(rolled_back["devices"], 1, "{health}");
    assert_eq!(rolled_back["byReason"][0]["reason"], "bootloader", "{health}");
    assert_eq!(rolled_back["byReason"][0]["devices"], 1, "{health}");
    let page = device_page(&server, "qemu-1");
    assert!(
        page.contains(r#"<dd id="rollback-reason">bootloader</dd>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<dd id="trial-outcome">rolled_back</dd>"#),
        "{page}"
    );
    disk.push_env();

    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::A, "A stays the default");
    assert!(boots[0].userspace);
}

#[test]
fn unhealthy_trial_is_rolled_back_by_the_client_and_uboot_boots_the_old_slot() {
    if !available() {
        return;
    }
    let disk = Disk::new(1);
    provision_and_install(&disk, "2.0", true);
    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::B, "{boots:?}");
    assert!(disk.pull_env());

    // Slot B came up, but the agent's health check fails: the client rolls back and reboots.
    let config = Config::load(Some(&disk.config)).unwrap();
    let backend = config.backend().unwrap();
    let journal = config.journal();
    let outcome = Updater::new(backend.as_ref(), &journal)
        .recover(|slot| {
            assert_eq!(slot, Slot::B);
            false
        })
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::RolledBack {
            reason: RollbackReason::Unhealthy,
            reboot_needed: true,
        }
    );
    let vars = disk.env();
    assert_eq!(var(&vars, "boot_slot"), Some("A"), "{vars:?}");
    assert_eq!(var(&vars, "upgrade_available"), Some("0"), "{vars:?}");
    disk.push_env();

    let boots = disk.power_on();
    assert_eq!(boots.len(), 1, "{boots:?}");
    assert_eq!(boots[0].slot(), Slot::A, "U-Boot follows the client's rollback");
    assert_eq!(boots[0].ran, Some((Slot::A, "1.0".to_owned())));
    let status = disk.updraft(&["status"]);
    assert!(
        status.contains("slot A:      booted and committed")
            && status.contains("slot B:      inactive")
            && status.contains("rolled back: the new slot failed its health check"),
        "{status}"
    );
}

/// The UI's page of device `id`, as the admin sees it after logging in through the form.
fn device_page(server: &TestServer, id: &str) -> String {
    let browser = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .post(format!("{}/ui/login", server.url))
        .header("origin", &server.url)
        .form(&[
            ("username", server.admin_user.as_str()),
            ("password", server.admin_password.as_str()),
            ("next", "/ui"),
        ])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_owned();
    browser
        .get(format!("{}/ui/devices/{id}", server.url))
        .header("cookie", session)
        .send()
        .unwrap()
        .text()
        .unwrap()
}
