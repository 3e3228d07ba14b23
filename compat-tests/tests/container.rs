//! The container image (`docker/Dockerfile`, built by `docker/build.sh`) run with podman the way an
//! operator runs it: host network on a loopback port, a named volume for `/var/lib/updraft`, a
//! read-only root filesystem, the admin password from the environment. It gets ready, its
//! HEALTHCHECK passes, a simulated device (`updraft-sim`) updates through it, and after a restart
//! of the container everything is still there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

#[allow(dead_code)] // The swupdate tests use the rest of the client.
#[path = "support/mgmt.rs"]
mod mgmt;
#[allow(dead_code)]
#[path = "support/podman.rs"]
mod podman;

use std::time::Duration;

use podman::{free_port, http, images_available, podman, run, wait_ready};
use serde_json::Value;

const PASSWORD: &str = "container-test-admin-pw";

fn image() -> String {
    std::env::var("UPDRAFT_TEST_IMAGE").unwrap_or_else(|_| "localhost/updraft-server:latest".into())
}

/// The container and its volume, removed when the test ends however it ends.
struct Container {
    name: String,
    volume: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "-f", "-t", "0", &self.name]).output();
        let _ = podman().args(["volume", "rm", "-f", &self.volume]).output();
    }
}

impl Container {
    fn wait_ready(&self, url: &str) -> Duration {
        wait_ready(url, Duration::from_secs(60)).unwrap_or_else(|| {
            let logs = podman().args(["logs", &self.name]).output().unwrap();
            panic!(
                "{url}/readyz not ready after 60 s; container log:\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            )
        })
    }
}

fn get(url: &str) -> Value {
    let r = http()
        .get(url)
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().unwrap()
}

/// The bytes of the distribution set's first artifact, through the Management API.
fn artifact_of(url: &str, ds: i64) -> Vec<u8> {
    let set = get(&format!("{url}/rest/v1/distributionsets/{ds}"));
    let module = set["modules"][0]["id"].as_i64().unwrap();
    let artifacts = get(&format!("{url}/rest/v1/softwaremodules/{module}/artifacts"));
    let artifact = artifacts[0]["id"].as_i64().unwrap();
    let r = http()
        .get(format!(
            "{url}/rest/v1/softwaremodules/{module}/artifacts/{artifact}/download"
        ))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().unwrap().to_vec()
}

#[test]
fn the_image_serves_a_device_update_and_keeps_its_data_across_a_restart() {
    if !images_available(&[&image()], "container test") {
        return;
    }
    let suffix = format!("{}-{}", std::process::id(), free_port());
    let c = Container {
        name: format!("updraft-test-{suffix}"),
        volume: format!("updraft-test-data-{suffix}"),
    };
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let size = run(podman().args(["image", "inspect", "--format", "{{.Size}}", &image()]));
    eprintln!(
        "image {}: {:.1} MB",
        image(),
        String::from_utf8_lossy(&size.stdout)
            .trim()
            .parse::<f64>()
            .unwrap()
            / 1e6
    );
    run(podman().args(["volume", "create", &c.volume]));
    run(podman()
        .args(["create", "--name", &c.name, "--network", "host", "--read-only"])
        .args(["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"])
        .args(["-e", &format!("UPDRAFT_LISTEN=127.0.0.1:{port}")])
        .args(["-e", &format!("UPDRAFT_ADMIN_PASSWORD={PASSWORD}")])
        .args(["-v", &format!("{}:/var/lib/updraft", c.volume)])
        .arg(image()));

    run(podman().args(["start", &c.name]));
    let first = c.wait_ready(&url);
    eprintln!("ready {} ms after `podman start` returned", first.as_millis());
    // The image's HEALTHCHECK (`updraft-server healthcheck`, inside the container).
    run(podman().args(["healthcheck", "run", &c.name]));
    let health: Value = http()
        .get(format!("{url}/actuator/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "UP", "{health}");

    let payload = podman::payload(256 * 1024);
    let device = "container-00000";
    let (mgmt, deployment) = podman::device_update(&url, PASSWORD, device, &payload);

    // The container restarts on its volume: database, artifact and password survive.
    run(podman().args(["restart", "-t", "30", &c.name]));
    let again = c.wait_ready(&url);
    eprintln!("ready {} ms after `podman restart` returned", again.as_millis());
    assert_eq!(
        mgmt.installed_distribution_set(device),
        Some(deployment.distribution_set)
    );
    assert_eq!(mgmt.action(device, deployment.action)["status"], "finished");
    assert!(
        artifact_of(&url, deployment.distribution_set) == payload,
        "the artifact came back changed after the restart"
    );
}
