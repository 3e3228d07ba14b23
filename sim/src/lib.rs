//! A simulated fleet of hawkBit DDI devices, for rollout tests and load benchmarks against
//! `updraft-server` or Eclipse hawkBit.
//!
//! Every device is a small tokio task that polls its root resource, follows the `_links` the way
//! hawkBit clients do (configData, cancelAction, confirmationBase, deploymentBase), downloads and
//! hashes artifacts while they stream, and reports feedback. All devices share one HTTP client
//! (one connection pool) and one semaphore that bounds the requests in flight, so 100,000 devices
//! cost memory for their state only.

mod device;
pub mod dmf;
pub mod duration;
mod report;
pub mod verify;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use report::{ActionOutcome, ActionResult, DeviceOutcome, Report};

/// How devices authenticate on the DDI API (hawkBit's `Authorization` header schemes).
#[derive(Clone, Default)]
pub enum DeviceAuth {
    #[default]
    None,
    /// `Authorization: GatewayToken <key>`: one tenant-wide key; unknown devices register on first poll.
    GatewayToken(String),
    /// `Authorization: TargetToken <token>`: the token of each controller id.
    TargetToken(Arc<dyn Fn(&str) -> String + Send + Sync>),
}

impl fmt::Debug for DeviceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are secrets; say only which scheme is used.
        f.write_str(match self {
            Self::None => "None",
            Self::GatewayToken(_) => "GatewayToken(..)",
            Self::TargetToken(_) => "TargetToken(..)",
        })
    }
}

impl DeviceAuth {
    /// The `Authorization` header value for `controller_id`, if any.
    fn header(&self, controller_id: &str) -> Option<String> {
        match self {
            Self::None => None,
            Self::GatewayToken(key) => Some(format!("GatewayToken {key}")),
            Self::TargetToken(token_of) => Some(format!("TargetToken {}", token_of(controller_id))),
        }
    }
}

/// What to simulate. Start from [`FleetConfig::default`] and set what matters.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    pub tenant: String,
    pub devices: usize,
    /// Controller ids are `format!("{id_prefix}{i:05}")`.
    pub id_prefix: String,
    /// The first `i`, so several simulators can split a fleet.
    pub first_index: usize,
    pub auth: DeviceAuth,
    /// When not empty, device `i` talks to `servers[i % len]` instead of `server` (multi-node tests).
    pub servers: Vec<String>,
    /// Poll at this interval instead of the server's `config.polling.sleep`.
    pub poll_interval: Option<Duration>,
    /// Time between the download and the final feedback ("installing"). Devices keep polling
    /// meanwhile, so a cancellation can still reach them.
    pub feedback_delay: Duration,
    /// Fraction of devices (chosen from `seed` and the controller id) whose updates fail.
    pub failure_rate: f64,
    /// Exactly these controller ids fail; overrides `failure_rate`.
    pub fail_ids: Option<HashSet<String>>,
    /// Download every artifact and check its hash before reporting; a mismatch is a failure.
    pub download: bool,
    /// At most this many HTTP requests (downloads included) in flight across the fleet.
    pub concurrency: usize,
    pub seed: u64,
    /// Attributes sent with `PUT configData`: at the first poll and whenever the server asks.
    /// `None` answers the server's requests with `{"simulator": "updraft-sim"}` only.
    pub attributes: Option<BTreeMap<String, String>>,
    /// Spread the devices' first polls evenly over this time instead of starting all at once.
    pub ramp_up: Duration,
    /// Send one `proceeding` feedback when a deployment starts, as hawkBit clients do.
    pub proceeding_feedback: bool,
    /// Limit for each JSON request, and for the silence between two reads of a download.
    pub request_timeout: Duration,
    /// Report A/B slot state in the `updraft.*` attributes (docs/fleet-health.md): before each
    /// success, `updraft.slot.booted` (the other slot, `a` or `b`) and `updraft.health=ok`.
    /// Rolling back, silent and unhealthy devices report it whatever this says.
    pub slots: bool,
    /// How long after its success a rolling-back device rolls back.
    pub rollback_after: Duration,
    /// Fraction of devices (chosen from `seed` and the controller id) that roll back
    /// `rollback_after` after each success: they report `updraft.slot.booted` back to the old
    /// slot and `updraft.rollback_reason=watchdog`.
    pub rollback_fraction: f64,
    /// Exactly these controller ids roll back; overrides `rollback_fraction`.
    pub rollback_ids: Option<HashSet<String>>,
    /// Fraction of devices that stop polling for good after their first success (a device that
    /// died on the new image). A silent device does not roll back.
    pub silent_fraction: f64,
    /// Exactly these controller ids go silent; overrides `silent_fraction`.
    pub silent_ids: Option<HashSet<String>>,
    /// Fraction of devices whose health check fails on the new image: with their success they
    /// report `updraft.health=failed: disk` instead of `ok` (and keep polling).
    pub unhealthy_fraction: f64,
    /// Exactly these controller ids report failed health; overrides `unhealthy_fraction`.
    pub unhealthy_ids: Option<HashSet<String>>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            server: "http://127.0.0.1:8080".into(),
            tenant: "DEFAULT".into(),
            devices: 1,
            id_prefix: "sim-".into(),
            first_index: 0,
            auth: DeviceAuth::None,
            servers: Vec::new(),
            poll_interval: None,
            feedback_delay: Duration::ZERO,
            failure_rate: 0.0,
            fail_ids: None,
            download: true,
            concurrency: 100,
            seed: 0,
            attributes: None,
            ramp_up: Duration::ZERO,
            proceeding_feedback: true,
            request_timeout: Duration::from_secs(30),
            slots: false,
            rollback_after: Duration::from_secs(600),
            rollback_fraction: 0.0,
            rollback_ids: None,
            silent_fraction: 0.0,
            silent_ids: None,
            unhealthy_fraction: 0.0,
            unhealthy_ids: None,
        }
    }
}

