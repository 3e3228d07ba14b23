//! `updraft`: the Updraft device client.

use clap::Parser;

fn main() -> std::process::ExitCode {
    init_logging();
    let cli = updraft_client::cli::Cli::parse();
    match updraft_client::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader went away (`updraft status | head -1`): end quietly, as `cat` would.
        Err(e) if updraft_client::cli::is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // What went wrong, with its causes, and no backtrace noise.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: `UPDRAFT_LOG` filters (default `info`), `UPDRAFT_LOG_FORMAT=json` for journald
/// pipelines that parse JSON.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("UPDRAFT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("UPDRAFT_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
