//! The in-memory copy of each tenant's settings (`store::tenants`), which the device path reads on
//! every request; dropped on every change here and, over the cluster bus, on the other nodes.

use std::sync::Arc;

use dashmap::DashMap;

use crate::error::ApiResult;
use crate::store::Db;
pub use crate::store::tenants::*;

/// In-memory copy of each tenant's settings; dropped on every change through the Management API.
#[derive(Default)]
pub struct TenantSettingsCache {
    settings: DashMap<String, Arc<TenantSettings>>,
    bus: Arc<crate::cluster::Bus>,
}

impl TenantSettingsCache {
    pub async fn get(&self, db: &Db, tenant: &str) -> ApiResult<Arc<TenantSettings>> {
        if let Some(s) = self.settings.get(tenant) {
            return Ok(Arc::clone(&s));
        }
        let t = tenant.to_owned();
        let loaded = Arc::new(db.read(move |c| load(c, &t)).await?);
        self.settings.insert(tenant.to_owned(), Arc::clone(&loaded));
        Ok(loaded)
    }

    pub fn with_bus(bus: Arc<crate::cluster::Bus>) -> Self {
        Self {
            settings: DashMap::new(),
            bus,
        }
    }

    /// Drops a tenant's settings here and on the other nodes.
    pub fn invalidate(&self, tenant: &str) {
        self.invalidate_local(tenant);
        self.bus
            .publish(crate::cluster::Invalidation::Tenant(tenant.to_owned()));
    }

    pub fn invalidate_local(&self, tenant: &str) {
        self.settings.remove(tenant);
    }

    pub fn invalidate_all(&self) {
        self.settings.clear();
    }
}
