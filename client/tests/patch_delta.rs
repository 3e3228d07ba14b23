#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Per-source patches end to end: `updraft bundle delta --from v1 --to v2` writes a signed
//! `*.patch.swu`; it goes with the full bundle into one software module of a real
//! `updraft-server`; `updraft agent` on a device whose slot A holds v1 installs the patch into
//! file-backed slot B. A device holding another image, or a cut download, leaves slot A untouched
//! and falls back to the full bundle (or fails clearly when there is none).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use updraft_client::slots::Slot;

mod support;

use support::agent::{Device, Fleet, signed_device};

const CID: &str = "patch-e2e";

/// The tree image; version 2 changes a few bytes in five files (a rebuilt binary) and adds one
/// in the middle, so everything after it moves.
fn tree_image(version: u32) -> Vec<u8> {
    support::images::tree_image(version, |_, data| {
        for at in (100..data.len()).step_by(997) {
            data[at] ^= 0x20;
        }
    })
}

fn device(url: &str, token: &str, active: &[u8]) -> Device {
    signed_device("updraft-patch", url, CID, token, active, "download_retries = 1")
}

fn write_manifest(dev: &Device, dir: &Path, image: &str) -> PathBuf {
    let manifest = dir.join("bundle.toml");
    std::fs::write(
        &manifest,
        format!(
            "version = \"1.1.0\"\nhardware-compatibility = [\"1.0\"]\n[[images]]\n\
             file = \"{image}\"\ntype = \"raw\"\ncompress = \"zstd\"\n"
        ),
    )
    .unwrap();
    let _ = dev;
    manifest
}

/// `updraft bundle create` (full, zstd) and `updraft bundle delta --from v1 --to v2`: answers
/// (full bundle, patch bundle).
fn bundles(dev: &Device, v1: &[u8], v2: &[u8]) -> (PathBuf, PathBuf) {
    let dir = dev.path("build");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("v1.img"), v1).unwrap();
    std::fs::write(dir.join("v2.img"), v2).unwrap();
    let manifest = write_manifest(dev, &dir, "v2.img");
    let full = dir.join("v2.swu");
    let signer = |c: &mut Command| {
        c.arg("--cert")
            .arg(dev.path("trusted.pem"))
            .arg("--key")
            .arg(dev.path("trusted.key"))
            .env_remove("UPDRAFT_CONFIG");
    };
    let mut create = Command::new(env!("CARGO_BIN_EXE_updraft"));
    create
        .args(["bundle", "create", "--manifest"])
        .arg(&manifest)
        .arg("-o")
        .arg(&full);
    signer(&mut create);
    let run = create.output().unwrap();
    assert!(run.status.success(), "bundle create: {run:?}");
    let patch = dir.join("v2-from-v1.patch.swu");
    let mut delta = Command::new(env!("CARGO_BIN_EXE_updraft"));
    delta
        .args(["bundle", "delta", "--from"])
        .arg(dir.join("v1.img"))
        .arg("--to")
        .arg(dir.join("v2.img"))
        .arg("--manifest")
        .arg(&manifest)
        .args(["--window-mib", "1", "--dict-mib", "2", "--level", "19", "-o"])
        .arg(&patch);
    signer(&mut delta);
    let run = delta.output().unwrap();
    assert!(run.status.success(), "bundle delta: {run:?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("it installs only on a device whose active slot"),
        "{stdout}"
    );
    (full, patch)
}

/// A TCP proxy that counts artifact answer bytes and, with `cut_patch`, cuts every answer for a
/// `.patch.swu` in the middle.
struct Proxy {
    url: String,
    artifact_bytes: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: String, cut_patch: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bytes = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&bytes);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || relay(client, &upstream, cut_patch, &counter));
            }
        });
        Proxy {
            url,
            artifact_bytes: bytes,
        }
    }
}

