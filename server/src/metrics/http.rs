//! Requests by method, route template and status, with their latency: the template (actix's
//! `match_pattern()`, or the DDI route `ddi::dispatch` names), never the raw path, so a fleet of a
//! million devices is a handful of series.

use std::borrow::Cow;
use std::fmt::Write;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use dashmap::DashMap;

use super::family::{Counter, Histogram, header, label_set};
use crate::state::AppState;

/// The route template of a request its handler routed by hand (the DDI), for the `route` label.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// A request that matched no route (a 404, or a DDI path of no resource).
const UNMATCHED: &str = "unmatched";

#[derive(Default)]
struct RouteSeries {
    latency: Histogram,
    by_status: DashMap<u16, Counter>,
}

/// The request counters and latency histograms, per (method, route template).
#[derive(Default)]
pub struct HttpMetrics {
    routes: DashMap<(&'static str, Cow<'static, str>), RouteSeries>,
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &'static str, route: Cow<'static, str>, status: u16, seconds: f64) {
        let record = |s: &RouteSeries| {
            s.latency.observe(seconds);
            match s.by_status.get(&status) {
                Some(c) => c.inc(),
                None => s.by_status.entry(status).or_default().inc(),
            }
        };
        let key = (method, route);
        if let Some(s) = self.routes.get(&key) {
            record(&s);
            return;
        }
        record(&self.routes.entry(key).or_default());
    }

    /// Requests answered so far for a method, route template and status.
    pub fn requests(&self, method: &'static str, route: &str, status: u16) -> u64 {
        self.routes
            .get(&(method, Cow::Owned(route.to_owned())))
            .and_then(|s| s.by_status.get(&status).map(|c| c.get()))
            .unwrap_or(0)
    }

    pub fn write(&self, out: &mut String) {
        let mut keys: Vec<(&'static str, String)> = self
            .routes
            .iter()
            .map(|e| (e.key().0, e.key().1.to_string()))
            .collect();
        keys.sort_unstable();
        let series = |m: &'static str, r: &str| self.routes.get(&(m, Cow::Owned(r.to_owned())));
        header(
            out,
            "updraft_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for (m, r) in &keys {
            let Some(s) = series(m, r) else { continue };
            let mut statuses: Vec<(u16, u64)> = s.by_status.iter().map(|e| (*e.key(), e.get())).collect();
            statuses.sort_unstable();
            for (status, n) in statuses {
                let labels = label_set(&["method", "route", "status"], &[m, r, &status.to_string()], None);
                let _ = writeln!(out, "updraft_http_requests_total{labels} {n}");
            }
        }
        header(
            out,
            "updraft_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival until its response head was ready, by method and route template.",
        );
        for (m, r) in &keys {
            if let Some(s) = series(m, r) {
                s.latency.write(
                    out,
                    "updraft_http_request_duration_seconds",
                    &["method", "route"],
                    &[m, r],
                );
            }
        }
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts every answered request (errors rendered by handlers included).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let res = next.call(req).await?;
    let request = res.request();
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        let template = request.extensions().get::<RouteTemplate>().copied();
        let route = match template {
            Some(t) => Cow::Borrowed(t.0),
            None => request
                .match_pattern()
                .map_or(Cow::Borrowed(UNMATCHED), Cow::Owned),
        };
        state.metrics.http.observe(
            method_name(request.method()),
            route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}
