//! The device poll path's memory: a snapshot of each polling target and its visible action, and the
//! poll times waiting to be written in batches.
//!
//! A poll from a known device with nothing new reads only this cache. Every write that changes what
//! a device would see invalidates its entry after the transaction commits. A load that raced with an
//! invalidation of the same device is not stored (the slot's version), so the cache never keeps a
//! stale snapshot, and writes to other devices do not keep this one from being cached.
//! The cache is per process; with several server processes on one PostgreSQL, every invalidation is
//! also sent to the other nodes (`cluster`).

use std::sync::Arc;

use dashmap::DashMap;
use diesel::prelude::*;

use crate::error::ApiResult;
use crate::polling::MaintenanceWindow;
use crate::store::actions;
use crate::store::models::{Action, Target, UpdateStatus};
use crate::store::schema::targets;
use crate::store::{AnyConnection, Db};

/// What the device path keeps of a polling device.
///
/// Most of a fleet has nothing to do: such a device keeps only what a poll reads (`Idle`, about
/// 100 bytes plus its token and address), and its answer is rendered on each poll. A device with an
/// active action keeps its target and action rows and the encoded answer (`Active`). Other DDI
/// resources of an idle device read its target row from the database (`ddi::Device::target`).
#[derive(Debug)]
pub enum DeviceSnapshot {
    Idle(IdleDevice),
    Active(Box<ActiveDevice>),
}

/// An idle device: what its poll answer, its authentication and the poll-time bookkeeping need.
#[derive(Debug)]
pub struct IdleDevice {
    pub id: i64,
    pub installed_action_id: Option<i64>,
    security_token: Box<str>,
    address: Option<Box<str>>,
    /// None when the name is the controller id (a target created or registered without a name).
    name: Option<Box<str>>,
    pub update_status: UpdateStatus,
    pub request_attributes: bool,
}

/// A device with an active action.
#[derive(Debug)]
pub struct ActiveDevice {
    pub target: Target,
    pub action: Action,
    /// The action's maintenance window, parsed once here rather than on every poll.
    pub window: Option<MaintenanceWindow>,
    pub installed_action_id: Option<i64>,
    /// The JSON poll answer, kept while it cannot change with time (see `ddi::root`).
    pub poll_answer: std::sync::OnceLock<CachedPollAnswer>,
}

/// A poll answer valid for one origin and tenant spelling in links and one version of the
/// tenant's settings.
#[derive(Debug)]
pub struct CachedPollAnswer {
    pub origin: String,
    pub tenant_in_url: String,
    pub settings: u64,
    pub encoded: crate::ddi::Encoded,
}

impl DeviceSnapshot {
    pub fn new(target: Target, active_action: Option<Action>, installed_action_id: Option<i64>) -> Self {
        match active_action {
            Some(action) => Self::Active(Box::new(ActiveDevice {
                window: crate::store::actions::maintenance_window(&action),
                target,
                action,
                installed_action_id,
                poll_answer: std::sync::OnceLock::new(),
            })),
            None => Self::Idle(IdleDevice {
                id: target.id,
                installed_action_id,
                name: (target.name != target.controller_id).then(|| target.name.into_boxed_str()),
                security_token: target.security_token.into_boxed_str(),
                address: target.address.map(String::into_boxed_str),
                update_status: target.update_status,
                request_attributes: target.request_attributes,
            }),
        }
    }

    /// The target's database id.
    pub fn id(&self) -> i64 {
        match self {
            Self::Idle(d) => d.id,
            Self::Active(d) => d.target.id,
        }
    }

    pub fn update_status(&self) -> UpdateStatus {
        match self {
            Self::Idle(d) => d.update_status,
            Self::Active(d) => d.target.update_status,
        }
    }

    /// The client address last written (`http://<ip>`).
    pub fn address(&self) -> Option<&str> {
        match self {
            Self::Idle(d) => d.address.as_deref(),
            Self::Active(d) => d.target.address.as_deref(),
        }
    }

    /// The target's own token (empty: none).
    pub fn security_token(&self) -> &str {
        match self {
            Self::Idle(d) => &d.security_token,
            Self::Active(d) => &d.target.security_token,
        }
    }