fn relay(client: TcpStream, upstream: &str, cut_patch: bool, bytes: &AtomicU64) {
    let mut client = client;
    let mut server = TcpStream::connect(upstream.trim_start_matches("http://")).unwrap();
    let mut c2 = client.try_clone().unwrap();
    let mut s2 = server.try_clone().unwrap();
    let mut buf = [0u8; 8192];
    let n = c2.read(&mut buf).unwrap_or(0);
    let mut request = buf[..n].to_vec();
    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let first = head.lines().next().unwrap_or_default().to_owned();
    let is_artifact = first.starts_with("get ") && first.contains("/artifacts/");
    let is_patch = is_artifact && first.contains(".patch.swu");
    // One request per connection, so that an answer ends where the connection does.
    if let Some(eol) = request.windows(2).position(|w| w == b"\r\n") {
        request.splice(eol + 2..eol + 2, b"connection: close\r\n".iter().copied());
    }
    s2.write_all(&request).unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
    });
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    if is_patch && cut_patch {
        let body = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        answer.truncate(body + (answer.len() - body) * 2 / 3);
    }
    if is_artifact {
        bytes.fetch_add(answer.len() as u64, Ordering::SeqCst);
    }
    let _ = client.write_all(&answer);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// Makes v1 the device's installed set on the server, as after an earlier update through it: the
/// v1 image's full bundle (built beside the others by [`bundles`]) assigned, and its action closed
/// with success by the device's own DDI feedback. The server offers a patch only to a device whose
/// installed set's bundle installs the patch's source image.
fn installed_v1(fleet: &Fleet, dev: &Device, token: &str) {
    let dir = dev.path("build");
    let manifest = dir.join("v1.toml");
    std::fs::write(
        &manifest,
        "version = \"1.0.0\"\nhardware-compatibility = [\"1.0\"]\n[[images]]\n\
         file = \"v1.img\"\ntype = \"raw\"\ncompress = \"zstd\"\n",
    )
    .unwrap();
    let bundle = dir.join("v1.swu");
    let run = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["bundle", "create", "--manifest"])
        .arg(&manifest)
        .arg("--cert")
        .arg(dev.path("trusted.pem"))
        .arg("--key")
        .arg(dev.path("trusted.key"))
        .arg("-o")
        .arg(&bundle)
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    assert!(run.status.success(), "bundle create v1: {run:?}");
    let action = fleet.assign_artifacts("v1", &[(&bundle, "v1.swu".to_owned())]);
    let feedback = reqwest::blocking::Client::new()
        .post(format!(
            "{}/DEFAULT/controller/v1/{CID}/deploymentBase/{action}/feedback",
            fleet.srv.url
        ))
        .header("authorization", format!("TargetToken {token}"))
        .json(&serde_json::json!({
            "status": { "execution": "closed", "result": { "finished": "success" } }
        }))
        .send()
        .unwrap();
    assert!(feedback.status().is_success(), "feedback: {}", feedback.status());
    assert_eq!(fleet.action(action)["status"], "finished");
}

fn assign(fleet: &Fleet, files: &[&Path]) -> i64 {
    let files: Vec<(&Path, String)> = files
        .iter()
        .map(|p| (*p, p.file_name().unwrap().to_string_lossy().into_owned()))
        .collect();
    fleet.assign_artifacts("v2", &files)
}

#[test]
fn a_patch_installs_byte_exact_and_downloads_only_the_patch() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), false);
    let token = fleet.register("patch device");
    let dev = device(&proxy.url, &token, &v1);
    let (full, patch) = bundles(&dev, &v1, &v2);
    installed_v1(&fleet, &dev, &token);
    let action = assign(&fleet, &[&full, &patch]);
    std::fs::write(dev.path("healthy"), b"").unwrap();

    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert!(
        std::fs::read(dev.path("b.img")).unwrap() == v2,
        "slot B is not the new image"
    );
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    let wire = proxy.artifact_bytes.load(Ordering::SeqCst);
    let (full_len, patch_len) = (
        std::fs::metadata(&full).unwrap().len(),
        std::fs::metadata(&patch).unwrap().len(),
    );
    eprintln!(
        "patch figures: image {} bytes; full bundle (zstd) {full_len}; patch bundle {patch_len}; \
         on the wire {wire}",
        v2.len()
    );
    assert!(
        wire < full_len / 4,
        "only the patch was downloaded: {wire} of {full_len}"
    );

    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
}

