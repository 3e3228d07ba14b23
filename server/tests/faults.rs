//! The database and the disk go away and come back: the server answers 503 with `Retry-After`
//! (never a bare 500 or a hang), keeps serving known devices from memory, recovers by itself, and
//! never loses a write it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;
use support::{Fixture, read, terminate_backends};

fn postgres() -> Option<Fixture> {
    Fixture::postgres_with(|_| {})
}

#[test]
fn terminated_postgres_sessions_are_replaced_without_failing_requests() {
    let Some(f) = postgres() else { return };
    for i in 0..5 {
        f.poll(&format!("pg-dev-{i}"));
    }
    assert_eq!(f.get("/rest/v1/targets").0, 200);
    let killed = terminate_backends(&f);
    assert!(
        killed >= 2,
        "the pool and the invalidation channel had sessions: {killed}"
    );
    // The very next requests of every kind succeed: dead idle connections are found and replaced.
    let (s, v) = f.get("/rest/v1/targets");
    assert_eq!(s, 200, "{v}");
    let (s, v) = f.post("/rest/v1/targets", json!([{ "controllerId": "after-kill" }]));
    assert_eq!(s, 201, "{v}");
    for i in 0..5 {
        f.poll(&format!("pg-dev-{i}"));
    }
    assert_eq!(f.get("/rest/v1/targets").1["total"], 6);
}

#[test]
fn postgres_sessions_killed_under_load_lose_no_acknowledged_write() {
    let Some(f) = postgres() else { return };
    let f = Arc::new(f);
    let devices = 10;
    for i in 0..devices {
        f.poll(&format!("load-dev-{i}"));
    }
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let (ok, unavailable, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let count = |s: u16,
                 retry_after: bool,
                 what: &str,
                 ok: &AtomicUsize,
                 unavailable: &AtomicUsize,
                 other: &Mutex<Vec<String>>| {
        match s {
            200..=299 => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            503 if retry_after => {
                unavailable.fetch_add(1, Ordering::Relaxed);
            }
            _ => other.lock().unwrap().push(format!("{what}: {s}")),
        }
    };
    let rounds = 60;
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (f, created, ok, unavailable, other) = (
                Arc::clone(&f),
                Arc::clone(&created),
                Arc::clone(&ok),
                Arc::clone(&unavailable),
                Arc::clone(&other),
            );
            std::thread::spawn(move || {
                for r in 0..rounds {
                    // A device polls, an operator lists, and creates a target.
                    let res = f
                        .ddi(
                            Method::GET,
                            &format!("load-dev-{}", (w * rounds + r) % devices),
                            "",
                        )
                        .send()
                        .unwrap();
                    count(
                        res.status().as_u16(),
                        res.headers().contains_key("retry-after"),
                        "poll",
                        &ok,
                        &unavailable,
                        &other,
                    );
                    let res = f.mgmt(Method::GET, "/rest/v1/targets?limit=5").send().unwrap();
                    count(
                        res.status().as_u16(),
                        res.headers().contains_key("retry-after"),
                        "list",
                        &ok,
                        &unavailable,
                        &other,
                    );
                    let cid = format!("load-{w}-{r}");
                    let res = f
                        .mgmt(Method::POST, "/rest/v1/targets")
                        .json(&json!([{ "controllerId": cid }]))
                        .send()
                        .unwrap();
                    let s = res.status().as_u16();
                    if s == 201 {
                        created.lock().unwrap().push(cid);
                    }
                    count(
                        s,
                        res.headers().contains_key("retry-after"),
                        "create",
                        &ok,
                        &unavailable,
                        &other,
                    );
                }
            })
        })
        .collect();
    // Kill every session three times while the load runs (paced by the load's progress, not by a clock).
    for k in 1..=3 {
        while ok.load(Ordering::Relaxed) < k * 100
            && !workers.iter().all(std::thread::JoinHandle::is_finished)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        terminate_backends(&f);
    }
    for w in workers {
        w.join().unwrap();
    }
    let other = other.lock().unwrap();
    assert!(
        other.is_empty(),
        "answers other than success or 503 + Retry-After: {other:?}"
    );
    let (ok, unavailable) = (ok.load(Ordering::Relaxed), unavailable.load(Ordering::Relaxed));
    eprintln!("{ok} succeeded, {unavailable} answered 503 while sessions were killed three times");
    // Only a request caught exactly at COMMIT may not be repeated; everything else is retried.
    assert!(
        unavailable <= 6,
        "{unavailable} of {} requests failed",
        ok + unavailable
    );
    // Every acknowledged create is there.
    let created = created.lock().unwrap();
    for cid in created.iter() {
        assert_eq!(
            f.get(&format!("/rest/v1/targets/{cid}")).0,
            200,
            "{cid} was acknowledged but is gone"
        );
    }
}

