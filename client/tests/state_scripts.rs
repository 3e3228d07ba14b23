#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Mender-style state scripts and the inventory directory, with `updraft agent` against a real
//! `updraft-server` over loopback and the simulated bootloader: every hook appends its name to a
//! trace file, so the tests read the order they ran in; results are checked through the Management
//! API, as an operator sees them.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use updraft_client::slots::Slot;
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage};

mod support;

use support::agent::{Fleet, SimKeys, agent_once, power_cycle, sim_config};

const CID: &str = "hooked-1";
const ACTIVE: &[u8] = b"slot A: the running system\n";

/// Every hook the agent runs in a successful update, in Mender's order.
const ALL_HOOKS: [&str; 11] = [
    "Download_Enter_10_first",
    "Download_Enter_20_second",
    "Download_Leave",
    "ArtifactInstall_Enter_10",
    "ArtifactInstall_Leave",
    "ArtifactReboot_Enter",
    "ArtifactReboot_Leave",
    "ArtifactCommit_Enter",
    "ArtifactCommit_Leave",
    "ArtifactRollback_Enter",
    "ArtifactRollback_Leave",
];

struct Device {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
}

impl Device {
    /// Slot A runs 1.0.0; every name in `hooks` is an executable state script appending its name to
    /// `trace` (`fail` ones then exit 1); `inventory.d/10-os` prints an attribute.
    fn new(fleet: &Fleet, hooks: &[&str], fail: &[&str]) -> Device {
        let token = fleet.register("hooked device");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        std::fs::write(dir.join("a.img"), ACTIVE).unwrap();
        std::fs::write(dir.join("b.img"), vec![0u8; 4096]).unwrap();
        for sub in ["scripts", "inventory.d"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let trace = dir.join("trace");
        for hook in hooks {
            let exit = if fail.contains(hook) { "exit 1" } else { "exit 0" };
            executable(
                &dir.join("scripts").join(hook),
                &format!(
                    "echo \"$UPDRAFT_STATE/$UPDRAFT_ACTION {hook}\" >> '{}'\n{exit}",
                    trace.display()
                ),
            );
        }
        executable(
            &dir.join("inventory.d/10-os"),
            "echo os_release=updraft-os 1.0\necho '# not an attribute'",
        );
        let p = |name: &str| dir.join(name).display().to_string();
        let agent = format!(
            "state_scripts_dir = {:?}\ninventory_dir = {:?}\nscript_timeout_secs = 20",
            p("scripts"),
            p("inventory.d")
        );
        let keys = SimKeys {
            agent: &agent,
            ..SimKeys::default()
        };
        let config = sim_config(&dir, &fleet.srv.url, CID, &token, keys);
        let device = Device {
            _tmp: tmp,
            dir,
            config,
        };
        assert_eq!(device.reboot(), Slot::A);
        device
    }

    /// A power cycle: a new boot id, and the simulated firmware boots the armed slot once.
    fn reboot(&self) -> Slot {
        power_cycle(&self.dir)
    }

    fn agent_once(&self) -> String {
        agent_once(&self.config)
    }

    /// The hooks that ran so far, in order.
    fn trace(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("trace"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect()
    }

    /// An unsigned bundle of version 1.1.0 for slot B (the device trusts no CA: development mode).
    fn bundle(&self) -> PathBuf {
        let source = self.dir.join("rootfs");
        std::fs::write(
            &source,
            (0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
        )
        .unwrap();
        let path = self.dir.join("update.swu");
        BundleWriter::new(Manifest {
            version: "1.1.0".into(),
            description: None,
            hardware_compatibility: vec!["1.0".into()],
            images: vec![ManifestImage::raw(
                &source,
                "rootfs.img",
                self.dir.join("b.img").to_str().unwrap(),
            )],
        })
        .write(std::fs::File::create(&path).unwrap())
        .unwrap();
        path
    }
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn state_scripts_run_in_mender_order_and_inventory_reaches_the_server() {
    let fleet = Fleet::start(CID);
    let error_hooks = ["Download_Error", "ArtifactInstall_Error", "ArtifactCommit_Error"];
    let hooks: Vec<&str> = ALL_HOOKS.iter().chain(&error_hooks).copied().collect();
    let dev = Device::new(&fleet, &hooks, &[]);
    let action = fleet.assign("os", &dev.bundle());

    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert_eq!(
        dev.trace(),
        ALL_HOOKS[..6],
        "install: download, arm, then before the reboot"
    );
    assert_eq!(
        std::fs::read_to_string(dev.dir.join("trace"))
            .unwrap()
            .lines()
            .next(),
        Some("Download/Enter Download_Enter_10_first"),
        "scripts learn their state from the environment"
    );

    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
    assert_eq!(
        dev.trace(),
        ALL_HOOKS[..9],
        "in the trial: reboot left, commit; no error, no rollback"
    );

    let attrs = fleet.attributes();
    assert_eq!(attrs["os_release"], "updraft-os 1.0", "{attrs}");
    assert!(attrs.get("# not an attribute").is_none(), "{attrs}");
}

#[test]
fn a_failing_artifact_install_enter_fails_the_update_and_runs_the_error_scripts() {
    let fleet = Fleet::start(CID);
    let hooks = [
        "Download_Enter",
        "Download_Leave",
        "ArtifactInstall_Enter_10_check",
        "ArtifactInstall_Enter_20_never",
        "ArtifactInstall_Leave",
        "ArtifactInstall_Error_10",
        "ArtifactInstall_Error_20",
        "ArtifactReboot_Enter",
    ];
    let dev = Device::new(&fleet, &hooks, &["ArtifactInstall_Enter_10_check"]);
    let action = fleet.assign("os", &dev.bundle());

    let out = dev.agent_once();
    assert!(!out.contains("installed and armed"), "{out}");
    assert_eq!(
        dev.trace(),
        [
            "Download_Enter",
            "Download_Leave",
            "ArtifactInstall_Enter_10_check",
            "ArtifactInstall_Error_10",
            "ArtifactInstall_Error_20",
        ]
    );
    let a = fleet.action(action);
    assert_eq!(a["status"], "error", "{a}");
    let messages = fleet.messages(action);
    assert!(
        messages.contains("ArtifactInstall_Enter_10_check failed: exit code 1"),
        "the operator reads which script failed: {messages}"
    );
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
    assert_eq!(std::fs::read(dev.dir.join("a.img")).unwrap(), ACTIVE);
    // The journal's record of the failure may be reported once more (the server keeps the action
    // closed); after that the device is idle, with nothing for a human to settle.
    assert!(!dev.agent_once().contains("installed"));
    let out = dev.agent_once();
    assert!(out.contains("idle"), "{out}");
}

#[test]
fn a_failing_artifact_reboot_leave_rolls_the_trial_back_and_runs_the_rollback_scripts() {
    let fleet = Fleet::start(CID);
    let hooks = [
        "ArtifactReboot_Leave_10_app-check",
        "ArtifactReboot_Error",
        "ArtifactCommit_Enter",
        "ArtifactRollback_Enter",
        "ArtifactRollback_Leave",
    ];
    let dev = Device::new(&fleet, &hooks, &["ArtifactReboot_Leave_10_app-check"]);
    let action = fleet.assign("os", &dev.bundle());
    assert!(dev.agent_once().contains("installed and armed"));
    assert_eq!(dev.reboot(), Slot::B);

    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported failure")),
        "{out}"
    );
    assert_eq!(
        dev.trace(),
        [
            "ArtifactReboot_Leave_10_app-check",
            "ArtifactReboot_Error",
            "ArtifactRollback_Enter",
            "ArtifactRollback_Leave",
        ],
        "no commit hook after a failed trial"
    );
    let attrs = fleet.attributes();
    assert!(
        attrs["updraft.health"]
            .as_str()
            .is_some_and(|h| h.contains("ArtifactReboot_Leave_10_app-check failed")),
        "the fleet sees why: {attrs}"
    );
    assert_eq!(
        dev.reboot(),
        Slot::A,
        "the device goes back to the committed slot"
    );
}
