//! Target type compatibility of an assignment (hawkBit's `checkCompatibilityForSingleDsAssignment`):
//! a target with a type takes only sets whose type its type lists as compatible; a target without a
//! type takes any set. A rollout counts only compatible targets ([`crate::store::rollouts::plan`]);
//! a direct assignment naming an incompatible one is refused as a whole, with hawkBit's 400
//! `hawkbit.server.error.target.type.incompatible`.

use diesel::prelude::*;

use crate::store::schema::{distribution_sets, ds_types, target_type_ds_types, target_types, targets};
use crate::store::{AnyConnection, Error, Result, Rule};

/// How many controller ids one query looks up (well under SQLite's parameter limit).
const CHUNK: usize = 500;

/// Refuses assigning a set of type `ds_type` to the tenant's targets `controller_ids` when a type of
/// one of them does not accept it, naming those types and the set's type as hawkBit does.
pub fn check(c: &mut AnyConnection, tenant: &str, ds_type: i64, controller_ids: &[&str]) -> Result<()> {
    let accepting: Vec<i64> = target_type_ds_types::table
        .filter(target_type_ds_types::ds_type_id.eq(ds_type))
        .select(target_type_ds_types::target_type_id)
        .load(c)?;
    let mut names: Vec<String> = Vec::new();
    for chunk in controller_ids.chunks(CHUNK) {
        names.extend(
            targets::table
                .inner_join(target_types::table.on(target_types::id.nullable().eq(targets::target_type_id)))
                .filter(targets::tenant.eq(tenant))
                .filter(targets::controller_id.eq_any(chunk))
                .filter(diesel::dsl::not(target_types::id.eq_any(&accepting)))
                .select(target_types::name)
                .distinct()
                .load::<String>(c)?,
        );
    }
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    names.dedup();
    let ds_type_name: String = ds_types::table.find(ds_type).select(ds_types::name).first(c)?;
    Err(Error::refused(
        Rule::TargetTypeIncompatible,
        format!(
            "Targets of types [{}] are not compatible with distribution set of type {ds_type_name}",
            names.join(", ")
        ),
    ))
}

/// Whether the target `target_id` may be given the set `ds_id`: it has no type, or its type accepts
/// the set's type.
pub fn accepts(c: &mut AnyConnection, target_id: i64, ds_id: i64) -> Result<bool> {
    let target_type: Option<i64> = targets::table
        .find(target_id)
        .select(targets::target_type_id)
        .first(c)?;
    let Some(tt) = target_type else {
        return Ok(true);
    };
    let ds_type: i64 = distribution_sets::table
        .find(ds_id)
        .select(distribution_sets::ds_type_id)
        .first(c)?;
    let n: i64 = target_type_ds_types::table
        .filter(target_type_ds_types::target_type_id.eq(tt))
        .filter(target_type_ds_types::ds_type_id.eq(ds_type))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}
