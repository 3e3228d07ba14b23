//! HTTP/1.1 over one plain `std::net::TcpStream`, for `http://` URLs: a request, its answer's
//! head, and a body that reads from the socket straight into the caller's buffer.
//!
//! Why not reqwest for these: its blocking client drives hyper on a tokio runtime thread of its
//! own, which reads the socket into buffers of its own (an adaptive one growing to ~400 KiB, each
//! chunk handed across threads and copied again into ours). For a 1 GiB bundle over loopback that
//! thread took 14 % of the two cores and filled a 3.3 MB malloc arena (BENCHMARKS.md, "Client
//! install"). Here one `read(2)` fills the install pipeline's 512 KiB buffer, on its reading thread.
//!
//! What it does, as reqwest did for these requests: `Content-Length`, chunked transfer encoding and
//! bodies that end with the connection; up to ten redirects (301/302/303 turn into a GET without
//! body), dropping the `sensitive` headers (authorization) when one leaves the origin; a connect
//! timeout of 30 s. What it leaves to reqwest ([`handles`] says no, or [`Answer::Elsewhere`]):
//! `https://`, a redirect there, a URL with credentials in it, and any proxy set in the environment.
//! One request per connection (`connection: close`): a device polls every few minutes and downloads
//! a bundle at a time, there is nothing to pool.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use reqwest::Url;

/// reqwest's default redirect policy stops after ten.
const MAX_REDIRECTS: usize = 10;
/// The longest answer head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// A chunk-size line or trailer line longer than this is no HTTP.
const MAX_LINE: usize = 4096;
/// The buffer for heads and chunk-size lines; body bytes go past it.
const HEAD_BUFFER: usize = 8 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether [`send`] fetches `url`: plain `http://` without credentials in the URL, and no proxy in
/// the environment (`http_proxy`, `HTTP_PROXY`, `all_proxy`, `ALL_PROXY`: reqwest honours them).
pub fn handles(url: &str) -> bool {
    let proxied = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    !proxied
        && Url::parse(url)
            .is_ok_and(|u| u.scheme() == "http" && u.username().is_empty() && u.password().is_none())
}

pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Lowercase names, as hyper sends them.
    pub headers: Vec<(&'static str, String)>,
    /// Sent only to `url`'s origin: dropped after a redirect to another scheme, host or port.
    pub sensitive: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    /// How long a read of the answer may wait for the server; `None` waits as long as TCP does.
    pub read_timeout: Option<Duration>,
}

pub enum Answer {
    Response(Response),
    /// A redirect to a URL [`handles`] refuses (`https://`): the caller fetches it, without the
    /// sensitive headers (reqwest drops them when the scheme changes).
    Elsewhere(String),
}

/// Sends `request`, following redirects; answers the final response with its body unread.
pub fn send(request: &Request) -> io::Result<Answer> {
    let mut url = parse(request.url)?;
    let origin = url.origin();
    let mut method = request.method;
    let mut body = request.body;
    for _ in 0..=MAX_REDIRECTS {
        let sensitive = if url.origin() == origin {
            &request.sensitive[..]
        } else {
            &[]
        };
        let response = exchange(
            &url,
            method,
            &request.headers,
            sensitive,
            body,
            request.read_timeout,
        )?;
        let Some(location) = response.redirect() else {
            return Ok(Answer::Response(response));
        };
        let next = url.join(&location).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the server redirected to {location:?}, which is no URL: {e}"),
            )
        })?;
        if matches!(response.status, 301..=303) && method != "HEAD" {
            method = "GET";
            body = &[];
        }
        if !handles(next.as_str()) {
            return Ok(Answer::Elsewhere(next.into()));
        }
        url = next;
    }
    Err(io::Error::other(format!(
        "more than {MAX_REDIRECTS} redirects, the last to {url}"
    )))
}

fn parse(url: &str) -> io::Result<Url> {
    Url::parse(url)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url:?} is no URL: {e}")))
}

