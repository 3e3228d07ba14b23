#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Chunk deltas end to end: `updraft bundle create` with `delta = true` writes the bundle (the
//! zchunk header inside, signed) and the `.zck` beside it; both go into one software module of a
//! real `updraft-server`; `updraft agent` rebuilds the new image from the chunks slot A already
//! holds plus multi-range requests on the `.zck`'s DDI download link, into file-backed slot B.
//! A proxy between device and server counts the bytes on the wire and can damage or cut the range
//! answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use updraft_client::slots::Slot;

mod support;

use support::agent::{Device, Fleet, signed_device};

const CID: &str = "delta-e2e";

/// The tree image; version 2 rewrites five files whole (a rebuilt image with a few changed
/// files) and adds one in the middle.
fn tree_image(version: u32) -> Vec<u8> {
    support::images::tree_image(version, |i, data| {
        *data = support::images::file_content(i + 1_000, data.len());
    })
}

impl Device {
    /// Booted from slot A holding `active`, trusting `trusted.pem`, polling `url` with `token`.
    fn new(url: &str, token: &str, active: &[u8]) -> Device {
        signed_device("updraft-delta", url, CID, token, active, "download_retries = 2")
    }

    /// `updraft bundle create` of `image` as `name.img`, with `delta = true` or compressed with
    /// zstd; answers the bundle (and the `.zck` is beside it when `delta`).
    fn bundle(&self, name: &str, image: &[u8], delta: bool) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.img")), image).unwrap();
        let how = if delta {
            "delta = true"
        } else {
            "compress = \"zstd\""
        };
        std::fs::write(
            dir.join("bundle.toml"),
            format!(
                "version = \"1.1.0\"\nhardware-compatibility = [\"1.0\"]\n[[images]]\n\
                 file = \"{name}.img\"\ntype = \"raw\"\n{how}\n"
            ),
        )
        .unwrap();
        let out = dir.join(format!("{name}.swu"));
        let run = Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(["bundle", "create", "--manifest"])
            .arg(dir.join("bundle.toml"))
            .arg("--cert")
            .arg(self.path("trusted.pem"))
            .arg("--key")
            .arg(self.path("trusted.key"))
            .arg("--output")
            .arg(&out)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        assert!(run.status.success(), "bundle create: {run:?}");
        let stdout = String::from_utf8_lossy(&run.stdout);
        if delta {
            assert!(stdout.contains(&format!("{name}.img.zck")), "{stdout}");
            assert!(
                stdout.contains("upload it to the same software module"),
                "{stdout}"
            );
        }
        out
    }
}

/// `updraft bundle inspect <swu> --against <image>` with the device's trust store: answers the
/// bytes and requests its download summary predicts.
fn inspect_against(dev: &Device, swu: &Path, image: &str) -> (u64, usize) {
    let run = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["bundle", "inspect"])
        .arg(swu)
        .arg("--ca")
        .arg(dev.path("trusted.pem"))
        .arg("--against")
        .arg(dev.path(image))
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "bundle inspect: {run:?}");
    eprintln!("{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("download:"))
        .unwrap_or_else(|| panic!("no download line in {stdout}"));
    let number_after = |word: &str| -> Option<u64> {
        let at = summary.find(word)? + word.len();
        summary[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let bytes = number_after(" downloads ").unwrap_or_else(|| panic!("{summary}"));
    if summary.contains("no chunk-delta images") {
        return (bytes, 0);
    }
    assert!(
        stdout.contains("reuses ") || stdout.contains("the whole file is fetched"),
        "{stdout}"
    );
    let requests = number_after("chunk files in ").unwrap_or_else(|| panic!("{summary}"));
    (bytes, requests as usize)
}

/// Uploads the delta bundle and its chunk file into one software module and assigns it.
fn assign_delta(fleet: &Fleet, swu: &Path) -> i64 {
    let zck = swu.with_file_name("v2.img.zck");
    fleet.assign_artifacts(
        "v2",
        &[(swu, "v2.swu".to_owned()), (&zck, "v2.img.zck".to_owned())],
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Flip one byte in the body of every range answer for the `.zck`.
    Flip,
    /// Cut every range answer for the `.zck` in the middle.
    Cut,
    /// Never answer a range request for the `.zck` (the device loses power while it waits).
    Hold,
}

/// A TCP proxy that counts the bytes of every artifact answer (HTTP head and framing included)
/// and applies `fault` to range answers for `.zck` artifacts.
struct Proxy {
    url: String,
    artifact_bytes: Arc<AtomicU64>,
    range_requests: Arc<AtomicUsize>,
    whole_zck_requests: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: String, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            url,
            artifact_bytes: Arc::default(),
            range_requests: Arc::default(),
            whole_zck_requests: Arc::default(),
        };
        let (bytes, ranges, wholes) = (
            Arc::clone(&proxy.artifact_bytes),
            Arc::clone(&proxy.range_requests),
            Arc::clone(&proxy.whole_zck_requests),
        );
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let (bytes, ranges, wholes) = (Arc::clone(&bytes), Arc::clone(&ranges), Arc::clone(&wholes));
                std::thread::spawn(move || relay(client, &upstream, fault, &bytes, &ranges, &wholes));
            }
        });
        proxy
    }
}