/// Holds SQLite's write lock from another process (Python's sqlite3) until dropped.
struct ForeignLock(std::process::Child);

impl ForeignLock {
    fn take(db: &std::path::Path) -> Option<Self> {
        let script = "import sqlite3, sys\n\
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
            c.execute('BEGIN EXCLUSIVE')\n\
            print('locked', flush=True)\n\
            sys.stdin.read()\n\
            c.execute('COMMIT')\n";
        let mut child = match std::process::Command::new("python3")
            .args(["-c", script])
            .arg(db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("python3 required under CI: {e}")
            }
            Err(e) => {
                eprintln!("skipping: python3 cannot run: {e}");
                return None;
            }
        };
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        Some(Self(child))
    }

    fn release(mut self) {
        drop(self.0.stdin.take());
        assert!(self.0.wait().unwrap().success());
    }
}

#[test]
fn a_locked_sqlite_file_gives_503_with_retry_after_and_recovers() {
    let f = Fixture::sqlite();
    f.poll("known-device");
    f.srv.state.polls.flush(&f.srv.state.db).unwrap();
    let Some(lock) = ForeignLock::take(std::path::Path::new(&f.srv.state.config.database_url())) else {
        return;
    };
    // The lock holder waits for us, so an answer means the server did not wait for the lock.
    for i in 0..3 {
        let r = f
            .mgmt(Method::POST, "/rest/v1/targets")
            .json(&json!([{ "controllerId": format!("while-locked-{i}") }]))
            .send()
            .unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let (s, v) = read(r);
        assert_eq!(s, 503, "{v}");
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert_eq!(v["errorCode"], "updraft.server.error.unavailable");
    }
    // Reads and known devices' polls go on (WAL readers are not blocked; polls come from memory).
    assert_eq!(f.get("/rest/v1/targets").0, 200);
    f.poll("known-device");
    lock.release();
    // Writers back off for a second after a busy answer; the server's clock is not it, so the
    // first write after the lock may still be refused: retry as a client told Retry-After would.
    let mut status = 0;
    for _ in 0..50 {
        status = f
            .post("/rest/v1/targets", json!([{ "controllerId": "after-lock" }]))
            .0;
        if status != 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 201);
    let (_, v) = f.get("/rest/v1/targets");
    assert_eq!(v["total"], 2, "nothing of the refused writes landed: {v}");
}

