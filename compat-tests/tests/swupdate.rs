//! The real Debian `swupdate` (suricatta, hawkBit mode) against updraft-server.
//!
//! Each test starts an in-process server, drives it over the Management API like
//! rauc-hawkbit-updater's fixture does, runs swupdate as the device and asserts the
//! outcome over the Management API. The device installs a CMS-signed bundle whose `raw`
//! image goes into a plain file standing in for the inactive partition; with the `none`
//! bootloader `-c 2` / `-c 3` play the state found after the reboot.

// Test code: a panic with a message is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;
use updraft_server::testing::TestServer;

use support::bundle::{self, SigningKey};
use support::device::{DdiAuth, Swupdate, SwupdateCommand};
use support::mgmt::Mgmt;
use support::proxy::ForwardProxy;
use support::wait::wait_until;
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage, SlotCopy, SoftwareSet};
use updraft_swu::signature::Signer;

const DEVICE: &str = "dev1";
const TARGET_TOKEN: &str = "dev1-target-token-0123456789";
/// What the stand-in partition holds before any update.
const OLD_SLOT: &[u8] = b"contents of the inactive slot before the update\n";
/// Last detail `SWUpdate` reports after a successful install (it then waits for the reboot).
const ALL_CHUNKS_INSTALLED: &str = "All Chunks Installed.";

struct Harness {
    // Fields drop in this order: no request outlives the server, the server its data dir.
    mgmt: Mgmt,
    server: TestServer,
    signer: SigningKey,
    dir: TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep bundles, slots and swupdate logs for the post-mortem.
            self.dir.disable_cleanup(true);
            eprintln!("--- test files kept in {}", self.dir.path().display());
        }
    }
}

impl Harness {
    fn start() -> Self {
        Self::around(TestServer::start())
    }

