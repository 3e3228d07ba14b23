//! hawkBit's DoS filter: per client IP, at most `max_read` GET/HEAD and `max_write` other requests
//! per second (429 above), a blacklist answered with 403, and private and loopback clients never
//! limited. The client IP is the peer's, or what a trusted proxy forwarded (`proxy`); hawkBit took
//! the first `X-Forwarded-For` entry from anyone, which let a client rotate it past every limit.
//!
//! Range requests for artifact bytes are not counted when they succeed: RAUC's HTTP streaming reads
//! a bundle in ~128 KiB ranges, SWUpdate's delta handler in zchunk chunks, hundreds per second
//! from one device, which hawkBit's 200 reads per second refused (hawkBit #1249). One that fails
//! (a wrong token, a forged link) is counted afterwards, so a client cannot hide a flood of
//! refused requests behind a `Range` header; and a client already over its limit is refused these
//! too.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use dashmap::DashMap;

use crate::config::DosFilterConfig;
use crate::state::AppState;

#[derive(Default)]
struct Window {
    second: u64,
    reads: u32,
    writes: u32,
}

pub struct DosFilter {
    config: DosFilterConfig,
    counters: DashMap<IpAddr, Window>,
    last_sweep: AtomicU64,
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

impl DosFilter {
    pub fn new(config: DosFilterConfig) -> Self {
        Self {
            config,
            counters: DashMap::new(),
            last_sweep: AtomicU64::new(0),
        }
    }

    fn client_ip(req: &ServiceRequest) -> Option<IpAddr> {
        crate::proxy::ClientIp::of(req.request())
    }

    /// The refusal for this request, if any.
    pub fn check(&self, req: &ServiceRequest, now_ms: i64) -> Option<StatusCode> {
        match self.verdict(req, now_ms) {
            Verdict::Refuse(status) => Some(status),
            Verdict::Pass | Verdict::CountIfFailed(_) => None,
        }
    }

    /// What to do with this request before it runs.
    pub fn verdict(&self, req: &ServiceRequest, now_ms: i64) -> Verdict {
        // Probes come from the orchestrator every few seconds and must never be refused.
        if !self.config.enabled || crate::health::is_health_path(req.path()) {
            return Verdict::Pass;
        }
        let Some(ip) = Self::client_ip(req) else {
            return Verdict::Pass;
        };
        if !self.config.blacklist.is_empty() {
            let text = ip.to_string();
            if self.config.blacklist.iter().any(|b| match b.strip_suffix('*') {
                Some(prefix) => text.starts_with(prefix),
                None => *b == text,
            }) {
                return Verdict::Refuse(StatusCode::FORBIDDEN);
            }
        }
        if !self.config.limit_private && is_private(ip) {
            return Verdict::Pass;
        }
        let second = (now_ms / 1000) as u64;
        self.sweep(second);
        let mut w = self.counters.entry(ip).or_default();
        if w.second != second {
            *w = Window {
                second,
                reads: 0,
                writes: 0,
            };
        }
        if is_artifact_range(req) {
            return if w.reads >= self.config.max_read {
                Verdict::Refuse(StatusCode::TOO_MANY_REQUESTS)
            } else {
                Verdict::CountIfFailed(ip)
            };
        }
        let over = if matches!(*req.method(), Method::GET | Method::HEAD) {
            w.reads += 1;
            w.reads > self.config.max_read
        } else {
            w.writes += 1;
            w.writes > self.config.max_write
        };
        if over {
            Verdict::Refuse(StatusCode::TOO_MANY_REQUESTS)
        } else {
            Verdict::Pass
        }
    }

    /// Counts a read of `ip` that was let through uncounted ([`Verdict::CountIfFailed`]) and failed.
    pub fn count_read(&self, ip: IpAddr, now_ms: i64) {
        let second = (now_ms / 1000) as u64;
        let mut w = self.counters.entry(ip).or_default();
        if w.second != second {
            *w = Window {
                second,
                reads: 0,
                writes: 0,
            };
        }
        w.reads += 1;
    }

