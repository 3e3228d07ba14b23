//! `kill -9` of the server in the middle of writes: after a restart on the same database and data
//! dir there is no partial row and no stray file, and every write that was acknowledged is there.
//! Each case runs against the real binary, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use support::process::Process;

const PASSWORD: &str = "crash-test-password";

struct Server {
    process: Process,
    url: String,
    data: PathBuf,
    db: String,
}

impl Server {
    /// The real binary on a port of its own; every restart gets a new one, so a request of the
    /// killed process's clients can never reach its successor.
    fn start(data: &Path, db: &str) -> Self {
        let process = support::process::updraft_server(|c| {
            c.env("UPDRAFT_DATA_DIR", data)
                .env("UPDRAFT_DATABASE_URL", db)
                .env("UPDRAFT_ADMIN_PASSWORD", PASSWORD)
                .env("UPDRAFT_POLL_FLUSH_INTERVAL_MS", "100");
        });
        Self {
            url: process.url.clone(),
            process,
            data: data.to_owned(),
            db: db.to_owned(),
        }
    }

    fn kill9_and_restart(mut self) -> Self {
        self.process.kill(); // SIGKILL
        Self::start(&self.data.clone(), &self.db.clone())
    }

    fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = Client::new()
            .request(method, format!("{}{path}", self.url))
            .basic_auth("admin", Some(PASSWORD));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().unwrap();
        let s = res.status().as_u16();
        (s, res.json().unwrap_or(Value::Null))
    }

    fn total(&self, path: &str) -> i64 {
        let (s, v) = self.api(reqwest::Method::GET, path, None);
        assert_eq!(s, 200, "{path}: {v}");
        v["total"].as_i64().unwrap()
    }
}

/// Body bytes that announce when `announce_at` bytes have gone out, then stall until the server dies.
struct StallingBody {
    sent: usize,
    announce_at: usize,
    halfway: Option<mpsc::Sender<()>>,
}

impl Read for StallingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.sent >= self.announce_at {
            if let Some(tx) = self.halfway.take() {
                let _ = tx.send(());
            }
            // The server is killed while we wait; the write then fails and the client gives up.
            std::thread::sleep(Duration::from_millis(50));
        }
        let n = buf.len().min(64 * 1024);
        buf[..n].fill(0x5a);
        self.sent += n;
        Ok(n)
    }
}