impl FleetConfig {
    /// The controller id of device `i` (`first_index <= i < first_index + devices`).
    pub fn controller_id(&self, i: usize) -> String {
        format!("{}{i:05}", self.id_prefix)
    }

    /// Every controller id of this fleet, in order.
    pub fn controller_ids(&self) -> impl Iterator<Item = String> + '_ {
        (self.first_index..self.first_index + self.devices).map(|i| self.controller_id(i))
    }

    /// Whether `controller_id` reports its updates as failed: listed in `fail_ids`, or else
    /// picked by `failure_rate` from a hash of `seed` and the id (stable across runs).
    pub fn device_fails(&self, controller_id: &str) -> bool {
        picked(
            self.fail_ids.as_ref(),
            self.failure_rate,
            self.seed,
            controller_id,
        )
    }

    /// Whether `controller_id` goes silent after its first success (`silent_ids`, or else
    /// `silent_fraction`, chosen independently of the failing devices).
    pub fn device_goes_silent(&self, controller_id: &str) -> bool {
        picked(
            self.silent_ids.as_ref(),
            self.silent_fraction,
            self.seed ^ 0x5117_e47d,
            controller_id,
        )
    }

    /// Whether `controller_id` rolls back after its successes (`rollback_ids`, or else
    /// `rollback_fraction`); never a device that goes silent.
    pub fn device_rolls_back(&self, controller_id: &str) -> bool {
        !self.device_goes_silent(controller_id)
            && picked(
                self.rollback_ids.as_ref(),
                self.rollback_fraction,
                self.seed ^ 0x0b0a_7ba6,
                controller_id,
            )
    }

    /// Whether `controller_id` reports failed health with its successes (`unhealthy_ids`, or
    /// else `unhealthy_fraction`).
    pub fn device_unhealthy(&self, controller_id: &str) -> bool {
        picked(
            self.unhealthy_ids.as_ref(),
            self.unhealthy_fraction,
            self.seed ^ 0x4ea1_7400,
            controller_id,
        )
    }

    /// The node device `i` starts on: its index in `servers` (0 without a list).
    pub(crate) fn server_index(&self, i: usize) -> usize {
        if self.servers.is_empty() {
            0
        } else {
            i % self.servers.len()
        }
    }
}

