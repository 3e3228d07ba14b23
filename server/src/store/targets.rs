//! Targets (devices): finding them by their controller id.

use diesel::prelude::*;

use super::models::Target;
use super::schema::targets;
use super::{AnyConnection, Error, Result};

/// The tenant's target `controller_id`, if it exists.
pub fn get_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Option<Target>> {
    Ok(targets::table
        .filter(
            targets::tenant
                .eq(tenant)
                .and(targets::controller_id.eq(controller_id)),
        )
        .select(Target::as_select())
        .first(c)
        .optional()?)
}

/// The tenant's target `controller_id`; not found otherwise.
pub fn find_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Target> {
    get_target(c, tenant, controller_id)?.ok_or_else(|| Error::not_found("Target", controller_id))
}