/// One request and the head of its answer, on a connection of its own.
fn exchange(
    url: &Url,
    method: &str,
    headers: &[(&'static str, String)],
    sensitive: &[(&'static str, String)],
    body: &[u8],
    read_timeout: Option<Duration>,
) -> io::Result<Response> {
    let sock = connect(url)?;
    sock.set_read_timeout(read_timeout)?;
    sock.set_write_timeout(read_timeout)?;
    let host = url.host_str().unwrap_or_default();
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let mut head = format!(
        "{method} {}{query} HTTP/1.1\r\nhost: {host}{port}\r\nuser-agent: updraft/{}\r\n",
        url.path(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers.iter().chain(sensitive) {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        let _ = write!(head, "content-length: {}\r\n", body.len());
    }
    head.push_str("connection: close\r\n\r\n");
    let mut conn = Conn {
        sock,
        buf: vec![0; HEAD_BUFFER],
        pos: 0,
        end: 0,
        timeout: read_timeout,
    };
    (&conn.sock)
        .write_all(head.as_bytes())
        .and_then(|()| (&conn.sock).write_all(body))
        .map_err(|e| explain(e, read_timeout))?;
    loop {
        let (status, headers) = read_head(&mut conn)?;
        // An interim answer (100 Continue, 103 Early Hints): the real one follows.
        if (100..200).contains(&status) {
            continue;
        }
        let framing = framing(method, status, &headers)?;
        return Ok(Response {
            status,
            headers,
            conn,
            framing,
        });
    }
}

fn connect(url: &Url) -> io::Result<TcpStream> {
    let host = url.host_str().unwrap_or_default();
    let addrs: Vec<SocketAddr> = url
        .socket_addrs(|| Some(80))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?;
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(sock) => return Ok(sock),
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}")),
        None => io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")),
    })
}

fn read_head(conn: &mut Conn) -> io::Result<(u16, Vec<(String, String)>)> {
    let mut budget = MAX_HEAD;
    let status_line = conn.line(&mut budget)?;
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server's answer is not HTTP/1: {:?}",
                    status_line.chars().take(80).collect::<String>()
                ),
            )
        })?;
    let mut headers = Vec::new();
    loop {
        let line = conn.line(&mut budget)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed header line {line:?}"),
            )
        })?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

/// How the body of an answer ends (RFC 9112, section 6.3).
fn framing(method: &str, status: u16, headers: &[(String, String)]) -> io::Result<Framing> {
    if method == "HEAD" || status == 204 || status == 304 {
        return Ok(Framing::Length { left: 0, total: 0 });
    }
    let get = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(coding) = get("transfer-encoding").next_back() {
        if coding
            .rsplit(',')
            .next()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        {
            return Ok(Framing::Chunked {
                left: 0,
                started: false,
                done: false,
            });
        }
        return Ok(Framing::Close);
    }
    match get("content-length").next() {
        Some(len) => {
            let total = len.parse::<u64>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the server sent content-length {len:?}"),
                )
            })?;
            Ok(Framing::Length { left: total, total })
        }
        None => Ok(Framing::Close),
    }
}

enum Framing {
    Length {
        left: u64,
        total: u64,
    },
    /// `left` bytes of the current chunk; `started` once the first size line was read.
    Chunked {
        left: u64,
        started: bool,
        done: bool,
    },
    /// The body ends with the connection.
    Close,
}

/// A socket with a small buffer for heads and size lines; body reads drain that buffer first and
/// then go straight to the socket.
struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    timeout: Option<Duration>,
}

impl Conn {
    /// Reads from the buffer, or when it is empty from the socket into `out`.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.end {
            let n = out.len().min(self.end - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        sock_read(&self.sock, out, self.timeout)
    }

    /// One line without its CRLF (or LF), charged to `budget`.
    fn line(&mut self, budget: &mut usize) -> io::Result<String> {
        let mut line = Vec::new();
        loop {
            if self.pos == self.end {
                self.pos = 0;
                self.end = sock_read(&self.sock, &mut self.buf, self.timeout)?;
                if self.end == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection in the middle of the answer's head",
                    ));
                }
            }
            let avail = &self.buf[self.pos..self.end];
            let (take, found) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            line.extend_from_slice(&avail[..take]);
            self.pos += take;
            *budget = budget.checked_sub(take).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the server's answer has too long a head",
                )
            })?;
            if found {
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }
}

