//! The real `rauc-hawkbit` DDI client from PyPI (the Python client RAUC devices use) installs an
//! update from Updraft: poll, configData, deploymentBase, artifact download with its MD5 check, and
//! its own feedback bodies (`"progress": {"percentage": N}` while proceeding, `"progress": {}` when
//! closing, `id` as a string, `time` as `YYYYMMDDTHHMMSS`). Only RAUC's D-Bus daemon is stood in for
//! (`rauc_hawkbit/drive.py` says how). `.ci/run` makes the venv from `rauc_hawkbit/requirements.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use updraft_server::testing::TestServer;

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var("UPDRAFT_RAUC_VENV").unwrap_or_else(|_| "/var/tmp/updraft-rauc-venv".into());
    let python = Path::new(&venv).join("bin/python");
    let ready = python.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import rauc_hawkbit, aiohttp"])
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Some(python);
    }
    let why = format!(
        "no rauc-hawkbit venv at {venv} (python3 -m venv {venv} && {venv}/bin/pip install --no-deps \
         -r compat-tests/rauc_hawkbit/requirements.txt)"
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {why}");
    eprintln!("skipping: {why}");
    None
}

fn call(http: &Client, srv: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = http
        .request(method, format!("{}{path}", srv.url))
        .basic_auth(&srv.admin_user, Some(&srv.admin_password));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().unwrap();
    let status = res.status();
    let v: Value = res.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

#[test]
fn rauc_hawkbit_installs_an_update_and_reports_success() {
    let Some(python) = venv_python() else { return };
    let srv = TestServer::start();
    let http = Client::new();
    let api = |m, path: &str, body| call(&http, &srv, m, path, body);
    api(
        Method::PUT,
        "/rest/v1/system/configs/pollingTime",
        Some(json!({ "value": "00:00:30" })),
    );
    let token = api(
        Method::POST,
        "/rest/v1/targets",
        Some(json!([{ "controllerId": "rauc-01" }])),
    )[0]["securityToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let sm = api(
        Method::POST,
        "/rest/v1/softwaremodules",
        Some(json!([{ "name": "rootfs", "version": "2.0", "type": "os" }])),
    )[0]["id"]
        .as_i64()
        .unwrap();
    let bundle: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(bundle.clone()).file_name("update.raucb"),
    );
    let res = http
        .post(format!("{}/rest/v1/softwaremodules/{sm}/artifacts", srv.url))
        .basic_auth(&srv.admin_user, Some(&srv.admin_password))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 201);
    let ds = api(
        Method::POST,
        "/rest/v1/distributionsets",
        Some(json!([{ "name": "rootfs", "version": "2.0", "type": "os", "modules": [{ "id": sm }] }])),
    )[0]["id"]
        .as_i64()
        .unwrap();
    api(
        Method::POST,
        &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
        Some(json!([{ "id": "rauc-01", "type": "forced" }])),
    );

    let work = tempfile::tempdir().unwrap();
    let drive = Path::new(env!("CARGO_MANIFEST_DIR")).join("rauc_hawkbit/drive.py");
    let out = std::process::Command::new(python)
        .arg(drive)
        .args(["--server", srv.url.trim_start_matches("http://")])
        .args([
            "--tenant",
            "DEFAULT",
            "--controller-id",
            "rauc-01",
            "--auth-token",
            &token,
        ])
        .args(["--ssl", "false", "--timeout", "120", "--bundle-dir"])
        .arg(work.path())
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "rauc-hawkbit failed:\n{log}");
    // It really sent its own progress objects, and they were accepted.
    assert!(log.contains("\"percentage\""), "{log}");
    assert_eq!(
        std::fs::read(work.path().join("installed.raucb")).unwrap(),
        bundle
    );

    let actions = api(Method::GET, "/rest/v1/targets/rauc-01/actions", None);
    let action = &actions["content"][0];
    assert_eq!(action["status"], "finished", "{actions}");
    let target = api(Method::GET, "/rest/v1/targets/rauc-01", None);
    assert_eq!(target["updateStatus"], "in_sync", "{target}");
    let status = api(
        Method::GET,
        &format!("/rest/v1/targets/rauc-01/actions/{}/status", action["id"]),
        None,
    );
    let messages = status.to_string();
    assert!(messages.contains("Rauc bundle update completed"), "{messages}");
}
