//! Updraft server: a drop-in replacement for Eclipse hawkBit's device (DDI v1) and Management APIs.

pub mod actions;
pub mod auth;
pub mod bootstrap;
pub mod cluster;
pub mod config;
pub mod db;
pub mod ddi;
pub mod device_cache;
pub mod dos_filter;
pub mod error;
pub mod links;
pub mod mgmt;
pub mod openapi;
pub mod polling;
pub mod rollouts;
pub mod scheduler;
pub mod state;
pub mod storage;
pub mod tenant_config;
pub mod testing;
pub mod ui;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::config::Config;
use crate::state::AppState;

/// Opens the database and storage, applies migrations and first-start data.
pub fn build_state(config: Config) -> anyhow::Result<Arc<AppState>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let url = config.database_url();
    let db = db::Db::connect(&url, config.db_pool_size)
        .with_context(|| format!("cannot open the database at {}", redact(&url)))?;
    let store =
        storage::FsStore::new(config.data_dir.join("artifacts")).context("cannot open the artifact store")?;
    let bus = Arc::new(cluster::Bus::default());
    let state = AppState {
        db,
        store: Arc::new(store),
        tenants: tenant_config::TenantSettingsCache::with_bus(Arc::clone(&bus)),
        devices: device_cache::DeviceCache::with_bus(Arc::clone(&bus)),
        polls: device_cache::PollRecorder::default(),
        credentials: auth::users::CredentialCache::with_bus(Arc::clone(&bus)),
        clock: state::Clock::default(),
        dos_filter: dos_filter::DosFilter::new(config.dos_filter.clone()),
        jobs: scheduler::Jobs::default(),
        bus,
        config,
    };
    let now = state.now();
    state.db.with_startup_lock(|| {
        state
            .db
            .tx_blocking(|c| bootstrap::ensure_tenant(c, auth::users::DEFAULT_TENANT, now))
            .map_err(|e| anyhow::anyhow!("creating the default tenant failed: {e}"))?;
        auth::users::ensure_admin(
            &state.db,
            &state.config.data_dir,
            state.config.admin_password.as_deref(),
            now,
        )
    })?;
    Ok(Arc::new(state))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Serves on an already bound listener until the server is stopped; flushes poll times on the way out.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    handle: Option<std::sync::mpsc::Sender<actix_web::dev::ServerHandle>>,
) -> anyhow::Result<()> {
    let data = web::Data::from(Arc::clone(&state));
    let workers = state
        .config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let flusher = spawn_poll_flusher(Arc::clone(&state));
    // `scheduler_interval_ms = 0`: this process does no background work (another node does, or a
    // test drives `scheduler::run_once` itself).
    let scheduler = (state.config.scheduler_interval_ms > 0).then(|| scheduler::spawn(Arc::clone(&state)));
    if state.db.backend() == db::Backend::Postgres {
        cluster::start(&state, state.config.database_url());
    }
    let (mgmt_doc, ddi_doc) = (openapi::management(), openapi::ddi());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                error::ApiError::constraint_violation("Invalid path parameter.").into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                error::ApiError::constraint_violation("Invalid query parameter.").into()
            }))
            .wrap(actix_web::middleware::from_fn(dos_filter::middleware))
            .wrap(actix_web::middleware::from_fn(trim_trailing_slash))
            .configure(mgmt::configure)
            .configure(ui::configure)
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/swagger-ui/{_:.*}")
                    .url("/openapi/mgmt.json", mgmt_doc.clone())
                    .url("/openapi/ddi.json", ddi_doc.clone()),
            )
            .default_service(web::to(ddi::dispatch))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    if let Some(tx) = handle {
        let _ = tx.send(server.handle());
    }
    let result = server.await;
    flusher.abort();
    if let Some(s) = scheduler {
        s.abort();
    }
    let s = Arc::clone(&state);
    let _ = tokio::task::spawn_blocking(move || s.polls.flush(&s.db)).await;
    result.map_err(Into::into)
}

/// hawkBit 0.3 (Spring Boot 2) accepted a trailing slash, so some devices send one. Only such paths
/// are rewritten; actix's `NormalizePath` ran a regex on every request, 15 % of a poll's CPU.
async fn trim_trailing_slash(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let path = req.path();
    // The docs page lives at `/swagger-ui/` and resolves its assets relative to that slash.
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/swagger-ui/") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.query_string() {
            "" => trimmed.to_owned(),
            q => format!("{trimmed}?{q}"),
        };
        if let Ok(uri) = pq.parse::<actix_web::http::Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

fn spawn_poll_flusher(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(
            state.config.poll_flush_interval_ms.max(100),
        ));
        loop {
            tick.tick().await;
            let s = Arc::clone(&state);
            match tokio::task::spawn_blocking(move || s.polls.flush(&s.db)).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "writing poll times failed; will retry"),
                Err(e) => tracing::warn!(error = %e, "poll flush task failed"),
                Ok(Ok(_)) => {}
            }
        }
    })
}
