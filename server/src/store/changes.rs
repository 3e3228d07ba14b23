//! What a committed domain operation changed that caches and background work must hear of.
//!
//! Operations return a [`Changes`] next to their result; the caller hands it, after the transaction
//! committed, to the one place that applies it (`AppState::apply`): the poll-path device cache on this
//! node and, over the cluster bus, on the others; the tenant settings cache; the scheduler's wake-ups.

/// Effects to apply once the transaction that caused them has committed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "changes must be applied (AppState::apply) after the transaction commits"]
pub struct Changes {
    /// Devices whose poll answer may differ now, as (tenant, controller id).
    pub devices: Vec<(String, String)>,
    /// Rollouts a device reported on: evaluate them now rather than at the next sweep.
    pub rollouts: Vec<i64>,
    /// Targets were created or their attributes changed: auto-assignments are due.
    pub targets: bool,
    /// Tenants whose settings changed.
    pub tenant_settings: Vec<String>,
}

impl Changes {
    pub fn none() -> Self {
        Self::default()
    }

    /// One device's poll answer may have changed.
    pub fn device(tenant: &str, controller_id: &str) -> Self {
        Self {
            devices: vec![(tenant.to_owned(), controller_id.to_owned())],
            ..Self::default()
        }
    }

    /// Several devices of one tenant.
    pub fn devices<S: AsRef<str>>(tenant: &str, controller_ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            devices: controller_ids
                .into_iter()
                .map(|c| (tenant.to_owned(), c.as_ref().to_owned()))
                .collect(),
            ..Self::default()
        }
    }

    pub fn rollout(id: i64) -> Self {
        Self {
            rollouts: vec![id],
            ..Self::default()
        }
    }

    /// Targets were created or their attributes changed.
    pub fn targets() -> Self {
        Self {
            targets: true,
            ..Self::default()
        }
    }

    pub fn tenant_settings(tenant: &str) -> Self {
        Self {
            tenant_settings: vec![tenant.to_owned()],
            ..Self::default()
        }
    }

    /// Both sets of changes.
    pub fn and(mut self, other: Changes) -> Self {
        self.devices.extend(other.devices);
        self.rollouts.extend(other.rollouts);
        self.targets |= other.targets;
        self.tenant_settings.extend(other.tenant_settings);
        self
    }
}
