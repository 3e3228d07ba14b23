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

use std::cell::RefCell;

use super::{AnyConnection, Db, Error, Result};

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

/// Runs `f` in one write transaction that is always rolled back: `--dry-run` makes every write a
/// real run would make, sees what each would do, and keeps none. On SQLite it holds the database's
/// write lock while it runs.
pub fn rehearse<T>(db: &Db, f: impl FnOnce(&mut AnyConnection) -> T) -> Result<T> {
    let f = RefCell::new(Some(f));
    let out = RefCell::new(None);
    let rolled_back: Result<()> = db.write_blocking(|c| {
        // It runs once: only an unreachable database makes `write_blocking` try again.
        let Some(f) = f.borrow_mut().take() else {
            return Err(Error::Internal("the rehearsal ran twice".into()));
        };
        *out.borrow_mut() = Some(f(c));
        Err(Error::Internal("rolled back: a rehearsal writes nothing".into()))
    });
    match (out.into_inner(), rolled_back) {
        (Some(v), _) => Ok(v),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err(Error::Internal("the rehearsal did not run".into())),
    }
}
