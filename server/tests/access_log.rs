//! The access log of the real binary: one JSON line per request with who and how long, never the
//! query string, and device polls only when asked for (`debug`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::Value;

/// Runs the server with `log`, sends `requests` (method, path, basic auth?), stops it, and returns
/// its access-log lines.
fn access_lines(log: &str, requests: &[(&str, &str, bool)]) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server(dir.path(), log);
    let http = reqwest::blocking::Client::new();
    for (method, path, auth) in requests {
        let mut r = http.request(method.parse().unwrap(), format!("{}{path}", server.url));
        if *auth {
            r = r.basic_auth("admin", Some(PASSWORD));
        }
        r.send().unwrap();
    }
    server.kill();
    let text = server.output();
    let lines = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "updraft_server::access")
        .collect();
    (lines, text)
}

const PASSWORD: &str = "access-log-test-password";

/// The real binary on its own SQLite database in `dir`, logging JSON at `log`.
fn server(dir: &std::path::Path, log: &str) -> support::process::Process {
    support::process::updraft_server(|c| {
        c.env("UPDRAFT_DATA_DIR", dir)
            .env("UPDRAFT_ADMIN_PASSWORD", PASSWORD)
            .env("UPDRAFT_LOG_FORMAT", "json")
            .env("UPDRAFT_LOG", log)
            .env_remove("UPDRAFT_DATABASE_URL");
    })
}

fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    &line["fields"][name]
}

#[test]
fn requests_are_logged_with_who_and_how_long_but_not_polls_or_queries() {
    let (lines, all) = access_lines(
        "info",
        &[
            ("GET", "/rest/v1/targets?q=name==secret-search-term", true),
            ("GET", "/DEFAULT/controller/v1/dev-7", false),
            ("GET", "/DEFAULT/controller/v1/dev-7/deploymentBase/1", false),
            ("POST", "/rest/v1/targets", false),
        ],
    );
    assert!(
        !all.contains("secret-search-term"),
        "the query string was logged:\n{all}"
    );
    assert!(!all.contains(PASSWORD), "a password was logged");
    let mgmt = lines
        .iter()
        .find(|l| field(l, "path") == "/rest/v1/targets" && field(l, "method") == "GET")
        .unwrap_or_else(|| panic!("no line for the Management API request:\n{all}"));
    assert_eq!(field(mgmt, "status"), 200);
    assert_eq!(field(mgmt, "user"), "admin");
    assert_eq!(field(mgmt, "tenant"), "DEFAULT");
    assert!(field(mgmt, "ms").as_f64().is_some_and(|ms| ms >= 0.0), "{mgmt}");
    assert_eq!(mgmt["level"], "INFO");
    let refused = lines
        .iter()
        .find(|l| field(l, "method") == "POST")
        .unwrap_or_else(|| panic!("no line for the refused request:\n{all}"));
    assert_eq!(field(refused, "status"), 401);
    assert!(
        field(refused, "user").is_null(),
        "nobody was authenticated: {refused}"
    );
    let ddi = lines
        .iter()
        .find(|l| field(l, "path") == "/DEFAULT/controller/v1/dev-7/deploymentBase/1")
        .unwrap_or_else(|| panic!("no line for the device request:\n{all}"));
    assert_eq!(field(ddi, "controller_id"), "dev-7");
    assert_eq!(field(ddi, "tenant"), "DEFAULT");
    assert!(
        !lines
            .iter()
            .any(|l| field(l, "path") == "/DEFAULT/controller/v1/dev-7"),
        "a poll was logged at info:\n{all}"
    );

    // Asked for, polls are logged at debug.
    let (lines, all) = access_lines(
        "info,updraft_server::access=debug",
        &[("GET", "/DEFAULT/controller/v1/dev-8", false)],
    );
    let poll = lines
        .iter()
        .find(|l| field(l, "path") == "/DEFAULT/controller/v1/dev-8")
        .unwrap_or_else(|| panic!("no poll line at debug:\n{all}"));
    assert_eq!(poll["level"], "DEBUG");
    assert_eq!(field(poll, "controller_id"), "dev-8");
}

/// A streaming or delta client asks for hundreds of ranges per update: partial answers are logged at
/// debug, whole downloads at info.
#[test]
fn partial_artifact_answers_are_logged_at_debug() {
    let dir = tempfile::tempdir().unwrap();
    let password = PASSWORD;
    let mut server = server(dir.path(), "info,updraft_server::access=debug");
    let http = reqwest::blocking::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);
    let sm: Value = http
        .post(url("/rest/v1/softwaremodules"))
        .basic_auth("admin", Some(password))
        .json(&serde_json::json!([{ "name": "os", "version": "1", "type": "os" }]))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let sm = sm[0]["id"].as_i64().unwrap();
    let part = reqwest::blocking::multipart::Part::bytes(b"0123456789".to_vec()).file_name("a.bin");
    let artifact: Value = http
        .post(url(&format!("/rest/v1/softwaremodules/{sm}/artifacts")))
        .basic_auth("admin", Some(password))
        .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let download = format!(
        "/rest/v1/softwaremodules/{sm}/artifacts/{}/download",
        artifact["id"].as_i64().unwrap()
    );
    let ranged = http
        .get(url(&download))
        .basic_auth("admin", Some(password))
        .header("Range", "bytes=2-5")
        .send()
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().unwrap().as_ref(), b"2345");
    let whole = http
        .get(url(&download))
        .basic_auth("admin", Some(password))
        .send()
        .unwrap();
    assert_eq!(whole.status(), 200);
    server.kill();
    let all = server.output();
    let levels: Vec<(u64, String)> = all
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "updraft_server::access" && field(v, "path") == download.as_str())
        .map(|v| {
            let status = field(&v, "status").as_u64().unwrap();
            (status, v["level"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        levels,
        vec![(206, "DEBUG".to_owned()), (200, "INFO".to_owned())],
        "{all}"
    );
}
