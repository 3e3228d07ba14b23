#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `updraft agent` against a real `updraft-server` over loopback HTTP: the Management API assigns a
//! signed bundle, the agent downloads it straight into file-backed slot B of the simulated
//! bootloader, the test "reboots", and the agent commits (or rolls back) and reports. The result is
//! checked through the Management API, as an operator would see it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use updraft_client::slots::Slot;
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage};
use updraft_swu::signature::Signer;

mod support;

use support::agent::{Device, Fleet, SimKeys, sim_config};

const ACTIVE: &[u8] = b"slot A: the running system\n";
const CID: &str = "pi-e2e";

impl Device {
    /// Booted from slot A, version 1.0.0, trusting `trusted.pem`, polling `url` with `token`.
    fn new(url: &str, token: &str) -> Device {
        Device::with_agent(url, token, "")
    }

    /// [`Device::new`] with more `[agent]` keys.
    fn with_agent(url: &str, token: &str, agent: &str) -> Device {
        let tmp = support::agent::signer_and_slots("updraft-e2e", ACTIVE);
        let dir = tmp.path().to_owned();
        let p = |name: &str| dir.join(name).display().to_string();
        let health_check = format!(
            "echo checking the marker; test -e {} || {{ echo 'app: the marker file is missing' >&2; exit 1; }}",
            p("healthy")
        );
        let device = format!("sw_versions_file = {:?}", p("sw-versions"));
        let agent = format!("health_check = {health_check:?}\nhealth_timeout_secs = 10\n{agent}");
        let tables = format!(
            "[bundle]\nca = {:?}\n[agent.attributes]\nboard = \"testboard\"\n",
            p("trusted.pem")
        );
        let keys = SimKeys {
            device: &device,
            server: "download_retries = 3",
            agent: &agent,
            tables: &tables,
        };
        let config = sim_config(&dir, url, CID, token, keys);
        Device::booted(tmp, config)
    }

    fn updraft(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "updraft {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn bundle(&self, name: &str, version: &str, hardware: &str, image: &[u8]) -> PathBuf {
        let source = self.path(&format!("{name}.rootfs"));
        std::fs::write(&source, image).unwrap();
        let writer = BundleWriter::new(Manifest {
            version: version.into(),
            description: None,
            hardware_compatibility: vec![hardware.into()],
            images: vec![ManifestImage::raw(
                &source,
                "rootfs.img",
                self.path("b.img").to_str().unwrap(),
            )],
        })
        .with_signer(Signer::from_pem_files(self.path("trusted.pem"), self.path("trusted.key")).unwrap());
        let path = self.path(&format!("{name}.swu"));
        writer.write(std::fs::File::create(&path).unwrap()).unwrap();
        path
    }
}

fn image() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

/// A new device (with more `[agent]` keys) that took one good update: version 1.1.0 assigned,
/// installed, rebooted into slot B, committed and reported as success. Answers it and the action.
fn updated_device(fleet: &Fleet, agent: &str) -> (Device, i64) {
    let dev = Device::with_agent(&fleet.srv.url, &fleet.register("e2e device"), agent);
    let action = fleet.assign("good", &dev.bundle("good", "1.1.0", "1.0", &image()));
    std::fs::write(dev.path("healthy"), b"").unwrap();
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
    (dev, action)
}

#[test]
fn an_assigned_update_is_installed_committed_and_reported_as_success() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    let image = image();
    let action = fleet.assign("good", &dev.bundle("good", "1.1.0", "1.0", &image));
    std::fs::write(dev.path("healthy"), b"").unwrap();

    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), image);
    assert_eq!(std::fs::read(dev.path("a.img")).unwrap(), ACTIVE);
    let open = |a: Value| a["active"] == true && a["status"] != "finished" && a["status"] != "error";
    assert!(open(fleet.action(action)), "no result before the new slot booted");
    assert!(fleet.messages(action).contains("rebooting for a trial boot"));

    // Polling again before the reboot neither rolls back nor reinstalls.
    assert!(dev.agent_once().contains("idle"));
    assert!(open(fleet.action(action)));

    assert_eq!(dev.reboot(), Slot::B, "the armed slot boots on trial");
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
    let a = fleet.action(action);
    assert_eq!(a["status"], "finished", "{a}");
    let target = fleet.target();
    assert_eq!(target["updateStatus"], "in_sync", "{target}");
    assert!(fleet.messages(action).contains("committed after a healthy boot"));
    assert_eq!(dev.reboot(), Slot::B, "slot B is the committed default now");

    // Once reported, never again; the attributes reached the server.
    assert!(dev.agent_once().contains("idle"));
    let attrs = fleet.json(
        reqwest::Method::GET,
        &format!("/rest/v1/targets/{CID}/attributes"),
        None,
    );
    assert_eq!(attrs["board"], "testboard", "{attrs}");
}

