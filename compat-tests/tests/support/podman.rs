//! Running the container images with podman: the repository's podman settings, skipping when a tool
//! or image is missing (failing under `CI=true`), waiting for readiness, and one device update
//! through a running server with the fleet simulator.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;
use updraft_sim::{DeviceAuth, FleetConfig, StopWhen};

use super::mgmt::{Deployment, Mgmt};

pub const GATEWAY_TOKEN: &str = "container-gateway-token";

/// `program` with the repository's podman settings (runc, cgroupfs, file events, host network,
/// lowered ulimits), unless the caller chose a configuration.
pub fn with_settings(program: &str) -> Command {
    let mut c = Command::new(program);
    if std::env::var_os("CONTAINERS_CONF").is_none() {
        c.env(
            "CONTAINERS_CONF",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/podman/containers.conf"),
        );
    }
    c
}

pub fn podman() -> Command {
    with_settings("podman")
}

/// Runs `c` and panics with its output when it fails.
pub fn run(c: &mut Command) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether every image exists; skips outside CI, fails under `CI=true`.
pub fn images_available(images: &[&str], what: &str) -> bool {
    for image in images {
        let why = match podman().args(["image", "exists", image]).status() {
            Ok(s) if s.success() => continue,
            Ok(_) => format!("image {image} not built (see docker/README.md)"),
            Err(e) => format!("podman cannot run: {e}"),
        };
        skip(what, &why);
        return false;
    }
    true
}

/// Prints why a test is skipped; under `CI=true` fails instead.
pub fn skip(what: &str, why: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {why}");
    eprintln!("skipping the {what}: {why}");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Polls `/readyz` until it answers 200; returns how long that took, or None after `deadline`.
pub fn wait_ready(url: &str, deadline: Duration) -> Option<Duration> {
    let http = http();
    let started = Instant::now();
    while started.elapsed() < deadline {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .is_ok_and(|r| r.status() == 200)
        {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// A device update end to end through the server at `url`: an artifact of `payload` uploaded,
/// assigned to `device`, then downloaded, hash-checked and reported by one simulated device.
pub fn device_update(url: &str, password: &str, device: &str, payload: &[u8]) -> (Mgmt, Deployment) {
    let mgmt = Mgmt::new(url, "admin", password);
    mgmt.set_config("authentication.gatewaytoken.enabled", &json!(true));
    mgmt.set_config("authentication.gatewaytoken.key", &json!(GATEWAY_TOKEN));
    mgmt.create_target(device, None);
    let deployment = mgmt.deploy(device, &format!("{device}-update"), payload);
    let (prefix, index) = device.split_at(device.len() - 5);
    let report = updraft_sim::run_blocking(
        FleetConfig {
            server: url.to_owned(),
            devices: 1,
            id_prefix: prefix.to_owned(),
            first_index: index.parse().expect("a device id ending in five digits"),
            auth: DeviceAuth::GatewayToken(GATEWAY_TOKEN.into()),
            poll_interval: Some(Duration::from_millis(200)),
            ..FleetConfig::default()
        },
        StopWhen::ActionsDone {
            per_device: 1,
            timeout: Duration::from_secs(120),
        },
    );
    assert!(!report.timed_out, "{report}");
    assert_eq!(
        (report.succeeded, report.hash_mismatches, report.bytes_downloaded),
        (1, 0, payload.len() as u64),
        "{report}"
    );
    assert_eq!(
        mgmt.installed_distribution_set(device),
        Some(deployment.distribution_set)
    );
    (mgmt, deployment)
}

/// Deterministic test bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}
