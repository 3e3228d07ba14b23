//! The device side of hawkBit's DDI v1 over HTTP: authenticated JSON calls with the shared wire
//! types, and downloads that resume with `Range` where a connection broke.

use std::io::{self, Read};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use updraft_ddi::{ActionFeedback, Execution, FeedbackResult, FeedbackStatus, Finished};

use crate::config::ServerConfig;

/// One device's connection to the server.
#[derive(Clone)]
pub struct Ddi {
    http: Client,
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
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(None::<Duration>)
            .user_agent(concat!("updraft/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &server.ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading [server] ca {}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("[server] ca {} is not PEM", ca.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&server.client_cert, &server.client_key) {
            (Some(cert), Some(key)) => {
                let cert_pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
                let key_pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
                let identity = reqwest::Identity::from_pkcs8_pem(&cert_pem, &key_pem)
                    .context("[server] client_cert/client_key are not a PEM certificate and PKCS#8 key")?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => bail!("[server] client_cert and client_key go together"),
        }
        let http = builder.build().context("setting up HTTP")?;
        let url = server.url.trim_end_matches('/');
        let cid = percent_encode(controller_id);
        Ok(Ddi {
            http,
            base: format!("{url}/{}/controller/v1/{cid}", percent_encode(&server.tenant)),
            auth,
            retries: server.download_retries,
        })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::blocking::RequestBuilder {
        let r = self
            .http
            .request(method, url)
            .header("accept", "application/hal+json, application/json");
        if self.auth.is_empty() {
            r
        } else {
            r.header("authorization", &self.auth)
        }
    }

    /// GETs `url` (absolute, or relative to the device's base) as JSON.
    pub fn get<T: DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let url = self.absolute(url);
        let r = self
            .request(reqwest::Method::GET, &url)
            .timeout(Duration::from_secs(60))
            .send()
            .with_context(|| format!("GET {url}"))?;
        let r = expect_ok(r, &format!("GET {url}"))?;
        r.json().with_context(|| format!("GET {url}: unexpected JSON"))
    }

    /// Sends `body` as JSON with `method` to `rest` below the device's base.
    pub fn send<B: Serialize>(&self, method: reqwest::Method, rest: &str, body: &B) -> anyhow::Result<()> {
        let url = format!("{}{rest}", self.base);
        let r = self
            .request(method.clone(), &url)
            .timeout(Duration::from_secs(60))
            .json(body)
            .send()
            .with_context(|| format!("{method} {url}"))?;
        expect_ok(r, &format!("{method} {url}"))?;
        Ok(())
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
            reqwest::Method::POST,
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

/// A download for `updraft install URL`: with the `[server]` credentials when configured, else
/// anonymous.
pub fn download_url(config: &crate::config::Config, url: &str) -> anyhow::Result<Download> {
    let ddi = match &config.server {
        Some(server) => Ddi::new(server, server.controller_id.as_deref().unwrap_or("-"))?,
        None => Ddi {
            http: Client::builder()
                .connect_timeout(Duration::from_secs(30))
                .build()
                .context("setting up HTTP")?,
            base: String::new(),
            auth: String::new(),
            retries: 10,
        },
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

fn expect_ok(r: Response, what: &str) -> anyhow::Result<Response> {
    if r.status().is_success() {
        return Ok(r);
    }
    let status = r.status();
    let body: String = r.text().unwrap_or_default().chars().take(500).collect();
    Err(Refused {
        what: what.to_owned(),
        status,
        body,
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
    body: Option<Response>,
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
        let mut req = self
            .ddi
            .request(reqwest::Method::GET, &self.url)
            .header("accept", "application/octet-stream");
        if self.offset > 0 {
            req = req.header("range", format!("bytes={}-", self.offset));
        }
        let r = req.send().with_context(|| format!("GET {}", self.url))?;
        match r.status() {
            StatusCode::OK if self.offset == 0 => {
                self.length = r.content_length();
            }
            StatusCode::PARTIAL_CONTENT if self.offset > 0 => {
                let start = r
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
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
        self.body = Some(r);
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