    /// The same on a fresh PostgreSQL database; None (with the reason printed) when PostgreSQL is
    /// unavailable outside CI, a failure under CI=true.
    fn start_postgres() -> Option<Self> {
        match TestServer::start_postgres() {
            Ok(server) => Some(Self::around(server)),
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL required under CI: {why}")
            }
            Err(why) => {
                eprintln!("skipping the PostgreSQL variant: {why}");
                None
            }
        }
    }

    fn around(server: TestServer) -> Self {
        let mgmt = Mgmt::new(&server.url, &server.admin_user, &server.admin_password);
        // swupdate takes its poll interval from config.polling.sleep.
        mgmt.set_config("pollingTime", &json!("00:00:02"));
        mgmt.set_config("authentication.targettoken.enabled", &json!(true));
        let dir = tempfile::Builder::new()
            .prefix("updraft-swu-")
            .tempdir()
            .expect("test dir");
        let signer = SigningKey::generate(dir.path(), "trusted");
        Self {
            mgmt,
            server,
            signer,
            dir,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh stand-in partition holding [`OLD_SLOT`].
    fn slot(&self, name: &str) -> PathBuf {
        let path = self.dir().join(name);
        fs::write(&path, OLD_SLOT).expect("write slot");
        path
    }

    fn bundle(&self, name: &str, signer: &SigningKey, image: &[u8], slot: &Path) -> Vec<u8> {
        bundle::signed_raw_bundle(&self.dir().join(format!("bundle-{name}")), signer, image, slot)
    }

    /// swupdate for `controller_id`, trusting the harness' signing certificate.
    fn swupdate(&self, controller_id: &str) -> SwupdateCommand {
        SwupdateCommand::new(&self.server.url, controller_id, &self.signer.cert)
    }

    fn target(&self, controller_id: &str) -> Value {
        self.mgmt
            .target(controller_id)
            .unwrap_or_else(|| panic!("target {controller_id} does not exist"))
    }

    /// Waits until the image is in the slot and the device reported the end of the install.
    fn wait_installed(
        &self,
        device: &mut Swupdate,
        controller_id: &str,
        action: i64,
        slot: &Path,
        image: &[u8],
    ) {
        wait_until("swupdate to install the image and report it", || {
            device.assert_running();
            let written = fs::read(slot).expect("read slot") == image;
            let statuses = self.mgmt.action_statuses(controller_id, action);
            let reported = statuses
                .iter()
                .any(|s| s.messages.iter().any(|m| m.contains(ALL_CHUNKS_INSTALLED)));
            let current = self.mgmt.action(controller_id, action);
            assert!(
                current["active"] != false,
                "action closed while waiting for the install:\n{}",
                self.describe_action(controller_id, action)
            );
            if written && reported {
                Ok(())
            } else {
                Err(format!(
                    "slot written: {written}, {ALL_CHUNKS_INSTALLED:?} reported: {reported}, action: {current}"
                ))
            }
        });
    }

    /// The action and its newest status entries, for failure messages.
    fn describe_action(&self, controller_id: &str, action: i64) -> String {
        let mut text = self.mgmt.action(controller_id, action).to_string();
        for status in self.mgmt.action_statuses(controller_id, action).iter().take(5) {
            let shown = &status.messages[..status.messages.len().min(12)];
            let _ = write!(text, "\n  {}: {shown:?}", status.kind);
        }
        text
    }

    /// Waits until the action is inactive with `status` and returns it.
    fn wait_action_closed(
        &self,
        device: &mut Swupdate,
        controller_id: &str,
        action: i64,
        status: &str,
    ) -> Value {
        wait_until(
            &format!("action {action} to become {status:?} and inactive"),
            || {
                device.assert_running();
                let current = self.mgmt.action(controller_id, action);
                let closed = current["active"] == false;
                assert!(
                    !closed || current["status"] == status,
                    "action closed as something else than {status:?}:\n{}",
                    self.describe_action(controller_id, action)
                );
                if closed {
                    Ok(current)
                } else {
                    Err(self.describe_action(controller_id, action))
                }
            },
        )
    }
}

fn target_token() -> DdiAuth {
    DdiAuth::TargetToken(TARGET_TOKEN.to_owned())
}

#[test]
fn installs_signed_bundle_and_reports_success_after_reboot() {
    if !support::tools_available() {
        return;
    }
    install_and_report_success(&Harness::start());
}

#[test]
fn installs_signed_bundle_and_reports_success_after_reboot_on_postgres() {
    if !support::tools_available() {
        return;
    }
    if let Some(h) = Harness::start_postgres() {
        install_and_report_success(&h);
    }
}

fn install_and_report_success(h: &Harness) {
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(256 * 1024, 1);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("good", &h.signer, &image, &slot));

    let mut device = h.swupdate(DEVICE).auth(target_token()).start(h.dir());
    h.wait_installed(&mut device, DEVICE, deployment.action, &slot, &image);
    // SWUpdate only reports "proceeding" until it has rebooted: the action must stay open.
    let action = h.mgmt.action(DEVICE, deployment.action);
    assert_eq!(
        action["active"], true,
        "action closed before the device confirmed the reboot: {action}"
    );
    assert_eq!(h.target(DEVICE)["updateStatus"], "pending");
    device.stop();

    let mut rebooted = h.swupdate(DEVICE).auth(target_token()).confirm(2).start(h.dir());
    let action = h.wait_action_closed(&mut rebooted, DEVICE, deployment.action, "finished");
    assert_eq!(action["type"], "update", "{action}");
    let target = h.target(DEVICE);
    assert_eq!(target["updateStatus"], "in_sync", "{target}");
    assert_eq!(
        h.mgmt.installed_distribution_set(DEVICE),
        Some(deployment.distribution_set)
    );
    assert_eq!(fs::read(&slot).unwrap(), image, "slot changed after the reboot");
}