fn sock_read(mut sock: &TcpStream, out: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
    loop {
        match sock.read(out) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result.map_err(|e| explain(e, timeout)),
        }
    }
}

/// A socket error in words: a read timeout says how long the server was silent.
fn explain(e: io::Error, timeout: Option<Duration>) -> io::Error {
    match (e.kind(), timeout) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(t)) => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the server sent nothing for {} s", t.as_secs()),
        ),
        _ => e,
    }
}

/// An answer whose body is read through [`Read`]. A body cut short is an `UnexpectedEof` error,
/// never a silent end.
pub struct Response {
    pub status: u16,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    conn: Conn,
    framing: Framing,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's size from `content-length`; `None` for a chunked body or one that ends with the
    /// connection.
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length { total, .. } => Some(total),
            _ => None,
        }
    }

    fn redirect(&self) -> Option<String> {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
            .then(|| self.header("location").map(str::to_owned))
            .flatten()
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Framing::Chunked { left, started, done } = &mut self.framing else {
            return Ok(0);
        };
        if *done {
            return Ok(0);
        }
        if *left == 0 {
            let mut budget = MAX_LINE;
            if *started {
                // The CRLF after the last chunk's data.
                let rest = self.conn.line(&mut budget).map_err(cut_chunked)?;
                if !rest.is_empty() {
                    return Err(bad_chunk(&rest));
                }
            }
            *started = true;
            let line = self.conn.line(&mut budget).map_err(cut_chunked)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            *left = u64::from_str_radix(size, 16).map_err(|_| bad_chunk(&line))?;
            if *left == 0 {
                // The last chunk: skip the trailer fields up to the empty line.
                loop {
                    let mut budget = MAX_HEAD;
                    if self.conn.line(&mut budget).map_err(cut_chunked)?.is_empty() {
                        break;
                    }
                }
                *done = true;
                return Ok(0);
            }
        }
        let want = out.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
        let n = self.conn.read(&mut out[..want])?;
        if n == 0 {
            return Err(cut_chunked(io::ErrorKind::UnexpectedEof.into()));
        }
        *left -= n as u64;
        Ok(n)
    }
}

fn cut_chunked(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection before the last chunk of the body",
        )
    } else {
        e
    }
}

fn bad_chunk(line: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "malformed chunk size line {:?} in the body",
            line.chars().take(80).collect::<String>()
        ),
    )
}