fn relay(
    mut client: TcpStream,
    upstream: &str,
    fault: Fault,
    bytes: &AtomicU64,
    ranges: &AtomicUsize,
    wholes: &AtomicUsize,
) {
    let mut server = TcpStream::connect(upstream.trim_start_matches("http://")).unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let mut c2 = client.try_clone().unwrap();
    let mut s2 = server.try_clone().unwrap();
    // The request head (the device's requests arrive in one piece on loopback).
    let n = c2.read(&mut buf).unwrap_or(0);
    request.extend_from_slice(&buf[..n]);
    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
    let is_artifact = head.starts_with("get ") && head.contains("/artifacts/");
    let is_zck = is_artifact && head.lines().next().unwrap_or_default().contains(".zck");
    let is_range = is_zck && head.contains("\r\nrange:");
    if is_range {
        ranges.fetch_add(1, Ordering::SeqCst);
        if fault == Fault::Hold {
            // Keeps the connection open and silent until the device goes away.
            let _ = std::io::copy(&mut c2, &mut std::io::sink());
            return;
        }
    } else if is_zck {
        wholes.fetch_add(1, Ordering::SeqCst);
    }
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
    if is_range && fault != Fault::None {
        let body = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let middle = body + (answer.len() - body) / 2;
        match fault {
            Fault::Flip => answer[middle] ^= 0x55,
            Fault::Cut => answer.truncate(middle),
            Fault::None | Fault::Hold => {}
        }
    }
    if is_artifact {
        bytes.fetch_add(answer.len() as u64, Ordering::SeqCst);
    }
    let _ = client.write_all(&answer);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_chunk_delta_installs_byte_exact_and_fetches_only_what_changed() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), Fault::None);
    let dev = Device::new(&proxy.url, &fleet.register("delta device"), &v1);
    let swu = dev.bundle("v2", &v2, true);
    let full = dev.bundle("full", &v2, false);
    let action = assign_delta(&fleet, &swu);
    std::fs::write(dev.path("healthy"), b"").unwrap();
    let (predicted_bytes, predicted_requests) = inspect_against(&dev, &swu, "a.img");
    let full_plan = inspect_against(&dev, &full, "a.img");
    assert_eq!(full_plan, (std::fs::metadata(&full).unwrap().len(), 0));

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
    assert!(proxy.range_requests.load(Ordering::SeqCst) >= 1);
    assert_eq!(proxy.whole_zck_requests.load(Ordering::SeqCst), 0);

    let wire = proxy.artifact_bytes.load(Ordering::SeqCst);
    let full_len = std::fs::metadata(&full).unwrap().len();
    let zck_len = std::fs::metadata(swu.with_file_name("v2.img.zck")).unwrap().len();
    let swu_len = std::fs::metadata(&swu).unwrap().len();
    eprintln!(
        "chunk delta figures: image {} bytes; full bundle (zstd) {full_len}; .zck {zck_len}; \
         delta bundle {swu_len}; delta on the wire (bundle + ranges, HTTP heads included) {wire} \
         = {:.1} % of the full bundle",
        v2.len(),
        100.0 * wire as f64 / full_len as f64
    );
    assert!(
        wire * 4 < full_len,
        "the delta fetched {wire} of {full_len} bytes"
    );
    // The chunks are libzstd level-19 frames: SWUpdate's libzck (zchunk's `unzck`, where
    // installed) rebuilds the image from them too, as the agent's ruzstd did above.
    if Command::new("unzck").arg("--version").output().is_ok() {
        let zck = swu.with_file_name("v2.img.zck");
        let run = Command::new("unzck").arg("-c").arg(&zck).output().unwrap();
        assert!(run.status.success(), "unzck: {run:?}");
        assert!(run.stdout == v2, "unzck's image differs from v2");
    }
    // `bundle inspect --against` planned exactly what the agent fetched; the rest is HTTP heads
    // and multipart framing.
    assert_eq!(proxy.range_requests.load(Ordering::SeqCst), predicted_requests);
    assert!(
        predicted_bytes <= wire && wire < predicted_bytes + 16 * 1024,
        "inspect predicted {predicted_bytes} bytes, the wire carried {wire}"
    );

    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported success")),
        "{out}"
    );
}

/// A device on v1 gets v2 as a chunk delta through a proxy that does `fault`: the install fails
/// with slot A untouched (same bytes, nothing armed), and the action is closed as an error. Answers
/// the action's messages and how many range requests the proxy saw; `None` skips without openssl.
fn failed_delta(fault: Fault) -> Option<(String, usize)> {
    if !support::have_openssl() {
        return None;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), fault);
    let dev = Device::new(&proxy.url, &fleet.register("delta device"), &v1);
    let action = assign_delta(&fleet, &dev.bundle("v2", &v2, true));
    let out = dev.agent_once();
    assert!(out.contains(&format!("action {action}: failed")), "{out}");
    let messages = fleet.messages(action);
    assert!(messages.contains("slot A untouched"), "{messages}");
    assert_eq!(fleet.action(action)["status"], "error");
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
    Some((messages, proxy.range_requests.load(Ordering::SeqCst)))
}

