//! Updraft server: a drop-in replacement for Eclipse hawkBit's device (DDI v1) and Management APIs.

pub mod artifact_download;
pub mod artifact_upload;
pub mod audit_trail;
pub mod auth;
pub mod bootstrap;
pub mod cluster;
pub mod config;
pub mod ddi;
pub mod device_cache;
pub mod dmf;
pub mod dos_filter;
pub mod download_links;
pub mod error;
pub mod guard;
pub mod health;
pub mod import;
pub mod links;
pub mod metrics;
pub mod mgmt;
pub mod middleware;
pub mod openapi;
pub mod polling;
pub mod proxy;
pub mod scheduler;
pub mod sendfile;
pub mod state;
pub mod storage;
pub mod store;
pub mod tenant_config;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod ui;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_service::IntoServiceFactory as _;
use actix_web::{App, web};
use anyhow::Context;

use crate::config::Config;
use crate::state::AppState;

/// Opens the database and storage, applies migrations and first-start data.
pub fn build_state(config: Config) -> anyhow::Result<Arc<AppState>> {
    private_data_dir(&config.data_dir)?;
    let url = config.database_url();
    if store::Backend::from_url(&url) == store::Backend::Sqlite {
        private_file(Path::new(url.strip_prefix("sqlite://").unwrap_or(&url)))?;
    }
    let db = store::Db::connect(&url, config.db_pool_size)
        .with_context(|| format!("cannot open the database at {}", redact(&url)))?;
    let store = storage::open(&config)?;
    let bus = Arc::new(cluster::Bus::default());
    let state = AppState {
        writes: store::group_commit::GroupCommit::new(db.clone()),
        db,
        store,
        tenants: tenant_config::TenantSettingsCache::with_bus(Arc::clone(&bus)),
        devices: device_cache::DeviceCache::with_bus(Arc::clone(&bus)),
        polls: device_cache::PollRecorder::default(),
        credentials: auth::users::CredentialCache::with_bus(Arc::clone(&bus)),
        clock: state::Clock::default(),
        dos_filter: dos_filter::DosFilter::new(config.dos_filter.clone()),
        jobs: scheduler::Jobs::default(),
        dmf: dmf::Wake::default(),
        bus,
        metrics: Arc::default(),
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

/// The data dir holds target tokens, the gateway key and password hashes: only the server's user
/// may enter it (0700), whatever the umask.
fn private_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700)) {
            Ok(()) => tracing::info!(dir = %dir.display(), "data dir made private (mode 0700)"),
            Err(e) => tracing::warn!(
                dir = %dir.display(), error = %e,
                "the data dir is readable by other users and cannot be made private"
            ),
        }
    }
    Ok(())
}

