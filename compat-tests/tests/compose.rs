//! `docker/compose.yaml` brought up with podman-compose, with `docker/test/compose.podman.yaml`
//! substituting what this machine can build (the server image, PostgreSQL from Debian's packages,
//! host network on loopback ports, artifacts on the volume instead of MinIO): one device update end
//! to end through the composed Updraft and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

#[allow(dead_code)] // The swupdate tests use the rest of the client.
#[path = "support/mgmt.rs"]
mod mgmt;
#[allow(dead_code)]
#[path = "support/podman.rs"]
mod podman;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use podman::{free_port, images_available, run, skip, wait_ready, with_settings};

const PASSWORD: &str = "compose-test-admin-pw";
const IMAGES: [&str; 2] = ["localhost/updraft-server:latest", "localhost/updraft-postgres:15"];

/// podman-compose from PATH, or from the venv `docker/lint.sh` and CI install it into.
fn podman_compose() -> Option<PathBuf> {
    let venv = PathBuf::from("/var/tmp/updraft-docker-venv/bin/podman-compose");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("podman-compose"))
            .find(|p| p.is_file())
    })
}

/// The composed project, taken down with its volumes when the test ends however it ends.
struct Project {
    compose: PathBuf,
    name: String,
    env_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Project {
    fn command(&self) -> Command {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker");
        let mut c = with_settings(self.compose.to_str().unwrap());
        c.arg("--env-file")
            .arg(&self.env_file)
            .args(["-p", &self.name])
            .args(["-f", &format!("{root}/compose.yaml")])
            .args(["-f", &format!("{root}/test/compose.podman.yaml")]);
        c
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.command().args(["down", "-v", "-t", "5"]).output();
    }
}

#[test]
fn the_composed_stack_serves_a_device_update() {
    let Some(compose) = podman_compose() else {
        skip(
            "compose test",
            "podman-compose not installed (bash docker/lint.sh installs it)",
        );
        return;
    };
    if !images_available(&IMAGES, "compose test") {
        return;
    }
    let (port, pg_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("compose.env");
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD=compose-pg-pw\nMINIO_ROOT_PASSWORD=unused-here\n\
             UPDRAFT_ADMIN_PASSWORD={PASSWORD}\nUPDRAFT_PORT={port}\nPOSTGRES_PORT={pg_port}\n"
        ),
    )
    .unwrap();
    let project = Project {
        compose,
        name: format!("updraft-compose-test-{}-{port}", std::process::id()),
        env_file,
        _dir: dir,
    };
    run(project.command().args(["up", "-d"]));
    let url = format!("http://127.0.0.1:{port}");
    // Updraft may start before PostgreSQL accepts connections; its restart policy brings it back.
    if wait_ready(&url, Duration::from_secs(180)).is_none() {
        let logs = project.command().args(["logs"]).output().unwrap();
        panic!(
            "the composed server never got ready:\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
    }
    let payload = podman::payload(128 * 1024);
    podman::device_update(&url, PASSWORD, "compose-00000", &payload);
}
