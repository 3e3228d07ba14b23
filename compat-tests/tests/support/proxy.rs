//! An HTTP forward proxy between swupdate and the server (swupdate `-y` + `http_proxy`), so
//! every request passes it whatever host the server's hrefs name. It records each request
//! and can cut the first artifact download after a number of bytes, the way a flaky
//! network would, to make `SWUpdate` resume with `Range: bytes=N-`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Origin-form target (path and query).
    pub path: String,
    pub range: Option<String>,
}

impl RecordedRequest {
    pub fn is_artifact_download(&self) -> bool {
        self.method == "GET" && self.path.contains("/artifacts/")
    }
}

/// What the proxy delivered of the response before it cut the connection.
#[derive(Clone, Debug)]
pub struct Cut {
    /// Status line and headers of the cut response.
    pub response_head: String,
    pub body_bytes_delivered: usize,
}

pub struct ForwardProxy {
    pub url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    /// Cut the first artifact GET's response after this many bytes (status line and
    /// headers included).
    cut_after: Option<usize>,
    cut_armed: AtomicBool,
    cut: Mutex<Option<Cut>>,
    requests: Mutex<Vec<RecordedRequest>>,
    stopping: AtomicBool,
}

impl ForwardProxy {
    /// `upstream_url` is the server's `http://host:port`.
    pub fn start(upstream_url: &str, cut_first_download_after: Option<usize>) -> Self {
        let upstream = upstream_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("server URL {upstream_url} is not http://ip:port: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            cut_after: cut_first_download_after,
            cut_armed: AtomicBool::new(false),
            cut: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = thread::spawn(move || {
            for client in listener.incoming() {
                if accept_shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let conn_shared = Arc::clone(&accept_shared);
                thread::spawn(move || {
                    // A connection error just ends that connection, as it would for curl.
                    let _ = proxy_connection(&conn_shared, &client);
                });
            }
        });
        Self {
            url: format!("http://{addr}"),
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn cut(&self) -> Option<Cut> {
        self.shared
            .cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Per client connection: this thread forwards requests (parsed, so they can be recorded and
/// rewritten from absolute-form to origin-form), a second thread streams responses back.
fn proxy_connection(shared: &Arc<Shared>, client: &TcpStream) -> io::Result<()> {
    let upstream = TcpStream::connect(shared.upstream)?;
    let armed_here = Arc::new(AtomicBool::new(false));
    let responses = {
        let (shared, armed_here) = (Arc::clone(shared), Arc::clone(&armed_here));
        let (from, to) = (upstream.try_clone()?, client.try_clone()?);
        thread::spawn(move || {
            let _ = forward_responses(&shared, &armed_here, from, to);
        })
    };
    let result = forward_requests(
        shared,
        &armed_here,
        BufReader::new(client.try_clone()?),
        &upstream,
    );
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = responses.join();
    result
}

fn forward_requests(
    shared: &Shared,
    armed_here: &AtomicBool,
    mut client: BufReader<TcpStream>,
    mut upstream: &TcpStream,
) -> io::Result<()> {
    loop {
        let Some(head) = read_head(&mut client)? else {
            return Ok(());
        };
        let mut parts = head[0].splitn(3, ' ');
        let (method, target, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
            parts.next().unwrap_or("HTTP/1.1"),
        );
        let path = origin_form(target);
        let header = |name: &str| {
            head[1..].iter().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let request = RecordedRequest {
            method: method.to_owned(),
            path: path.clone(),
            range: header("Range"),
        };
        if shared.cut_after.is_some()
            && request.is_artifact_download()
            && request.range.is_none()
            && !shared.cut_armed.swap(true, Ordering::SeqCst)
        {
            // Armed before the request goes upstream, so no byte of its response can slip past.
            armed_here.store(true, Ordering::SeqCst);
        }
        shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);

        let mut out = format!("{method} {path} {version}\r\n");
        for line in &head[1..] {
            if !line.to_ascii_lowercase().starts_with("proxy-connection:") {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out.push_str("\r\n");
        upstream.write_all(out.as_bytes())?;
        if header("Transfer-Encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            // Not sent by swupdate; stop parsing and pass the rest through unchanged.
            io::copy(&mut client, &mut upstream)?;
            return Ok(());
        }
        let body_len: u64 = header("Content-Length").and_then(|n| n.parse().ok()).unwrap_or(0);
        io::copy(&mut (&mut client).take(body_len), &mut upstream)?;
    }
}

/// Reads one request head (request line + header lines, without line ends); None at EOF.
fn read_head(client: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut raw = Vec::new();
        if client.read_until(b'\n', &mut raw)? == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between requests
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

/// `http://host:port/path?q` -> `/path?q`; origin-form targets are returned unchanged.
fn origin_form(target: &str) -> String {
    match target.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map_or_else(|| "/".to_owned(), |slash| rest[slash..].to_owned()),
        None => target.to_owned(),
    }
}

fn forward_responses(
    shared: &Shared,
    armed_here: &AtomicBool,
    mut upstream: TcpStream,
    mut client: TcpStream,
) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    let mut since_armed = Vec::new();
    loop {
        let n = upstream.read(&mut buf)?;
        if n == 0 {
            let _ = client.shutdown(Shutdown::Write);
            return Ok(());
        }
        let limit = shared.cut_after.unwrap_or(usize::MAX);
        if !armed_here.load(Ordering::SeqCst) {
            client.write_all(&buf[..n])?;
            continue;
        }
        let take = n.min(limit - since_armed.len());
        client.write_all(&buf[..take])?;
        since_armed.extend_from_slice(&buf[..take]);
        if since_armed.len() >= limit {
            let head_len = since_armed
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(limit, |p| p + 4);
            *shared.cut.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cut {
                response_head: String::from_utf8_lossy(&since_armed[..head_len]).into_owned(),
                body_bytes_delivered: limit - head_len,
            });
            // Everything written so far reaches curl before the FIN: it sees a short body.
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
