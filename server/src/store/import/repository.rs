//! The repository side of an import: module, set and target types, software modules with their
//! metadata and artifacts, distribution sets with their metadata, and tags.

use diesel::prelude::*;

use super::{Audit, Outcome};
use crate::store::schema::{
    artifacts, distribution_sets, ds_modules, ds_tag_assignments, ds_tags, ds_type_sm_types, ds_types,
    sm_types, software_modules, target_tag_assignments, target_tags, target_type_ds_types, target_types,
};
use crate::store::tags::Kind;
use crate::store::{AnyConnection, Result};

/// A type as hawkBit describes it (module, set and target types share these fields).
#[derive(Debug, Clone, Default)]
pub struct TypeIn {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub deleted: bool,
    /// Module types only: how many modules of the type a set may hold, and artifacts a module needs.
    pub max_assignments: i32,
    pub min_artifacts: i32,
    pub audit: Audit,
}

/// The tenant's software module type `t` (by key): its id, and whether it was added.
pub fn sm_type(c: &mut AnyConnection, tenant: &str, t: &TypeIn) -> Result<(i64, Outcome)> {
    let found: Option<i64> = sm_types::table
        .filter(sm_types::tenant.eq(tenant).and(sm_types::type_key.eq(&t.key)))
        .select(sm_types::id)
        .first(c)
        .optional()?;
    if let Some(id) = found {
        return Ok((id, Outcome::Unchanged));
    }
    let id = diesel::insert_into(sm_types::table)
        .values((
            sm_types::tenant.eq(tenant),
            sm_types::type_key.eq(&t.key),
            sm_types::name.eq(&t.name),
            sm_types::description.eq(&t.description),
            sm_types::colour.eq(&t.colour),
            sm_types::max_assignments.eq(t.max_assignments.max(1)),
            sm_types::min_artifacts.eq(t.min_artifacts.max(0)),
            sm_types::deleted.eq(t.deleted),
            sm_types::created_at.eq(t.audit.created_at),
            sm_types::created_by.eq(&t.audit.created_by),
            sm_types::last_modified_at.eq(t.audit.last_modified_at),
            sm_types::last_modified_by.eq(&t.audit.last_modified_by),
        ))
        .returning(sm_types::id)
        .get_result(c)?;
    Ok((id, Outcome::Added))
}

/// The tenant's set type `t` (by key) with the module types it takes (`(module type, mandatory)`);
/// links missing from an existing type are added.
pub fn ds_type(
    c: &mut AnyConnection,
    tenant: &str,
    t: &TypeIn,
    modules: &[(i64, bool)],
) -> Result<(i64, Outcome)> {
    let found: Option<i64> = ds_types::table
        .filter(ds_types::tenant.eq(tenant).and(ds_types::type_key.eq(&t.key)))
        .select(ds_types::id)
        .first(c)
        .optional()?;
    let (id, mut outcome) = match found {
        Some(id) => (id, Outcome::Unchanged),
        None => {
            let id = diesel::insert_into(ds_types::table)
                .values((
                    ds_types::tenant.eq(tenant),
                    ds_types::type_key.eq(&t.key),
                    ds_types::name.eq(&t.name),
                    ds_types::description.eq(&t.description),
                    ds_types::colour.eq(&t.colour),
                    ds_types::deleted.eq(t.deleted),
                    ds_types::created_at.eq(t.audit.created_at),
                    ds_types::created_by.eq(&t.audit.created_by),
                    ds_types::last_modified_at.eq(t.audit.last_modified_at),
                    ds_types::last_modified_by.eq(&t.audit.last_modified_by),
                ))
                .returning(ds_types::id)
                .get_result(c)?;
            (id, Outcome::Added)
        }
    };
    let linked: Vec<i64> = ds_type_sm_types::table
        .filter(ds_type_sm_types::ds_type_id.eq(id))
        .select(ds_type_sm_types::sm_type_id)
        .load(c)?;
    for (sm, mandatory) in modules.iter().filter(|(sm, _)| !linked.contains(sm)) {
        diesel::insert_into(ds_type_sm_types::table)
            .values((
                ds_type_sm_types::ds_type_id.eq(id),
                ds_type_sm_types::sm_type_id.eq(sm),
                ds_type_sm_types::mandatory.eq(mandatory),
            ))
            .execute(c)?;
        if outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
    }
    Ok((id, outcome))
}

