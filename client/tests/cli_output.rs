#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the `updraft` binary prints: `status` in sentences through a whole update on the simulated
//! device, `bundle inspect` listing an A/B bundle's software sets, and a stdout closed early (as by
//! `updraft status | head -1`) ending the command quietly instead of a panic.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::text;

struct Device {
    dir: tempfile::TempDir,
}

impl Device {
    /// A sim device with file slots, version 1.0.0 in slot A, accepting unsigned bundles.
    fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        let d = Device { dir };
        std::fs::write(d.path("a.img"), b"rootfs 1.0.0\n").unwrap();
        std::fs::write(d.path("b.img"), vec![0u8; 4096]).unwrap();
        std::fs::write(
            d.path("updraft.toml"),
            format!(
                "data_dir = {:?}\n[bootloader]\nbackend = \"sim\"\nstate_dir = {:?}\n\
                 [slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\n\
                 [device]\nboard = \"b\"\nhardware_revision = \"1.0\"\nversion = \"1.0.0\"\n",
                d.path("data").display().to_string(),
                d.path("sim").display().to_string(),
                d.path("a.img").display().to_string(),
                d.path("b.img").display().to_string(),
            ),
        )
        .unwrap();
        std::fs::create_dir_all(d.path("data")).unwrap();
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_updraft"));
        cmd.args(args)
            .env("UPDRAFT_CONFIG", self.path("updraft.toml"))
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `updraft ARGS`; panics unless it succeeds; answers stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(out.status.success(), "updraft {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            !out.status.success(),
            "updraft {args:?} succeeded: {}",
            text(&out)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// An unsigned bundle of `version` with one raw image for the inactive slot.
    fn bundle(&self, version: &str) -> PathBuf {
        std::fs::write(self.path("rootfs.img"), format!("rootfs {version}\n")).unwrap();
        std::fs::write(
            self.path("bundle.toml"),
            format!(
                "version = \"{version}\"\nhardware-compatibility = [\"1.0\"]\n\
                 [[images]]\nfile = \"rootfs.img\"\ntype = \"raw\"\n"
            ),
        )
        .unwrap();
        let out = self.path(&format!("{version}.swu"));
        self.ok(&[
            "bundle",
            "create",
            "--manifest",
            "bundle.toml",
            "--unsigned",
            "--output",
            out.to_str().unwrap(),
        ]);
        out
    }
}

/// No Rust Debug anywhere: no `Some(`, `{ slot:`, `Armed`, JSON.
fn assert_words(out: &str) {
    for debug in ["Some(", "{ ", "Armed", "\"phase\"", "None"] {
        assert!(!out.contains(debug), "{debug:?} in:\n{out}");
    }
}

#[test]
fn status_tells_the_running_version_the_slots_the_last_trial_and_the_update_in_flight() {
    let dev = Device::new();
    // A fresh simulated device is off, and says how to start it.
    let out = dev.ok(&["status"]);
    assert!(out.contains("run `updraft sim boot`"), "{out}");
    assert_words(&out);
    assert!(
        dev.fails(&["sim", "reboot", "--config", "/nonexistent"])
            .contains("/nonexistent")
    );
    assert!(
        dev.ok(&["sim", "boot"])
            .contains("powered on: slot A is running (boot 1)")
    );
    assert!(dev.fails(&["sim", "boot"]).contains("already running slot A"));
    let out = dev.ok(&["status"]);
    assert_words(&out);
    assert!(out.contains("running:     slot A, version 1.0.0"), "{out}");
    assert!(
        out.contains("slot A:      booted and committed, version 1.0.0"),
        "{out}"
    );
    assert!(
        out.contains("slot B:      inactive, updates go here, version unknown"),
        "{out}"
    );
    assert!(out.contains("last trial:  none recorded"), "{out}");
    assert!(
        out.contains("in flight:   nothing; the next update is accepted"),
        "{out}"
    );

    let bundle = dev.bundle("2.0.0");
    dev.ok(&["install", bundle.to_str().unwrap()]);
    let out = dev.ok(&["status"]);
    assert_words(&out);
    assert!(
        out.contains("slot B:      inactive, updates go here, version 2.0.0"),
        "{out}"
    );
    assert!(
        out.contains("in flight:   version 2.0.0 is installed in slot B and armed for a trial boot"),
        "{out}"
    );
    assert!(
        out.contains("last install: version 2.0.0 into slot B from"),
        "{out}"
    );

    assert!(
        dev.ok(&["sim", "reboot"])
            .contains("slot B is running a trial boot (boot 2)")
    );
    let out = dev.ok(&["status"]);
    assert!(
        out.contains("running:     slot B on a trial boot (not committed yet), version 2.0.0"),
        "{out}"
    );
    assert!(out.contains("slot A:      committed, the fallback"), "{out}");
    dev.ok(&["commit"]);
    let out = dev.ok(&["status"]);
    assert_words(&out);
    assert!(out.contains("running:     slot B, version 2.0.0"), "{out}");
    assert!(
        out.contains(
            "last trial:  version 2.0.0 in slot B booted, passed its health check and was committed"
        ),
        "{out}"
    );

    // A trial that never comes up: the firmware falls back, `rollback` settles it, status says why.
    let bundle = dev.bundle("2.1.0");
    dev.ok(&["install", bundle.to_str().unwrap()]);
    assert!(
        dev.ok(&["sim", "fail-next-boot"])
            .contains("slot A is armed for a trial boot")
    );
    assert!(dev.ok(&["status"]).contains("the next trial boot will fail"));
    let out = dev.ok(&["sim", "reboot"]);
    assert!(
        out.contains("the trial boot of slot A failed, and the firmware fell back to slot B"),
        "{out}"
    );
    dev.ok(&["rollback"]);
    let out = dev.ok(&["status"]);
    assert_words(&out);
    assert!(
        out.contains("last trial:  version 2.1.0 in slot A was rolled back: the new slot did not boot"),
        "{out}"
    );
    // `[device] version` names the running system; this test's config keeps it at 1.0.0.
    assert!(out.contains("running:     slot B, version 1.0.0"), "{out}");
}

#[test]
fn the_sim_commands_refuse_a_real_bootloader() {
    let dev = Device::new();
    let config = std::fs::read_to_string(dev.path("updraft.toml")).unwrap();
    let grub = config.replace(
        &format!(
            "backend = \"sim\"\nstate_dir = {:?}",
            dev.path("sim").display().to_string()
        ),
        "backend = \"grub\"\ngrubenv = \"/nonexistent/grubenv\"",
    );
    std::fs::write(dev.path("updraft.toml"), grub).unwrap();
    let err = dev.fails(&["sim", "reboot"]);
    assert!(err.contains("configures a real one"), "{err}");
    assert!(!dev.path("sim").exists());
}

#[test]
fn bundle_inspect_without_select_lists_the_software_sets() {
    let dev = Device::new();
    std::fs::write(dev.path("rootfs.ext4"), b"an A/B root file system\n").unwrap();
    std::fs::write(
        dev.path("ab.toml"),
        "version = \"3.0.0\"\nhardware-compatibility = [\"1.0\"]\nsoftware-set = \"stable\"\n\
         [slots.a]\ndevice = \"/dev/mmcblk0p2\"\n[slots.b]\ndevice = \"/dev/mmcblk0p3\"\n\
         [[images]]\nfile = \"rootfs.ext4\"\ntype = \"raw\"\n",
    )
    .unwrap();
    dev.ok(&[
        "bundle",
        "create",
        "--manifest",
        "ab.toml",
        "--unsigned",
        "--output",
        "ab.swu",
    ]);
    let out = dev.ok(&["bundle", "inspect", "ab.swu"]);
    assert!(
        out.contains("software sets (pick one with --select SET,MODE"),
        "{out}"
    );
    assert!(
        out.contains("  stable,copy1: rootfs.ext4 (raw -> /dev/mmcblk0p2)"),
        "{out}"
    );
    assert!(
        out.contains("  stable,copy2: rootfs.ext4 (raw -> /dev/mmcblk0p3)"),
        "{out}"
    );
    assert!(
        out.contains("pass --select SET,MODE to check a set's images"),
        "{out}"
    );
    // With --select the set's image is checked, and the list is not repeated.
    let out = dev.ok(&["bundle", "inspect", "ab.swu", "--select", "stable,copy2"]);
    assert!(!out.contains("software sets"), "{out}");
    assert!(out.contains("hashes:      all 1 image(s) match"), "{out}");
}

/// `updraft ARGS` with its stdout the write end of a pipe whose read end is already closed: the
/// first write fails with EPIPE, every time.
fn with_closed_stdout(dev: &Device, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = dev.command(args);
    cmd.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // The parent's copy of the write end went into `cmd`; drop it so only the child holds one.
    drop(cmd);
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dev = Device::new();
    dev.ok(&["sim", "boot"]);
    let bundle = dev.bundle("2.0.0");
    let bundle = bundle.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["bundle", "inspect", bundle],
        vec!["install", bundle],
        vec!["sim", "reboot"],
        vec!["commit"],
    ] {
        let out = with_closed_stdout(&dev, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "updraft {args:?}: {}", text(&out));
        assert!(!stderr.contains("panicked"), "updraft {args:?}: {stderr}");
        assert!(!stderr.contains("error"), "updraft {args:?}: {stderr}");
    }
    // And through a shell pipeline, as a user types it.
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", "\"$0\" status | head -1"])
        .arg(env!("CARGO_BIN_EXE_updraft"))
        .env("UPDRAFT_CONFIG", dev.path("updraft.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bootloader:  sim\n");
    assert!(out.stderr.is_empty(), "{}", text(&out));
}
