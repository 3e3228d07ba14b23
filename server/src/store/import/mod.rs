//! Writing what `updraft-server import` read from a running hawkBit, entity by entity.
//!
//! Every entity is matched by its natural key (a type's key, a module's type, name and version, a
//! set's name and version, a tag's or filter's name, a target's controller id, an artifact's module and
//! SHA-256, an action's target, set and creation time), so a second run adds only what is new or
//! changed and an interrupted run continues where it stopped. Values are taken as they are in the
//! source, audit fields included: these writes record history, they do not make decisions, so the
//! rules an operator's create or update checks (locked sets, quotas) do not apply here.

pub mod fleet;
pub mod repository;

/// What writing one entity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was not there and was created.
    Added,
    /// It was there and differed; it now has the source's values.
    Updated,
    /// It was there with the same values.
    Unchanged,
}

impl Outcome {
    /// `Updated` when `changed`, else `Unchanged`.
    pub fn changed_if(changed: bool) -> Self {
        if changed { Self::Updated } else { Self::Unchanged }
    }
}

/// Who created and last changed an entity, and when (Unix ms), as the source recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}
