//! The web UI end to end in headless Chromium: `ui-tests/e2e.mjs` (Playwright core, Debian's
//! chromium) logs in, uploads an artifact, creates a distribution set, assigns it to a device that
//! a simulated DDI client then updates, watches the status change, rolls a newer set out to the
//! device (filter preview, start, live group progress), rolls a third set out with a soak time
//! and has the device roll back (the group's error, the fleet page, the device's slot panel), and
//! sees a READ_TARGET-only user refused.
//! This test starts the server, prepares the device and that user, runs the script and checks the
//! screenshots it saved of each main page at 1280 and 390 px: present, with the expected heading,
//! not blank. The script itself runs axe-core on each (WCAG 2 A/AA) and checks the focus ring,
//! the phone layout and a module's artifacts (full SHA-256, download, delete).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use updraft_server::testing::TestServer;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Why the browser test cannot run here, if it cannot.
fn missing_tool(ui_tests: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !ui_tests.join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (cd ui-tests && npm ci)".into());
    }
    None
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn browser_flow_updates_a_device_and_refuses_a_limited_user() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let ui_tests = root.join("ui-tests");
    if let Some(why) = missing_tool(&ui_tests) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "needed under CI: {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let srv = TestServer::start();
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| {
        let res = http
            .post(format!("{}{path}", srv.url))
            .basic_auth(&srv.admin_user, Some(&srv.admin_password))
            .json(&body)
            .send()
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.text().unwrap());
    };
    post(
        "/rest/v1/targets",
        json!([{ "controllerId": "e2e-device", "name": "E2E device", "securityToken": "e2e-device-token" }]),
    );
    post(
        "/rest/v1/users",
        json!({ "username": "viewer", "password": "viewer-password", "permissions": ["READ_TARGET"] }),
    );

    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots"),
        PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&ui_tests)
        .env("UPDRAFT_URL", &srv.url)
        .env("ADMIN_USER", &srv.admin_user)
        .env("ADMIN_PASSWORD", &srv.admin_password)
        .env("LIMITED_USER", "viewer")
        .env("LIMITED_PASSWORD", "viewer-password")
        .env("DEVICE_ID", "e2e-device")
        .env("DEVICE_TOKEN", "e2e-device-token")
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser flow failed:\n{stdout}\n{stderr}"
    );

    // The device really was updated, as the UI showed.
    let target: Value = http
        .get(format!("{}/rest/v1/targets/e2e-device", srv.url))
        .basic_auth(&srv.admin_user, Some(&srv.admin_password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(target["updateStatus"], "in_sync", "{target}");

    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(shots.join("manifest.json")).unwrap()).unwrap();
    for (name, heading) in [
        ("login", "Log in"),
        ("overview", "Overview"),
        ("software-module", "Software module e2e-app"),
        ("software", "Software modules"),
        ("distributions", "Distribution sets"),
        ("distribution-set", "Distribution set e2e-set"),
        ("devices", "Devices"),
        ("device", "Device e2e-device"),
        ("settings", "Settings"),
        ("rollout-new", "New rollout"),
        ("rollout", "Rollout e2e-rollout"),
        ("rollouts", "Rollouts"),
        ("rollout-soak", "Rollout e2e-soak"),
        ("fleet", "Fleet health"),
        ("device-slots", "Device e2e-device"),
        ("forbidden", "Forbidden"),
    ] {
        // Each page at desktop width and at phone width (390 px, not wider: nothing scrolls sideways).
        for (name, width) in [(name.to_owned(), 1280), (format!("{name}-phone"), 390)] {
            let entry = manifest
                .iter()
                .find(|e| e["name"] == name)
                .unwrap_or_else(|| panic!("no screenshot {name}: {manifest:?}"));
            assert!(
                entry["heading"].as_str().unwrap().starts_with(heading),
                "{name}: {entry}"
            );
            let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
            let (w, h) = png_size(&png);
            assert!(w == width && h >= 300, "{name}: {w}x{h}");
            // A blank page compresses to a few hundred bytes and has one or two colours.
            assert!(png.len() > 8_000, "{name}: only {} bytes", png.len());
            assert!(
                entry["colours"].as_u64().unwrap() > 20,
                "{name} looks blank: {entry}"
            );
        }
    }
}
