//! `updraft-server`: run the hawkBit-compatible update server.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use updraft_server::config::{Config, LogFormat};

// glibc's allocator cost about 12 % of a device poll's CPU; mimalloc halves that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Updraft update server: hawkBit's device API (DDI v1) and Management API (/rest/v1) in one binary.
///
/// With no options it listens on 0.0.0.0:8080 and keeps an SQLite database and the artifacts under
/// ./updraft-data. On first start it creates user `admin`; without UPDRAFT_ADMIN_PASSWORD the
/// password is random, printed once and stored in <data dir>/admin-password (mode 0600).
///
/// Settings come from the TOML file given with --config, then from UPDRAFT_* environment variables:
/// UPDRAFT_LISTEN, UPDRAFT_DATA_DIR, UPDRAFT_DATABASE_URL (an SQLite path or postgres://...),
/// UPDRAFT_EXTERNAL_URL, UPDRAFT_ADMIN_PASSWORD, UPDRAFT_LOG (e.g. info, debug),
/// UPDRAFT_LOG_FORMAT (human|json), UPDRAFT_WORKERS, UPDRAFT_DB_POOL_SIZE, UPDRAFT_MAX_BODY_SIZE,
/// UPDRAFT_MAX_ARTIFACT_SIZE, UPDRAFT_POLL_FLUSH_INTERVAL_MS, UPDRAFT_TRACK_REMOTE_IP.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file (keys as in the README's configuration table).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config);
    let listener = TcpListener::bind(&config.listen).with_context(|| {
        format!(
            "cannot listen on {} (set UPDRAFT_LISTEN to another address)",
            config.listen
        )
    })?;
    let state = updraft_server::build_state(config)?;
    tracing::info!(listen = %listener.local_addr()?, data_dir = %state.config.data_dir.display(),
        backend = ?state.db.backend(), "updraft-server started");
    actix_rt::System::new().block_on(updraft_server::serve(state, listener, None))
}
