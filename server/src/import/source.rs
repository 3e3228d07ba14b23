//! The hawkBit being imported from: its Management API over HTTP(S) with Basic auth, read page by page.

use std::time::Duration;

use reqwest_rustls::blocking::{Client, Response};
use reqwest_rustls::{Certificate, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::progress::Progress;
use super::wire::Paged;
use super::{ImportError, Options};

/// How many entities one list request asks for: hawkBit's maximum page (larger ones are clamped).
pub const PAGE: usize = 500;

/// A connection to the source's Management API.
#[derive(Clone)]
pub struct Source {
    http: Client,
    base: String,
    user: String,
    password: String,
}

impl Source {
    /// Checks the URL, the server's certificate (trusted by the system or `opts.ca_cert`) and the
    /// credentials with one small request.
    pub fn connect(opts: &Options) -> Result<Self, ImportError> {
        let (url, user, password) = (opts.from.as_str(), opts.user.as_str(), opts.password.as_str());
        let parsed = Url::parse(url).map_err(|e| {
            ImportError::Source(format!(
                "{url} is not a usable URL ({e}); give one like https://hawkbit.example.com"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ImportError::Source(format!(
                "{url} is not an http:// or https:// URL."
            )));
        }
        crate::tls::use_ring();
        let mut builder = Client::builder();
        if let Some(pem) = &opts.ca_cert {
            let certs = Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    ImportError::Source(
                        "the --ca-cert file holds no PEM certificate (-----BEGIN CERTIFICATE-----).".into(),
                    )
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .connect_timeout(Duration::from_secs(15))
            // Artifacts stream for as long as they take; a stalled read still ends.
            .timeout(None)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| ImportError::Source(format!("the HTTP client could not start: {e}")))?;
        let source = Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
        };
        source.get::<serde_json::Value>("/rest/v1/targets?offset=0&limit=1")?;
        Ok(source)
    }

    /// The source's address, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the source answers `path` rather than refusing it as a bad request (400): how a
    /// query on a field an older hawkBit does not know is told apart.
    pub fn accepts(&self, path: &str) -> Result<bool, ImportError> {
        let r = self.send_unchecked(path)?;
        if r.status() == StatusCode::BAD_REQUEST {
            return Ok(false);
        }
        check(r, &format!("{}{path}", self.base)).map(|_| true)
    }

    fn send(&self, path: &str) -> Result<Response, ImportError> {
        let r = self.send_unchecked(path)?;
        check(r, &format!("{}{path}", self.base))
    }

    /// GETs `path`, trying again while the source says it is busy; any answer else is returned.
    fn send_unchecked(&self, path: &str) -> Result<Response, ImportError> {
        let url = format!("{}{path}", self.base);
        let mut last = None;
        // A busy or restarting source gets a few more chances before the run stops.
        for attempt in 0..3u32 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
            }
            match self
                .http
                .get(&url)
                .basic_auth(&self.user, Some(&self.password))
                .send()
            {
                Ok(r)
                    if r.status() == StatusCode::SERVICE_UNAVAILABLE
                        || r.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    last = Some(ImportError::Source(format!("{url} answered {}", r.status())));
                }
                Ok(r) => return Ok(r),
                Err(e) => last = Some(ImportError::Source(unreachable(&self.base, &e))),
            }
        }
        Err(last.unwrap_or_else(|| ImportError::Source(format!("{url} did not answer"))))
    }

    /// GETs `path` (below the server URL) as JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ImportError> {
        match self.get_optional(path)? {
            Some(v) => Ok(v),
            None => Err(ImportError::Source(format!(
                "{}{path} answered 204 No Content or 404 Not Found where it listed an entity.",
                self.base
            ))),
        }
    }

    /// GETs `path`; None when the source has nothing there (204 or 404).
    pub fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ImportError> {
        let url = format!("{}{path}", self.base);
        let r = match self.send(path) {
            Ok(r) => r,
            Err(ImportError::Empty) => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = r
            .bytes()
            .map_err(|e| ImportError::Source(format!("reading the answer of {url} failed: {e}")))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ImportError::Source(format!(
                "{url} answered something that is not hawkBit's JSON: {e}"
            ))
        })
    }

    /// Calls `each` with every page of the list at `path` (which may carry a query already), in order;
    /// returns the number of entities. A list the source answers with 204 or 404 is empty.
    pub fn pages<T: DeserializeOwned>(
        &self,
        path: &str,
        each: impl FnMut(Vec<T>, u64) -> Result<(), ImportError>,
    ) -> Result<u64, ImportError> {
        self.first_pages(path, u64::MAX, each)
    }

    /// [`Source::pages`] over the first `max` entities only (`each` sees at most that many, and
    /// the total it is told is capped at `max`).
    pub fn first_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        max: u64,
        mut each: impl FnMut(Vec<T>, u64) -> Result<(), ImportError>,
    ) -> Result<u64, ImportError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut offset = 0u64;
        while offset < max {
            // Nothing there (204, 404: a target deleted since it was listed) is an empty list.
            let Some(page) =
                self.get_optional::<Paged<T>>(&format!("{path}{sep}offset={offset}&limit={PAGE}"))?
            else {
                break;
            };
            let mut content = page.content;
            let n = content.len() as u64;
            let total = page.total.max(offset + n);
            content.truncate(max.saturating_sub(offset).min(n) as usize);
            let taken = content.len() as u64;
            if taken > 0 {
                each(content, total.min(max))?;
            }
            offset += n;
            if n == 0 || offset >= total {
                break;
            }
        }
        Ok(offset.min(max))
    }

    /// Every entity of the list at `path`, read page by page.
    pub fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ImportError> {
        let mut all = Vec::new();
        self.pages(path, |page: Vec<T>, _| {
            all.extend(page);
            Ok(())
        })?;
        Ok(all)
    }

    /// [`Source::list`] as the entities of one type to import: iterating them drives the progress
    /// bar `label`, which shows the final count when the last one has been taken.
    pub fn all<T: DeserializeOwned>(
        &self,
        label: &'static str,
        path: &str,
    ) -> Result<Counted<T>, ImportError> {
        let all = self.list(path)?;
        let progress = Progress::new(label, all.len() as u64);
        Ok(Counted {
            items: all.into_iter(),
            progress: Some(progress),
        })
    }

    /// How many entities the list at `path` holds.
    pub fn total(&self, path: &str) -> Result<u64, ImportError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page: Paged<serde_json::Value> = self.get(&format!("{path}{sep}offset=0&limit=1"))?;
        Ok(page.total)
    }

    /// Starts the download of the binary at `path` (an artifact's download link).
    pub fn download(&self, path: &str) -> Result<Response, ImportError> {
        self.send(path)
    }

    /// `href` (absolute, as hawkBit's links are) as a path below the server URL; links that point
    /// elsewhere (another host name for the same server) keep only their path.
    pub fn path_of(&self, href: &str) -> String {
        if let Some(rest) = href.strip_prefix(&self.base) {
            return rest.to_owned();
        }
        Url::parse(href).map_or_else(
            |_| href.to_owned(),
            |u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            },
        )
    }
}

