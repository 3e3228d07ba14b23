//! Software modules and their artifacts: as devices see them (here), as operators manage them
//! ([`modules`]: create, list, change, delete; [`artifacts`]: record, read and delete uploads).

mod artifact_rules;
pub mod artifacts;
mod modules;

pub use artifacts::{artifact_named, artifacts_of};
pub use modules::{
    ModuleChange, ModulePage, ModuleSummary, ModuleView, NewModule, create_modules, delete_module,
    find_module, list_modules, module_page, module_view, summaries, update_module,
};

use diesel::dsl::exists;
use diesel::prelude::*;

use super::models::{ActionStatus, Artifact, Target};
use super::schema::{self, actions, ds_modules, sm_metadata, sm_types, software_modules};
use super::{AnyConnection, Result};

/// Whether the device may read the module's artifacts: while one of its actions that are not canceled
/// contains the module (hawkBit 0.3 semantics, a superset of the current ones). With `any_module`
/// (the tenant switched the check off), every module of the tenant.
pub fn module_visible(c: &mut AnyConnection, target: &Target, sm_id: i64, any_module: bool) -> Result<bool> {
    if any_module {
        return Ok(diesel::select(exists(
            software_modules::table.filter(
                software_modules::id
                    .eq(sm_id)
                    .and(software_modules::tenant.eq(&target.tenant)),
            ),
        ))
        .get_result(c)?);
    }
    let canceled = [ActionStatus::Canceled.as_str(), ActionStatus::Canceling.as_str()];
    Ok(diesel::select(exists(
        actions::table
            .inner_join(ds_modules::table.on(ds_modules::ds_id.eq(actions::ds_id)))
            .filter(actions::target_id.eq(target.id))
            .filter(ds_modules::sm_id.eq(sm_id))
            .filter(actions::status.ne_all(canceled)),
    ))
    .get_result(c)?)
}

/// One module of a distribution set as a device installs it.
#[derive(Debug, Clone)]
pub struct DeploymentModule {
    pub id: i64,
    /// The module type's key (`os`, `application`, …).
    pub type_key: String,
    pub name: String,
    pub version: String,
    pub encrypted: bool,
    pub artifacts: Vec<Artifact>,
    /// Metadata marked visible to targets, by key.
    pub metadata: Vec<(String, String)>,
}

/// The set's modules, by id, each with its artifacts and target-visible metadata.
pub fn deployment_modules(c: &mut AnyConnection, ds_id: i64) -> Result<Vec<DeploymentModule>> {
    let modules: Vec<(i64, String, String, String, bool)> = ds_modules::table
        .inner_join(software_modules::table.inner_join(sm_types::table))
        .filter(ds_modules::ds_id.eq(ds_id))
        .order(software_modules::id.asc())
        .select((
            software_modules::id,
            sm_types::type_key,
            software_modules::version,
            software_modules::name,
            software_modules::encrypted,
        ))
        .load(c)?;
    let ids: Vec<i64> = modules.iter().map(|m| m.0).collect();
    let all_artifacts: Vec<Artifact> = schema::artifacts::table
        .filter(schema::artifacts::sm_id.eq_any(&ids))
        .order(schema::artifacts::id.asc())
        .select(Artifact::as_select())
        .load(c)?;
    let metadata: Vec<(i64, String, String)> = sm_metadata::table
        .filter(
            sm_metadata::sm_id
                .eq_any(&ids)
                .and(sm_metadata::target_visible.eq(true)),
        )
        .order(sm_metadata::meta_key.asc())
        .select((sm_metadata::sm_id, sm_metadata::meta_key, sm_metadata::meta_value))
        .load(c)?;
    Ok(modules
        .into_iter()
        .map(|(id, type_key, version, name, encrypted)| DeploymentModule {
            id,
            type_key,
            name,
            version,
            encrypted,
            artifacts: all_artifacts.iter().filter(|a| a.sm_id == id).cloned().collect(),
            metadata: metadata
                .iter()
                .filter(|m| m.0 == id)
                .map(|m| (m.1.clone(), m.2.clone()))
                .collect(),
        })
        .collect())
}
