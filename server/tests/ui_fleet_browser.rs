//! The console's fleet tools end to end in headless Chromium: `ui-tests/fleet.mjs` assigns a set to
//! two checked devices of a filtered device list and retries a failure group from the failures
//! page. This test prepares the devices, the set and the failures over the Management API and DDI,
//! runs the script, then checks through the Management API that exactly those devices changed and
//! that the screenshots (device list with a selection, failures page) were saved.
//! `UI_SCREENSHOT_DIR=docs/screenshots` keeps them for the documentation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::Fixture;
use support::browser::{CHROMIUM, available, png_size, ui_tests};

#[test]
fn bulk_assign_and_failure_retry_in_a_browser() {
    let ui_tests = ui_tests();
    if !available() {
        return;
    }
    let f = Fixture::sqlite();
    let (s, b) = f.post(
        "/rest/v1/targets",
        json!(
            ["bulk-1", "bulk-2", "bulk-3", "fail-1", "fail-2", "other"]
                .iter()
                .map(|c| json!({ "controllerId": c, "name": c }))
                .collect::<Vec<_>>()
        ),
    );
    assert_eq!(s, 201, "{b}");
    let (_, ds) = f.distribution_set("fleet-os", "os.bin", b"image");
    for cid in ["fail-1", "fail-2"] {
        let action = f.assign(ds, cid, json!({}));
        let (s, v) = f.feedback_with(
            cid,
            action,
            "closed",
            "failure",
            &["installing", "flash write failed"],
        );
        assert_eq!(s, 200, "{v}");
    }

    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-fleet-screenshots"),
        PathBuf::from,
    );
    let out = Command::new("node")
        .arg("fleet.mjs")
        .current_dir(&ui_tests)
        .env("UPDRAFT_URL", &f.srv.url)
        .env("ADMIN_USER", &f.srv.admin_user)
        .env("ADMIN_PASSWORD", &f.srv.admin_password)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser flow failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let assigned = |cid: &str| f.get(&format!("/rest/v1/targets/{cid}/assignedDS")).1["id"].as_i64();
    assert_eq!(assigned("bulk-1"), Some(ds));
    assert_eq!(assigned("bulk-2"), Some(ds));
    assert_eq!(assigned("bulk-3"), None, "not checked");
    assert_eq!(assigned("other"), None, "not in the filter");
    let (_, actions) = f.get("/rest/v1/targets/bulk-1/actions");
    assert_eq!(actions["content"][0]["forceType"], "soft", "{actions}");
    for cid in ["fail-1", "fail-2"] {
        assert_eq!(f.target(cid)["updateStatus"], "pending", "{cid} retried");
        assert_eq!(assigned(cid), Some(ds));
    }

    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(shots.join("fleet-manifest.json")).unwrap()).unwrap();
    for (name, heading) in [("devices-selection", "Devices"), ("failures", "Failures")] {
        let entry = manifest
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no screenshot {name}: {manifest:?}"));
        assert_eq!(entry["heading"], heading, "{entry}");
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        let (w, h) = png_size(&png);
        assert!(w >= 1000 && h >= 300, "{name}: {w}x{h}");
        assert!(png.len() > 8_000, "{name}: only {} bytes", png.len());
    }
}
