//! What an attacker on the network can send: spoofed proxy headers, control characters, absurd
//! sort parameters, login guessing; and what the server keeps private on disk. Each behaviour runs
//! on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Fixture, read};

backend_tests!(
    certificate_headers_count_only_from_trusted_proxies,
    forwarded_for_counts_only_from_trusted_proxies,
    control_characters_are_refused_before_any_query,
    path_step_controller_ids_are_refused,
    sort_parameters_are_capped,
    removed_users_are_locked_out_at_once,
    login_guessing_is_slowed_per_address_not_per_user,
    unknown_users_cost_as_much_as_wrong_passwords,
    data_dir_and_its_files_are_private,
    docs_pages_carry_security_headers,
);

const CONSTRAINT: &str = "hawkbit.server.error.repo.constraintViolation";

fn header_auth(f: &Fixture) {
    f.set_config("authentication.header.enabled", json!(true));
    f.set_config("authentication.header.authority", json!("ca-hash-1"));
}

fn poll_with_certificate_headers(f: &Fixture, cid: &str) -> u16 {
    f.http
        .get(f.url(&format!("/DEFAULT/controller/v1/{cid}")))
        .header("x-controller-id", cid)
        .header("x-authority", "ca-hash-1")
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn certificate_headers_count_only_from_trusted_proxies(f: &Fixture) {
    header_auth(f);
    // The test client is a direct peer on 127.0.0.1, which nobody listed as a proxy.
    assert_eq!(poll_with_certificate_headers(f, "spoofed-1"), 401);
    let legacy = f
        .http
        .get(f.url("/DEFAULT/controller/v1/spoofed-2"))
        .header("x-ssl-client-cn", "spoofed-2")
        .header("x-ssl-issuer-hash-1", "ca-hash-1")
        .send()
        .unwrap();
    assert_eq!(legacy.status(), 401);
    let (s, v) = f.get("/rest/v1/targets?q=controllerId==spoofed*");
    assert_eq!(
        (s, v["total"].as_i64()),
        (200, Some(0)),
        "nothing was registered: {v}"
    );

    // The same headers from a configured proxy (here: loopback) authenticate and register.
    let behind = f.sibling(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    header_auth(&behind);
    assert_eq!(poll_with_certificate_headers(&behind, "proxied-1"), 200);
}

fn forwarded_for_counts_only_from_trusted_proxies(f: &Fixture) {
    f.poll("direct-1");
    f.ddi(Method::GET, "direct-1", "")
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .unwrap();
    f.srv.state.polls.flush(&f.srv.state.db).unwrap();
    assert_eq!(
        f.target("direct-1")["ipAddress"],
        "127.0.0.1",
        "spoofed address stored"
    );

    // Rotating the header does not escape the DoS filter's per-client count either.
    let limited = f.sibling(|c| {
        c.dos_filter.max_read = 3;
        c.dos_filter.limit_private = true;
    });
    // 40 requests at 3 a second would need over 13 seconds to all pass.
    let statuses: Vec<u16> = (0..40)
        .map(|i| {
            limited
                .http
                .get(limited.url("/rest/v1/userinfo"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(
        statuses.contains(&429),
        "rotating X-Forwarded-For evaded the limit: {statuses:?}"
    );

    // From a trusted proxy, the rightmost address it did not add itself is the client.
    let behind = f.sibling(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]);
    behind.poll("proxied-2");
    behind
        .ddi(Method::GET, "proxied-2", "")
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.9, 127.0.0.2")
        .send()
        .unwrap();
    behind.srv.state.polls.flush(&behind.srv.state.db).unwrap();
    assert_eq!(behind.target("proxied-2")["ipAddress"], "198.51.100.9");
}

fn assert_refused(r: reqwest::blocking::Response, what: &str) {
    let (s, v) = read(r);
    assert_eq!(s, 400, "{what}: {v}");
    assert_eq!(v["errorCode"], CONSTRAINT, "{what}: {v}");
}

fn control_characters_are_refused_before_any_query(f: &Fixture) {
    f.create_target("nul-check");
    assert_refused(
        f.http.get(f.url("/DEFAULT/controller/v1/a%00b")).send().unwrap(),
        "NUL in a controller id",
    );
    assert_refused(
        f.mgmt(Method::GET, "/rest/v1/targets?q=name==a%00b")
            .send()
            .unwrap(),
        "NUL in a query",
    );
    assert_refused(
        f.mgmt(Method::GET, "/rest/v1/targets/a%01b").send().unwrap(),
        "a control character in a path id",
    );
    assert_refused(
        f.http
            .get(f.url("/rest/v1/targets"))
            .basic_auth("ad\0min", Some("x"))
            .send()
            .unwrap(),
        "NUL in a username",
    );
    assert_refused(
        f.http
            .get(f.url("/rest/v1/targets"))
            .basic_auth("admin", Some("pass\u{1}word"))
            .send()
            .unwrap(),
        "a control character in a password",
    );
    for (path, body) in [
        ("/rest/v1/targets", json!([{ "controllerId": "a\u{0}b" }])),
        (
            "/rest/v1/targets",
            json!([{ "controllerId": "ok-1", "name": "x\u{0}" }]),
        ),
        ("/rest/v1/targettags", json!([{ "name": "t\u{0}" }])),
        (
            "/rest/v1/softwaremodules",
            json!([{ "name": "m\u{0}", "version": "1", "type": "os" }]),
        ),
    ] {
        assert_refused(
            f.mgmt(Method::POST, path).json(&body).send().unwrap(),
            &format!("NUL in a body for {path}"),
        );
    }
    let (s, v) = f.put(
        "/rest/v1/targets/nul-check",
        json!({ "description": "tab\tand\nnewline are text" }),
    );
    assert_eq!(s, 200, "ordinary whitespace escapes still work: {v}");
    // A device's feedback and attributes too.
    let (s, v) = read(
        f.ddi(Method::PUT, "nul-check", "/configData")
            .json(&json!({ "data": { "k": "v\u{0}" } }))
            .send()
            .unwrap(),
    );
    assert_eq!((s, v["errorCode"].as_str()), (400, Some(CONSTRAINT)), "{v}");
    let (s, v) = f.get("/rest/v1/targets?q=controllerId==ok-1");
    assert_eq!(
        (s, v["total"].as_i64()),
        (200, Some(0)),
        "nothing half-created: {v}"
    );
}

fn path_step_controller_ids_are_refused(f: &Fixture) {
    for cid in [".", "..", "a/b"] {
        let (s, v) = f.post("/rest/v1/targets", json!([{ "controllerId": cid }]));
        assert_eq!(
            (s, v["errorCode"].as_str()),
            (400, Some(CONSTRAINT)),
            "{cid}: {v}"
        );
    }
    for raw in ["%2E", "%2E%2E", "a%2Fb", ".", ".."] {
        let request = format!(
            "GET /DEFAULT/controller/v1/{raw} HTTP/1.1\r\nHost: x\r\n\
             Authorization: GatewayToken {}\r\nConnection: close\r\n\r\n",
            support::GW
        );
        assert_eq!(f.raw_status(&request), 400, "{raw}");
    }
    let (_, v) = f.get("/rest/v1/targets");
    assert_eq!(v["total"], 0, "{v}");
}

fn sort_parameters_are_capped(f: &Fixture) {
    let sort = vec!["name:ASC"; 2000].join(",");
    let (s, v) = f.get(&format!("/rest/v1/targets?sort={sort}"));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errorCode"], "hawkbit.server.error.rest.param.sortParamSyntax");
    let (s, v) = f.get("/rest/v1/targets?sort=name:ASC,controllerId:DESC");
    assert_eq!(s, 200, "{v}");
}

/// Runs the server binary's CLI against the test server's database, as an operator would.
fn cli(f: &Fixture, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"));
    cmd.args(args)
        .env("UPDRAFT_DATA_DIR", &f.srv.data_dir)
        .env("UPDRAFT_DATABASE_URL", f.srv.state.config.database_url())
        .env("UPDRAFT_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn status_as(f: &Fixture, user: &str, password: &str) -> u16 {
    f.http
        .get(f.url("/rest/v1/userinfo"))
        .basic_auth(user, Some(password))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// `updraft-server user add bob` with `password` on standard input.
fn add_bob(f: &Fixture, password: &str) {
    let args = [
        "user",
        "add",
        "bob",
        "--permissions",
        "READ_TARGET",
        "--password-stdin",
    ];
    let out = cli(f, &args, Some(&format!("{password}\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn removed_users_are_locked_out_at_once(f: &Fixture) {
    let first = "first-password-1234";
    add_bob(f, first);
    assert_eq!(status_as(f, "bob", first), 200);
    assert_eq!(
        status_as(f, "bob", first),
        200,
        "served from the credential cache"
    );

    let out = cli(f, &["user", "remove", "bob"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        status_as(f, "bob", first),
        401,
        "a removed user is refused at once"
    );

    // A new password (the user made again) replaces the old one at once too.
    let second = "second-password-5678";
    add_bob(f, second);
    assert_eq!(status_as(f, "bob", first), 401);
    assert_eq!(status_as(f, "bob", second), 200);
}

fn login_as_from(f: &Fixture, address: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let r = f
        .http
        .get(f.url("/rest/v1/userinfo"))
        .header("x-forwarded-for", address)
        .basic_auth(user, Some(password))
        .send()
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), retry)
}

fn login_guessing_is_slowed_per_address_not_per_user(f: &Fixture) {
    // Clients are told apart by the address the (trusted, loopback) proxy forwards.
    let f = f.sibling(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let (attacker, operator) = ("198.51.100.66", "198.51.100.10");
    let admin_password = f.srv.admin_password.clone();
    for _ in 0..5 {
        assert_eq!(login_as_from(&f, attacker, "admin", "guess").0, 401);
    }
    let (s, retry) = login_as_from(&f, attacker, "admin", "guess");
    assert_eq!(s, 401, "the sixth failure is still answered");
    let (s, retry_after) = login_as_from(&f, attacker, "admin", &admin_password);
    assert_eq!(
        s, 429,
        "even the right password waits out the back-off ({retry:?})"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(
        login_as_from(&f, operator, "admin", &admin_password).0,
        200,
        "the real admin from elsewhere is not locked out"
    );
    // The back-off ends with time (the server's clock, not a sleep).
    f.srv.state.clock.advance(1_500);
    assert_eq!(login_as_from(&f, attacker, "admin", &admin_password).0, 200);
}

fn unknown_users_cost_as_much_as_wrong_passwords(f: &Fixture) {
    // Relative, in one run: an unknown name must also pay for an argon2 verification (~100x the
    // cost of the database look-up), so the two medians are within a small factor of each other.
    let median = |names: &mut dyn FnMut(usize) -> String| {
        // Five each: the sixth failure of one user from one address starts the back-off.
        let mut times: Vec<std::time::Duration> = (0..5)
            .map(|i| {
                let started = std::time::Instant::now();
                assert_eq!(status_as(f, &names(i), "not-the-password"), 401);
                started.elapsed()
            })
            .collect();
        times.sort();
        times[2]
    };
    // Warm the dummy hash and the connection first.
    status_as(f, "nobody-warm", "x");
    status_as(f, "admin", "x");
    let unknown = median(&mut |i| format!("nobody-{i}"));
    let known = median(&mut |_| "admin".to_owned());
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.25..4.0).contains(&ratio),
        "wrong password {known:?} vs unknown user {unknown:?} (ratio {ratio:.2}) tells users apart"
    );
}

fn data_dir_and_its_files_are_private(f: &Fixture) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f.srv.data_dir), 0o700);
    let (_, ds) = f.distribution_set("private", "private.bin", b"firmware bytes");
    assert!(ds > 0);
    if f.srv.state.db.backend() == updraft_server::store::Backend::Sqlite {
        for entry in std::fs::read_dir(&f.srv.data_dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("updraft.db") {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
    }
    let mut blobs = 0;
    let mut stack = vec![f.srv.data_dir.join("artifacts")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                blobs += 1;
            }
        }
    }
    assert_eq!(blobs, 1);
}

fn docs_pages_carry_security_headers(f: &Fixture) {
    for path in ["/swagger-ui/", "/openapi/mgmt.json"] {
        let r = f.http.get(f.url(path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
}
