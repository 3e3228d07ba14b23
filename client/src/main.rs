//! `updraft`: the Updraft device client.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = updraft_client::cli::Cli::parse();
    match updraft_client::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // What went wrong, with its causes, and no backtrace noise.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
