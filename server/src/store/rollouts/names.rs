//! The names of rollouts, for what refers to them by id (actions show their rollout's name).

use std::collections::HashMap;

use diesel::prelude::*;

use crate::store::schema::rollouts;
use crate::store::{AnyConnection, Result};

/// The names of rollouts `ids`, in one query.
pub fn names(c: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String)> = rollouts::table
        .filter(rollouts::id.eq_any(ids))
        .select((rollouts::id, rollouts::name))
        .load(c)?;
    Ok(rows.into_iter().collect())
}
