//! A simulated fleet running in the background of a blocking test.

use std::time::Duration;

use updraft_sim::{FleetConfig, StopWhen};

/// Starts `updraft_sim::run(config)` on its own two-thread runtime; the fleet polls until the
/// returned runtime is dropped (or an hour passes).
pub fn run_fleet(config: FleetConfig) -> tokio::runtime::Runtime {
    let fleet = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the simulated fleet");
    fleet.spawn(updraft_sim::run(
        config,
        StopWhen::After(Duration::from_secs(3600)),
    ));
    fleet
}
