//! Artifact bodies on the wire. On the server's own connections the filesystem store's files go out
//! by `sendfile` from the connection rather than through actix's buffers (server/src/sendfile.rs),
//! so these read raw HTTP/1.1: responses in order on one kept-alive connection (pipelined, whole
//! file, one range, several ranges), a client that stops reading holds up nobody and later gets
//! the rest, and a blob shorter than its record ends the response by closing the connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use support::{Fixture, GW};
use updraft_server::config::Config;

/// One HTTP worker: a connection stalled in a send would hold up every other one on it.
fn one_worker(c: &mut Config) {
    c.workers = Some(1);
}

backend_tests!(
    @tweak super::one_worker;
    pipelined_downloads_keep_their_order_on_one_connection,
    a_client_that_stops_reading_holds_up_no_one,
    a_blob_shorter_than_recorded_ends_the_connection,
);

/// More than one `sendfile` call and one poll's worth (2 and 8 MiB), and more than loopback's
/// socket buffers hold.
const LEN: usize = 20 << 20;

fn image() -> Vec<u8> {
    (0..LEN as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// An artifact of `bytes` assigned to `cid`; (device API path, SHA-256, Management API path).
fn artifact(f: &Fixture, cid: &str, bytes: &[u8]) -> (String, String, String) {
    f.create_target(cid);
    let (sm, ds) = f.distribution_set(&format!("{cid}-os"), "image.bin", bytes);
    f.assign(ds, cid, serde_json::json!({}));
    let (s, list) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    assert_eq!(s, 200, "{list}");
    let sha256 = list[0]["hashes"]["sha256"].as_str().unwrap().to_owned();
    let id = list[0]["id"].as_i64().unwrap();
    (
        format!("/DEFAULT/controller/v1/{cid}/softwaremodules/{sm}/artifacts/image.bin"),
        sha256,
        format!("/rest/v1/softwaremodules/{sm}/artifacts/{id}/download"),
    )
}

/// A raw HTTP/1.1 connection to the test server.
struct Wire(BufReader<TcpStream>);

impl Wire {
    fn open(f: &Fixture) -> Self {
        let s = TcpStream::connect(f.srv.url.trim_start_matches("http://")).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        Wire(BufReader::new(s))
    }

    /// A GET (or HEAD) of `path` as the gateway, with `extra` header lines.
    fn request(method: &str, path: &str, extra: &str) -> String {
        format!(
            "{method} {path} HTTP/1.1\r\nhost: updraft\r\nauthorization: GatewayToken {GW}\r\n{extra}\r\n"
        )
    }

    fn send(&mut self, raw: &str) {
        self.0.get_mut().write_all(raw.as_bytes()).unwrap();
    }

    /// The status and headers (lower-case names) of the next response.
    fn head(&mut self) -> (u16, BTreeMap<String, String>) {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = BTreeMap::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                return (status, headers);
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
    }

    /// The next response whole: status, headers and its `Content-Length` bytes of body.
    fn response(&mut self, is_head: bool) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let (status, headers) = self.head();
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; if is_head { 0 } else { len }];
        self.0.read_exact(&mut body).unwrap();
        (status, headers, body)
    }

    /// Whatever arrives until the server closes the connection.
    fn rest(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.read_to_end(&mut out).unwrap();
        out
    }
}

