//! Health endpoints: `/healthz`, `/readyz` and hawkBit's Spring Boot `/actuator/health` shapes,
//! unauthenticated and never rate-limited; readiness follows the database and the artifact store;
//! `updraft-server healthcheck` turns it into an exit status for a container's HEALTHCHECK.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Fixture, read};

const LIVENESS: [&str; 2] = ["/healthz", "/actuator/health/liveness"];
const READINESS: [&str; 3] = ["/readyz", "/actuator/health", "/actuator/health/readiness"];

/// An anonymous GET, as a kubelet or load balancer sends it.
fn probe(f: &Fixture, path: &str) -> (u16, Value) {
    read(f.http.get(f.url(path)).send().unwrap())
}

/// Polls `path` until it answers `status`, with a generous deadline; returns the body.
fn wait_for(f: &Fixture, path: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, v) = probe(f, path);
        if s == status {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {s} {v}, not {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn healthcheck(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["healthcheck", "--url", url])
        .output()
        .unwrap()
}

fn every_probe_answers_up_without_credentials(f: &Fixture) {
    for path in LIVENESS {
        assert_eq!(
            probe(f, path),
            (200, serde_json::json!({ "status": "UP" })),
            "{path}"
        );
    }
    for path in READINESS {
        let (s, v) = probe(f, path);
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(v["status"], "UP", "{path}: {v}");
        assert_eq!(v["components"]["db"]["status"], "UP", "{path}: {v}");
        assert_eq!(v["components"]["storage"]["status"], "UP", "{path}: {v}");
    }
    let out = healthcheck(&f.url("/readyz"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

backend_tests!(every_probe_answers_up_without_credentials);

#[test]
fn probes_are_never_rate_limited() {
    let f = Fixture::with(None, |c| {
        c.dos_filter.max_read = 2;
        c.dos_filter.limit_private = true;
    });
    let limited = (0..10).filter(|_| f.get("/rest/v1/targets").0 == 429).count();
    assert!(limited > 0, "the DoS filter is on for other paths");
    for _ in 0..20 {
        for path in LIVENESS.iter().chain(&READINESS) {
            assert_eq!(probe(&f, path).0, 200, "{path}");
        }
    }
}

#[test]
fn readyz_is_down_while_the_artifact_store_is_gone() {
    let f = Fixture::sqlite();
    let artifacts = f.srv.data_dir.join("artifacts");
    let moved = f.srv.data_dir.join("artifacts-unmounted");
    std::fs::rename(&artifacts, &moved).unwrap();
    let v = wait_for(&f, "/readyz", 503);
    assert_eq!(v["status"], "DOWN", "{v}");
    assert_eq!(v["components"]["storage"]["status"], "DOWN", "{v}");
    assert_eq!(v["components"]["db"]["status"], "UP", "{v}");
    assert_eq!(wait_for(&f, "/actuator/health", 503)["status"], "DOWN");
    assert_eq!(probe(&f, "/healthz").0, 200, "the process is alive: no restart");
    std::fs::rename(&moved, &artifacts).unwrap();
    assert_eq!(wait_for(&f, "/readyz", 200)["status"], "UP");
}

#[test]
fn readyz_is_down_while_the_database_is_gone_and_recovers() {
    use diesel::{Connection, RunQueryDsl};
    let Some(f) = Fixture::postgres_with(|_| {}) else {
        return;
    };
    let db = support::database_name(&f);
    let mut admin = diesel::PgConnection::establish(&updraft_server::testing::postgres_admin_url()).unwrap();
    // The database goes away: no new sessions, and the open ones are cut.
    diesel::sql_query(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .unwrap();
    support::terminate_backends(&f);
    let v = wait_for(&f, "/readyz", 503);
    assert_eq!(v["components"]["db"]["status"], "DOWN", "{v}");
    assert_eq!(v["components"]["storage"]["status"], "UP", "{v}");
    assert_eq!(wait_for(&f, "/actuator/health/readiness", 503)["status"], "DOWN");
    for path in LIVENESS {
        assert_eq!(probe(&f, path).0, 200, "{path}: alive, only not ready");
    }
    let out = healthcheck(&f.url("/readyz"));
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("not healthy: ") && said.contains("503"),
        "{said}"
    );
    // It comes back, and so does readiness, without a restart.
    diesel::sql_query(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .unwrap();
    assert_eq!(wait_for(&f, "/readyz", 200)["components"]["db"]["status"], "UP");
}

#[test]
fn healthcheck_says_why_in_a_sentence_when_nothing_listens() {
    // A socket bound but not listening holds the port, so no other listener can take it while
    // the healthcheck runs, and a connection to it is refused.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    let out = healthcheck(&format!("http://127.0.0.1:{port}/readyz"));
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("not healthy: cannot connect to 127.0.0.1:"),
        "{said}"
    );
}
