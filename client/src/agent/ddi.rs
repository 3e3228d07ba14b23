//! The device side of hawkBit's DDI v1 over HTTP: authenticated JSON calls with the shared wire
//! types, and downloads that resume with `Range` where a connection broke.
//!
//! `http://` goes over [`super::http`] (a socket read straight into the install pipeline's
//! buffers); `https://`, and what that module leaves aside, over reqwest, whose client is built at
//! its first use, so a device that talks plain HTTP never starts its runtime thread nor loads a
//! trust store (peak RSS of an install, BENCHMARKS.md).

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use updraft_ddi::{ActionFeedback, Execution, FeedbackResult, FeedbackStatus, Finished};

use super::http;
use crate::config::ServerConfig;

/// How long the server may stay silent, in any call or download, before it fails: each read
/// (and each write, and the wait for an answer's head) may wait this long, over both clients. An
/// idle timeout, no deadline: a 1 GiB download over a slow link takes as long as it takes while
/// bytes arrive, and a stalled one fails (a download then resumes with `Range`, up to its retries).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest JSON answer read.
const MAX_JSON: u64 = 16 << 20;
const ACCEPT_JSON: &str = "application/hal+json, application/json";

/// One device's connection to the server.
#[derive(Clone)]
pub struct Ddi {
    https: Arc<Https>,
    /// `{url}/{tenant}/controller/v1/{controllerId}`.
    pub base: String,
    auth: String,
    retries: u32,
}

/// A call the server answered with a status we did not expect.
#[derive(Debug, thiserror::Error)]
#[error("{what}: the server answered {status}: {body}")]
pub struct Refused {
    pub what: String,
    pub status: StatusCode,
    pub body: String,
}

/// reqwest's client and what it is built from, built at its first use.
struct Https {
    client: OnceLock<Client>,
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    /// [`IDLE_TIMEOUT`], for both clients (tests shorten it).
    timeout: Duration,
}

impl Https {
    fn client(&self) -> anyhow::Result<&Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // The blocking client's `timeout` bounds each wait on its runtime (connecting and the
        // answer's head, then each read of the body): an idle timeout. A request's own `timeout`
        // would be a deadline for the whole call, body and all, so none is set.
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(self.timeout)
            .user_agent(concat!("updraft/", env!("CARGO_PKG_VERSION")));
        for cert in &self.roots {
            builder = builder.add_root_certificate(cert.clone());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        let client = builder.build().context("setting up HTTPS")?;
        Ok(self.client.get_or_init(|| client))
    }
}

/// An answer whose body is still to be read, from either client.
struct Opened {
    status: StatusCode,
    length: Option<u64>,
    content_range: Option<String>,
    content_type: Option<String>,
    body: Body,
}

enum Body {
    Plain(http::Response),
    Reqwest(reqwest::blocking::Response),
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Plain(r) => r.read(buf),
            Body::Reqwest(r) => r.read(buf),
        }
    }
}