#[test]
fn bundle_signed_by_untrusted_key_sets_action_and_target_to_error() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let untrusted = SigningKey::generate(h.dir(), "untrusted");
    let image = support::payload(64 * 1024, 2);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("untrusted", &untrusted, &image, &slot));

    let mut device = h.swupdate(DEVICE).auth(target_token()).start(h.dir());
    h.wait_action_closed(&mut device, DEVICE, deployment.action, "error");
    let target = h.target(DEVICE);
    assert_eq!(target["updateStatus"], "error", "{target}");
    assert_eq!(
        fs::read(&slot).unwrap(),
        OLD_SLOT,
        "an unverified bundle was written to the slot"
    );
}

#[test]
fn failure_reported_after_reboot_sets_action_and_target_to_error() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(64 * 1024, 3);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("good", &h.signer, &image, &slot));

    let mut device = h.swupdate(DEVICE).auth(target_token()).start(h.dir());
    h.wait_installed(&mut device, DEVICE, deployment.action, &slot, &image);
    device.stop();

    // The bootloader fell back to the old slot: the next start reports "Update Failed.".
    let mut rebooted = h.swupdate(DEVICE).auth(target_token()).confirm(3).start(h.dir());
    h.wait_action_closed(&mut rebooted, DEVICE, deployment.action, "error");
    let target = h.target(DEVICE);
    assert_eq!(target["updateStatus"], "error", "{target}");
    assert_eq!(
        h.mgmt.installed_distribution_set(DEVICE),
        None,
        "a failed update counts as installed"
    );
}

#[test]
fn cancel_before_install_is_acknowledged_and_nothing_is_installed() {
    if !support::tools_available() {
        return;
    }
    cancel_before_install(&Harness::start());
}

#[test]
fn cancel_before_install_is_acknowledged_and_nothing_is_installed_on_postgres() {
    if !support::tools_available() {
        return;
    }
    if let Some(h) = Harness::start_postgres() {
        cancel_before_install(&h);
    }
}

fn cancel_before_install(h: &Harness) {
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(64 * 1024, 4);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("good", &h.signer, &image, &slot));

    h.mgmt.cancel_action(DEVICE, deployment.action);
    let action = h.mgmt.action(DEVICE, deployment.action);
    assert_eq!(
        (&action["type"], &action["status"], &action["active"]),
        (&json!("cancel"), &json!("canceling"), &json!(true)),
        "a soft cancel waits for the device: {action}"
    );

    let mut device = h.swupdate(DEVICE).auth(target_token()).start(h.dir());
    let action = h.wait_action_closed(&mut device, DEVICE, deployment.action, "canceled");
    assert_eq!(action["type"], "cancel", "{action}");
    let newest = h.mgmt.action_statuses(DEVICE, deployment.action);
    assert_eq!(newest.first().map(|s| s.kind.as_str()), Some("canceled"));
    let target = h.target(DEVICE);
    assert_eq!(
        target["updateStatus"], "in_sync",
        "nothing is pending after the cancel: {target}"
    );
    assert_eq!(
        fs::read(&slot).unwrap(),
        OLD_SLOT,
        "a canceled update was installed"
    );
}

#[test]
fn interrupted_download_is_resumed_with_range_request() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(2 * 1024 * 1024, 5);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("big", &h.signer, &image, &slot));
    let proxy = ForwardProxy::start(&h.server.url, Some(300_000));

    let mut device = h
        .swupdate(DEVICE)
        .auth(target_token())
        .via_proxy(&proxy.url)
        .start(h.dir());
    h.wait_installed(&mut device, DEVICE, deployment.action, &slot, &image);

    let requests = proxy.requests();
    let cut = proxy
        .cut()
        .unwrap_or_else(|| panic!("no artifact download was cut; requests: {requests:#?}"));
    assert!(
        cut.body_bytes_delivered > 0,
        "cut before the body started: {cut:?}"
    );
    // Byte offsets only match what curl counted if the body is not chunk-encoded.
    assert!(
        cut.response_head
            .to_ascii_lowercase()
            .contains("\r\ncontent-length:"),
        "artifact download without Content-Length: {cut:?}"
    );
    let resumed: Vec<_> = requests
        .iter()
        .filter(|r| r.is_artifact_download() && r.range.is_some())
        .collect();
    assert_eq!(
        resumed.first().and_then(|r| r.range.clone()),
        Some(format!("bytes={}-", cut.body_bytes_delivered)),
        "swupdate did not resume where the download broke off; requests: {requests:#?}"
    );
    // A 200 to the Range request (or a wrong sha1) would have made swupdate report failure.
    let action = h.mgmt.action(DEVICE, deployment.action);
    assert_eq!(action["active"], true, "{action}");
}

