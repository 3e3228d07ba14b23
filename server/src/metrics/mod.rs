//! `/metrics`: the server's figures in Prometheus' text format.
//!
//! Counters live here as atomics and are bumped where things happen (the DDI handlers, the
//! scheduler, the artifact stream); the device cache and the database pool keep their own figures;
//! the action and rollout gauges are grouped counts the store reads at scrape time. With
//! `metrics_token` set, a scrape must send `Authorization: Bearer <token>`.

mod family;
pub mod http;

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use self::family::{Counter, Counters};
use self::family::{header, label_set, single};
use crate::state::AppState;
use crate::store;

/// The counters of one server process.
#[derive(Default)]
pub struct Metrics {
    pub http: http::HttpMetrics,
    /// DDI polls answered (`GET`/`HEAD` of the controller's root resource).
    pub ddi_polls: Counter,
    /// Targets created by their first poll (hawkBit's plug-and-play registration).
    pub registrations: Counter,
    /// Device feedback accepted, by kind (`deployment`, `cancel`), execution and result.
    pub feedback: Counters<(&'static str, &'static str, &'static str)>,
    /// Artifact bytes handed to the network (DDI and Management API downloads).
    pub artifact_bytes: Counter,
    /// Scheduler job runs and failed runs, by job.
    pub job_runs: Counters<&'static str>,
    pub job_errors: Counters<&'static str>,
    /// Batched poll-time writes that failed (retried at the next flush).
    pub poll_flush_errors: Counter,
}

/// The commit the binary was built from, when the build passed `UPDRAFT_GIT_COMMIT`.
const GIT_COMMIT: &str = match option_env!("UPDRAFT_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The exposition of everything, the database gauges read now (left out, with a log line, when
/// the database does not answer: the process figures are worth a scrape even then).
pub async fn render(state: &AppState) -> String {
    let gauges = state
        .db
        .read(|c| {
            Ok((
                store::gauges::active_actions_by_status(c)?,
                store::gauges::rollouts_by_state(c)?,
            ))
        })
        .await;
    let m = &state.metrics;
    let mut out = String::with_capacity(16 * 1024);
    header(
        &mut out,
        "updraft_build_info",
        "gauge",
        "Version and git commit of this server.",
    );
    let labels = label_set(
        &["version", "commit"],
        &[env!("CARGO_PKG_VERSION"), GIT_COMMIT],
        None,
    );
    let _ = writeln!(out, "updraft_build_info{labels} 1");
    m.http.write(&mut out);
    let counter =
        |out: &mut String, name: &str, help: &str, c: &Counter| single(out, name, "counter", help, c.get());
    counter(
        &mut out,
        "updraft_ddi_polls_total",
        "DDI polls answered.",
        &m.ddi_polls,
    );
    counter(
        &mut out,
        "updraft_ddi_registrations_total",
        "Targets created by their first poll (plug-and-play registration).",
        &m.registrations,
    );
    header(
        &mut out,
        "updraft_ddi_feedback_total",
        "counter",
        "Device feedback accepted, by kind (deployment, cancel), execution and result.",
    );
    m.feedback.write(
        &mut out,
        "updraft_ddi_feedback_total",
        &["kind", "execution", "result"],
    );
    counter(
        &mut out,
        "updraft_artifact_served_bytes_total",
        "Artifact bytes sent to clients.",
        &m.artifact_bytes,
    );
    counter(
        &mut out,
        "updraft_device_cache_hits_total",
        "Device lookups answered from the poll cache.",
        &state.devices.hits,
    );
    counter(
        &mut out,
        "updraft_device_cache_misses_total",
        "Device lookups that read the database.",
        &state.devices.misses,
    );
    counter(
        &mut out,
        "updraft_poll_flush_errors_total",
        "Batched poll-time writes that failed (kept and retried).",
        &m.poll_flush_errors,
    );
    header(
        &mut out,
        "updraft_scheduler_runs_total",
        "counter",
        "Scheduler job runs, by job.",
    );
    m.job_runs
        .write(&mut out, "updraft_scheduler_runs_total", &["job"]);
    header(
        &mut out,
        "updraft_scheduler_errors_total",
        "counter",
        "Scheduler job runs that failed, by job.",
    );
    m.job_errors
        .write(&mut out, "updraft_scheduler_errors_total", &["job"]);
    let pool = state.db.pool_status();
    header(
        &mut out,
        "updraft_db_pool_connections",
        "gauge",
        "Database connections, by state.",
    );
    let in_use = pool.connections.saturating_sub(pool.idle);
    let _ = writeln!(out, "updraft_db_pool_connections{{state=\"idle\"}} {}", pool.idle);
    let _ = writeln!(out, "updraft_db_pool_connections{{state=\"in_use\"}} {in_use}");
    single(
        &mut out,
        "updraft_db_pool_max_connections",
        "gauge",
        "Size limit of the database pool.",
        pool.max,
    );
    single(
        &mut out,
        "updraft_db_pool_waits_total",
        "counter",
        "Connection checkouts that found no idle connection and waited.",
        pool.waits,
    );
    match gauges {
        Ok((actions, rollouts)) => {
            header(
                &mut out,
                "updraft_actions_active",
                "gauge",
                "Open actions, by tenant and status.",
            );
            for (tenant, status, n) in actions {
                let labels = label_set(&["tenant", "status"], &[&tenant, &status], None);
                let _ = writeln!(out, "updraft_actions_active{labels} {n}");
            }
            header(
                &mut out,
                "updraft_rollouts",
                "gauge",
                "Rollouts, by tenant and state.",
            );
            for (tenant, state, n) in rollouts {
                let labels = label_set(&["tenant", "state"], &[&tenant, &state], None);
                let _ = writeln!(out, "updraft_rollouts{labels} {n}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "/metrics: the database gauges could not be read"),
    }
    out
}

/// Whether the request carries the configured token (always, without one). The digests are
/// compared in constant time, so neither the token nor its length leaks through timing.
fn authorized(req: &HttpRequest, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(token.as_bytes()))
        .into()
}

/// `GET /metrics`.
pub async fn handler(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !authorized(&req, state.config.metrics_token.as_deref()) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer realm=\"metrics\""))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render(&state).await)
}
