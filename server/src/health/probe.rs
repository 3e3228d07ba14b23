//! `updraft-server healthcheck`: asks a running server's readiness endpoint over plain HTTP, for a
//! container's `HEALTHCHECK` (a minimal image has no curl) or a script.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The URL to probe when none is given: `/readyz` on the configured listen address, reached over
/// loopback when the server listens on every address.
pub fn default_url(listen: &str) -> String {
    let host = match listen.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        Ok(SocketAddr::V6(a)) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        _ => listen.to_owned(),
    };
    format!("http://{host}/readyz")
}

/// `Ok` when `url` (`http://host[:port]/path`) answers 200; otherwise a sentence saying why not.
pub fn check(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url} is not an http:// URL (the health check speaks plain HTTP to a local server)")
    })?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("talking to {addr} failed: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: updraft-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response).map_err(io)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{url} did not answer HTTP"))?;
    if status == 200 {
        Ok(())
    } else {
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b.trim());
        Err(format!("{url} answered {status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests panic on unexpected failures by design.

    use super::*;

    #[test]
    fn default_url_reaches_a_wildcard_listener_over_loopback() {
        assert_eq!(default_url("0.0.0.0:8080"), "http://127.0.0.1:8080/readyz");
        assert_eq!(default_url("[::]:9000"), "http://[::1]:9000/readyz");
        assert_eq!(default_url("10.1.2.3:80"), "http://10.1.2.3:80/readyz");
    }

    #[test]
    fn refuses_other_schemes_with_a_sentence() {
        let e = check("https://example.org/readyz").unwrap_err();
        assert!(e.contains("not an http:// URL"), "{e}");
    }
}