#[test]
fn a_tampered_chunk_is_refused_and_the_active_slot_is_untouched() {
    let Some((messages, _)) = failed_delta(Fault::Flip) else {
        return;
    };
    assert!(messages.contains("of v2.img.zck is damaged"), "{messages}");
}

#[test]
fn a_truncated_range_answer_fails_clearly() {
    let Some((messages, range_requests)) = failed_delta(Fault::Cut) else {
        return;
    };
    assert!(
        messages.contains("the answer broke off after")
            || messages.contains("the multipart answer was cut inside a part")
            || messages.contains("the server's answer lacks bytes"),
        "{messages}"
    );
    // The first attempt and `download_retries = 2` more.
    assert_eq!(range_requests, 3);
}

/// A power cut in the middle of a delta install: the agent is killed (SIGKILL, no chance to clean
/// up) while slot B is half written and it waits for the missing chunks. After the power comes
/// back, slot A boots unchanged, the journal's interrupted install is settled, and the action is
/// closed as a failure that says why, as after a cut in a full install.
#[test]
fn a_power_cut_in_the_middle_of_a_delta_boots_the_old_slot_and_reports_why() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), Fault::Hold);
    let dev = Device::new(&proxy.url, &fleet.register("delta device"), &v1);
    let action = assign_delta(&fleet, &dev.bundle("v2", &v2, true));

    let mut agent = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["agent", "--once", "--config"])
        .arg(&dev.config)
        .env_remove("UPDRAFT_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The agent asks for the missing chunks only after writing the chunks before them to slot B.
    let deadline = Instant::now() + Duration::from_secs(120);
    while proxy.range_requests.load(Ordering::SeqCst) == 0 {
        assert!(
            agent.try_wait().unwrap().is_none(),
            "the agent ended before asking for a range"
        );
        assert!(Instant::now() < deadline, "no range request within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let journal = std::fs::read_to_string(dev.path("data/journal.json")).unwrap_or_default();
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert!(journal.contains("\"installing\""), "{journal}");
    assert!(
        std::fs::read(dev.path("b.img")).unwrap_or_default() != v2,
        "slot B was complete"
    );

    assert_eq!(dev.reboot(), Slot::A, "a half-written slot was armed");
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: reported failure")),
        "{out}"
    );
    let messages = fleet.messages(action);
    assert!(messages.contains("the install was interrupted"), "{messages}");
    assert_eq!(fleet.action(action)["status"], "error");
    assert_eq!(dev.reboot(), Slot::A);
}

#[test]
fn a_device_sharing_nothing_streams_the_whole_chunk_file() {
    if !support::have_openssl() {
        return;
    }
    let v2 = tree_image(2);
    let fleet = Fleet::start(CID);
    let proxy = Proxy::start(fleet.srv.url.clone(), Fault::None);
    let dev = Device::new(
        &proxy.url,
        &fleet.register("delta device"),
        b"an unrelated system\n",
    );
    let swu = dev.bundle("v2", &v2, true);
    let action = assign_delta(&fleet, &swu);
    let whole = std::fs::metadata(&swu).unwrap().len()
        + std::fs::metadata(swu.with_file_name("v2.img.zck")).unwrap().len();
    assert_eq!(inspect_against(&dev, &swu, "a.img"), (whole, 1));
    let out = dev.agent_once();
    assert!(
        out.contains(&format!("action {action}: installed and armed")),
        "{out}"
    );
    assert!(
        std::fs::read(dev.path("b.img")).unwrap() == v2,
        "slot B is not the new image"
    );
    assert_eq!(
        proxy.range_requests.load(Ordering::SeqCst),
        0,
        "no ranges: the whole .zck"
    );
    assert_eq!(proxy.whole_zck_requests.load(Ordering::SeqCst), 1);
}

#[test]
fn installing_a_delta_bundle_from_a_file_is_refused_before_anything_is_written() {
    if !support::have_openssl() {
        return;
    }
    let (v1, v2) = (tree_image(1), tree_image(2));
    let dev = Device::new("http://127.0.0.1:9", "unused", &v1);
    let swu = dev.bundle("v2", &v2, true);
    let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .arg("install")
        .arg(&swu)
        .arg("--config")
        .arg(&dev.config)
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is a chunk delta: it is installed from a server by `updraft agent`"),
        "{stderr}"
    );
    assert!(!stderr.contains("Some(") && !stderr.contains("{ "), "{stderr}");
    assert!(std::fs::read(dev.path("a.img")).unwrap() == v1, "slot A changed");
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");
}