#[test]
fn an_unhealthy_update_is_rolled_back_and_reported_as_failure() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    let action = fleet.assign("sick", &dev.bundle("sick", "1.1.0", "1.0", &image()));
    assert!(dev.agent_once().contains("installed and armed"));
    assert_eq!(dev.reboot(), Slot::B);
    // No `healthy` file: the health check fails.
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported failure")),
        "{out}"
    );
    let a = fleet.action(action);
    assert_eq!(a["status"], "error", "{a}");
    let lines = fleet.message_lines(action);
    let at = lines
        .iter()
        .position(|l| {
            l == "version 1.1.0 in slot B was rolled back: the new slot failed its health check; the \
                  device runs slot A again and takes the next update"
        })
        .unwrap_or_else(|| panic!("{lines:?}"));
    // What the health check printed goes with the failure, so the operator sees why.
    assert_eq!(
        lines[at + 1..at + 4],
        [
            "the health check printed (last lines):",
            "> checking the marker",
            "> app: the marker file is missing",
        ],
        "{lines:?}"
    );
    assert_eq!(
        dev.reboot(),
        Slot::A,
        "the device goes back to the committed slot"
    );
    assert_eq!(std::fs::read(dev.path("a.img")).unwrap(), ACTIVE);
}

#[test]
fn a_trial_that_does_not_boot_is_reported_as_failure() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    let action = fleet.assign("noboot", &dev.bundle("noboot", "1.1.0", "1.0", &image()));
    assert!(dev.agent_once().contains("installed and armed"));
    // The firmware tries B once; it hangs and the watchdog resets into A.
    assert_eq!(dev.reboot(), Slot::B);
    assert_eq!(dev.reboot(), Slot::A);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported failure")),
        "{out}"
    );
    assert_eq!(fleet.action(action)["status"], "error");
    let lines = fleet.message_lines(action);
    assert!(
        lines.iter().any(|l| l
            == "version 1.1.0 in slot B was rolled back: the new slot did not boot, and the \
                bootloader fell back to slot A; the device runs slot A again and takes the next update"),
        "{lines:?}"
    );

    // Settled at start-up with no `updraft rollback`, and the server knows why.
    let attrs = fleet.attributes();
    assert_eq!(attrs["updraft.rollback_reason"], "bootloader", "{attrs}");
    assert_eq!(attrs["updraft.trial.outcome"], "rolled_back", "{attrs}");
    assert_eq!(attrs["updraft.slot.booted"], "a", "{attrs}");
    assert_eq!(attrs["updraft.slot.committed"], "a", "{attrs}");
    assert_eq!(attrs["updraft.trial"], "none", "{attrs}");
    let status = dev.updraft(&["status"]);
    assert!(
        status.contains("did not boot, and the bootloader fell back to slot A"),
        "{status}"
    );

    // The next update installs and commits as on a fresh device.
    let image2: Vec<u8> = image().into_iter().rev().collect();
    let next = fleet.assign("fixed", &dev.bundle("fixed", "1.2.0", "1.0", &image2));
    assert!(
        dev.agent_once()
            .contains(&format!("action {next}: installed and armed")),
    );
    std::fs::write(dev.path("healthy"), b"").unwrap();
    assert_eq!(dev.reboot(), Slot::B);
    assert!(
        dev.agent_once()
            .contains(&format!("action {next}: reported success"))
    );
    assert_eq!(fleet.action(next)["status"], "finished");
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), image2);
    let attrs = fleet.attributes();
    assert_eq!(attrs["updraft.trial.outcome"], "committed", "{attrs}");
    assert_eq!(attrs["updraft.slot.booted"], "b", "{attrs}");
    assert_eq!(attrs["updraft.slot.b.version"], "1.2.0", "{attrs}");
    assert_eq!(
        attrs["updraft.rollback_reason"], "bootloader",
        "the last rollback's reason stays"
    );
}

