//! Target types: kinds of targets and the distribution set types they accept, and giving a target
//! its type.
//!
//! Unlike module and set types a target type is deleted for good, and only while no target has it.

use diesel::prelude::*;

use super::{KEY_MAX, NewType, check_description_and_colour, check_name};
use crate::store::models::{DsType, TargetType};
use crate::store::schema::{ds_types, target_type_ds_types as ttds, target_types, targets};
use crate::store::targets::find_target;
use crate::store::{AnyConnection, Changes, Error, ListQuery, Paged, Result, Rule, check_len};

type_table!(target_types, TargetType, "TargetType");

/// A target type to create (hawkBit's `MgmtTargetTypeRequestBodyPost`), with the ids of the
/// distribution set types its targets accept.
#[derive(Debug, Clone, Default)]
pub struct NewTargetType {
    pub fields: NewType,
    pub compatible: Vec<i64>,
}

impl NewTargetType {
    /// The `(key, name)` to store: hawkBit's `key` defaults to `name` and `name` to `key`.
    fn key_and_name(&self) -> Result<(String, String)> {
        let f = &self.fields;
        let (key, name) = match (&f.key, &f.name) {
            (None, None) => {
                return Err(Error::refused(
                    Rule::TargetTypeKeyOrName,
                    "Key or name of the target type shall be specified!",
                ));
            }
            (k, n) => (
                k.clone().or_else(|| n.clone()).unwrap_or_default(),
                n.clone().or_else(|| k.clone()).unwrap_or_default(),
            ),
        };
        if key.trim().is_empty() {
            return Err(Error::refused(Rule::Constraint, "key must not be empty."));
        }
        check_len("key", &key, KEY_MAX)?;
        check_name(Some(&name))?;
        check_description_and_colour(f.description.as_deref(), f.colour.as_deref())?;
        Ok((key, name))
    }
}

/// One page of the tenant's target types.
pub fn list(c: &mut AnyConnection, tenant: &str, list: &ListQuery) -> Result<Paged<TargetType>> {
    Ok(crate::store::page::paginate!(
        c,
        target_types::table
            .filter(target_types::tenant.eq(tenant))
            .select(target_types::all_columns),
        list
    ))
}

/// Creates the target types `types` of `tenant` with their compatible distribution set types, all
/// or (on the first refusal or unknown set type) none.
pub fn create(
    c: &mut AnyConnection,
    tenant: &str,
    types: &[NewTargetType],
    by: &str,
    now: i64,
) -> Result<Vec<TargetType>> {
    let names = types
        .iter()
        .map(NewTargetType::key_and_name)
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(types.len());
    for (t, (key, name)) in types.iter().zip(&names) {
        let id = insert_type!(
            c,
            target_types,
            tenant,
            (key.as_str(), name.as_str()),
            t.fields,
            by,
            now
        )?;
        add_compatibles(c, tenant, id, &t.compatible)?;
        out.push(find(c, tenant, id)?);
    }
    Ok(out)
}

/// Makes the distribution set types `ds_type_ids` (of `tenant`; not found otherwise) compatible with `tt`.
fn add_compatibles(c: &mut AnyConnection, tenant: &str, tt: i64, ds_type_ids: &[i64]) -> Result<()> {
    for &d in ds_type_ids {
        super::ds::find(c, tenant, d)?;
        let present: i64 = ttds::table
            .filter(ttds::target_type_id.eq(tt).and(ttds::ds_type_id.eq(d)))
            .count()
            .get_result(c)?;
        if present == 0 {
            diesel::insert_into(ttds::table)
                .values((ttds::target_type_id.eq(tt), ttds::ds_type_id.eq(d)))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Deletes the tenant's type `id`; refused while targets have it.
pub fn delete(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<()> {
    let t = find(c, tenant, id)?;
    let users: i64 = targets::table
        .filter(targets::target_type_id.eq(t.id))
        .count()
        .get_result(c)?;
    if users > 0 {
        return Err(Error::refused(
            Rule::TargetTypeInUse,
            format!("Target type {id} is assigned to {users} target(s) and cannot be deleted."),
        ));
    }
    diesel::delete(ttds::table.filter(ttds::target_type_id.eq(t.id))).execute(c)?;
    diesel::delete(target_types::table.find(t.id)).execute(c)?;
    Ok(())
}

/// The distribution set types targets of the tenant's type `id` accept, by id.
pub fn compatible(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<Vec<DsType>> {
    let t = find(c, tenant, id)?;
    let ids = ttds::table
        .filter(ttds::target_type_id.eq(t.id))
        .select(ttds::ds_type_id);
    Ok(ds_types::table
        .filter(ds_types::tenant.eq(tenant))
        .filter(ds_types::id.eq_any(ids))
        .order(ds_types::id.asc())
        .select(DsType::as_select())
        .load(c)?)
}

/// Makes the distribution set types `ds_type_ids` compatible with the tenant's type `id`.
pub fn add_compatible(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    ds_type_ids: &[i64],
    by: &str,
    now: i64,
) -> Result<()> {
    let t = find(c, tenant, id)?;
    add_compatibles(c, tenant, t.id, ds_type_ids)?;
    touch(c, t.id, by, now)
}

/// Makes the distribution set type `ds` no longer compatible with the tenant's type `id`.
pub fn remove_compatible(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    ds: i64,
    by: &str,
    now: i64,
) -> Result<()> {
    let t = find(c, tenant, id)?;
    super::ds::find(c, tenant, ds)?;
    diesel::delete(ttds::table.filter(ttds::target_type_id.eq(t.id).and(ttds::ds_type_id.eq(ds))))
        .execute(c)?;
    touch(c, t.id, by, now)
}

/// Gives the tenant's target `controller_id` the type `ty` (`None`: no type). The device's cached
/// answer goes with it.
pub fn set_target_type(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    ty: Option<i64>,
    by: &str,
    now: i64,
) -> Result<Changes> {
    let t = find_target(c, tenant, controller_id)?;
    if let Some(ty) = ty {
        find(c, tenant, ty)?;
    }
    diesel::update(targets::table.find(t.id))
        .set((
            targets::target_type_id.eq(ty),
            targets::last_modified_at.eq(now),
            targets::last_modified_by.eq(by),
        ))
        .execute(c)?;
    Ok(Changes::device(tenant, controller_id))
}
