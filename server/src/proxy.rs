//! Which peers may speak for a client: headers that a TLS-terminating proxy sets (client
//! certificate headers, `Forwarded`, `X-Forwarded-*`) are believed only from the proxies listed in
//! `trusted_proxies`, and removed from every other request before any handler sees them.
//!
//! Without this, anyone who reaches the port could send `X-Controller-Id` + `X-Authority` and be any
//! device, or rotate `X-Forwarded-For` to slip past the DoS filter's per-client limits and its
//! blacklist. hawkBit leaves this to the network; Updraft trusts nobody unless told.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Next;

use crate::state::AppState;

/// An address range such as `10.0.0.0/8`, `127.0.0.1` (one address) or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an address or address range such as 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { net, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The client's address: the peer, or, behind trusted proxies, the address they forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address the proxy middleware settled on, else the peer's.
    pub fn of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
        req.extensions()
            .get::<Self>()
            .map(|c| c.0)
            .or_else(|| req.peer_addr().map(|a| a.ip()))
    }
}

fn is_proxy_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    n == "forwarded"
        || n == "x-real-ip"
        || n == "x-controller-id"
        || n.starts_with("x-forwarded-")
        || n.starts_with("x-authority")
        || n.starts_with("x-ssl-")
}

/// The client behind a chain of trusted proxies: `X-Forwarded-For` read from the right (each proxy
/// appends the address it saw), skipping trusted proxies; the first other address is the client.
/// Entries left of it were written by the client itself and prove nothing.
fn forwarded_client(headers: &header::HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(header::HeaderName::from_static("x-forwarded-for")) {
        for entry in value.to_str().ok()?.split(',') {
            hops.push(parse_hop(entry)?);
        }
    }
    if hops.is_empty() {
        // RFC 7239: `Forwarded: for=192.0.2.1, for="[2001:db8::1]:4711"`.
        for value in headers.get_all(header::FORWARDED) {
            for element in value.to_str().ok()?.split(',') {
                let hop = element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| parse_hop(v))?
                });
                hops.push(hop?);
            }
        }
    }
    let mut last = None;
    for hop in hops.into_iter().rev() {
        last = Some(hop);
        if !trusted.iter().any(|c| c.contains(hop)) {
            return Some(hop);
        }
    }
    last
}

/// One hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`, optionally quoted.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

/// The middleware, outermost: settles [`ClientIp`] and strips proxy headers from untrusted peers.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted: &[Cidr] = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map_or(&[], |s| &s.config.trusted_proxies);
    let from_proxy = peer.is_some_and(|p| trusted.iter().any(|c| c.contains(p)));
    let client = if from_proxy {
        forwarded_client(req.headers(), trusted).or(peer)
    } else {
        peer
    };
    if !from_proxy && req.headers().keys().any(is_proxy_header) {
        let names: Vec<HeaderName> = req
            .headers()
            .keys()
            .filter(|n| is_proxy_header(n))
            .cloned()
            .collect();
        for name in names {
            req.headers_mut().remove(name);
        }
    }
    // Directly connected clients are their peer address (`ClientIp::of` falls back to it), so the
    // poll path pays for no extension.
    if let Some(ip) = client.filter(|_| from_proxy) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_match_what_they_cover() {
        assert!(cidr("10.0.0.0/8").contains("10.200.1.2".parse().unwrap()));
        assert!(!cidr("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(cidr("127.0.0.1").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!cidr("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(cidr("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!cidr("::1/128").contains("127.0.0.1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = [cidr("10.0.0.0/8")];
        let mut h = header::HeaderMap::new();
        let xff = header::HeaderName::from_static("x-forwarded-for");
        // The client wrote 6.6.6.6 itself; the proxy appended the address it really saw.
        h.insert(xff.clone(), "6.6.6.6, 198.51.100.7, 10.0.0.2".parse().unwrap());
        assert_eq!(
            forwarded_client(&h, &trusted),
            Some("198.51.100.7".parse().unwrap())
        );
        h.insert(xff.clone(), "10.0.0.3".parse().unwrap());
        assert_eq!(forwarded_client(&h, &trusted), Some("10.0.0.3".parse().unwrap()));
        h.insert(xff, "not-an-ip".parse().unwrap());
        assert_eq!(forwarded_client(&h, &trusted), None);
        let mut h = header::HeaderMap::new();
        h.insert(
            header::FORWARDED,
            "for=\"[2001:db8::1]:4711\";proto=https".parse().unwrap(),
        );
        assert_eq!(
            forwarded_client(&h, &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
    }
}