#[test]
fn slot_state_reaches_the_server_before_the_result_and_only_when_it_changed() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), None);
    let dev = Device::new(&proxy.url, &fleet.register("e2e device"));
    let puts = || proxy.count("PUT", "/configData");

    assert!(dev.agent_once().contains("idle"));
    assert_eq!(puts(), 1, "a new device sends its attributes");
    let attrs = fleet.attributes();
    for (key, value) in [
        ("board", "testboard"),
        ("updraft.slot.booted", "a"),
        ("updraft.slot.committed", "a"),
        ("updraft.slot.a.version", "1.0.0"),
        ("updraft.slot.b.version", ""),
        ("updraft.trial", "none"),
        ("updraft.boot_count", "1"),
        ("updraft.version", "1.0.0"),
        ("updraft.client.version", env!("CARGO_PKG_VERSION")),
        ("updraft.delta", "chunk,patch"),
    ] {
        assert_eq!(attrs[key], value, "{key}: {attrs}");
    }
    assert!(
        attrs.get("updraft.trial.outcome").is_none(),
        "no trial yet: {attrs}"
    );
    assert!(dev.agent_once().contains("idle"));
    assert!(dev.agent_once().contains("idle"));
    assert_eq!(puts(), 1, "unchanged attributes are not sent again");

    // The operator asks for them (hawkBit's requestAttributes): sent although unchanged.
    fleet.json(
        reqwest::Method::PUT,
        &format!("/rest/v1/targets/{CID}"),
        Some(json!({ "requestAttributes": true })),
    );
    dev.agent_once();
    assert_eq!(puts(), 2);

    let action = fleet.assign("good", &dev.bundle("good", "1.1.0", "1.0", &image()));
    std::fs::write(dev.path("healthy"), b"").unwrap();
    assert!(dev.agent_once().contains("installed and armed"));
    assert_eq!(dev.reboot(), Slot::B);
    let before = proxy.log().len();
    assert!(dev.agent_once().contains("reported success"));
    let run = proxy.log()[before..].to_vec();
    let put = run
        .iter()
        .position(|r| r.starts_with("PUT ") && r.contains("/configData"));
    let result = run
        .iter()
        .position(|r| r.starts_with("POST ") && r.contains(&format!("/deploymentBase/{action}/feedback")));
    assert!(
        put.is_some() && put < result,
        "the slot state goes before the result: {run:?}"
    );
    let attrs = fleet.attributes();
    for (key, value) in [
        ("updraft.slot.booted", "b"),
        ("updraft.slot.committed", "b"),
        ("updraft.slot.a.version", "1.0.0"),
        ("updraft.slot.b.version", "1.1.0"),
        ("updraft.version", "1.1.0"),
        ("updraft.trial", "none"),
        ("updraft.trial.outcome", "committed"),
        ("updraft.health", "ok"),
        ("updraft.boot_count", "1"),
    ] {
        assert_eq!(attrs[key], value, "{key}: {attrs}");
    }
    let committed_at = attrs["updraft.update.committed_at"].as_str().unwrap().to_owned();
    assert!(
        committed_at.len() == 20 && committed_at.ends_with('Z') && committed_at.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {committed_at}"
    );
    assert!(attrs.get("updraft.rollback_reason").is_none(), "{attrs}");

    // The server asks again after a result (as hawkBit does); then nothing until the next boot.
    let sent = puts();
    dev.agent_once();
    assert_eq!(puts(), sent + 1, "{:?}", proxy.log());
    dev.agent_once();
    dev.agent_once();
    assert_eq!(puts(), sent + 1, "{:?}", proxy.log());
    let sent = puts();
    assert_eq!(dev.reboot(), Slot::B);
    dev.agent_once();
    assert_eq!(puts(), sent + 1, "a boot counts");
    let attrs = fleet.attributes();
    assert_eq!(attrs["updraft.boot_count"], "2", "{attrs}");
    assert_eq!(attrs["updraft.update.committed_at"], committed_at.as_str());
}

