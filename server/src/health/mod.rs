//! Health endpoints for orchestrators and load balancers: unauthenticated, cheap, never rate-limited.
//!
//! `/healthz` says the process serves HTTP (liveness: restart me if this fails); `/readyz` says it
//! can do its work now: the database answers, its migrations are applied and the artifact store is
//! reachable (readiness: send me traffic). hawkBit runs on Spring Boot, whose actuator answers
//! `/actuator/health` (with `/liveness` and `/readiness` groups) as `{"status":"UP"}` or 503
//! `{"status":"DOWN"}`; the same paths answer the same shapes here, so probes written for hawkBit
//! keep working. Causes of a failure go to the log, not to the anonymous caller.

pub mod probe;

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// Paths answered here; the DoS filter lets them through and the access log keeps successes at
/// `debug` (a probe every few seconds is not news).
pub const PATHS: [&str; 5] = [
    "/healthz",
    "/readyz",
    "/actuator/health",
    "/actuator/health/liveness",
    "/actuator/health/readiness",
];

/// How long a readiness check may take; a database that answers slower than this is not ready.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `path` is a health endpoint.
pub fn is_health_path(path: &str) -> bool {
    PATHS.contains(&path)
}

/// Registers the endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(liveness))
        .route("/actuator/health/liveness", web::get().to(liveness))
        .route("/readyz", web::get().to(readiness))
        .route("/actuator/health", web::get().to(readiness))
        .route("/actuator/health/readiness", web::get().to(readiness));
}

async fn liveness() -> HttpResponse {
    up_or_down(true, None)
}

async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let db = {
        let db = state.db.clone();
        let check = tokio::task::spawn_blocking(move || db.ready());
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(e))) => log_down("database", &e),
            Ok(Err(e)) => log_down("database", &e),
            Err(_) => log_down("database", &"no answer within 2 s"),
        }
    };
    let storage = match tokio::time::timeout(CHECK_TIMEOUT, state.store.check()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => log_down("artifact storage", &e),
        Err(_) => log_down("artifact storage", &"no answer within 2 s"),
    };
    up_or_down(
        db && storage,
        Some(json!({ "db": status(db), "storage": status(storage) })),
    )
}

fn log_down(what: &str, cause: &dyn std::fmt::Display) -> bool {
    tracing::warn!(component = what, cause = %cause, "not ready");
    false
}

fn status(up: bool) -> serde_json::Value {
    json!({ "status": if up { "UP" } else { "DOWN" } })
}

/// Spring Boot's shape: `{"status":"UP"}` 200, or `{"status":"DOWN"}` 503, with its components.
fn up_or_down(up: bool, components: Option<serde_json::Value>) -> HttpResponse {
    let mut body = status(up);
    if let Some(c) = components {
        body["components"] = c;
    }
    let mut res = if up {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}
