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

/// The target attribute in which the Updraft agent lists the delta forms it installs
/// (`chunk,patch`; issue 18).
pub const DELTA_ATTRIBUTE: &str = "updraft.delta";

/// Whether an [`DELTA_ATTRIBUTE`] value lists the form `form` (`chunk`, `patch`).
pub fn lists_form(value: &str, form: &str) -> bool {
    value.split(',').any(|f| f.trim() == form)
}

/// The set's modules as the target `target_id` is offered them (issue 18, item 2): a per-source
/// patch artifact only to a target whose [`DELTA_ATTRIBUTE`] lists `patch`, and only one whose
/// source image is what its installed set's bundle installed; every other target (SWUpdate, RAUC,
/// hawkBit clients) sees no patch artifact at all, so its view is the one it had before patches.
/// Without a target (one list for many, as DMF's batch messages send it) no patch is listed.
pub fn deployment_modules_for(
    c: &mut AnyConnection,
    ds_id: i64,
    target_id: Option<i64>,
) -> Result<Vec<DeploymentModule>> {
    let mut modules = deployment_modules(c, ds_id)?;
    let has_patch = modules
        .iter()
        .any(|m| m.artifacts.iter().any(|a| a.patch_source_sha256.is_some()));
    if !has_patch {
        return Ok(modules);
    }
    let sources = match target_id {
        Some(t) => patch_sources(c, t)?,
        None => Vec::new(),
    };
    for m in &mut modules {
        m.artifacts
            .retain(|a| a.patch_source_sha256.as_ref().is_none_or(|s| sources.contains(s)));
    }
    Ok(modules)
}

/// The images a patch offered to the target may start from: what its installed set's bundles
/// install, when it takes patches; none otherwise.
fn patch_sources(c: &mut AnyConnection, target_id: i64) -> Result<Vec<String>> {
    use super::schema::{target_attributes, targets};
    let delta: Option<String> = target_attributes::table
        .filter(
            target_attributes::target_id
                .eq(target_id)
                .and(target_attributes::attr_key.eq(DELTA_ATTRIBUTE)),
        )
        .select(target_attributes::attr_value)
        .first(c)
        .optional()?;
    if !delta.is_some_and(|v| lists_form(&v, "patch")) {
        return Ok(Vec::new());
    }
    let installed: Option<i64> = targets::table
        .find(target_id)
        .select(targets::installed_ds_id)
        .first::<Option<i64>>(c)
        .optional()?
        .flatten();
    match installed {
        Some(ds) => installed_images(c, ds),
        None => Ok(Vec::new()),
    }
}

/// The images the full and chunk-delta bundles of the set `ds_id` install (their
/// `image-sha256`), each once.
pub fn installed_images(c: &mut AnyConnection, ds_id: i64) -> Result<Vec<String>> {
    let mut images: Vec<String> = schema::artifacts::table
        .filter(
            schema::artifacts::sm_id.eq_any(
                ds_modules::table
                    .filter(ds_modules::ds_id.eq(ds_id))
                    .select(ds_modules::sm_id),
            ),
        )
        .filter(schema::artifacts::patch_source_sha256.is_null())
        .select(schema::artifacts::image_sha256.assume_not_null())
        .filter(schema::artifacts::image_sha256.is_not_null())
        .load(c)?;
    images.sort();
    images.dedup();
    Ok(images)
}