impl Ddi {
    pub fn new(server: &ServerConfig, controller_id: &str) -> anyhow::Result<Ddi> {
        let auth = match (
            &server.target_token,
            &server.target_token_file,
            &server.gateway_token,
        ) {
            (Some(t), None, None) => format!("TargetToken {t}"),
            (None, Some(file), None) => {
                let t = std::fs::read_to_string(file)
                    .with_context(|| format!("reading [server] target_token_file {}", file.display()))?;
                format!("TargetToken {}", t.trim())
            }
            (None, None, Some(g)) => format!("GatewayToken {g}"),
            (None, None, None) if server.client_cert.is_some() => String::new(),
            _ => bail!(
                "[server] needs exactly one of target_token, target_token_file, gateway_token \
                 (or only client_cert/client_key for certificate authentication)"
            ),
        };
        let mut roots = Vec::new();
        if let Some(ca) = &server.ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading [server] ca {}", ca.display()))?;
            roots = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("[server] ca {} is not PEM", ca.display()))?;
        }
        let identity = match (&server.client_cert, &server.client_key) {
            (Some(cert), Some(key)) => {
                let cert_pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
                let key_pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
                Some(
                    reqwest::Identity::from_pkcs8_pem(&cert_pem, &key_pem).context(
                        "[server] client_cert/client_key are not a PEM certificate and PKCS#8 key",
                    )?,
                )
            }
            (None, None) => None,
            _ => bail!("[server] client_cert and client_key go together"),
        };
        let url = server.url.trim_end_matches('/');
        let cid = percent_encode(controller_id);
        Ok(Ddi {
            https: Arc::new(Https {
                client: OnceLock::new(),
                roots,
                identity,
                timeout: IDLE_TIMEOUT,
            }),
            base: format!("{url}/{}/controller/v1/{cid}", percent_encode(&server.tenant)),
            auth,
            retries: server.download_retries,
        })
    }

    /// No server: downloads without credentials, as `updraft install URL` on a device without
    /// `[server]`.
    fn anonymous() -> Ddi {
        Ddi {
            https: Arc::new(Https {
                client: OnceLock::new(),
                roots: Vec::new(),
                identity: None,
                timeout: IDLE_TIMEOUT,
            }),
            base: String::new(),
            auth: String::new(),
            retries: 10,
        }
    }

    /// Sends one request and reads the head of its answer. `headers` go everywhere; the
    /// authorization goes to `url`'s origin only (reqwest and [`http`] both drop it on a redirect
    /// elsewhere). Each read may wait [`IDLE_TIMEOUT`] for the server.
    fn open(
        &self,
        method: &Method,
        url: &str,
        mut headers: Vec<(&'static str, String)>,
        json: Option<Vec<u8>>,
    ) -> anyhow::Result<Opened> {
        let mut auth = true;
        let mut url = std::borrow::Cow::Borrowed(url);
        if json.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        if http::handles(&url) {
            let sensitive = if self.auth.is_empty() {
                Vec::new()
            } else {
                vec![("authorization", self.auth.clone())]
            };
            let answer = http::send(&http::Request {
                method: method.as_str(),
                url: &url,
                headers: headers.clone(),
                sensitive,
                body: json.as_deref().unwrap_or_default(),
                read_timeout: Some(self.https.timeout),
            })?;
            match answer {
                http::Answer::Response(r) => {
                    return Ok(Opened {
                        status: StatusCode::from_u16(r.status)?,
                        length: r.content_length(),
                        content_range: r.header("content-range").map(str::to_owned),
                        content_type: r.header("content-type").map(str::to_owned),
                        body: Body::Plain(r),
                    });
                }
                // On to https://: reqwest, without the token (it drops it when the scheme changes).
                http::Answer::Elsewhere(to) => {
                    url = std::borrow::Cow::Owned(to);
                    auth = false;
                }
            }
        }
        let mut req = self.https.client()?.request(method.clone(), url.as_ref());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        if auth && !self.auth.is_empty() {
            req = req.header("authorization", &self.auth);
        }
        if let Some(json) = json {
            req = req.body(json);
        }
        let r = req.send()?;
        Ok(Opened {
            status: r.status(),
            length: r.content_length(),
            content_range: r
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: Body::Reqwest(r),
        })
    }

    /// GETs `url` (absolute, or relative to the device's base) as JSON.
    pub fn get<T: DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let url = self.absolute(url);
        let what = format!("GET {url}");
        let body = self.call(&Method::GET, &url, None, &what)?;
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: unexpected JSON"))
    }

    /// Sends `body` as JSON with `method` to `rest` below the device's base.
    pub fn send<B: Serialize>(&self, method: Method, rest: &str, body: &B) -> anyhow::Result<()> {
        let url = format!("{}{rest}", self.base);
        let what = format!("{method} {url}");
        let json = serde_json::to_vec(body).with_context(|| what.clone())?;
        self.call(&method, &url, Some(json), &what)?;
        Ok(())
    }

    /// One JSON call: the answer's body when the server accepted it, else [`Refused`].
    fn call(&self, method: &Method, url: &str, json: Option<Vec<u8>>, what: &str) -> anyhow::Result<Vec<u8>> {
        let opened = self
            .open(method, url, vec![("accept", ACCEPT_JSON.to_owned())], json)
            .with_context(|| what.to_owned())?;
        let mut r = expect_ok(opened, what)?;
        let mut body = Vec::new();
        (&mut r.body)
            .take(MAX_JSON)
            .read_to_end(&mut body)
            .with_context(|| format!("{what}: reading the answer"))?;
        Ok(body)
    }

    /// Reports on deployment `action`.
    pub fn feedback(
        &self,
        action: &str,
        execution: Execution,
        finished: Finished,
        details: Vec<String>,
    ) -> anyhow::Result<()> {
        self.send(
            Method::POST,
            &format!("/deploymentBase/{action}/feedback"),
            &feedback(execution, finished, details),
        )
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    /// A reader of `url`'s body that resumes with `Range` after a broken connection.
    pub fn download(&self, url: &str) -> anyhow::Result<Download> {
        let mut d = Download {
            ddi: self.clone(),
            url: url.to_owned(),
            body: None,
            offset: 0,
            length: None,
            failures: 0,
        };
        d.connect()?;
        Ok(d)
    }
}