/// Listed in `ids`, or else picked with probability `fraction` from a hash of `seed` and the id
/// (stable across runs).
fn picked(ids: Option<&HashSet<String>>, fraction: f64, seed: u64, controller_id: &str) -> bool {
    if let Some(ids) = ids {
        return ids.contains(controller_id);
    }
    if fraction <= 0.0 {
        return false;
    }
    let unit = (mix(seed, controller_id) >> 11) as f64 / (1u64 << 53) as f64;
    unit < fraction
}

/// FNV-1a over the id, then splitmix64 with the seed: cheap, stable and well spread.
fn mix(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// When [`run`] stops the fleet.
#[derive(Debug, Clone, Copy)]
pub enum StopWhen {
    After(Duration),
    /// Every device has finished (succeeded, failed or acknowledged the cancellation of)
    /// `per_device` actions, or `timeout` passed.
    ActionsDone {
        per_device: usize,
        timeout: Duration,
    },
    /// Every device has polled successfully `per_device` times, or `timeout` passed.
    Polls {
        per_device: u64,
        timeout: Duration,
    },
    /// Every device has registered: its first poll succeeded and, when the server asked for its
    /// attributes (plug-and-play registration does), its `PUT configData` was accepted; a device
    /// stops once registered, or `timeout` passed. A registration storm.
    Registered {
        timeout: Duration,
    },
    /// The fleet has finished (succeeded, failed or acknowledged the cancellation of) `count`
    /// actions in all, or `timeout` passed: for runs where only some devices get an action.
    Outcomes {
        count: u64,
        timeout: Duration,
    },
    /// No device has seen an action or sent feedback for `for_`, or `timeout` passed. Installing
    /// devices count as busy at each poll, so `for_` should be longer than the poll interval. This
    /// depends on the machine's speed; tests wait for [`StopWhen::Outcomes`] instead.
    Idle {
        for_: Duration,
        timeout: Duration,
    },
}

/// Counters and per-device records shared by all device tasks.
struct Shared {
    config: FleetConfig,
    client: reqwest::Client,
    permits: tokio::sync::Semaphore,
    started: Instant,
    /// Milliseconds since `started` of the last action-related request.
    last_activity_ms: AtomicU64,
    stop: StopWhen,
    /// Devices that reached the `ActionsDone`, `Polls` or `Registered` goal.
    devices_done: AtomicUsize,
    totals: Totals,
    slots: Vec<Slot>,
    errors: Mutex<BTreeMap<String, u64>>,
}

#[derive(Default)]
struct Totals {
    polls: AtomicU64,
    deployments: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    canceled: AtomicU64,
    confirmations: AtomicU64,
    config_data_updates: AtomicU64,
    bytes_downloaded: AtomicU64,
    http_errors: AtomicU64,
    hash_mismatches: AtomicU64,
    rollbacks: AtomicU64,
    went_silent: AtomicU64,
}

#[derive(Default)]
struct Slot {
    polls: AtomicU64,
    http_errors: AtomicU64,
    actions: Mutex<Vec<ActionOutcome>>,
}

impl Shared {
    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn record_error(&self, slot: usize, kind: String) {
        self.totals.http_errors.fetch_add(1, Ordering::Relaxed);
        self.slots[slot].http_errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(kind).or_default() += 1;
        }
    }

    fn record_poll(&self, slot: usize) {
        self.totals.polls.fetch_add(1, Ordering::Relaxed);
        let n = self.slots[slot].polls.fetch_add(1, Ordering::Relaxed) + 1;
        if let StopWhen::Polls { per_device, .. } = self.stop
            && n == per_device
        {
            self.devices_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record_outcome(&self, slot: usize, outcome: ActionOutcome) {
        let counter = match outcome.result {
            ActionResult::Succeeded => &self.totals.succeeded,
            ActionResult::Failed => &self.totals.failed,
            ActionResult::Canceled => &self.totals.canceled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.touch();
        let n = match self.slots[slot].actions.lock() {
            Ok(mut actions) => {
                actions.push(outcome);
                actions.len()
            }
            Err(_) => return,
        };
        if let StopWhen::ActionsDone { per_device, .. } = self.stop
            && n == per_device
        {
            self.devices_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn report(&self, timed_out: bool) -> Report {
        let t = &self.totals;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let per_device = self
            .slots
            .iter()
            .enumerate()
            .map(|(n, slot)| {
                let outcome = DeviceOutcome {
                    polls: get(&slot.polls),
                    http_errors: get(&slot.http_errors),
                    actions: slot.actions.lock().map(|a| a.clone()).unwrap_or_default(),
                };
                (self.config.controller_id(self.config.first_index + n), outcome)
            })
            .collect();
        Report {
            devices: self.config.devices,
            polls: get(&t.polls),
            deployments: get(&t.deployments),
            succeeded: get(&t.succeeded),
            failed: get(&t.failed),
            canceled: get(&t.canceled),
            confirmations: get(&t.confirmations),
            config_data_updates: get(&t.config_data_updates),
            bytes_downloaded: get(&t.bytes_downloaded),
            http_errors: get(&t.http_errors),
            hash_mismatches: get(&t.hash_mismatches),
            rollbacks: get(&t.rollbacks),
            went_silent: get(&t.went_silent),
            elapsed: self.started.elapsed(),
            timed_out,
            errors: self.errors.lock().map(|e| e.clone()).unwrap_or_default(),
            per_device,
        }
    }
}

fn build_client(config: &FleetConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("updraft-sim/", env!("CARGO_PKG_VERSION")))
        // Keep as many connections as requests may be in flight, so none is reopened per poll.
        .pool_max_idle_per_host(config.concurrency.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(config.request_timeout)
        .tcp_nodelay(true)
        .build()
}

/// Runs the fleet until `stop`, then stops every device (mid-request if need be) and reports.
pub async fn run(config: FleetConfig, stop: StopWhen) -> Report {
    let client = match build_client(&config) {
        Ok(c) => c,
        Err(e) => {
            let mut report = Report {
                devices: config.devices,
                http_errors: 1,
                ..Report::default()
            };
            report.errors.insert(format!("HTTP client setup: {e}"), 1);
            return report;
        }
    };
    let shared = Arc::new(Shared {
        permits: tokio::sync::Semaphore::new(config.concurrency.max(1)),
        client,
        started: Instant::now(),
        last_activity_ms: AtomicU64::new(0),
        stop,
        devices_done: AtomicUsize::new(0),
        totals: Totals::default(),
        slots: (0..config.devices).map(|_| Slot::default()).collect(),
        errors: Mutex::new(BTreeMap::new()),
        config,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..shared.config.devices {
        tasks.spawn(device::Device::new(Arc::clone(&shared), slot).run());
    }
    let timed_out = wait_for(&shared).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    shared.report(timed_out)
}

/// Waits until the stop condition holds; true when its timeout ended the wait instead.
async fn wait_for(shared: &Shared) -> bool {
    let devices = shared.config.devices;
    let t = &shared.totals;
    match shared.stop {
        StopWhen::After(d) => {
            tokio::time::sleep(d).await;
            false
        }
        StopWhen::ActionsDone { per_device: 0, .. } | StopWhen::Polls { per_device: 0, .. } => false,
        StopWhen::ActionsDone { timeout, .. }
        | StopWhen::Polls { timeout, .. }
        | StopWhen::Registered { timeout } => {
            until(shared.started + timeout, || {
                shared.devices_done.load(Ordering::Relaxed) >= devices
            })
            .await
        }
        StopWhen::Outcomes { count, timeout } => {
            until(shared.started + timeout, || {
                t.succeeded.load(Ordering::Relaxed)
                    + t.failed.load(Ordering::Relaxed)
                    + t.canceled.load(Ordering::Relaxed)
                    >= count
            })
            .await
        }
        StopWhen::Idle { for_, timeout } => {
            until(shared.started + timeout, || {
                let last = Duration::from_millis(shared.last_activity_ms.load(Ordering::Relaxed));
                shared.started.elapsed().saturating_sub(last) >= for_
            })
            .await
        }
    }
}

/// Checks `done` every 10 ms until it holds (false) or `deadline` passes (true).
async fn until(deadline: Instant, done: impl Fn() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// [`run`] on a tokio runtime of its own, for synchronous callers such as `#[test]` functions.
/// Not from inside a tokio runtime (tokio forbids nested `block_on`); await [`run`] there.
pub fn run_blocking(config: FleetConfig, stop: StopWhen) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime for the simulator: {e}"));
    runtime.block_on(run(config, stop))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn controller_ids_are_prefix_and_five_digits_from_first_index() {
        let c = FleetConfig {
            id_prefix: "dev-".into(),
            first_index: 998,
            devices: 3,
            ..FleetConfig::default()
        };
        assert_eq!(
            c.controller_ids().collect::<Vec<_>>(),
            ["dev-00998", "dev-00999", "dev-01000"]
        );
    }

    #[test]
    fn failure_rate_picks_a_stable_share_of_devices() {
        let c = FleetConfig {
            devices: 10_000,
            failure_rate: 0.1,
            seed: 42,
            ..FleetConfig::default()
        };
        let failing: Vec<String> = c.controller_ids().filter(|id| c.device_fails(id)).collect();
        assert!((900..1100).contains(&failing.len()), "{}", failing.len());
        let again: Vec<String> = c.controller_ids().filter(|id| c.device_fails(id)).collect();
        assert_eq!(failing, again);
        let other_seed = FleetConfig {
            seed: 43,
            ..c.clone()
        };
        let other: Vec<String> = c
            .controller_ids()
            .filter(|id| other_seed.device_fails(id))
            .collect();
        assert_ne!(failing, other);
    }

    #[test]
    fn fail_ids_override_the_rate() {
        let c = FleetConfig {
            failure_rate: 1.0,
            fail_ids: Some(HashSet::from(["sim-00001".to_owned()])),
            ..FleetConfig::default()
        };
        assert!(c.device_fails("sim-00001"));
        assert!(!c.device_fails("sim-00002"));
    }

    #[test]
    fn silent_and_rolling_back_devices_are_distinct_stable_shares() {
        let c = FleetConfig {
            devices: 10_000,
            rollback_fraction: 0.2,
            silent_fraction: 0.1,
            seed: 7,
            ..FleetConfig::default()
        };
        let silent = c.controller_ids().filter(|id| c.device_goes_silent(id)).count();
        let back = c.controller_ids().filter(|id| c.device_rolls_back(id)).count();
        assert!((900..1100).contains(&silent), "{silent}");
        // 20 % of the 90 % that stay reachable.
        assert!((1650..1950).contains(&back), "{back}");
        assert!(
            !c.controller_ids()
                .any(|id| c.device_goes_silent(&id) && c.device_rolls_back(&id))
        );
        let listed = FleetConfig {
            rollback_ids: Some(HashSet::from(["sim-00003".to_owned()])),
            ..FleetConfig::default()
        };
        assert!(listed.device_rolls_back("sim-00003"));
        assert!(!listed.device_rolls_back("sim-00004"));
    }

    #[test]
    fn run_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send + 'static>(_: &T) {}
        let fut = run(FleetConfig::default(), StopWhen::After(Duration::ZERO));
        assert_send(&fut);
    }

    #[test]
    fn devices_spread_over_servers() {
        let c = FleetConfig {
            servers: vec!["http://a/".into(), "http://b".into()],
            ..FleetConfig::default()
        };
        assert_eq!(c.server_index(0), 0);
        assert_eq!(c.server_index(3), 1);
    }
}
