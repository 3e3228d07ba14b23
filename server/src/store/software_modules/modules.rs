//! Software modules as operators manage them: create (the Management API's and the web UI's), list,
//! read, change and delete, and the read models their pages render.

use diesel::prelude::*;

use crate::store::models::{Artifact, SmType, SoftwareModule};
use crate::store::schema::{artifacts, ds_modules, sm_metadata, sm_types, software_modules};
use crate::store::{AnyConnection, Error, ListQuery, Paged, Result, Rule, check_len};

/// hawkBit's longest module name, version, description and vendor.
const NAME_MAX: usize = 128;
const VERSION_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 512;
const VENDOR_MAX: usize = 256;

/// The tenant's module `id`, deleted or not; not found otherwise.
pub fn find_module(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<SoftwareModule> {
    software_modules::table
        .filter(
            software_modules::id
                .eq(id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .select(SoftwareModule::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("SoftwareModule", id))
}

/// A module with what its answer shows of its type and artifacts.
#[derive(Debug, Clone)]
pub struct ModuleView {
    pub module: SoftwareModule,
    pub type_key: String,
    pub type_name: String,
    /// Whether it has the artifacts its type requires (`min_artifacts`).
    pub complete: bool,
}

/// The module `id` (found already) with its type and completeness.
pub fn module_view(c: &mut AnyConnection, id: i64) -> Result<ModuleView> {
    let (module, ty): (SoftwareModule, SmType) = software_modules::table
        .inner_join(sm_types::table)
        .filter(software_modules::id.eq(id))
        .select((SoftwareModule::as_select(), SmType::as_select()))
        .first(c)?;
    let count: i64 = artifacts::table
        .filter(artifacts::sm_id.eq(id))
        .count()
        .get_result(c)?;
    Ok(ModuleView {
        module,
        type_key: ty.type_key,
        type_name: ty.name,
        complete: count >= i64::from(ty.min_artifacts),
    })
}

/// One page of the tenant's modules whose `deleted` flag is one of `deleted`.
pub fn list_modules(
    c: &mut AnyConnection,
    tenant: &str,
    deleted: &[bool],
    list: &ListQuery,
) -> Result<Paged<ModuleView>> {
    let ids: Paged<i64> = crate::store::page::paginate!(
        c,
        software_modules::table
            .filter(
                software_modules::tenant
                    .eq(tenant)
                    .and(software_modules::deleted.eq_any(deleted)),
            )
            .select(software_modules::id),
        list
    );
    let rows = ids
        .rows
        .iter()
        .map(|id| module_view(c, *id))
        .collect::<Result<_>>()?;
    Ok(Paged {
        rows,
        total: ids.total,
    })
}

/// A software module to create; its type by key.
#[derive(Debug, Clone, Default)]
pub struct NewModule {
    pub name: String,
    pub version: String,
    pub type_key: String,
    pub description: Option<String>,
    pub vendor: Option<String>,
    /// Asks for encrypted artifacts, which Updraft does not support.
    pub encrypted: bool,
}

impl NewModule {
    /// Lengths, a name and a version, no encryption.
    fn check(&self) -> Result<()> {
        check_len("name", &self.name, NAME_MAX)?;
        check_len("version", &self.version, VERSION_MAX)?;
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        check_len("vendor", self.vendor.as_deref().unwrap_or(""), VENDOR_MAX)?;
        if self.name.trim().is_empty() || self.version.trim().is_empty() {
            return Err(Error::refused(
                Rule::Constraint,
                "name and version must not be empty.",
            ));
        }
        if self.encrypted {
            return Err(Error::refused(
                Rule::UploadFailed,
                "Artifact encryption is not supported.",
            ));
        }
        Ok(())
    }
}

/// Creates the software modules `modules` of `tenant`: checks them all, then writes them; all or
/// (on the first refusal, unknown type or taken name and version) none.
pub fn create_modules(
    c: &mut AnyConnection,
    tenant: &str,
    modules: &[NewModule],
    by: &str,
    now: i64,
) -> Result<Vec<ModuleView>> {
    for m in modules {
        m.check()?;
    }
    let mut out = Vec::with_capacity(modules.len());
    for m in modules {
        let sm_type = crate::store::types::sm::id_by_key(c, tenant, &m.type_key)?;
        let id: i64 = diesel::insert_into(software_modules::table)
            .values((
                software_modules::tenant.eq(tenant),
                software_modules::sm_type_id.eq(sm_type),
                software_modules::name.eq(&m.name),
                software_modules::version.eq(&m.version),
                software_modules::vendor.eq(&m.vendor),
                software_modules::description.eq(&m.description),
                software_modules::encrypted.eq(false),
                software_modules::locked.eq(false),
                software_modules::deleted.eq(false),
                software_modules::created_at.eq(now),
                software_modules::created_by.eq(by),
                software_modules::last_modified_at.eq(now),
                software_modules::last_modified_by.eq(by),
            ))
            .returning(software_modules::id)
            .get_result(c)
            .map_err(|e| {
                Error::taken(e, || {
                    format!(
                        "Software module {}:{} of type {} already exists.",
                        m.name, m.version, m.type_key
                    )
                })
            })?;
        out.push(module_view(c, id)?);
    }
    Ok(out)
}

/// What may change of a module; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct ModuleChange {
    pub description: Option<String>,
    pub vendor: Option<String>,
    /// `true` locks the module (its artifacts can no longer change), `false` unlocks it.
    pub locked: Option<bool>,
}

/// Changes the tenant's module `id` (not a deleted one) as `change` says.
pub fn update_module(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    change: &ModuleChange,
    by: &str,
    now: i64,
) -> Result<ModuleView> {
    check_len(
        "description",
        change.description.as_deref().unwrap_or(""),
        DESCRIPTION_MAX,
    )?;
    check_len("vendor", change.vendor.as_deref().unwrap_or(""), VENDOR_MAX)?;
    let sm = find_module(c, tenant, id)?;
    if sm.deleted {
        return Err(Error::not_found("SoftwareModule", id));
    }
    diesel::update(software_modules::table.find(id))
        .set((
            software_modules::description.eq(change.description.clone().or(sm.description)),
            software_modules::vendor.eq(change.vendor.clone().or(sm.vendor)),
            software_modules::locked.eq(change.locked.unwrap_or(sm.locked)),
            software_modules::last_modified_at.eq(now),
            software_modules::last_modified_by.eq(by),
        ))
        .execute(c)?;
    module_view(c, id)
}

/// Deletes the tenant's module `id`; one that a distribution set contains is only marked deleted,
/// as hawkBit does. The digests of the artifacts that went with it, whose blobs may now be unused.
pub fn delete_module(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<Vec<String>> {
    find_module(c, tenant, id)?;
    let in_ds: bool = diesel::select(diesel::dsl::exists(
        ds_modules::table.filter(ds_modules::sm_id.eq(id)),
    ))
    .get_result(c)?;
    if in_ds {
        diesel::update(software_modules::table.find(id))
            .set(software_modules::deleted.eq(true))
            .execute(c)?;
        return Ok(Vec::new());
    }
    let digests: Vec<String> = artifacts::table
        .filter(artifacts::sm_id.eq(id))
        .select(artifacts::sha256)
        .load(c)?;
    diesel::delete(software_modules::table.find(id)).execute(c)?;
    Ok(digests)
}

/// A line of the web UI's module list.
#[derive(Debug, Clone)]
pub struct ModuleSummary {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub type_name: String,
    pub vendor: Option<String>,
    pub locked: bool,
    /// How many artifacts it has.
    pub artifacts: i64,
}

/// The tenant's modules that are not deleted, newest first, `limit` from `offset`.
pub fn summaries(
    c: &mut AnyConnection,
    tenant: &str,
    offset: i64,
    limit: i64,
) -> Result<Paged<ModuleSummary>> {
    let mine = || {
        software_modules::table
            .filter(software_modules::tenant.eq(tenant))
            .filter(software_modules::deleted.eq(false))
    };
    let total: i64 = mine().count().get_result(c)?;
    let rows: Vec<(i64, String, String, String, Option<String>, bool)> = mine()
        .inner_join(sm_types::table)
        .order(software_modules::id.desc())
        .offset(offset)
        .limit(limit)
        .select((
            software_modules::id,
            software_modules::name,
            software_modules::version,
            sm_types::name,
            software_modules::vendor,
            software_modules::locked,
        ))
        .load(c)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let counts: Vec<(i64, i64)> = artifacts::table
        .filter(artifacts::sm_id.eq_any(&ids))
        .group_by(artifacts::sm_id)
        .select((artifacts::sm_id, diesel::dsl::count_star()))
        .load(c)?;
    let rows = rows
        .into_iter()
        .map(|(id, name, version, type_name, vendor, locked)| ModuleSummary {
            artifacts: counts.iter().find(|c| c.0 == id).map_or(0, |c| c.1),
            id,
            name,
            version,
            type_name,
            vendor,
            locked,
        })
        .collect();
    Ok(Paged { rows, total })
}

/// What the web UI's page of one module shows.
#[derive(Debug, Clone)]
pub struct ModulePage {
    pub module: SoftwareModule,
    pub type_name: String,
    /// By file name.
    pub artifacts: Vec<Artifact>,
    /// `(key, value, target_visible)`, by key.
    pub metadata: Vec<(String, String, bool)>,
}

/// The tenant's module `id` (not a deleted one) with its type's name, artifacts and metadata.
pub fn module_page(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<ModulePage> {
    let (module, type_name): (SoftwareModule, String) = software_modules::table
        .inner_join(sm_types::table)
        .filter(
            software_modules::id
                .eq(id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .filter(software_modules::deleted.eq(false))
        .select((SoftwareModule::as_select(), sm_types::name))
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("SoftwareModule", id))?;
    let artifacts = artifacts::table
        .filter(artifacts::sm_id.eq(id))
        .order(artifacts::filename.asc())
        .select(Artifact::as_select())
        .load(c)?;
    let metadata = sm_metadata::table
        .filter(sm_metadata::sm_id.eq(id))
        .order(sm_metadata::meta_key.asc())
        .select((
            sm_metadata::meta_key,
            sm_metadata::meta_value,
            sm_metadata::target_visible,
        ))
        .load(c)?;
    Ok(ModulePage {
        module,
        type_name,
        artifacts,
        metadata,
    })
}