/// The tenant's target type `t` (by key) with the set types it is compatible with; compatible
/// types missing from an existing one are added.
pub fn target_type(
    c: &mut AnyConnection,
    tenant: &str,
    t: &TypeIn,
    compatible: &[i64],
) -> Result<(i64, Outcome)> {
    let found: Option<i64> = target_types::table
        .filter(
            target_types::tenant
                .eq(tenant)
                .and(target_types::type_key.eq(&t.key)),
        )
        .select(target_types::id)
        .first(c)
        .optional()?;
    let (id, mut outcome) = match found {
        Some(id) => (id, Outcome::Unchanged),
        None => {
            let id = diesel::insert_into(target_types::table)
                .values((
                    target_types::tenant.eq(tenant),
                    target_types::type_key.eq(&t.key),
                    target_types::name.eq(&t.name),
                    target_types::description.eq(&t.description),
                    target_types::colour.eq(&t.colour),
                    target_types::created_at.eq(t.audit.created_at),
                    target_types::created_by.eq(&t.audit.created_by),
                    target_types::last_modified_at.eq(t.audit.last_modified_at),
                    target_types::last_modified_by.eq(&t.audit.last_modified_by),
                ))
                .returning(target_types::id)
                .get_result(c)?;
            (id, Outcome::Added)
        }
    };
    let linked: Vec<i64> = target_type_ds_types::table
        .filter(target_type_ds_types::target_type_id.eq(id))
        .select(target_type_ds_types::ds_type_id)
        .load(c)?;
    for ds in compatible.iter().filter(|ds| !linked.contains(ds)) {
        diesel::insert_into(target_type_ds_types::table)
            .values((
                target_type_ds_types::target_type_id.eq(id),
                target_type_ds_types::ds_type_id.eq(ds),
            ))
            .execute(c)?;
        if outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
    }
    Ok((id, outcome))
}

/// A software module as hawkBit describes it; `sm_type_id` is the local type.
#[derive(Debug, Clone, Default)]
pub struct ModuleIn {
    pub sm_type_id: i64,
    pub name: String,
    pub version: String,
    pub vendor: Option<String>,
    pub description: Option<String>,
    pub encrypted: bool,
    pub locked: bool,
    pub deleted: bool,
    pub audit: Audit,
}

/// The tenant's module `m` (by type, name and version); an existing one takes the source's locked
/// and deleted state, description and vendor.
pub fn software_module(c: &mut AnyConnection, tenant: &str, m: &ModuleIn) -> Result<(i64, Outcome)> {
    type Row = (i64, Option<String>, Option<String>, bool, bool);
    let found: Option<Row> = software_modules::table
        .filter(
            software_modules::tenant
                .eq(tenant)
                .and(software_modules::sm_type_id.eq(m.sm_type_id))
                .and(software_modules::name.eq(&m.name))
                .and(software_modules::version.eq(&m.version)),
        )
        .select((
            software_modules::id,
            software_modules::vendor,
            software_modules::description,
            software_modules::locked,
            software_modules::deleted,
        ))
        .first(c)
        .optional()?;
    if let Some((id, vendor, description, locked, deleted)) = found {
        if (vendor, description, locked, deleted)
            == (m.vendor.clone(), m.description.clone(), m.locked, m.deleted)
        {
            return Ok((id, Outcome::Unchanged));
        }
        diesel::update(software_modules::table.find(id))
            .set((
                software_modules::vendor.eq(&m.vendor),
                software_modules::description.eq(&m.description),
                software_modules::locked.eq(m.locked),
                software_modules::deleted.eq(m.deleted),
                software_modules::last_modified_at.eq(m.audit.last_modified_at),
                software_modules::last_modified_by.eq(&m.audit.last_modified_by),
            ))
            .execute(c)?;
        return Ok((id, Outcome::Updated));
    }
    let id = diesel::insert_into(software_modules::table)
        .values((
            software_modules::tenant.eq(tenant),
            software_modules::sm_type_id.eq(m.sm_type_id),
            software_modules::name.eq(&m.name),
            software_modules::version.eq(&m.version),
            software_modules::vendor.eq(&m.vendor),
            software_modules::description.eq(&m.description),
            software_modules::encrypted.eq(m.encrypted),
            software_modules::locked.eq(m.locked),
            software_modules::deleted.eq(m.deleted),
            software_modules::created_at.eq(m.audit.created_at),
            software_modules::created_by.eq(&m.audit.created_by),
            software_modules::last_modified_at.eq(m.audit.last_modified_at),
            software_modules::last_modified_by.eq(&m.audit.last_modified_by),
        ))
        .returning(software_modules::id)
        .get_result(c)?;
    Ok((id, Outcome::Added))
}

