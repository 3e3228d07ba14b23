//! What every request handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::auth::users::CredentialCache;
use crate::config::Config;
use crate::device_cache::{DeviceCache, PollRecorder};
use crate::storage::ArtifactStore;
use crate::store::{Changes, Db};
use crate::tenant_config::TenantSettingsCache;

/// Wall-clock milliseconds, shiftable in tests so time-dependent behaviour needs no real sleeping.
#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub store: Arc<dyn ArtifactStore>,
    pub tenants: TenantSettingsCache,
    pub devices: DeviceCache,
    pub polls: PollRecorder,
    /// Device writes that arrive together (plug-and-play registrations, attributes) committed in
    /// one transaction (`store::group_commit`).
    pub writes: Arc<crate::store::group_commit::GroupCommit<crate::error::ApiError>>,
    pub credentials: CredentialCache,
    pub clock: Clock,
    pub dos_filter: crate::dos_filter::DosFilter,
    /// Background work waiting to run (`scheduler`).
    pub jobs: crate::scheduler::Jobs,
    /// Wakes the DMF outbox dispatcher (`dmf`), when DMF is on.
    pub dmf: crate::dmf::Wake,
    /// Cache invalidations for the other server processes (`cluster`).
    pub bus: Arc<crate::cluster::Bus>,
    /// This process's counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Applies what a committed operation changed: the one place that drops cached device and tenant
    /// state (here and, over the cluster bus, on the other nodes) and wakes the scheduler.
    pub fn apply(&self, changes: Changes) {
        for (tenant, controller_id) in &changes.devices {
            self.devices.invalidate(tenant, controller_id);
        }
        if !changes.devices.is_empty() {
            // DMF targets among them may be owed a message (the outbox says which).
            self.dmf.wake();
        }
        for tenant in &changes.tenant_settings {
            self.tenants.invalidate(tenant);
        }
        for rollout in changes.rollouts {
            self.jobs.rollout_touched(rollout);
        }
        if changes.targets {
            self.jobs.targets_changed();
        }
    }
}
