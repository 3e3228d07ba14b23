//! `docker/compose.yaml` brought up with podman-compose, with `docker/test/compose.podman.yaml`
//! substituting what this machine can build (the server image, PostgreSQL from Debian's packages,
//! s3s-fs in MinIO's place, host network on loopback ports): one device update end to end through
//! the composed Updraft, PostgreSQL and S3 store. The artifact must land in the S3 bucket (and not on
//! Updraft's volume), and the device must download it through Updraft.
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
use sha2::{Digest, Sha256};

const PASSWORD: &str = "compose-test-admin-pw";
const S3_IMAGE: &str = "localhost/updraft-s3s-fs:0.14.1";
const IMAGES: [&str; 3] = [
    "localhost/updraft-server:latest",
    "localhost/updraft-postgres:15",
    S3_IMAGE,
];
/// compose.yaml's default bucket, a directory of the s3s-fs root (the `minio-data` volume).
const BUCKET: &str = "updraft";

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

impl Project {
    /// `(sha256, path)` of every file in the S3 store's root (under `/s3`) and on Updraft's volume
    /// (under `/updraft`), read by a throwaway container of the s3s-fs image (it has a shell).
    /// podman-compose names a project's volumes `<project>_<volume>`.
    fn files(&self) -> Vec<(String, String)> {
        let out = run(podman::podman().args([
            "run",
            "--rm",
            "-v",
            &format!("{}_minio-data:/s3:ro", self.name),
            "-v",
            &format!("{}_updraft-data:/updraft:ro", self.name),
            "--entrypoint",
            "sh",
            S3_IMAGE,
            "-c",
            "find /s3 /updraft -type f -exec sha256sum {} +",
        ]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(hash, path)| (hash.to_owned(), path.to_owned()))
            .collect()
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
    let (port, pg_port, s3_port) = (free_port(), free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("compose.env");
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD=compose-pg-pw\nMINIO_ROOT_PASSWORD=compose-s3-secret\n\
             UPDRAFT_ADMIN_PASSWORD={PASSWORD}\nUPDRAFT_PORT={port}\nPOSTGRES_PORT={pg_port}\n\
             S3_PORT={s3_port}\n"
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
    // Updraft may start before PostgreSQL accepts connections or the bucket exists: /readyz says 503
    // until both answer (and its restart policy covers an early exit).
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

    // The bytes the device got came through Updraft (no redirect to the store)...
    let served = served_bytes(&url);
    assert!(
        served >= payload.len() as u64,
        "Updraft served {served} artifact bytes, less than the {} downloaded",
        payload.len()
    );
    // ...from the S3 store: the object is in the bucket under its content address, with the
    // uploaded bytes, and no copy of it stayed on Updraft's volume.
    let sha256 = format!("{:x}", Sha256::digest(&payload));
    let files = project.files();
    let object = format!("/s3/{BUCKET}/{}/{sha256}", &sha256[..2]);
    assert!(
        files
            .iter()
            .any(|(hash, path)| *hash == sha256 && *path == object),
        "{object} with the uploaded bytes is not in the S3 store; files: {files:#?}"
    );
    assert!(
        !files
            .iter()
            .any(|(hash, path)| *hash == sha256 && path.starts_with("/updraft/")),
        "the artifact is on Updraft's volume, not only in S3; files: {files:#?}"
    );
}

/// `updraft_artifact_served_bytes_total` from the server's `/metrics`.
fn served_bytes(url: &str) -> u64 {
    let text = podman::http()
        .get(format!("{url}/metrics"))
        .send()
        .and_then(reqwest::blocking::Response::text)
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("updraft_artifact_served_bytes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no updraft_artifact_served_bytes_total in /metrics:\n{text}")) as u64
}