/// Whether the module has the artifact `filename` with this SHA-256 already (then its bytes need
/// not be fetched again).
pub fn has_artifact(c: &mut AnyConnection, sm_id: i64, filename: &str, sha256: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        artifacts::table.filter(
            artifacts::sm_id
                .eq(sm_id)
                .and(artifacts::filename.eq(filename))
                .and(artifacts::sha256.eq(sha256)),
        ),
    ))
    .get_result(c)?)
}

/// Whether the module has an artifact named `filename` (which an import of other bytes replaces).
pub fn has_artifact_named(c: &mut AnyConnection, sm_id: i64, filename: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        artifacts::table.filter(artifacts::sm_id.eq(sm_id).and(artifacts::filename.eq(filename))),
    ))
    .get_result(c)?)
}

/// An artifact whose bytes the artifact store holds, with the digests it computed.
#[derive(Debug, Clone, Default)]
pub struct ArtifactIn {
    pub filename: String,
    pub size: i64,
    pub sha1: String,
    pub md5: String,
    pub sha256: String,
    pub audit: Audit,
    /// What a `.swu` installs (see `NewArtifact`).
    pub image_sha256: Option<String>,
    pub patch_source_sha256: Option<String>,
}

/// Records the artifact `a` of module `sm_id`, replacing one of the same name with other bytes.
pub fn artifact(c: &mut AnyConnection, sm_id: i64, a: &ArtifactIn) -> Result<Outcome> {
    if has_artifact(c, sm_id, &a.filename, &a.sha256)? {
        return Ok(Outcome::Unchanged);
    }
    let replaced = diesel::delete(
        artifacts::table.filter(
            artifacts::sm_id
                .eq(sm_id)
                .and(artifacts::filename.eq(&a.filename)),
        ),
    )
    .execute(c)?;
    diesel::insert_into(artifacts::table)
        .values((
            artifacts::sm_id.eq(sm_id),
            artifacts::filename.eq(&a.filename),
            artifacts::size.eq(a.size),
            artifacts::sha1.eq(&a.sha1),
            artifacts::md5.eq(&a.md5),
            artifacts::sha256.eq(&a.sha256),
            artifacts::created_at.eq(a.audit.created_at),
            artifacts::created_by.eq(&a.audit.created_by),
            artifacts::last_modified_at.eq(a.audit.last_modified_at),
            artifacts::last_modified_by.eq(&a.audit.last_modified_by),
            artifacts::image_sha256.eq(&a.image_sha256),
            artifacts::patch_source_sha256.eq(&a.patch_source_sha256),
        ))
        .execute(c)?;
    Ok(if replaced > 0 {
        Outcome::Updated
    } else {
        Outcome::Added
    })
}

/// A distribution set as hawkBit describes it; `ds_type_id` is the local type.
#[derive(Debug, Clone, Default)]
pub struct SetIn {
    pub ds_type_id: i64,
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub required_migration_step: bool,
    pub locked: bool,
    pub deleted: bool,
    pub valid: bool,
    pub audit: Audit,
}

