//! The `updraft` command line: one module per group of subcommands.

/// `println!` that hands a failed write (a pipe closed early, as by `updraft status | head -1`) back
/// as an error instead of panicking; `main` ends quietly on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod agent;
pub mod bundle;
pub mod bundle_delta;
pub mod bundle_encode;
pub mod bundle_patch;
pub mod bundle_sets;
pub mod install;
pub mod sim;
pub mod status;

use clap::{Parser, Subcommand};

/// Updraft device client: builds and inspects signed SWUpdate bundles, installs them into the
/// inactive A/B slot, and commits or rolls back the new slot after a trial boot.
#[derive(Parser)]
#[command(name = "updraft", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build, sign and inspect .swu bundles (a build pipeline's tool, like swugenerator).
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Install a bundle into the inactive slot and arm it for a trial boot.
    Install(install::InstallArgs),
    /// Show the running version, both slots' versions, the last trial's outcome and the update in
    /// flight.
    Status(install::StatusArgs),
    /// Make the slot booted on trial the default.
    Commit(install::StatusArgs),
    /// Go back to the previously committed slot.
    Rollback(install::StatusArgs),
    /// Poll the update server (hawkBit DDI) and install what it assigns; reports each step.
    ///
    /// At start-up it settles whatever a reboot left in the journal: it checks and commits a trial
    /// (or rolls it back), records a trial the bootloader or a watchdog gave up on as rolled back,
    /// reports the result, and takes the next update; no `updraft rollback` is needed. Besides
    /// `[agent.attributes]` it sends the `updraft.*` slot state attributes of docs/fleet-health.md
    /// (booted and committed slot, slot versions, trial outcome, rollback reason, health, boots
    /// since the commit, commit time) whenever they change and before each result. With
    /// `[agent] health_window_secs` it keeps running `health_check` every `health_interval_secs`
    /// after a commit and reports the verdict as `updraft.health`.
    Agent(agent::AgentArgs),
    /// Drive the simulated device of `[bootloader] backend = "sim"`: power it on, reboot it, make
    /// its next trial boot fail. The whole update cycle then runs on a laptop (README walkthrough).
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bundle(cmd) => bundle::run(cmd),
        Command::Install(args) => install::install(&args),
        Command::Status(args) => status::status(&args),
        Command::Commit(args) => install::commit(&args),
        Command::Rollback(args) => install::rollback(&args),
        Command::Agent(args) => agent::agent(&args),
        Command::Sim(cmd) => sim::run(&cmd),
    }
}

/// The error ends in a closed stdout (`updraft status | head -1`): nothing is left to tell.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
