//! What the web UI's distribution set pages show: the list with the create form's choices, and one
//! set with its modules and metadata.

use diesel::prelude::*;

use crate::store::schema::{
    distribution_sets, ds_metadata, ds_modules, ds_types, sm_types, software_modules,
};
use crate::store::{AnyConnection, Error, Result};

/// A set on the list: id, name, version, type name, valid, locked.
pub type SetRow = (i64, String, String, String, bool, bool);

/// One page of the tenant's live sets, newest first, with the choices of the create form.
#[derive(Debug)]
pub struct SetList {
    pub rows: Vec<SetRow>,
    pub total: i64,
    /// Live set types: key, name, description.
    pub types: Vec<(String, String, Option<String>)>,
    /// The newest 200 live modules: id, name, version, type name.
    pub modules: Vec<(i64, String, String, String)>,
}

pub fn set_list(c: &mut AnyConnection, tenant: &str, offset: i64, limit: i64) -> Result<SetList> {
    let mine = || {
        distribution_sets::table
            .filter(distribution_sets::tenant.eq(tenant))
            .filter(distribution_sets::deleted.eq(false))
    };
    let total: i64 = mine().count().get_result(c)?;
    let rows: Vec<SetRow> = mine()
        .inner_join(ds_types::table)
        .order(distribution_sets::id.desc())
        .offset(offset)
        .limit(limit)
        .select((
            distribution_sets::id,
            distribution_sets::name,
            distribution_sets::version,
            ds_types::name,
            distribution_sets::valid,
            distribution_sets::locked,
        ))
        .load(c)?;
    let types = ds_types::table
        .filter(ds_types::tenant.eq(tenant).and(ds_types::deleted.eq(false)))
        .order(ds_types::name.asc())
        .select((ds_types::type_key, ds_types::name, ds_types::description))
        .load(c)?;
    let modules = software_modules::table
        .inner_join(sm_types::table)
        .filter(
            software_modules::tenant
                .eq(tenant)
                .and(software_modules::deleted.eq(false)),
        )
        .order(software_modules::id.desc())
        .limit(200)
        .select((
            software_modules::id,
            software_modules::name,
            software_modules::version,
            sm_types::name,
        ))
        .load(c)?;
    Ok(SetList {
        rows,
        total,
        types,
        modules,
    })
}

/// One live set: name, version, type name, valid, locked; its modules (id, name, version) and its
/// metadata by key.
#[derive(Debug)]
pub struct SetPage {
    pub name: String,
    pub version: String,
    pub type_name: String,
    pub valid: bool,
    pub locked: bool,
    pub modules: Vec<(i64, String, String)>,
    pub metadata: Vec<(String, String)>,
}

pub fn set_page(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<SetPage> {
    let (name, version, type_name, valid, locked) = distribution_sets::table
        .inner_join(ds_types::table)
        .filter(
            distribution_sets::id
                .eq(id)
                .and(distribution_sets::tenant.eq(tenant)),
        )
        .filter(distribution_sets::deleted.eq(false))
        .select((
            distribution_sets::name,
            distribution_sets::version,
            ds_types::name,
            distribution_sets::valid,
            distribution_sets::locked,
        ))
        .first::<(String, String, String, bool, bool)>(c)
        .optional()?
        .ok_or_else(|| Error::not_found("DistributionSet", id))?;
    let modules = ds_modules::table
        .inner_join(software_modules::table)
        .filter(ds_modules::ds_id.eq(id))
        .select((
            software_modules::id,
            software_modules::name,
            software_modules::version,
        ))
        .load(c)?;
    let metadata = ds_metadata::table
        .filter(ds_metadata::ds_id.eq(id))
        .order(ds_metadata::meta_key.asc())
        .select((ds_metadata::meta_key, ds_metadata::meta_value))
        .load(c)?;
    Ok(SetPage {
        name,
        version,
        type_name,
        valid,
        locked,
        modules,
        metadata,
    })
}