#[test]
fn wrong_target_token_gets_no_access() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(64 * 1024, 6);
    let deployment = h
        .mgmt
        .deploy(DEVICE, "fw", &h.bundle("good", &h.signer, &image, &slot));
    let proxy = ForwardProxy::start(&h.server.url, None);
    let base_poll = format!("/DEFAULT/controller/v1/{DEVICE}");

    let mut device = h
        .swupdate(DEVICE)
        .auth(DdiAuth::TargetToken("not-the-token".into()))
        .via_proxy(&proxy.url)
        .start(h.dir());
    wait_until("three rejected polls", || {
        device.assert_running();
        let polls = proxy.requests().iter().filter(|r| r.path == base_poll).count();
        if polls >= 3 {
            Ok(())
        } else {
            Err(format!("{polls} polls"))
        }
    });
    device.stop();

    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .all(|r| !r.path.contains("/deploymentBase") && !r.path.contains("/artifacts")),
        "swupdate got past the poll with a wrong token: {requests:#?}"
    );
    let target = h.target(DEVICE);
    assert!(
        target["lastControllerRequestAt"].is_null(),
        "a rejected poll was recorded: {target}"
    );
    assert_eq!(target["updateStatus"], "pending", "{target}");
    let action = h.mgmt.action(DEVICE, deployment.action);
    assert_eq!(
        (&action["status"], &action["active"]),
        (&json!("running"), &json!(true)),
        "{action}"
    );
    assert_eq!(fs::read(&slot).unwrap(), OLD_SLOT);

    // Control: the same device with the right token is let in.
    let mut device = h.swupdate(DEVICE).auth(target_token()).start(h.dir());
    wait_until("a poll with the right token", || {
        device.assert_running();
        let target = h.target(DEVICE);
        if target["lastControllerRequestAt"].is_null() {
            Err(target.to_string())
        } else {
            Ok(())
        }
    });
}

#[test]
fn gateway_token_registers_unknown_device_and_installs() {
    const GATEWAY_DEVICE: &str = "gw-dev";
    const GATEWAY_TOKEN: &str = "gateway-token-fedcba9876543210";
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt
        .set_config("authentication.gatewaytoken.enabled", &json!(true));
    h.mgmt
        .set_config("authentication.gatewaytoken.key", &json!(GATEWAY_TOKEN));
    let slot = h.slot("slot-b.img");
    let image = support::payload(64 * 1024, 7);

    let mut device = h
        .swupdate(GATEWAY_DEVICE)
        .auth(DdiAuth::GatewayToken(GATEWAY_TOKEN.into()))
        .start(h.dir());
    let target = wait_until("plug-and-play registration through the gateway token", || {
        device.assert_running();
        h.mgmt
            .target(GATEWAY_DEVICE)
            .ok_or_else(|| "target not created yet".to_owned())
    });
    assert_eq!(target["updateStatus"], "registered", "{target}");

    let deployment = h
        .mgmt
        .deploy(GATEWAY_DEVICE, "fw", &h.bundle("good", &h.signer, &image, &slot));
    h.wait_installed(&mut device, GATEWAY_DEVICE, deployment.action, &slot, &image);
}

