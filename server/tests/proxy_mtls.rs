//! A real nginx terminates TLS and verifies device certificates in front of Updraft, configured by
//! the committed `docs/deploy/nginx-mtls.conf`: a device with a certificate of the device CA gets
//! in as its certificate's CN and no other; headers a client sends itself never pass for the
//! proxy's; the client address and the links are what the proxy forwarded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::path::Path;
use std::process::{Child, Command};

use serde_json::{Value, json};
use support::Fixture;

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name} || test -x /usr/sbin/{name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and {name} is not installed"
        );
        eprintln!("skipping: {name} is not installed (apt-get install nginx curl openssl)");
    }
    found
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1, a device certificate (CN=device-01) from that CA, and
/// one with the same CN from a CA nobody trusts.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["device-ca", "rogue-ca"] {
        let subject = format!("/CN={ca}");
        let keyfile = format!("{ca}.key");
        let pem = format!("{ca}.pem");
        let mut args = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            subject.as_str(),
            "-keyout",
            keyfile.as_str(),
            "-out",
            pem.as_str(),
        ];
        args.extend(key);
        openssl(&args);
    }
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    for (name, cn, ca, ext) in [
        ("server", "127.0.0.1", "device-ca", true),
        ("device", "device-01", "device-ca", false),
        ("rogue", "device-01", "rogue-ca", false),
    ] {
        let subject = format!("/CN={cn}");
        let (keyfile, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let mut args = vec![
            "req",
            "-subj",
            subject.as_str(),
            "-keyout",
            keyfile.as_str(),
            "-out",
            csr.as_str(),
        ];
        args.extend(key);
        openssl(&args);
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        let mut args = vec![
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            csr.as_str(),
            "-CA",
            ca_pem.as_str(),
            "-CAkey",
            ca_key.as_str(),
            "-CAcreateserial",
            "-out",
            pem.as_str(),
        ];
        if ext {
            args.extend(["-extfile", "san.ext"]);
        }
        openssl(&args);
    }
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx with the committed site on a free port, in front of `upstream`; returns it and its port.
///
/// nginx cannot listen on port 0, so the port is picked here and may be taken by another listener
/// before nginx binds it. Then nginx exits (it cannot bind) and is started again on another port;
/// and it counts as up only when a TLS handshake verified against this test's own CA succeeds, an
/// answer no other server on the port can give.
fn start_nginx(dir: &Path, upstream: &str) -> (Nginx, u16) {
    let mut failures = Vec::new();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nginx = spawn_nginx(dir, port, upstream);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Some(status) = nginx.0.try_wait().unwrap() {
                failures.push(format!(
                    "port {port}: nginx exited ({status}): {}",
                    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                ));
                break;
            }
            if curl(dir, port, None, &[], "/healthz").0 != 0 {
                return (nginx, port);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    panic!("nginx did not start: {failures:#?}");
}

fn spawn_nginx(dir: &Path, port: u16, upstream: &str) -> Nginx {
    let site = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/deploy/nginx-mtls.conf"
    ))
    .unwrap()
    .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
    .replace("/etc/ssl/updraft/", &format!("{}/", dir.display()))
    .replace("http://127.0.0.1:8080", upstream);
    std::fs::write(dir.join("updraft.conf"), site).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n  \
             proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  \
             scgi_temp_path {d}/tmp/scgi;\n  include {d}/updraft.conf;\n}}\n"
        ),
    )
    .unwrap();
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    run(Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(dir.join("nginx.conf")));
    let child = Command::new(nginx)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .spawn()
        .unwrap();
    Nginx(child)
}

/// curl through the proxy from 127.0.0.3 (so the client is not the trusted proxy's address).
fn curl(dir: &Path, port: u16, cert: Option<&str>, extra: &[&str], path: &str) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--interface",
        "127.0.0.3",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--cacert",
    ])
    .arg(dir.join("device-ca.pem"));
    if let Some(c) = cert {
        cmd.arg("--cert")
            .arg(dir.join(format!("{c}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{c}.key")));
    }
    cmd.args(extra).arg(format!("https://127.0.0.1:{port}{path}"));
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn devices_authenticate_through_nginx_with_client_certificates() {
    if !(tool("nginx") && tool("curl") && tool("openssl")) {
        return;
    }
    let f = Fixture::with(None, |c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    f.set_config("authentication.header.enabled", json!(true));
    f.set_config("authentication.header.authority", json!("updraft-device-ca"));
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let (_nginx, port) = start_nginx(dir.path(), &f.srv.url);

    // The device's certificate is its identity: first poll registers it.
    let (s, root) = curl(
        dir.path(),
        port,
        Some("device"),
        &[],
        "/DEFAULT/controller/v1/device-01",
    );
    assert_eq!(s, 200, "{root}");
    assert!(
        root["config"]["polling"]["sleep"].is_string(),
        "a poll answer: {root}"
    );
    // Links point at the proxy, as the device reached it.
    let target = f.target("device-01");
    assert_eq!(
        target["ipAddress"], "127.0.0.3",
        "the client's address as nginx saw it: {target}"
    );
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"firmware");
    f.assign(ds, "device-01", json!({}));
    let (_, root) = curl(
        dir.path(),
        port,
        Some("device"),
        &[],
        "/DEFAULT/controller/v1/device-01",
    );
    let href = root["_links"]["deploymentBase"]["href"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        href.starts_with(&format!("https://127.0.0.1:{port}/DEFAULT/")),
        "{root}"
    );

    // The same certificate is no other device, whatever headers its client adds.
    let spoof = [
        "-H",
        "X-Controller-Id: device-02",
        "-H",
        "X-Authority: updraft-device-ca",
        "-H",
        "X-Forwarded-For: 6.6.6.6",
    ];
    let (s, _) = curl(
        dir.path(),
        port,
        Some("device"),
        &spoof,
        "/DEFAULT/controller/v1/device-02",
    );
    assert_eq!(s, 401);
    // Without a certificate the headers count for nothing.
    let (s, _) = curl(dir.path(), port, None, &spoof, "/DEFAULT/controller/v1/device-02");
    assert_eq!(s, 401);
    // A certificate from another CA is refused by nginx itself.
    let (s, _) = curl(
        dir.path(),
        port,
        Some("rogue"),
        &[],
        "/DEFAULT/controller/v1/device-01",
    );
    assert_eq!(s, 400);
    // The client-written X-Forwarded-For entry was not believed.
    let (s, _) = curl(
        dir.path(),
        port,
        Some("device"),
        &spoof[4..],
        "/DEFAULT/controller/v1/device-01",
    );
    assert_eq!(s, 200);
    f.srv.state.polls.flush(&f.srv.state.db).unwrap();
    assert_eq!(f.target("device-01")["ipAddress"], "127.0.0.3");
    let (_, v) = f.get("/rest/v1/targets");
    assert_eq!(v["total"], 1, "only device-01 exists: {v}");

    // Operators reach the Management API through the same port with their password.
    let user = format!("{}:{}", f.srv.admin_user, f.srv.admin_password);
    let (s, v) = curl(
        dir.path(),
        port,
        None,
        &["-u", &user],
        "/rest/v1/targets/device-01",
    );
    assert_eq!((s, v["controllerId"].as_str()), (200, Some("device-01")), "{v}");
}