#[test]
fn a_patch_for_another_source_is_refused_and_the_full_bundle_installs() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let other = b"an unrelated system\n".repeat(1000);
    let fleet = Fleet::start(CID);
    let token = fleet.register("patch device");
    let dev = device(&fleet.srv.url, &token, &other);
    let (full, patch) = bundles(&dev, &v1, &v2);
    // The server believes the device runs v1 (so it offers the patch); its slot holds another image.
    installed_v1(&fleet, &dev, &token);
    let action = assign(&fleet, &[&patch, &full]);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert!(std::fs::read(dev.path("b.img")).unwrap() == v2);
    assert!(
        std::fs::read(dev.path("a.img")).unwrap() == other,
        "slot A changed"
    );
    let messages = fleet.messages(action);
    assert!(messages.contains("slot A's have sha256"), "{messages}");
    assert!(messages.contains("taking the next bundle"), "{messages}");
}

#[test]
fn a_patch_alone_for_another_source_fails_with_slot_a_untouched() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let mut almost = v1.clone();
    // One byte differs: "byte for byte".
    let last = almost.len() - 1;
    almost[last] ^= 1;
    let fleet = Fleet::start(CID);
    let token = fleet.register("patch device");
    let dev = device(&fleet.srv.url, &token, &almost);
    let (_, patch) = bundles(&dev, &v1, &v2);
    installed_v1(&fleet, &dev, &token);
    let before_b = std::fs::read(dev.path("b.img")).unwrap();
    let action = assign(&fleet, &[&patch]);
    let out = dev.agent_once();
    assert!(out.contains(&format!("action {action}: failed")), "{out}");
    let messages = fleet.messages(action);
    assert!(
        messages.contains("it holds another image; install the full bundle instead"),
        "{messages}"
    );
    assert_eq!(fleet.action(action)["status"], "error");
    assert!(
        std::fs::read(dev.path("a.img")).unwrap() == almost,
        "slot A changed"
    );
    assert!(
        std::fs::read(dev.path("b.img")).unwrap() == before_b,
        "slot B was written"
    );
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
}

#[test]
fn a_cut_patch_download_fails_clearly_and_the_full_bundle_follows() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), true);
    let token = fleet.register("patch device");
    let dev = device(&proxy.url, &token, &v1);
    let (_, patch) = bundles(&dev, &v1, &v2);
    installed_v1(&fleet, &dev, &token);

    // The patch alone: the install fails, nothing is armed, slot A is the same.
    let action = assign(&fleet, &[&patch]);
    let out = dev.agent_once();
    assert!(out.contains(&format!("action {action}: failed")), "{out}");
    let messages = fleet.messages(action);
    assert!(messages.contains("slot A untouched"), "{messages}");
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");

    // With the full bundle beside it (another device): the cut patch is given up, the inactive
    // slot it began to write stays unbootable, and the full bundle installs in the same run.
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), true);
    let token = fleet.register("patch device");
    let dev = device(&proxy.url, &token, &v1);
    let (full, patch) = bundles(&dev, &v1, &v2);
    installed_v1(&fleet, &dev, &token);
    let action = assign(&fleet, &[&patch, &full]);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert!(std::fs::read(dev.path("b.img")).unwrap() == v2);
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    let messages = fleet.messages(action);
    assert!(messages.contains("taking the next bundle"), "{messages}");
}

#[test]
fn updraft_install_applies_a_patch_file_and_refuses_one_for_another_source() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let dev = device("http://127.0.0.1:9", "unused", &v1);
    let (_, patch) = bundles(&dev, &v1, &v2);
    let install = || {
        Command::new(env!("CARGO_BIN_EXE_updraft"))
            .arg("install")
            .arg(&patch)
            .arg("--config")
            .arg(&dev.config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap()
    };
    let out = install();
    assert!(out.status.success(), "{out:?}");
    assert!(
        std::fs::read(dev.path("b.img")).unwrap() == v2,
        "slot B is not the new image"
    );
    // Slot B now boots: its image is not the patch's source.
    assert_eq!(dev.reboot(), Slot::B);
    let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["commit", "--config"])
        .arg(&dev.config)
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .arg("install")
        .arg(&patch)
        .arg("--force")
        .arg("--config")
        .arg(&dev.config)
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("it holds another image"), "{stderr}");
    assert!(
        std::fs::read(dev.path("a.img")).unwrap() == v1,
        "slot A was written"
    );
}
