//! The device poll path's memory: a snapshot of each polling target and its visible action, and the
//! poll times waiting to be written in batches.
//!
//! A poll from a known device with nothing new reads only this cache. Every write that changes what
//! a device would see invalidates its entry after the transaction commits. A load that raced with an
//! invalidation is not stored (the generation counter), so the cache never keeps a stale snapshot.
//! The cache is per process: several server instances on one database need cross-node invalidation,
//! which the scheduler issue adds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use diesel::prelude::*;

use crate::actions;
use crate::db::models::{Action, Target};
use crate::db::schema::targets;
use crate::db::{AnyConnection, Db};
use crate::error::ApiResult;

#[derive(Debug, Clone)]
pub struct DeviceSnapshot {
    pub target: Target,
    pub active_action: Option<Action>,
    pub installed_action_id: Option<i64>,
}

pub fn load_snapshot(
    conn: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
) -> ApiResult<Option<DeviceSnapshot>> {
    let Some(target) = targets::table
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(controller_id)),
        )
        .select(Target::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let active_action = actions::top_active_action(conn, target.id)?;
    let installed_action_id = actions::installed_action_id(conn, &target)?;
    Ok(Some(DeviceSnapshot {
        target,
        active_action,
        installed_action_id,
    }))
}

fn key(tenant: &str, controller_id: &str) -> String {
    let mut k = String::with_capacity(tenant.len() + controller_id.len() + 1);
    k.push_str(tenant);
    k.push('\0');
    k.push_str(controller_id);
    k
}

#[derive(Default)]
pub struct DeviceCache {
    entries: DashMap<String, Arc<DeviceSnapshot>>,
    generation: AtomicU64,
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
        if let Some(s) = self.entries.get(&k) {
            return Ok(Some(Arc::clone(&s)));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let (t, c) = (tenant.to_owned(), controller_id.to_owned());
        let loaded = db
            .run(move |conn| load_snapshot(conn, &t, &c))
            .await?
            .map(Arc::new);
        if let Some(s) = &loaded
            && self.generation.load(Ordering::Acquire) == generation
        {
            self.entries.insert(k, Arc::clone(s));
        }
        Ok(loaded)
    }

    /// Forget a device's snapshot; call after the transaction that changed it has committed.
    pub fn invalidate(&self, tenant: &str, controller_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(&key(tenant, controller_id));
    }

    /// Forget everything of a tenant (for changes that touch many devices at once).
    pub fn invalidate_tenant(&self, tenant: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let prefix = key(tenant, "");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
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
                    diesel::update(targets::table.filter(targets::id.eq_any(chunk)))
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