fn pipelined_downloads_keep_their_order_on_one_connection(f: &Fixture) {
    let bytes = image();
    let (path, _, mgmt_path) = artifact(f, "pipe-1", &bytes);
    let mut w = Wire::open(f);
    // Three requests written at once: the server answers them in order, each body where it
    // belongs. (No HEAD among pipelined requests: actix's codec applies the HEAD of the request it
    // read last to the response it writes, on main as here.)
    w.send(&format!(
        "{}{}{}",
        Wire::request("GET", &path, ""),
        Wire::request("GET", &path, "range: bytes=1000-12582911\r\n"),
        Wire::request("GET", &path, "range: bytes=0-9,16777216-16777225\r\n"),
    ));
    let (s, h, body) = w.response(false);
    assert_eq!((s, h["content-length"].as_str()), (200, LEN.to_string().as_str()));
    assert!(body == bytes, "the whole download differs");
    let (s, h, body) = w.response(false);
    assert_eq!(s, 206);
    assert_eq!(h["content-range"], format!("bytes 1000-12582911/{LEN}"));
    assert!(body == bytes[1000..12_582_912], "the ranged download differs");
    let (s, h, body) = w.response(false);
    assert_eq!(s, 206);
    assert!(h["content-type"].starts_with("multipart/byteranges"), "{h:?}");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(
        body.contains(&format!("Content-Range: bytes 16777216-16777225/{LEN}")),
        "{body}"
    );
    // HEAD on the same connection, on the device API and on the Management API (routed as GET
    // there): the length, no body; the next answer starts where it should.
    let gateway = format!("authorization: GatewayToken {GW}\r\n");
    for (head_path, auth) in [(path.clone(), gateway), (mgmt_path, basic(f))] {
        w.send(&format!(
            "HEAD {head_path} HTTP/1.1\r\nhost: updraft\r\n{auth}\r\n"
        ));
        let (s, h, _) = w.response(true);
        assert_eq!(
            (s, h["content-length"].as_str()),
            (200, LEN.to_string().as_str()),
            "{head_path}"
        );
        w.send(&Wire::request("GET", &path, "range: bytes=-5\r\n"));
        let (s, _, body) = w.response(false);
        assert_eq!(
            (s, body.as_slice()),
            (206, &bytes[LEN - 5..]),
            "after HEAD {head_path}"
        );
    }
}

/// The administrator's `authorization` header line (HTTP Basic).
fn basic(f: &Fixture) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let user = format!("{}:{}", f.srv.admin_user, f.srv.admin_password);
    let mut out = String::new();
    for c in user.as_bytes().chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    format!("authorization: Basic {out}\r\n")
}

fn a_client_that_stops_reading_holds_up_no_one(f: &Fixture) {
    let bytes = image();
    let (path, _, _) = artifact(f, "stall-1", &bytes);
    // A asks for the whole file, reads the response head and then nothing: its socket buffers fill
    // and the server's send waits for room.
    let mut a = Wire::open(f);
    a.send(&Wire::request("GET", &path, ""));
    let (s, h) = a.head();
    assert_eq!((s, h["content-length"].as_str()), (200, LEN.to_string().as_str()));
    // Meanwhile the server's one worker serves another client whole, twice.
    for _ in 0..2 {
        let r = f
            .http
            .get(f.url(&path))
            .header("authorization", format!("GatewayToken {GW}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.bytes().unwrap() == bytes, "the other client's download differs");
    }
    // A reads on and gets every byte.
    let mut body = vec![0; LEN];
    a.0.read_exact(&mut body).unwrap();
    assert!(body == bytes, "the stalled download differs once resumed");
}

fn a_blob_shorter_than_recorded_ends_the_connection(f: &Fixture) {
    let bytes = image();
    let (path, sha256, _) = artifact(f, "short-1", &bytes);
    // The stored file loses its second half behind the server's back (a damaged disk, an operator).
    let blob = f
        .srv
        .state
        .config
        .data_dir
        .join("artifacts")
        .join(&sha256[..2])
        .join(&sha256);
    let file = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
    file.set_len((LEN / 2) as u64).unwrap();
    drop(file);
    for range in ["", "range: bytes=4096-\r\n"] {
        let mut w = Wire::open(f);
        w.send(&Wire::request("GET", &path, range));
        let (s, h) = w.head();
        assert!(s == 200 || s == 206, "{s}");
        let promised: usize = h["content-length"].parse().unwrap();
        // What is there arrives, then the connection closes: the client sees a short body, never a
        // complete-looking one or a hang.
        let got = w.rest();
        let offset = if range.is_empty() { 0 } else { 4096 };
        assert_eq!(got.len(), LEN / 2 - offset, "promised {promised}");
        assert!(got == bytes[offset..LEN / 2], "the bytes that were there differ");
    }
    // The server carries on.
    let r = f
        .http
        .get(f.url(&path))
        .header("authorization", format!("GatewayToken {GW}"))
        .header("range", "bytes=0-9")
        .send()
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.bytes().unwrap().as_ref()),
        (206, &bytes[..10])
    );
}