#[test]
fn a_full_disk_during_upload_answers_507_and_keeps_nothing() {
    let Some(mount) = SmallDisk::mount() else { return };
    let data_dir = mount.dir.clone();
    let f = Fixture::with(None, move |c| c.data_dir = data_dir);
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "big", "version": "1", "type": "os" }]),
    );
    assert_eq!(s, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.upload(sm, "big.img", vec![7u8; 3 << 20]);
    assert_eq!(s, 507, "{v}");
    assert!(v["message"].as_str().unwrap().contains("storage is full"), "{v}");
    let tmp = mount.dir.join("artifacts").join("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a half-written upload was left behind"
    );
    assert_eq!(
        f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"))
            .1
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // Space again: the same upload works.
    let (s, v) = f.upload(sm, "small.img", vec![7u8; 1024]);
    assert_eq!(s, 201, "{v}");
}

/// A data dir whose `artifacts/` is a 1 MiB tmpfs (root only; CI runs as root).
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("updraft-full-{}", updraft_server::auth::random_token()));
        let artifacts = dir.join("artifacts");
        std::fs::create_dir_all(&artifacts).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&artifacts)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir_all(&dir);
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "mounting a tmpfs needs root, which CI has"
            );
            eprintln!("skipping: cannot mount a small tmpfs (needs root)");
            return None;
        }
        Some(Self { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.join("artifacts"))
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn slow_and_idle_clients_do_not_starve_a_poll() {
    use std::io::Write;
    use std::net::TcpStream;
    let f = Fixture::sqlite();
    f.poll("steady");
    let addr = f.srv.url.trim_start_matches("http://").to_owned();
    // 2,000 connections that never send a byte, and 50 slowloris clients that dribble header lines.
    let idle: Vec<TcpStream> = (0..2000).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /DEFAULT/controller/v1/slow HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dribbler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                for s in &mut slow {
                    let _ = s.write_all(b"X-Slow: 1\r\n");
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
        })
    };
    // Each poll on a connection of its own, as a device after a sleep.
    let mut times: Vec<std::time::Duration> = (0..15)
        .map(|_| {
            let client = reqwest::blocking::Client::new();
            let started = std::time::Instant::now();
            let r = client
                .get(f.url("/DEFAULT/controller/v1/steady"))
                .header("authorization", format!("GatewayToken {}", support::GW))
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
            started.elapsed()
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    dribbler.join().unwrap();
    drop(idle);
    times.sort();
    let median = times[times.len() / 2];
    eprintln!("poll times with 2,000 idle and 50 slow connections: {times:?}");
    assert!(
        median < std::time::Duration::from_millis(100),
        "median poll took {median:?}"
    );
}

/// A PostgreSQL server of this test's own (so it can be stopped without disturbing other tests),
/// run as the `postgres` user from Debian's binaries.
///
/// It listens only on a Unix socket in its own directory, not on a TCP port: a port picked for it
/// could be taken by another listener before PostgreSQL binds it, and again between a stop and
/// the restart on the same address the test is about; a socket path nobody else knows cannot be.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl PrivatePostgres {
    fn create() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).max());
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        let Some(bin) = bin.filter(|b| b.join("pg_ctl").exists() && root) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true needs PostgreSQL's server binaries and root for a private instance"
            );
            eprintln!("skipping: no PostgreSQL server binaries or not root");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("updraft-pg-{}", updraft_server::auth::random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            std::process::Command::new("chown")
                .arg("postgres")
                .arg(&dir)
                .status()
                .unwrap()
                .success()
        );
        let pg = Self { bin, dir };
        pg.as_postgres(&["initdb", "-A", "trust", "-U", "postgres", "-D", &pg.data()]);
        pg.start();
        let socket_dir = pg.dir.to_string_lossy().into_owned();
        pg.as_postgres(&["createdb", "-h", &socket_dir, "-U", "postgres", "updraft"]);
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn as_postgres(&self, args: &[&str]) {
        let out = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(args[0]))
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let opts = format!("-k {} -c listen_addresses=''", self.dir.display());
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.as_postgres(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-o",
            &opts,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    fn stop(&self) {
        self.as_postgres(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@/updraft?host={}&gssencmode=disable",
            self.dir.display()
        )
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_stopped_postgres_gives_503_known_devices_keep_polling_and_recovery_is_prompt() {
    let Some(pg) = PrivatePostgres::create() else {
        return;
    };
    let f = Fixture::with(Some(pg.url()), |_| {});
    f.poll("known-1");
    assert_eq!(f.get("/rest/v1/targets").0, 200);
    pg.stop();
    // Down: database work is refused promptly with Retry-After; a known device still gets its answer.
    for _ in 0..2 {
        let r = f.mgmt(Method::GET, "/rest/v1/targets").send().unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        let r = f
            .mgmt(Method::POST, "/rest/v1/targets")
            .json(&json!([{ "controllerId": "while-down" }]))
            .send()
            .unwrap();
        assert_eq!(r.status(), 503);
    }
    f.poll("known-1");
    pg.start();
    let back = std::time::Instant::now();
    let mut recovered = None;
    for _ in 0..400 {
        if f.get("/rest/v1/targets").0 == 200 {
            recovered = Some(back.elapsed());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let recovered = recovered.expect("the server did not recover within 10 s of the database");
    eprintln!("answering again {recovered:?} after PostgreSQL accepted connections");
    assert!(
        recovered < std::time::Duration::from_secs(2),
        "recovery took {recovered:?}"
    );
    let (s, v) = f.post("/rest/v1/targets", json!([{ "controllerId": "after-restart" }]));
    assert_eq!(s, 201, "{v}");
    let (_, v) = f.get("/rest/v1/targets");
    assert_eq!(
        v["total"], 2,
        "the refused write did not land, the new one did: {v}"
    );
}

#[derive(diesel::QueryableByName)]
struct Hits {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    hits: i32,
}

/// Two writes that take the same rows in opposite orders deadlock; PostgreSQL aborts one of them.
/// The store runs the aborted one again (as hawkBit's `@Retryable` does), so both land and neither
/// caller sees an error: a Management API request caught this way used to answer 500.
#[test]
fn postgres_writes_that_deadlock_are_run_again_and_both_land() {
    use diesel::RunQueryDsl;
    use std::sync::Barrier;
    use updraft_server::store::{self, AnyConnection};

    let Some(f) = postgres() else { return };
    let db = f.srv.state.db.clone();
    let sql = |c: &mut AnyConnection, q: &str| diesel::sql_query(q).execute(c).map(|_| ());
    db.write_blocking(|c| -> store::Result<()> {
        sql(
            c,
            "CREATE TABLE deadlock_probe (id INT PRIMARY KEY, hits INT NOT NULL)",
        )?;
        Ok(sql(c, "INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)")?)
    })
    .unwrap();

    // Each side locks its first row, waits until the other holds its own, then asks for the other
    // row: a deadlock on the first attempt for certain. Later attempts do not wait at the barrier.
    let barrier = Arc::new(Barrier::new(2));
    let side = |first: i32, second: i32| {
        let (db, barrier) = (db.clone(), barrier.clone());
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let handle = std::thread::spawn(move || {
            db.write_blocking(move |c| -> store::Result<()> {
                let bump = |id: i32| format!("UPDATE deadlock_probe SET hits = hits + 1 WHERE id = {id}");
                sql(c, &bump(first))?;
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    barrier.wait();
                }
                Ok(sql(c, &bump(second))?)
            })
        });
        (handle, attempts)
    };
    let (one, one_attempts) = side(1, 2);
    let (two, two_attempts) = side(2, 1);
    assert_eq!(one.join().unwrap(), Ok(()));
    assert_eq!(two.join().unwrap(), Ok(()));
    let attempts = one_attempts.load(Ordering::SeqCst) + two_attempts.load(Ordering::SeqCst);
    assert!(
        attempts >= 3,
        "one side was aborted and ran again: {attempts} attempts"
    );

    let hits: Vec<i32> = db
        .read_blocking(|c| -> store::Result<Vec<Hits>> {
            Ok(diesel::sql_query("SELECT hits FROM deadlock_probe ORDER BY id").load(c)?)
        })
        .unwrap()
        .into_iter()
        .map(|h| h.hits)
        .collect();
    assert_eq!(hits, [2, 2], "each write landed exactly once");
}