/// Creates the SQLite file 0600 before SQLite does (which would follow the umask, usually 0644);
/// SQLite gives its `-wal` and `-shm` files the same mode. An existing file is tightened.
fn private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open the database file {}", path.display()))?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
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
    if state.db.backend() == store::Backend::Postgres {
        cluster::start(&state, state.config.database_url());
    }
    let dmf = if state.config.dmf.enabled {
        Some(dmf::start(Arc::clone(&state)).context("cannot start the DMF transport")?)
    } else {
        None
    };
    let (mgmt_doc, ddi_doc) = (openapi::management(), openapi::ddi());
    let app = move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                error::ApiError::constraint_violation("Invalid path parameter.").into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                error::ApiError::constraint_violation("Invalid query parameter.").into()
            }))
            .wrap(actix_web::middleware::from_fn(middleware::docs_security_headers))
            .wrap(actix_web::middleware::from_fn(middleware::head_as_get))
            .wrap(actix_web::middleware::from_fn(dos_filter::middleware))
            .wrap(actix_web::middleware::from_fn(guard::refuse_control_characters))
            .wrap(actix_web::middleware::from_fn(middleware::trim_trailing_slash))
            .wrap(actix_web::middleware::from_fn(middleware::access_log))
            .wrap(actix_web::middleware::from_fn(metrics::http::middleware))
            .wrap(actix_web::middleware::from_fn(proxy::middleware))
            .configure(health::configure)
            .route("/metrics", web::get().to(metrics::handler))
            .configure(mgmt::configure)
            .configure(ui::configure)
            .configure(download_links::configure)
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/swagger-ui/{_:.*}")
                    .url("/openapi/mgmt.json", mgmt_doc.clone())
                    .url("/openapi/ddi.json", ddi_doc.clone()),
            )
            .default_service(web::to(ddi::dispatch))
    };
    let server = http_server(app, listener, workers, state.config.shutdown_timeout_secs)?;
    if let Some(tx) = handle {
        let _ = tx.send(server.handle());
    }
    // SIGTERM and SIGINT (Ctrl-C) stop the server gracefully: no new connections, requests in
    // flight get `shutdown_timeout_secs`; then the server future ends here.
    let result = server.await;
    if let Some(d) = dmf {
        // Joins the transport's thread: off the runtime, which it does not need.
        let _ = tokio::task::spawn_blocking(move || d.stop()).await;
    }
    tracing::info!("stopped serving; finishing background work and writing poll times");
    flusher.abort();
    if let Some(s) = scheduler {
        // The unit of work running now commits or rolls back, which releases its row claims;
        // another node's next sweep takes whatever was left.
        state.jobs.stop();
        let limit = Duration::from_secs(state.config.shutdown_timeout_secs.max(1));
        if tokio::time::timeout(limit, s).await.is_err() {
            tracing::warn!("background work did not finish in time; its transaction rolls back");
        }
    }
    let s = Arc::clone(&state);
    match tokio::task::spawn_blocking(move || s.polls.flush(&s.db)).await {
        Ok(Ok(n)) => tracing::info!(written = n, "poll times written"),
        Ok(Err(e)) => tracing::error!(error = %e, "writing the last poll times failed; they are lost"),
        Err(e) => tracing::error!(error = %e, "writing the last poll times failed; they are lost"),
    }
    result.map_err(Into::into)
}

/// What `actix_web::HttpServer::listen` builds, with the same settings (its defaults: keep-alive
/// 5 s, 5 s for a request head, 1 s to close, half-closed connections allowed), except that each
/// connection is a [`sendfile::Conn`]: artifact bodies can then be sent by the kernel from the file
/// (`sendfile`) instead of being copied through actix's buffers.
fn http_server<F, I, B>(
    app: F,
    listener: TcpListener,
    workers: usize,
    shutdown_timeout_secs: u64,
) -> std::io::Result<actix_web::dev::Server>
where
    F: Fn() -> App<I> + Send + Clone + 'static,
    I: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::{ServiceFactoryExt as _, fn_service, map_config};
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build()
        .workers(workers)
        .shutdown_timeout(shutdown_timeout_secs);
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen(format!("updraft-http-{addr}"), listener, move || {
        let shutdown = shutdown.clone();
        let host = addr.to_string();
        let service = actix_http::HttpService::build()
            .graceful_shutdown_signal(move || {
                let signal = shutdown.clone();
                async move { signal.notified().await }
            })
            .keep_alive(actix_http::KeepAlive::default())
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            .local_addr(addr)
            .on_connect_ext(|conn: &sendfile::Conn, ext: &mut actix_web::dev::Extensions| {
                ext.insert(conn.slot());
            })
            .finish(map_config(
                app().into_factory().map_err(|e| e.error_response()),
                // The host name `HttpServer` gives its apps (used where a request names none);
                // actix-web offers this constructor for servers built outside `HttpServer`.
                move |()| actix_web::dev::AppConfig::__priv_test_new(false, host.clone(), addr),
            ));
        fn_service(|tcp: actix_rt::net::TcpStream| {
            let peer = tcp.peer_addr().ok();
            std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                sendfile::Conn::new(tcp),
                actix_http::Protocol::Http1,
                peer,
            )))
        })
        .and_then(service)
    })?;
    Ok(builder.run())
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
                Ok(Err(e)) => {
                    state.metrics.poll_flush_errors.inc();
                    tracing::warn!(error = %e, "writing poll times failed; will retry");
                }
                Err(e) => tracing::warn!(error = %e, "poll flush task failed"),
                Ok(Ok(_)) => {}
            }
        }
    })
}
