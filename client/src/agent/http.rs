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
//! body), dropping the `sensitive` headers (authorization) for the rest of the chain once one
//! leaves the origin; a connect timeout of 30 s, and an idle timeout on every read and write after
//! it (a stalled server fails the call; a slow but moving download never does). What it leaves
//! to reqwest ([`handles`] says no, or [`Answer::Elsewhere`]): `https://`, a redirect there, a URL
//! with credentials in it, and any proxy set in the environment.
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
    /// Sent only to `url`'s origin: dropped after a redirect to another scheme, host or port, and
    /// not sent again if the chain comes back to the origin.
    pub sensitive: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    /// How long each read of the answer (and each write of the request) may wait for the server
    /// before the call fails: an idle timeout, no deadline for the whole call, so a large download
    /// takes as long as it takes while bytes arrive. `None` waits as long as TCP does.
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
    // Once a redirect left the origin, the rest of the chain is not trusted with the token, even a
    // hop back to the origin (which the other host chose, query and all).
    let mut left_origin = false;
    for _ in 0..=MAX_REDIRECTS {
        left_origin |= url.origin() != origin;
        let sensitive = if left_origin { &[] } else { &request.sensitive[..] };
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
        .map_err(|e| explain(e, read_timeout, "took nothing"))?;
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
    let status = status_code(&status_line).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the server's answer is not HTTP/1: {:?}", shorten(&status_line)),
        )
    })?;
    let mut headers = Vec::new();
    loop {
        let line = conn.line(&mut budget)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        let field = header_field(&line).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server's answer has a malformed header line {:?}",
                    shorten(&line)
                ),
            )
        })?;
        headers.push(field);
    }
}

/// The code of a status line `HTTP/1.x NNN[ reason]` (RFC 9112, section 4): exactly three digits,
/// then a space or the end of the line.
fn status_code(line: &str) -> Option<u16> {
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))?;
    let (code, reason) = rest.split_at_checked(3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(reason.is_empty() || reason.starts_with(' ')) {
        return None;
    }
    code.parse().ok()
}

/// `name: value` with the name a token and nothing between it and the colon (RFC 9112, section
/// 5.1); a folded continuation line (leading whitespace) or a control character in the value is
/// refused, as hyper refuses them. The name lowercased, the value trimmed.
fn header_field(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(tchar) {
        return None;
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.trim().to_owned()))
}

fn shorten(line: &str) -> String {
    line.chars().take(80).collect()
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
    // Several content-length fields, or a list in one, must all say the same (RFC 9112, section
    // 6.3); anything else could make this reader and the server disagree on where the body ends.
    let mut length = None;
    for value in get("content-length").flat_map(|v| v.split(',')).map(str::trim) {
        let parsed = Some(value)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the server sent content-length {:?}, which is no length",
                        shorten(value)
                    ),
                )
            })?;
        if length.is_some_and(|l| l != parsed) {
            let all: Vec<&str> = get("content-length").collect();
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server sent conflicting content-length headers ({}); refusing to guess \
                     where the body ends",
                    shorten(&all.join(", "))
                ),
            ));
        }
        length = Some(parsed);
    }
    Ok(match length {
        Some(total) => Framing::Length { left: total, total },
        None => Framing::Close,
    })
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
            result => return result.map_err(|e| explain(e, timeout, "sent nothing")),
        }
    }
}