/// The chunk files of a deployment, for delta images: `url = "dynamic"` resolves to the
/// deployment's artifact named `zckfile` (as SWUpdate's suricatta registers `.zck` artifacts),
/// fetched with the device's credentials like any artifact; an explicit `http(s)://` URL (a
/// capability link) is fetched as it is.
pub struct ChunkFiles {
    pub ddi: Ddi,
    /// Artifact file name to download link.
    pub artifacts: std::collections::BTreeMap<String, String>,
}

impl crate::install::delta::DeltaRemote for ChunkFiles {
    fn open(&self, zckfile: &str, url: &str) -> anyhow::Result<Box<dyn crate::install::delta::ChunkFetch>> {
        let url = if url == "dynamic" {
            self.artifacts.get(zckfile).cloned().ok_or_else(|| {
                anyhow!(
                    "the deployment has no artifact {zckfile}: upload the chunk file that `updraft \
                     bundle create` wrote beside the bundle to the same software module"
                )
            })?
        } else if url.starts_with("http://") || url.starts_with("https://") {
            url.to_owned()
        } else {
            bail!("{zckfile}: url {url:?} is neither \"dynamic\" nor an http(s) URL");
        };
        Ok(Box::new(ChunkFile {
            ddi: self.ddi.clone(),
            url,
            received: Arc::default(),
        }))
    }
}

/// One chunk file on the server.
struct ChunkFile {
    ddi: Ddi,
    url: String,
    /// Body bytes received, shared with the whole-file stream.
    received: Arc<std::sync::atomic::AtomicU64>,
}

impl ChunkFile {
    fn count(&self, n: usize) {
        self.received
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

impl crate::install::delta::ChunkFetch for ChunkFile {
    fn ranges(&mut self, ranges: &[(u64, u64)]) -> anyhow::Result<Vec<Vec<u8>>> {
        let spec: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{}", b - 1)).collect();
        let asked: u64 = ranges.iter().map(|(a, b)| b - a).sum();
        let mut last = None;
        // A broken connection is retried like a download; an answer that is wrong is not.
        for attempt in 0..=self.ddi.retries {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt.min(25))));
            }
            let opened = match self.ddi.open(
                &Method::GET,
                &self.url,
                vec![
                    ("accept", "application/octet-stream".to_owned()),
                    ("range", format!("bytes={}", spec.join(","))),
                ],
                None,
            ) {
                Ok(o) => o,
                Err(e) => {
                    last = Some(e.context(format!("GET {} (ranges)", self.url)));
                    continue;
                }
            };
            if opened.status != StatusCode::PARTIAL_CONTENT {
                if opened.status.is_success() {
                    bail!(
                        "GET {}: the server answered {} instead of the ranges asked for; a chunk \
                         delta needs a server that answers Range requests",
                        self.url,
                        opened.status
                    );
                }
                let refused = expect_ok(opened, &format!("GET {}", self.url)).err();
                return Err(refused.unwrap_or_else(|| anyhow!("GET {}: unexpected answer", self.url)));
            }
            let (content_type, content_range) = (opened.content_type.clone(), opened.content_range.clone());
            let mut body = Vec::new();
            // Framing is small next to the data; a server sending far more is refused.
            let limit = asked + 4096 + 512 * ranges.len() as u64;
            let mut reader = opened.body.take(limit + 1);
            match reader.read_to_end(&mut body) {
                Ok(_) => {}
                Err(e) => {
                    self.count(body.len());
                    last = Some(anyhow::Error::new(e).context(format!(
                        "GET {}: the answer broke off after {} bytes",
                        self.url,
                        body.len()
                    )));
                    continue;
                }
            }
            self.count(body.len());
            if body.len() as u64 > limit {
                bail!("GET {}: the answer is longer than the ranges asked for", self.url);
            }
            match crate::install::delta::split_ranges(
                content_type.as_deref(),
                content_range.as_deref(),
                &body,
                ranges,
            ) {
                Ok(parts) => return Ok(parts),
                Err(e) => {
                    last = Some(e.context(format!("GET {}", self.url)));
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("GET {}: no attempt made", self.url)))
    }

    fn whole(&mut self) -> anyhow::Result<Box<dyn Read>> {
        Ok(Box::new(Counted {
            inner: self.ddi.download(&self.url)?,
            received: Arc::clone(&self.received),
        }))
    }

    fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A whole-file download whose bytes count as received.