    /// The target's name; `controller_id` is the device's, which an unnamed target is named after.
    pub fn name<'a>(&'a self, controller_id: &'a str) -> &'a str {
        match self {
            Self::Idle(d) => d.name.as_deref().unwrap_or(controller_id),
            Self::Active(d) => &d.target.name,
        }
    }

    /// Whether the server asks the device for its attributes (the `configData` link).
    pub fn request_attributes(&self) -> bool {
        match self {
            Self::Idle(d) => d.request_attributes,
            Self::Active(d) => d.target.request_attributes,
        }
    }

    /// The action that installed the target's installed set, if any (the `installedBase` link).
    pub fn installed_action_id(&self) -> Option<i64> {
        match self {
            Self::Idle(d) => d.installed_action_id,
            Self::Active(d) => d.installed_action_id,
        }
    }

    pub fn active(&self) -> Option<&ActiveDevice> {
        match self {
            Self::Idle(_) => None,
            Self::Active(d) => Some(d),
        }
    }
}

#[cfg(test)]
impl IdleDevice {
    pub fn for_test(installed_action_id: Option<i64>, request_attributes: bool) -> Self {
        Self {
            id: 1,
            installed_action_id,
            security_token: "token".into(),
            address: None,
            name: None,
            update_status: UpdateStatus::Registered,
            request_attributes,
        }
    }
}

pub fn load_snapshot(
    conn: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
) -> ApiResult<Option<DeviceSnapshot>> {
    // One query for the target and its active action; a second only for a device with an
    // installed set (its installedBase link).
    let Some((target, active_action)) = crate::store::targets::poll_state(conn, tenant, controller_id)?
    else {
        return Ok(None);
    };
    let installed_action_id = actions::installed_action_id(conn, &target)?;
    Ok(Some(DeviceSnapshot::new(
        target,
        active_action,
        installed_action_id,
    )))
}

/// The map key, `tenant NUL controller_id`, exactly as long as it needs to be (a `Box<str>` in the
/// map: 16 bytes per entry rather than a `String`'s 24).
fn key(tenant: &str, controller_id: &str) -> String {
    let mut k = String::with_capacity(tenant.len() + controller_id.len() + 1);
    k.push_str(tenant);
    k.push('\0');
    k.push_str(controller_id);
    k
}

/// A cache slot: the snapshot (None after an invalidation) and a version bumped by every
/// invalidation, so a load that raced with a write to the same device is not stored.
struct Slot {
    version: u64,
    snapshot: Option<Arc<DeviceSnapshot>>,
}

#[derive(Default)]
pub struct DeviceCache {
    entries: DashMap<Box<str>, Slot>,
    bus: Arc<crate::cluster::Bus>,
    /// Lookups answered from memory, and lookups that went to the database (`/metrics`).
    pub hits: crate::metrics::Counter,
    pub misses: crate::metrics::Counter,
}

impl DeviceCache {
    /// The snapshot of a device, from memory or loaded (None: no such target).
    pub async fn get(
        &self,
        db: &Db,
        tenant: &str,
        controller_id: &str,
    ) -> ApiResult<Option<Arc<DeviceSnapshot>>> {
        let k = key(tenant, controller_id);
        let version = match self.entries.get(k.as_str()) {
            Some(slot) => match &slot.snapshot {
                Some(s) => {
                    self.hits.inc();
                    return Ok(Some(Arc::clone(s)));
                }
                None => slot.version,
            },
            None => 0,
        };
        self.misses.inc();
        let (t, c) = (tenant.to_owned(), controller_id.to_owned());
        let loaded = db
            .run(move |conn| load_snapshot(conn, &t, &c))
            .await?
            .map(Arc::new);
        if let Some(s) = &loaded {
            self.store_at(k, version, s);
        }
        Ok(loaded)
    }

    /// The device's slot version now (0: none): read before a write whose result becomes the
    /// snapshot, then pass it to [`Self::store_if_unchanged`].
    pub fn version(&self, tenant: &str, controller_id: &str) -> u64 {
        self.entries
            .get(key(tenant, controller_id).as_str())
            .map_or(0, |slot| slot.version)
    }