fn artifact_files(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data.join("artifacts")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn upload_cut_by_a_crash_leaves_nothing(s: Server) -> Server {
    let (st, v) = s.api(
        reqwest::Method::POST,
        "/rest/v1/softwaremodules",
        Some(json!([{ "name": "crash", "version": "1", "type": "os" }])),
    );
    assert_eq!(st, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let (tx, rx) = mpsc::channel();
    let url = format!("{}/rest/v1/softwaremodules/{sm}/artifacts", s.url);
    let uploader = std::thread::spawn(move || {
        let body = StallingBody {
            sent: 0,
            announce_at: 4 << 20,
            halfway: Some(tx),
        };
        let form = reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::reader(body).file_name("big.img"),
        );
        Client::new()
            .post(url)
            .basic_auth("admin", Some(PASSWORD))
            .multipart(form)
            .send()
            .map(|r| r.status().as_u16())
            .ok()
    });
    rx.recv().unwrap();
    // Wait until the server has put part of it on disk, then kill it mid-upload.
    let tmp = s.data.join("artifacts").join("tmp");
    let written = (0..2000).any(|_| {
        let some = std::fs::read_dir(&tmp)
            .unwrap()
            .any(|e| e.unwrap().metadata().unwrap().len() > 0);
        if !some {
            std::thread::sleep(Duration::from_millis(5));
        }
        some
    });
    assert!(written, "the upload never reached the disk");
    let s = s.kill9_and_restart();
    let outcome = uploader.join().unwrap();
    assert!(
        outcome.is_none() || outcome == Some(500),
        "the upload cannot have succeeded: {outcome:?}"
    );
    let (_, v) = s.api(
        reqwest::Method::GET,
        &format!("/rest/v1/softwaremodules/{sm}/artifacts"),
        None,
    );
    assert_eq!(v, json!([]), "an artifact row survived a cut upload");
    assert_eq!(
        artifact_files(&s.data),
        Vec::<PathBuf>::new(),
        "a stray file survived"
    );
    s
}

fn bulk_create_is_all_or_nothing(s: Server, delay_ms: u64) -> Server {
    let before = s.total("/rest/v1/targets?limit=1");
    let body: Vec<Value> = (0..3000)
        .map(|i| json!({ "controllerId": format!("bulk-{delay_ms}-{i}") }))
        .collect();
    let url = format!("{}/rest/v1/targets", s.url);
    let creator = std::thread::spawn(move || {
        Client::new()
            .post(url)
            .basic_auth("admin", Some(PASSWORD))
            .json(&body)
            .send()
            .map(|r| r.status().as_u16())
            .ok()
    });
    std::thread::sleep(Duration::from_millis(delay_ms));
    let s = s.kill9_and_restart();
    let acknowledged = creator.join().unwrap() == Some(201);
    let created = s.total("/rest/v1/targets?limit=1") - before;
    assert!(
        created == 0 || created == 3000,
        "{created} of 3000 targets after a crash"
    );
    if acknowledged {
        assert_eq!(created, 3000, "an acknowledged create was lost");
    }
    s
}

fn rollout_start_is_all_or_nothing(s: Server, delay_ms: u64) -> Server {
    let tag = format!("ro{delay_ms}");
    let body: Vec<Value> = (0..2000)
        .map(|i| json!({ "controllerId": format!("{tag}-{i}") }))
        .collect();
    assert_eq!(
        s.api(
            reqwest::Method::POST,
            "/rest/v1/targets",
            Some(Value::Array(body))
        )
        .0,
        201
    );
    let (st, v) = s.api(
        reqwest::Method::POST,
        "/rest/v1/softwaremodules",
        Some(json!([{ "name": tag, "version": "1", "type": "os" }])),
    );
    assert_eq!(st, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let (st, v) = s.api(
        reqwest::Method::POST,
        "/rest/v1/distributionsets",
        Some(json!([{ "name": tag, "version": "1", "type": "os", "modules": [{ "id": sm }] }])),
    );
    assert_eq!(st, 201, "{v}");
    let ds = v[0]["id"].as_i64().unwrap();
    let (st, r) = s.api(
        reqwest::Method::POST,
        "/rest/v1/rollouts",
        Some(json!({ "name": tag, "distributionSetId": ds, "targetFilterQuery": format!("controllerId=={tag}-*"),
                     "amountGroups": 4 })),
    );
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let url = format!("{}/rest/v1/rollouts/{id}/start", s.url);
    let starter = std::thread::spawn(move || {
        Client::new()
            .post(url)
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .map(|r| r.status().as_u16())
            .ok()
    });
    std::thread::sleep(Duration::from_millis(delay_ms));
    let s = s.kill9_and_restart();
    let acknowledged = starter.join().unwrap() == Some(204);
    let (_, r) = s.api(reqwest::Method::GET, &format!("/rest/v1/rollouts/{id}"), None);
    let actions = s.total(&format!("/rest/v1/actions?q=rollout.id=={id}&limit=1"));
    match r["status"].as_str() {
        Some("ready") => assert!(!acknowledged && actions == 0, "{r}, {actions} actions"),
        Some("running") => assert_eq!(actions, 2000, "{r}"),
        other => panic!("rollout in {other:?} after a crash: {r}"),
    }
    s
}

fn polls_flushing_when_killed_leave_a_consistent_fleet(s: Server) -> Server {
    let body: Vec<Value> = (0..300)
        .map(|i| json!({ "controllerId": format!("poll-{i}") }))
        .collect();
    let (st, created) = s.api(
        reqwest::Method::POST,
        "/rest/v1/targets",
        Some(Value::Array(body)),
    );
    assert_eq!(st, 201);
    let http = Client::new();
    for (i, t) in created.as_array().unwrap().iter().enumerate() {
        let r = http
            .get(format!("{}/DEFAULT/controller/v1/poll-{i}", s.url))
            .header(
                "authorization",
                format!("TargetToken {}", t["securityToken"].as_str().unwrap()),
            )
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let s = s.kill9_and_restart();
    let (_, v) = s.api(
        reqwest::Method::GET,
        "/rest/v1/targets?q=controllerId==poll-*&limit=500",
        None,
    );
    assert_eq!(v["total"], 300);
    for t in v["content"].as_array().unwrap() {
        // Flushed or not yet: either no poll time or a real one, never a broken row.
        assert!(
            t["pollStatus"].is_null() || t["pollStatus"]["lastRequestAt"].as_i64().is_some_and(|ms| ms > 0),
            "{t}"
        );
    }
    s
}

fn run_all(db: &str, data: &Path) {
    let mut s = Server::start(data, db);
    s = upload_cut_by_a_crash_leaves_nothing(s);
    for delay in [0, 15, 60] {
        s = bulk_create_is_all_or_nothing(s, delay);
    }
    for delay in [0, 10, 40] {
        s = rollout_start_is_all_or_nothing(s, delay);
    }
    drop(polls_flushing_when_killed_leave_a_consistent_fleet(s));
}

#[test]
fn kill_9_during_writes_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("updraft.db").to_string_lossy().into_owned();
    run_all(&db, data.path());
}

#[test]
fn kill_9_during_writes_on_postgres() {
    let Some((url, _database)) = support::fresh_postgres() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    run_all(&url, data.path());
}