/// The entities of one type, counted on the progress bar as they are taken.
pub struct Counted<T> {
    items: std::vec::IntoIter<T>,
    progress: Option<Progress>,
}

impl<T> Iterator for Counted<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let next = self.items.next();
        match (&next, &mut self.progress) {
            (Some(_), Some(p)) => p.inc(1),
            (None, p) => {
                if let Some(p) = p.take() {
                    p.finish();
                }
            }
            (Some(_), None) => {}
        }
        next
    }
}

fn check(r: Response, url: &str) -> Result<Response, ImportError> {
    match r.status() {
        s if s == StatusCode::NO_CONTENT || s == StatusCode::NOT_FOUND => Err(ImportError::Empty),
        s if s.is_success() => Ok(r),
        StatusCode::UNAUTHORIZED => Err(ImportError::Credentials(format!(
            "{url} refused the user name or password (401 Unauthorized)."
        ))),
        StatusCode::FORBIDDEN => Err(ImportError::Credentials(format!(
            "the user may not read {url} (403 Forbidden); the import needs the READ_* permissions of \
             targets, repository and rollouts, READ_TARGET_SECURITY_TOKEN and the tenant configuration."
        ))),
        s => Err(ImportError::Source(format!("{url} answered {s}."))),
    }
}

fn unreachable(base: &str, e: &reqwest_rustls::Error) -> String {
    use std::error::Error;
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    if why.contains("certificate") {
        return format!(
            "{base} presented a TLS certificate that is not trusted ({why}); if it is signed by a \
             private CA, give that CA's certificate with --ca-cert <PEM>."
        );
    }
    format!("{base} cannot be reached ({why}).")
}