/// The tenant's set `s` (by name and version) holding the local modules `modules`: an existing set
/// takes the source's locked, deleted and valid state and gains modules it lacks.
pub fn distribution_set(
    c: &mut AnyConnection,
    tenant: &str,
    s: &SetIn,
    modules: &[i64],
) -> Result<(i64, Outcome)> {
    let found: Option<(i64, Option<String>, bool, bool, bool, bool)> = distribution_sets::table
        .filter(
            distribution_sets::tenant
                .eq(tenant)
                .and(distribution_sets::name.eq(&s.name))
                .and(distribution_sets::version.eq(&s.version)),
        )
        .select((
            distribution_sets::id,
            distribution_sets::description,
            distribution_sets::required_migration_step,
            distribution_sets::locked,
            distribution_sets::deleted,
            distribution_sets::valid,
        ))
        .first(c)
        .optional()?;
    let (id, mut outcome) = match found {
        Some((id, description, migration, locked, deleted, valid)) => {
            let same = (description, migration, locked, deleted, valid)
                == (
                    s.description.clone(),
                    s.required_migration_step,
                    s.locked,
                    s.deleted,
                    s.valid,
                );
            if !same {
                diesel::update(distribution_sets::table.find(id))
                    .set((
                        distribution_sets::description.eq(&s.description),
                        distribution_sets::required_migration_step.eq(s.required_migration_step),
                        distribution_sets::locked.eq(s.locked),
                        distribution_sets::deleted.eq(s.deleted),
                        distribution_sets::valid.eq(s.valid),
                        distribution_sets::last_modified_at.eq(s.audit.last_modified_at),
                        distribution_sets::last_modified_by.eq(&s.audit.last_modified_by),
                    ))
                    .execute(c)?;
            }
            (id, Outcome::changed_if(!same))
        }
        None => {
            let id = diesel::insert_into(distribution_sets::table)
                .values((
                    distribution_sets::tenant.eq(tenant),
                    distribution_sets::ds_type_id.eq(s.ds_type_id),
                    distribution_sets::name.eq(&s.name),
                    distribution_sets::version.eq(&s.version),
                    distribution_sets::description.eq(&s.description),
                    distribution_sets::required_migration_step.eq(s.required_migration_step),
                    distribution_sets::locked.eq(s.locked),
                    distribution_sets::deleted.eq(s.deleted),
                    distribution_sets::valid.eq(s.valid),
                    distribution_sets::created_at.eq(s.audit.created_at),
                    distribution_sets::created_by.eq(&s.audit.created_by),
                    distribution_sets::last_modified_at.eq(s.audit.last_modified_at),
                    distribution_sets::last_modified_by.eq(&s.audit.last_modified_by),
                ))
                .returning(distribution_sets::id)
                .get_result(c)?;
            (id, Outcome::Added)
        }
    };
    let linked: Vec<i64> = ds_modules::table
        .filter(ds_modules::ds_id.eq(id))
        .select(ds_modules::sm_id)
        .load(c)?;
    for sm in modules.iter().filter(|sm| !linked.contains(sm)) {
        diesel::insert_into(ds_modules::table)
            .values((ds_modules::ds_id.eq(id), ds_modules::sm_id.eq(sm)))
            .execute(c)?;
        if outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
    }
    Ok((id, outcome))
}

/// A tag as hawkBit describes it.
#[derive(Debug, Clone, Default)]
pub struct TagIn {
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub audit: Audit,
}

/// The tenant's tag `t` of `kind` (by name): its id, and whether it was added.
pub fn tag(c: &mut AnyConnection, kind: Kind, tenant: &str, t: &TagIn) -> Result<(i64, Outcome)> {
    macro_rules! upsert {
        ($table:ident) => {{
            let found: Option<i64> = $table::table
                .filter($table::tenant.eq(tenant).and($table::name.eq(&t.name)))
                .select($table::id)
                .first(c)
                .optional()?;
            if let Some(id) = found {
                return Ok((id, Outcome::Unchanged));
            }
            let id = diesel::insert_into($table::table)
                .values((
                    $table::tenant.eq(tenant),
                    $table::name.eq(&t.name),
                    $table::description.eq(&t.description),
                    $table::colour.eq(&t.colour),
                    $table::created_at.eq(t.audit.created_at),
                    $table::created_by.eq(&t.audit.created_by),
                    $table::last_modified_at.eq(t.audit.last_modified_at),
                    $table::last_modified_by.eq(&t.audit.last_modified_by),
                ))
                .returning($table::id)
                .get_result(c)?;
            Ok((id, Outcome::Added))
        }};
    }
    match kind {
        Kind::Target => upsert!(target_tags),
        Kind::DistributionSet => upsert!(ds_tags),
    }
}

/// Marks the entities `ids` (targets or sets, by `kind`) with the tag; returns how many were not
/// marked before.
pub fn tag_entities(c: &mut AnyConnection, kind: Kind, tag: i64, ids: &[i64]) -> Result<usize> {
    let mut added = 0;
    for id in ids {
        added += match kind {
            Kind::Target => {
                let exists: bool =
                    diesel::select(diesel::dsl::exists(target_tag_assignments::table.find((tag, id))))
                        .get_result(c)?;
                if exists {
                    0
                } else {
                    diesel::insert_into(target_tag_assignments::table)
                        .values((
                            target_tag_assignments::tag_id.eq(tag),
                            target_tag_assignments::target_id.eq(id),
                        ))
                        .execute(c)?
                }
            }
            Kind::DistributionSet => {
                let exists: bool =
                    diesel::select(diesel::dsl::exists(ds_tag_assignments::table.find((tag, id))))
                        .get_result(c)?;
                if exists {
                    0
                } else {
                    diesel::insert_into(ds_tag_assignments::table)
                        .values((
                            ds_tag_assignments::tag_id.eq(tag),
                            ds_tag_assignments::ds_id.eq(id),
                        ))
                        .execute(c)?
                }
            }
        };
    }
    Ok(added)
}