#[test]
fn the_health_window_reports_a_slot_that_turns_bad_after_its_commit() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let (dev, action) = updated_device(&fleet, "health_window_secs = 3600\nhealth_interval_secs = 1");
    assert_eq!(fleet.attributes()["updraft.health"], "ok");

    // The new slot goes bad within the window: the next check says so.
    std::fs::remove_file(dev.path("healthy")).unwrap();
    dev.agent_once();
    let attrs = fleet.attributes();
    let health = attrs["updraft.health"].as_str().unwrap();
    assert!(health.starts_with("failed: exit code 1"), "{attrs}");
    assert_eq!(attrs["updraft.trial.outcome"], "committed", "{attrs}");
    assert_eq!(
        fleet.action(action)["status"],
        "finished",
        "the install itself succeeded"
    );

    std::fs::write(dev.path("healthy"), b"").unwrap();
    dev.agent_once();
    assert_eq!(fleet.attributes()["updraft.health"], "ok");
}

#[test]
fn a_refused_bundle_is_reported_and_touches_nothing() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    let action = fleet.assign("wronghw", &dev.bundle("wronghw", "1.1.0", "9.9", &image()));
    let out = dev.agent_once();
    assert!(out.contains(&format!("action {action}: failed")), "{out}");
    assert_eq!(fleet.action(action)["status"], "error");
    assert!(
        fleet.messages(action).contains("hardware"),
        "{}",
        fleet.messages(action)
    );
    assert_eq!(std::fs::read(dev.path("a.img")).unwrap(), ACTIVE);
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
}

/// A TCP proxy to `upstream` that logs the first line of every request (`GET /path HTTP/1.1`) and,
/// with `cut`, cuts the first download connection after that many bytes of response.
struct Proxy {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(upstream: String, cut: Option<usize>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cuts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let (cuts, log) = (Arc::clone(&cuts), Arc::clone(&log));
                std::thread::spawn(move || relay(client, &upstream, cut, &cuts, &log));
            }
        });
        Proxy { url, requests }
    }

    /// Requests so far whose first line starts with `method` and contains `path`.
    fn count(&self, method: &str, path: &str) -> usize {
        self.log()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(path))
            .count()
    }

    fn log(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn relay(
    mut client: TcpStream,
    upstream: &str,
    cut: Option<usize>,
    cuts: &AtomicUsize,
    log: &Mutex<Vec<String>>,
) {
    let mut server = TcpStream::connect(upstream.trim_start_matches("http://")).unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    // Read the request head (no bodies on the download path; others are relayed whole below).
    let mut c2 = client.try_clone().unwrap();
    let mut s2 = server.try_clone().unwrap();
    let n = c2.read(&mut buf).unwrap_or(0);
    request.extend_from_slice(&buf[..n]);
    let head = String::from_utf8_lossy(&request).to_string();
    log.lock()
        .unwrap()
        .push(head.lines().next().unwrap_or_default().to_owned());
    let is_artifact = head.starts_with("GET ") && head.contains("/artifacts/");
    let is_download = is_artifact && !head.contains("range:");
    // One request per connection, so the cut hits the download and not a pooled API call.
    if let Some(eol) = request.windows(2).position(|w| w == b"\r\n") {
        request.splice(eol + 2..eol + 2, b"connection: close\r\n".iter().copied());
    }
    s2.write_all(&request).unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
    });
    if let Some(cut) = cut
        && is_download
        && cuts.fetch_add(1, Ordering::SeqCst) == 0
    {
        let mut sent = 0;
        while sent < cut {
            let Ok(n) = server.read(&mut buf) else { return };
            if n == 0 {
                return;
            }
            let n = n.min(cut - sent);
            if client.write_all(&buf[..n]).is_err() {
                return;
            }
            sent += n;
        }
        let _ = client.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = std::io::copy(&mut server, &mut client);
}