/// The A/B bundle `updraft bundle create` writes for a manifest with `software-set = "stable"`: the
/// raw image described as `stable.copy1` (device `slot_a`) and `stable.copy2` (`slot_b`), stored once.
fn ab_bundle(h: &Harness, image: &[u8], slot_a: &Path, slot_b: &Path) -> Vec<u8> {
    let source = h.dir().join("ab-rootfs.img");
    fs::write(&source, image).unwrap();
    let mut rootfs = ManifestImage::raw(&source, "rootfs.img", "unused");
    rootfs.device = None;
    let copy = |slot: &Path, part: &str| SlotCopy {
        device: slot.display().to_string(),
        bootenv: vec![("rootpart".to_owned(), part.to_owned())],
    };
    let writer = BundleWriter::new(Manifest {
        version: "2.0.0".into(),
        description: Some("A/B".into()),
        hardware_compatibility: vec![bundle::HW_REVISION.into()],
        images: vec![rootfs],
    })
    .with_software_set(SoftwareSet {
        name: "stable".into(),
        copies: [copy(slot_a, "2"), copy(slot_b, "3")],
    })
    .with_signer(Signer::from_pem_files(&h.signer.cert, &h.signer.key).unwrap());
    writer.write(Vec::new()).unwrap()
}

/// One bundle for both slots: a device on slot A runs swupdate with `-e stable,copy2` and gets
/// slot B written, a device on slot B with `-e stable,copy1` gets slot A; the other slot is left
/// alone.
#[test]
fn ab_bundle_installs_into_the_slot_each_device_selects() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    let slot_a = h.dir().join("slot-a.img");
    let slot_b = h.dir().join("slot-b.img");
    let image = support::payload(256 * 1024, 8);
    let swu = ab_bundle(&h, &image, &slot_a, &slot_b);
    for (controller_id, mode, written, untouched) in [
        ("on-slot-a", "copy2", &slot_b, &slot_a),
        ("on-slot-b", "copy1", &slot_a, &slot_b),
    ] {
        fs::write(&slot_a, OLD_SLOT).unwrap();
        fs::write(&slot_b, OLD_SLOT).unwrap();
        let token = format!("{controller_id}-target-token-0123456789");
        h.mgmt.create_target(controller_id, Some(&token));
        let deployment = h.mgmt.deploy(controller_id, &format!("ab-{controller_id}"), &swu);
        let mut device = h
            .swupdate(controller_id)
            .auth(DdiAuth::TargetToken(token))
            .select(&format!("stable,{mode}"))
            .start(h.dir());
        h.wait_installed(&mut device, controller_id, deployment.action, written, &image);
        device.stop();
        assert_eq!(
            fs::read(untouched).unwrap(),
            OLD_SLOT,
            "swupdate -e stable,{mode} wrote the running slot"
        );
    }
}

/// The shipped SWUpdate configuration (`client/dist/swupdate/swupdate.cfg`), used as it is (the
/// server, id and token come from `-u`, which overrides its `suricatta` section): its `identify`
/// section arrives as the target's attributes under Updraft's `updraft.*` keys.
#[test]
fn shipped_identify_example_sends_updraft_attributes() {
    if !support::tools_available() {
        return;
    }
    let h = Harness::start();
    h.mgmt.create_target(DEVICE, Some(TARGET_TOKEN));
    let config = include_str!("../../client/dist/swupdate/swupdate.cfg");
    let mut device = h
        .swupdate(DEVICE)
        .auth(target_token())
        .config_file_text(config)
        .start(h.dir());
    let attributes = wait_until("the identify section to arrive as attributes", || {
        device.assert_running();
        let attributes = h.mgmt.attributes(DEVICE);
        if attributes["updraft.slot.booted"].is_null() {
            Err(attributes.to_string())
        } else {
            Ok(attributes)
        }
    });
    assert_eq!(
        attributes,
        json!({
            "updraft.client.version": "swupdate-2022.12",
            "updraft.slot.booted": "a",
            "hw_revision": "1.0",
        })
    );
}
