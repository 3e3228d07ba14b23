//! SIGTERM: the real binary stops serving, writes the poll times it had only queued, and exits 0
//! in time; after a restart on the same data the device's last poll is there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use support::process::Process;

const PASSWORD: &str = "shutdown-test-password";

fn start(data: &Path, db: &str) -> Process {
    support::process::updraft_server(|c| {
        c.env("UPDRAFT_DATA_DIR", data)
            .env("UPDRAFT_DATABASE_URL", db)
            .env("UPDRAFT_ADMIN_PASSWORD", PASSWORD)
            // Poll times would be written an hour from now: only the shutdown can write them.
            .env("UPDRAFT_POLL_FLUSH_INTERVAL_MS", "3600000")
            .env("UPDRAFT_SHUTDOWN_TIMEOUT_SECS", "10");
    })
}

fn mgmt(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = Client::new()
        .request(method, format!("{url}{path}"))
        .basic_auth("admin", Some(PASSWORD));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().unwrap()
}

fn sigterm_writes_the_last_poll_and_exits_0(data: &Path, db: &str) {
    let mut server = start(data, db);
    let url = server.url.clone();
    let created = mgmt(
        &url,
        reqwest::Method::POST,
        "/rest/v1/targets",
        Some(json!([{ "controllerId": "term-1" }])),
    );
    let token = created[0]["securityToken"].as_str().unwrap().to_owned();
    // The device's DDI poll, answered 200.
    let poll = || {
        let r = Client::new()
            .get(format!("{url}/DEFAULT/controller/v1/term-1"))
            .header("authorization", format!("TargetToken {token}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    // The first poll writes at once (UNKNOWN → REGISTERED); the second is only queued.
    poll();
    poll();
    let polled_before = mgmt(&url, reqwest::Method::GET, "/rest/v1/targets/term-1", None);
    let first = polled_before["pollStatus"]["lastRequestAt"].as_i64();
    // Queued poll times are written rounded down to the second: poll again clearly later.
    std::thread::sleep(Duration::from_millis(2100));
    poll();

    let sent = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let restarted = start(data, db);
    let t = mgmt(
        &restarted.url,
        reqwest::Method::GET,
        "/rest/v1/targets/term-1",
        None,
    );
    let last = t["pollStatus"]["lastRequestAt"].as_i64().unwrap();
    assert!(
        first.is_some_and(|f| last >= f + 1000),
        "the queued poll was not written: before {first:?}, after restart {last}"
    );
}

#[test]
fn sigterm_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("updraft.db").to_string_lossy().into_owned();
    sigterm_writes_the_last_poll_and_exits_0(data.path(), &db);
}

#[test]
fn sigterm_on_postgres() {
    let Some((url, _database)) = support::fresh_postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    sigterm_writes_the_last_poll_and_exits_0(data.path(), &url);
}
