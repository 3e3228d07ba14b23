//! SIGTERM: the real binary stops serving, writes the poll times it had only queued, and exits 0
//! in time; after a restart on the same data the device's last poll is there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

const PASSWORD: &str = "shutdown-test-password";

fn start(data: &Path, db: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .env("UPDRAFT_LISTEN", format!("127.0.0.1:{port}"))
        .env("UPDRAFT_DATA_DIR", data)
        .env("UPDRAFT_DATABASE_URL", db)
        .env("UPDRAFT_ADMIN_PASSWORD", PASSWORD)
        // Poll times would be written an hour from now: only the shutdown can write them.
        .env("UPDRAFT_POLL_FLUSH_INTERVAL_MS", "3600000")
        .env("UPDRAFT_SHUTDOWN_TIMEOUT_SECS", "10")
        .env("UPDRAFT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Client::new()
        .get(format!("{url}/openapi/ddi.json"))
        .send()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
    (child, url)
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
    let (mut child, url) = start(data, db);
    let created = mgmt(
        &url,
        reqwest::Method::POST,
        "/rest/v1/targets",
        Some(json!([{ "controllerId": "term-1" }])),
    );
    let token = created[0]["securityToken"].as_str().unwrap().to_owned();
    // The first poll writes at once (UNKNOWN → REGISTERED); the second is only queued.
    for _ in 0..2 {
        let r = Client::new()
            .get(format!("{url}/DEFAULT/controller/v1/term-1"))
            .header("authorization", format!("TargetToken {token}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let polled_before = mgmt(&url, reqwest::Method::GET, "/rest/v1/targets/term-1", None);
    let first = polled_before["pollStatus"]["lastRequestAt"].as_i64();
    // Queued poll times are written rounded down to the second: poll again clearly later.
    std::thread::sleep(Duration::from_millis(2100));
    let r = Client::new()
        .get(format!("{url}/DEFAULT/controller/v1/term-1"))
        .header("authorization", format!("TargetToken {token}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let (mut child, url) = start(data, db);
    let t = mgmt(&url, reqwest::Method::GET, "/rest/v1/targets/term-1", None);
    let last = t["pollStatus"]["lastRequestAt"].as_i64().unwrap();
    assert!(
        first.is_some_and(|f| last >= f + 1000),
        "the queued poll was not written: before {first:?}, after restart {last}"
    );
    let _ = child.kill();
    let _ = child.wait();
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