    /// Drops counters of past seconds, at most every ten seconds.
    fn sweep(&self, second: u64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if second >= last + 10
            && self
                .last_sweep
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.counters.retain(|_, w| w.second == second);
        }
    }
}

/// What the filter decides for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Refused with this status.
    Refuse(StatusCode),
    /// Let through (and counted, where the client is limited).
    Pass,
    /// A range request for artifact bytes: let through uncounted, counted only if it fails.
    CountIfFailed(IpAddr),
}

/// A `GET` with `Range` of an artifact's bytes: the DDI download
/// (`/{tenant}/controller/v1/{controllerId}/softwaremodules/{id}/artifacts/{file}`) or a
/// capability link (`/{tenant}/download/{artifactId}/{file}`).
fn is_artifact_range(req: &ServiceRequest) -> bool {
    if req.method() != Method::GET || !req.headers().contains_key(actix_web::http::header::RANGE) {
        return false;
    }
    let segments: Vec<&str> = req.path().split('/').skip(1).collect();
    matches!(
        segments[..],
        [_, "controller", "v1", _, "softwaremodules", _, "artifacts", _] | [_, "download", _, _]
    )
}

/// The middleware: refused requests get hawkBit's bare status.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<actix_web::web::Data<AppState>>().cloned();
    let verdict = state
        .as_ref()
        .map_or(Verdict::Pass, |s| s.dos_filter.verdict(&req, s.now()));
    if let Verdict::Refuse(status) = verdict {
        return Ok(req
            .into_response(HttpResponse::build(status).finish())
            .map_into_right_body());
    }
    let res = next.call(req).await?;
    if let (Verdict::CountIfFailed(ip), Some(state)) = (verdict, state)
        && !res.status().is_success()
    {
        state.dos_filter.count_read(ip, state.now());
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn filter(max_read: u32) -> DosFilter {
        DosFilter::new(DosFilterConfig {
            max_read,
            limit_private: true,
            ..DosFilterConfig::default()
        })
    }

    fn get(path: &str, range: bool) -> ServiceRequest {
        let mut r = TestRequest::get()
            .uri(path)
            .peer_addr("198.51.100.7:4000".parse().unwrap());
        if range {
            r = r.insert_header(("range", "bytes=0-9"));
        }
        r.to_srv_request()
    }

    const DDI: &str = "/DEFAULT/controller/v1/dev1/softwaremodules/3/artifacts/rootfs.img";
    const LINK: &str = "/DEFAULT/download/4/rootfs.zck";

    #[test]
    fn artifact_ranges_are_not_counted_and_the_rest_is() {
        let f = filter(5);
        let now = 1_800_000_000_000;
        for _ in 0..500 {
            assert_eq!(f.check(&get(DDI, true), now), None);
            assert_eq!(f.check(&get(LINK, true), now), None);
        }
        // The same second still has all five reads for everything else.
        for _ in 0..5 {
            assert_eq!(f.check(&get(DDI, false), now), None);
        }
        assert_eq!(
            f.check(&get(DDI, false), now),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        // Over its limit, the client's ranges are refused too.
        assert_eq!(f.check(&get(DDI, true), now), Some(StatusCode::TOO_MANY_REQUESTS));
        // A Range header elsewhere buys nothing.
        let f = filter(2);
        let poll = "/DEFAULT/controller/v1/dev1";
        assert_eq!(f.check(&get(poll, true), now), None);
        assert_eq!(f.check(&get(poll, true), now), None);
        assert_eq!(
            f.check(&get(poll, true), now),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
    }

    #[test]
    fn failed_ranges_count() {
        let f = filter(3);
        let now = 1_800_000_000_000;
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(f.verdict(&get(LINK, true), now), Verdict::CountIfFailed(ip));
        for _ in 0..3 {
            f.count_read(ip, now);
        }
        assert_eq!(
            f.verdict(&get(LINK, true), now),
            Verdict::Refuse(StatusCode::TOO_MANY_REQUESTS)
        );
        // The next second starts afresh.
        assert_eq!(
            f.verdict(&get(LINK, true), now + 1000),
            Verdict::CountIfFailed(ip)
        );
    }
}