    /// Keeps `snapshot`, built from rows this process has just committed, unless the device was
    /// invalidated since `version` was read (a later write may have changed what it shows).
    pub fn store_if_unchanged(
        &self,
        tenant: &str,
        controller_id: &str,
        version: u64,
        snapshot: &Arc<DeviceSnapshot>,
    ) {
        self.store_at(key(tenant, controller_id), version, snapshot);
    }

    fn store_at(&self, k: String, version: u64, s: &Arc<DeviceSnapshot>) {
        match self.entries.entry(k.into_boxed_str()) {
            dashmap::Entry::Vacant(v) if version == 0 => {
                v.insert(Slot {
                    version,
                    snapshot: Some(Arc::clone(s)),
                });
            }
            dashmap::Entry::Occupied(mut o) if o.get().version == version => {
                o.get_mut().snapshot = Some(Arc::clone(s));
            }
            _ => {}
        }
    }

    pub fn with_bus(bus: Arc<crate::cluster::Bus>) -> Self {
        Self {
            entries: DashMap::new(),
            bus,
            hits: crate::metrics::Counter::default(),
            misses: crate::metrics::Counter::default(),
        }
    }

    /// Forget a device's snapshot, here and on the other nodes; call after the transaction that
    /// changed it has committed.
    pub fn invalidate(&self, tenant: &str, controller_id: &str) {
        self.invalidate_local(tenant, controller_id);
        self.bus.publish(crate::cluster::Invalidation::Device {
            tenant: tenant.to_owned(),
            controller_id: controller_id.to_owned(),
        });
    }

    /// Forget every snapshot of this process.
    pub fn invalidate_all(&self) {
        for mut slot in self.entries.iter_mut() {
            slot.version += 1;
            slot.snapshot = None;
        }
    }

    /// Forget a device's snapshot in this process only.
    pub fn invalidate_local(&self, tenant: &str, controller_id: &str) {
        let mut slot = self
            .entries
            .entry(key(tenant, controller_id).into_boxed_str())
            .or_insert(Slot {
                version: 0,
                snapshot: None,
            });
        slot.version += 1;
        slot.snapshot = None;
    }
}

/// Poll times not yet written: hawkBit batches them the same way (`pollPersistenceFlushTime`).
#[derive(Default)]
pub struct PollRecorder {
    pending: DashMap<i64, i64>,
}

impl PollRecorder {
    pub fn record(&self, target_id: i64, at_ms: i64) {
        self.pending.insert(target_id, at_ms);
    }

    /// The newest poll time known for a target, written or not.
    pub fn pending(&self, target_id: i64) -> Option<i64> {
        self.pending.get(&target_id).map(|v| *v)
    }

    /// Writes pending poll times, grouped by second, without touching audit fields.
    pub fn flush(&self, db: &Db) -> ApiResult<usize> {
        let taken: Vec<(i64, i64)> = self.pending.iter().map(|e| (*e.key(), *e.value())).collect();
        if taken.is_empty() {
            return Ok(0);
        }
        let mut by_second: std::collections::BTreeMap<i64, Vec<i64>> = std::collections::BTreeMap::new();
        for (id, at) in &taken {
            by_second.entry(at - at % 1000).or_default().push(*id);
        }
        db.tx_blocking(|conn| {
            for (at, ids) in &by_second {
                for chunk in ids.chunks(500) {
                    // Another node may have written a newer poll of the same device.
                    diesel::update(
                        targets::table
                            .filter(targets::id.eq_any(chunk))
                            .filter(targets::last_poll.is_null().or(targets::last_poll.lt(*at))),
                    )
                    .set(targets::last_poll.eq(*at))
                    .execute(conn)?;
                }
            }
            Ok(())
        })?;
        // Keep entries that were polled again while we wrote.
        for (id, at) in &taken {
            self.pending.remove_if(id, |_, v| *v == *at);
        }
        Ok(taken.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each idle device costs in the cache besides its strings: the snapshot (in an `Arc`,
    /// 16 bytes more) and the map entry. `BENCHMARKS.md` has the measured total per device.
    #[test]
    fn idle_snapshot_stays_small() {
        assert!(
            std::mem::size_of::<DeviceSnapshot>() <= 88,
            "{}",
            std::mem::size_of::<DeviceSnapshot>()
        );
        assert_eq!(std::mem::size_of::<(Box<str>, Slot)>(), 32);
    }
}
