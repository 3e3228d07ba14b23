//! hawkBit's DoS filter: per client IP, at most `max_read` GET/HEAD and `max_write` other requests
//! per second (429 above), a blacklist answered with 403, and private and loopback clients never
//! limited. The client IP is the peer's, or what a trusted proxy forwarded (`proxy`); hawkBit took
//! the first `X-Forwarded-For` entry from anyone, which let a client rotate it past every limit.

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
        // Probes come from the orchestrator every few seconds and must never be refused.
        if !self.config.enabled || crate::health::is_health_path(req.path()) {
            return None;
        }
        let ip = Self::client_ip(req)?;
        if !self.config.blacklist.is_empty() {
            let text = ip.to_string();
            if self.config.blacklist.iter().any(|b| match b.strip_suffix('*') {
                Some(prefix) => text.starts_with(prefix),
                None => *b == text,
            }) {
                return Some(StatusCode::FORBIDDEN);
            }
        }
        if !self.config.limit_private && is_private(ip) {
            return None;
        }
        let second = (now_ms / 1000) as u64;
        self.sweep(second);
        let read = matches!(*req.method(), Method::GET | Method::HEAD);
        let mut w = self.counters.entry(ip).or_default();
        if w.second != second {
            *w = Window {
                second,
                reads: 0,
                writes: 0,
            };
        }
        let over = if read {
            w.reads += 1;
            w.reads > self.config.max_read
        } else {
            w.writes += 1;
            w.writes > self.config.max_write
        };
        over.then_some(StatusCode::TOO_MANY_REQUESTS)
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

/// The middleware: refused requests get hawkBit's bare status.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = req
        .app_data::<actix_web::web::Data<AppState>>()
        .and_then(|state| state.dos_filter.check(&req, state.now()));
    if let Some(status) = refusal {
        return Ok(req
            .into_response(HttpResponse::build(status).finish())
            .map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