#[test]
fn a_broken_download_resumes_with_range() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    // The server builds download links from the Host header, so the device goes through the proxy.
    let proxy = Proxy::start(fleet.srv.url.clone(), Some(100_000));
    let dev = Device::new(&proxy.url, &fleet.register("e2e device"));
    let image = image();
    let action = fleet.assign("resume", &dev.bundle("resume", "1.1.0", "1.0", &image));
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert_eq!(
        proxy.count("GET", "/artifacts/"),
        2,
        "the first download was cut and one Range request resumed it"
    );
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), image);
}

#[test]
fn attributes_the_server_refuses_do_not_hold_up_the_update() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    // A backtick is no attribute character (hawkBit's rule): the server refuses the whole set.
    let (_dev, action) = updated_device(&fleet, "attributes_command = \"echo 'note=a`b'\"");
    assert_eq!(fleet.action(action)["status"], "finished");
    assert!(fleet.attributes().get("note").is_none(), "the set was refused");
}

#[test]
fn a_downgrade_is_refused_in_words_an_operator_can_act_on() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    let action = fleet.assign("old", &dev.bundle("old", "0.9.0", "1.0", &image()));
    let out = dev.agent_once();
    assert!(out.contains(&format!("action {action}: failed")), "{out}");
    assert_eq!(fleet.action(action)["status"], "error");
    let lines = fleet.message_lines(action);
    assert!(
        lines.iter().any(|l| l
            == "the device refused version 0.9.0: it is not newer than the version it runs, 1.0.0, \
                and the device installs only newer versions; assign a distribution set whose bundle \
                has a higher version"),
        "{lines:?}"
    );
    // The device-side remedy means nothing on the server.
    assert!(lines.iter().all(|l| !l.contains("--force")), "{lines:?}");
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
}

#[test]
fn the_success_report_goes_with_the_new_version_attribute() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let (_dev, action) = updated_device(&fleet, "");
    // Read right after the report, with no further poll: the target shows the version it reported.
    assert_eq!(fleet.action(action)["status"], "finished");
    let attrs = fleet.attributes();
    assert_eq!(attrs["updraft.version"], "1.1.0", "{attrs}");
    assert_eq!(attrs["updraft.slot.b.version"], "1.1.0", "{attrs}");
}

#[test]
fn an_update_whose_images_are_all_installed_is_a_success_that_writes_nothing() {
    if !support::have_openssl() {
        return;
    }
    let fleet = Fleet::start(CID);
    let dev = Device::new(&fleet.srv.url, &fleet.register("e2e device"));
    std::fs::write(dev.path("sw-versions"), "rootfs 1.1.0\n").unwrap();
    let source = dev.path("same.rootfs");
    std::fs::write(&source, image()).unwrap();
    let bundle = dev.path("same.swu");
    BundleWriter::new(Manifest {
        version: "1.1.0".into(),
        description: None,
        hardware_compatibility: vec!["1.0".into()],
        images: vec![ManifestImage {
            name: Some("rootfs".into()),
            version: Some("1.1.0".into()),
            install_if_different: true,
            ..ManifestImage::raw(&source, "rootfs.img", dev.path("b.img").to_str().unwrap())
        }],
    })
    .with_signer(Signer::from_pem_files(dev.path("trusted.pem"), dev.path("trusted.key")).unwrap())
    .write(std::fs::File::create(&bundle).unwrap())
    .unwrap();
    let action = fleet.assign("same", &bundle);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
    assert_eq!(fleet.action(action)["status"], "finished");
    let lines = fleet.message_lines(action);
    assert!(
        lines.iter().any(|l| l
            == "every image of version 1.1.0 is installed on the device already (1 skipped by \
                install-if-different or install-if-higher); nothing was written"),
        "{lines:?}"
    );
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), vec![0u8; 4096]);
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
}