struct Counted {
    inner: Download,
    received: Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.received
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A download for `updraft install URL`: with the `[server]` credentials when configured, else
/// anonymous.
pub fn download_url(config: &crate::config::Config, url: &str) -> anyhow::Result<Download> {
    let ddi = match &config.server {
        Some(server) => Ddi::new(server, server.controller_id.as_deref().unwrap_or("-"))?,
        None => Ddi::anonymous(),
    };
    ddi.download(url)
}

pub fn feedback(execution: Execution, finished: Finished, details: Vec<String>) -> ActionFeedback {
    ActionFeedback {
        status: FeedbackStatus {
            execution,
            result: FeedbackResult {
                finished,
                progress: None,
            },
            details,
            code: None,
        },
        timestamp: None,
    }
}

fn expect_ok(r: Opened, what: &str) -> anyhow::Result<Opened> {
    if r.status.is_success() {
        return Ok(r);
    }
    let mut text = Vec::new();
    let _ = r.body.take(64 * 1024).read_to_end(&mut text);
    Err(Refused {
        what: what.to_owned(),
        status: r.status,
        body: String::from_utf8_lossy(&text).chars().take(500).collect(),
    }
    .into())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A streaming download. A read error or an early end of the body reconnects with
/// `Range: bytes=<offset>-` (up to the configured retries, with a growing pause), so the caller sees
/// one uninterrupted stream and nothing is buffered beyond the reader's own buffer.
pub struct Download {
    ddi: Ddi,
    url: String,
    body: Option<Body>,
    offset: u64,
    length: Option<u64>,
    failures: u32,
}

impl Download {
    /// Bytes received so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The total size, when the server said.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    fn connect(&mut self) -> anyhow::Result<()> {
        let mut headers = vec![("accept", "application/octet-stream".to_owned())];
        if self.offset > 0 {
            headers.push(("range", format!("bytes={}-", self.offset)));
        }
        let r = self
            .ddi
            .open(&Method::GET, &self.url, headers, None)
            .with_context(|| format!("GET {}", self.url))?;
        match r.status {
            StatusCode::OK if self.offset == 0 => {
                self.length = r.length;
            }
            StatusCode::PARTIAL_CONTENT if self.offset > 0 => {
                let start = r
                    .content_range
                    .as_deref()
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(self.offset) {
                    bail!("resuming {}: the server sent the wrong range", self.url);
                }
            }
            StatusCode::OK => bail!("resuming {}: the server does not support Range", self.url),
            _ => {
                expect_ok(r, &format!("GET {}", self.url))?;
                return Err(anyhow!("GET {}: unexpected answer", self.url));
            }
        }
        self.body = Some(r.body);
        Ok(())
    }

    fn retry(&mut self, why: &str) -> io::Result<()> {
        self.body = None;
        loop {
            self.failures += 1;
            if self.failures > self.ddi.retries {
                return Err(io::Error::other(format!(
                    "download of {} failed after {} bytes: {why}",
                    self.url, self.offset
                )));
            }
            tracing::warn!(url = %self.url, offset = self.offset, attempt = self.failures, "resuming download: {why}");
            std::thread::sleep(Duration::from_millis(200 * u64::from(self.failures.min(25))));
            match self.connect() {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "reconnect failed"),
            }
        }
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.length.is_some_and(|len| self.offset >= len) {
                return Ok(0);
            }
            let Some(body) = self.body.as_mut() else {
                self.retry("not connected")?;
                continue;
            };
            match body.read(buf) {
                Ok(0) if self.length.is_none() => return Ok(0),
                Ok(0) => self.retry("the connection ended early")?,
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.retry(&e.to_string())?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write as _;
    use std::net::TcpListener;

    use super::*;

    /// A server on loopback that hands each connection's request head to `answer` and writes back
    /// what it answers; the connection closes after each.
    fn serve(connections: usize, answer: impl Fn(usize, &str) -> Vec<u8> + Send + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/update.swu", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for i in 0..connections {
                let (mut sock, _) = listener.accept().unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
                    head.push(byte[0]);
                }
                let _ = sock.write_all(&answer(i, &String::from_utf8_lossy(&head)));
            }
        });
        url
    }

    fn payload() -> Vec<u8> {
        (0..200_000u32).map(|i| (i % 253) as u8).collect()
    }

    #[test]
    fn a_plain_http_download_cut_short_resumes_with_range() {
        let url = serve(2, |i, head| {
            let data = payload();
            let mut out;
            if i == 0 {
                assert!(!head.contains("range:"), "{head}");
                out = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", data.len()).into_bytes();
                out.extend_from_slice(&data[..70_000]);
            } else {
                assert!(head.contains("range: bytes=70000-\r\n"), "{head}");
                out = format!(
                    "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 70000-{}/{}\r\ncontent-length: {}\r\n\r\n",
                    data.len() - 1,
                    data.len(),
                    data.len() - 70_000
                )
                .into_bytes();
                out.extend_from_slice(&data[70_000..]);
            }
            out
        });
        let mut download = Ddi::anonymous().download(&url).unwrap();
        assert_eq!(download.length(), Some(200_000));
        let mut got = Vec::new();
        download.read_to_end(&mut got).unwrap();
        assert!(got == payload(), "the resumed body is the whole body");
    }

    #[test]
    fn a_cut_chunked_download_that_cannot_resume_fails_in_words() {
        let url = serve(2, |_, _| {
            let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1000\r\n".to_vec();
            out.extend_from_slice(&[1u8; 100]);
            out
        });
        let mut ddi = Ddi::anonymous();
        ddi.retries = 1;
        let mut download = ddi.download(&url).unwrap();
        let e = download.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "download of {url} failed after 100 bytes: the server closed the connection before \
                 the last chunk of the body"
            )
        );
    }

    #[test]
    fn a_download_from_a_stalled_server_fails_in_words_instead_of_hanging() {
        // The server sends part of the body, then nothing, and holds the connection open.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/update.swu", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                .unwrap();
            sock.write_all(&[1u8; 100]).unwrap();
            // Returns when the client hangs up.
            let _ = sock.read(&mut byte);
        });
        let mut ddi = Ddi::anonymous();
        Arc::get_mut(&mut ddi.https).unwrap().timeout = Duration::from_millis(200);
        ddi.retries = 0;
        let mut download = ddi.download(&url).unwrap();
        let e = download.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("download of {url} failed after 100 bytes: the server sent nothing for 0.2 s")
        );
    }

    #[test]
    fn a_refusal_over_plain_http_keeps_the_servers_words() {
        let url = serve(1, |_, _| {
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{\"errorCode\":\"gone\"}\n"
                .to_vec()
        });
        let e = Ddi::anonymous().download(&url).err().unwrap();
        let refused = e.downcast_ref::<Refused>().unwrap();
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert_eq!(
            e.to_string(),
            format!("GET {url}: the server answered 404 Not Found: {{\"errorCode\":\"gone\"}}\n")
        );
    }
}