/// A socket error in words: a timeout says how long the server was idle (`what` it did not do).
fn explain(e: io::Error, timeout: Option<Duration>, what: &str) -> io::Error {
    match (e.kind(), timeout) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(t)) => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the server {what} for {} s", t.as_secs_f64()),
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
        let (listener, url) = listen();
        (url, serve_on(listener, answers))
    }

    fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    fn serve_on(listener: TcpListener, answers: Vec<Vec<u8>>) -> Arc<Mutex<Vec<String>>> {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&heads);
        std::thread::spawn(move || {
            for answer in answers {
                let (mut sock, _) = listener.accept().unwrap();
                log.lock().unwrap().push(read_request_head(&mut sock));
                let _ = sock.write_all(&answer);
            }
        });
        heads
    }

    fn read_request_head(sock: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// A server that sends `answer` and then nothing more, holding the connection open until the
    /// client closes it.
    fn serve_stalling(answer: Vec<u8>) -> String {
        let (listener, url) = listen();
        std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            read_request_head(&mut sock);
            sock.write_all(&answer).unwrap();
            // Returns when the client hangs up.
            let _ = sock.read(&mut [0u8; 1]);
        });
        url
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
    fn the_token_is_not_sent_again_when_the_chain_returns_to_its_origin() {
        let (origin_listener, origin) = listen();
        let (other_listener, other) = listen();
        let other_heads = serve_on(
            other_listener,
            vec![format!("HTTP/1.1 302 Found\r\nLocation: {origin}/back\r\n\r\n").into_bytes()],
        );
        let origin_heads = serve_on(
            origin_listener,
            vec![
                format!("HTTP/1.1 302 Found\r\nLocation: {other}/hop\r\n\r\n").into_bytes(),
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            ],
        );
        let mut r = response(get(&format!("{origin}/start")));
        assert_eq!(body(&mut r, 10).unwrap(), b"ok");
        let origin_heads = origin_heads.lock().unwrap().clone();
        assert!(origin_heads[0].contains("authorization: "), "{}", origin_heads[0]);
        assert!(!other_heads.lock().unwrap()[0].contains("authorization"));
        assert!(
            origin_heads[1].starts_with("GET /back HTTP/1.1"),
            "{}",
            origin_heads[1]
        );
        assert!(
            !origin_heads[1].contains("authorization"),
            "back at the origin after another host, still no token: {}",
            origin_heads[1]
        );
    }

    #[test]
    fn a_silent_server_fails_the_call_after_the_idle_timeout() {
        let quick = |url: &str| {
            send(&Request {
                method: "GET",
                url,
                headers: Vec::new(),
                sensitive: Vec::new(),
                body: &[],
                read_timeout: Some(Duration::from_millis(200)),
            })
        };
        // Silent before the head: the call fails.
        let url = serve_stalling(Vec::new());
        let e = quick(&url).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "the server sent nothing for 0.2 s");
        // Silent in the middle of the body: the read fails, it does not hang.
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
        answer.extend_from_slice(&[7u8; 100]);
        let url = serve_stalling(answer);
        let mut r = response(quick(&url));
        let e = body(&mut r, 64).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "the server sent nothing for 0.2 s");
    }

    #[test]
    fn malformed_heads_are_refused_in_words() {
        let cases: [(&[u8], &str); 9] = [
            (
                b"HTTP/1.1 2000 OK\r\n\r\n",
                "the server's answer is not HTTP/1: \"HTTP/1.1 2000 OK\"",
            ),
            (
                b"HTTP/1.1 20 OK\r\n\r\n",
                "the server's answer is not HTTP/1: \"HTTP/1.1 20 OK\"",
            ),
            (
                b"HTTP/1.1 2x0 OK\r\n\r\n",
                "the server's answer is not HTTP/1: \"HTTP/1.1 2x0 OK\"",
            ),
            (
                b"HTTP/1.1  200 OK\r\n\r\n",
                "the server's answer is not HTTP/1: \"HTTP/1.1  200 OK\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                "the server's answer has a malformed header line \"no colon here\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
                "the server's answer has a malformed header line \"Content-Length : 5\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded: 2\r\n\r\n",
                "the server's answer has a malformed header line \" folded: 2\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                "the server sent conflicting content-length headers (5, 6); refusing to guess \
                 where the body ends",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
                "the server sent content-length \"+5\", which is no length",
            ),
        ];
        let (url, _) = serve(cases.iter().map(|(answer, _)| answer.to_vec()).collect());
        for (answer, message) in cases {
            let e = get(&url).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{message}");
            assert_eq!(e.to_string(), message, "{}", String::from_utf8_lossy(answer));
        }
        // The same length twice, or as a list, is one length (RFC 9112, section 6.3).
        let (url, _) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nok".to_vec(),
        ]);
        let mut r = response(get(&url));
        assert_eq!(
            (r.content_length(), body(&mut r, 10).unwrap()),
            (Some(2), b"ok".to_vec())
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