impl Read for Response {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Length { left: 0, .. } => Ok(0),
            Framing::Length { left, total } => {
                let want = out.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = self.conn.read(&mut out[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the server closed the connection after {} of the body's {total} bytes",
                            *total - *left
                        ),
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked { .. } => self.read_chunked(out),
            Framing::Close => self.conn.read(out),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A server on loopback answering each connection with the next of `answers` (raw bytes, then
    /// the connection closes); answers the base URL and the request heads it received.
    fn serve(answers: Vec<Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&heads);
        std::thread::spawn(move || {
            for answer in answers {
                let (mut sock, _) = listener.accept().unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
                    head.push(byte[0]);
                }
                log.lock().unwrap().push(String::from_utf8(head).unwrap());
                let _ = sock.write_all(&answer);
            }
        });
        (url, heads)
    }

    fn get(url: &str) -> io::Result<Answer> {
        send(&Request {
            method: "GET",
            url,
            headers: vec![("accept", "application/octet-stream".into())],
            sensitive: vec![("authorization", "TargetToken secret".into())],
            body: &[],
            read_timeout: Some(Duration::from_secs(10)),
        })
    }

    fn response(answer: io::Result<Answer>) -> Response {
        match answer.unwrap() {
            Answer::Response(r) => r,
            Answer::Elsewhere(url) => panic!("redirected to {url}"),
        }
    }

    /// Reads `r` to its end in reads of at most `step` bytes.
    fn body(r: &mut Response, step: usize) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            match r.read(&mut buf)? {
                0 => return Ok(all),
                n => all.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn a_content_length_body_is_read_whole_and_the_request_says_what_hyper_said() {
        let payload = data(300_000);
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\nX-Any: 1\r\n\r\n".to_vec();
        answer.extend_from_slice(&payload);
        let (url, heads) = serve(vec![answer]);
        let mut r = response(get(&format!("{url}/a/b.swu?x=1")));
        assert_eq!(
            (r.status, r.content_length(), r.header("X-ANY")),
            (200, Some(300_000), Some("1"))
        );
        assert_eq!(body(&mut r, 512 * 1024).unwrap(), payload);
        let head = heads.lock().unwrap()[0].clone();
        assert!(head.starts_with("GET /a/b.swu?x=1 HTTP/1.1\r\n"), "{head}");
        for line in [
            "host: 127.0.0.1:",
            "accept: application/octet-stream\r\n",
            "authorization: TargetToken secret\r\n",
            "connection: close\r\n",
        ] {
            assert!(head.contains(line), "{line:?} in {head}");
        }
    }

    #[test]
    fn a_chunked_body_is_joined_across_chunk_and_read_boundaries() {
        let payload = data(70_000);
        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for (i, part) in payload.chunks(9_000).enumerate() {
            // A chunk extension on one, as RFC 9112 allows.
            let ext = if i == 1 { ";name=value" } else { "" };
            answer.extend_from_slice(format!("{:X}{ext}\r\n", part.len()).as_bytes());
            answer.extend_from_slice(part);
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        let (url, _) = serve(vec![answer]);
        let mut r = response(get(&url));
        assert_eq!(r.content_length(), None);
        assert_eq!(body(&mut r, 4_000).unwrap(), payload);
        assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0, "the end stays the end");
    }

    #[test]
    fn a_redirect_is_followed_and_the_token_stays_with_its_origin() {
        let (target, target_heads) = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()]);
        let (url, heads) = serve(vec![
            b"HTTP/1.1 302 Found\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n".to_vec(),
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}/elsewhere\r\n\r\n").into_bytes(),
        ]);
        let mut r = response(get(&format!("{url}/start")));
        assert_eq!(body(&mut r, 10).unwrap(), b"ok");
        let heads = heads.lock().unwrap().clone();
        assert!(heads[1].starts_with("GET /moved HTTP/1.1"), "{}", heads[1]);
        assert!(heads[1].contains("authorization: "), "same origin: {}", heads[1]);
        let there = target_heads.lock().unwrap()[0].clone();
        assert!(there.starts_with("GET /elsewhere HTTP/1.1"), "{there}");
        assert!(
            !there.contains("authorization"),
            "another origin gets no token: {there}"
        );
    }

    #[test]
    fn a_redirect_to_https_is_handed_back() {
        let (url, _) = serve(vec![
            b"HTTP/1.1 301 Moved\r\nLocation: https://s3.example/b?sig=1\r\n\r\n".to_vec(),
        ]);
        match get(&url).unwrap() {
            Answer::Elsewhere(to) => assert_eq!(to, "https://s3.example/b?sig=1"),
            Answer::Response(r) => panic!("answered {}", r.status),
        }
    }

    #[test]
    fn a_body_cut_short_is_an_error_that_says_so() {
        let mut cut = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
        cut.extend_from_slice(&[7u8; 100]);
        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3E8\r\n".to_vec();
        chunked.extend_from_slice(&[7u8; 100]);
        let (url, _) = serve(vec![cut, chunked]);
        let e = body(&mut response(get(&url)), 64).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "the server closed the connection after 100 of the body's 1000 bytes"
        );
        let e = body(&mut response(get(&url)), 64).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "the server closed the connection before the last chunk of the body"
        );
    }

    #[test]
    fn no_server_and_no_http_are_errors_in_words() {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let e = get(&format!("http://{addr}/x")).err().unwrap();
        assert!(
            e.to_string().starts_with(&format!("cannot connect to {addr}: ")),
            "{e}"
        );
        let (url, _) = serve(vec![b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()]);
        let e = get(&url).err().unwrap();
        assert_eq!(
            e.to_string(),
            "the server's answer is not HTTP/1: \"SSH-2.0-OpenSSH\""
        );
    }

    #[test]
    fn only_plain_http_without_credentials_is_handled_here() {
        assert!(handles("http://127.0.0.1:8080/x"));
        assert!(!handles("https://127.0.0.1/x"));
        assert!(!handles("http://user:pw@127.0.0.1/x"));
        assert!(!handles("no url"));
    }
}
