//! Reading the source's repository: module, set and target types, software modules with metadata
//! and artifacts, distribution sets with metadata, tags and what they mark.

use super::artifacts;
use super::progress::Progress;
use super::wire::{self, Module, Set, Tag, Type};
use super::{Ctx, ImportError};
use crate::store::import::Outcome;
use crate::store::import::repository::{self as store, ModuleIn, SetIn, TagIn, TypeIn};
use crate::store::metadata::{self, Entry, Found};
use crate::store::tags::Kind;

const SM_TYPES: &str = "module types";
const DS_TYPES: &str = "set types";
const TARGET_TYPES: &str = "target types";
const MODULES: &str = "software modules";
const SETS: &str = "distribution sets";

fn type_in(t: &Type, now: i64) -> TypeIn {
    TypeIn {
        key: t.key(),
        name: t.name.clone().unwrap_or_else(|| t.key()),
        description: t.description.clone(),
        colour: t.colour.clone(),
        deleted: t.deleted,
        max_assignments: t.max_assignments.unwrap_or(1),
        min_artifacts: t.min_artifacts.unwrap_or(0),
        audit: t.audited.audit(now),
    }
}

/// Module types, then set types with the module types they take, then target types with the set
/// types they are compatible with.
pub fn types(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let (tenant, now) = (cx.tenant.clone(), cx.now);
    let sm_types = cx.src.all::<Type>(
        SM_TYPES,
        "/rest/v1/softwaremoduletypes?soft_deleted_mode=INCLUDE_SOFT_DELETED",
    )?;
    for t in sm_types {
        let input = type_in(&t, now);
        let (id, outcome) = cx.write(|c| store::sm_type(c, &tenant, &input))?;
        cx.sm_types.insert(t.key(), id);
        cx.report.tally(SM_TYPES).count(outcome);
    }

    let ds_types = cx.src.all::<Type>(
        DS_TYPES,
        "/rest/v1/distributionsettypes?soft_deleted_mode=INCLUDE_SOFT_DELETED",
    )?;
    for t in ds_types {
        let mut modules = Vec::new();
        for (list, mandatory) in [("mandatorymoduletypes", true), ("optionalmoduletypes", false)] {
            let types: Vec<Type> = cx
                .src
                .get_optional(&format!("/rest/v1/distributionsettypes/{}/{list}", t.id))?
                .unwrap_or_default();
            for m in types {
                match cx.sm_types.get(&m.key()) {
                    Some(id) => modules.push((*id, mandatory)),
                    None => cx.report.tally(DS_TYPES).skipped.push(format!(
                        "{}: module type {} is unknown",
                        t.key(),
                        m.key()
                    )),
                }
            }
        }
        let input = type_in(&t, now);
        let (id, outcome) = cx.write(|c| store::ds_type(c, &tenant, &input, &modules))?;
        cx.ds_types.insert(t.key(), id);
        cx.report.tally(DS_TYPES).count(outcome);
    }

    for t in cx.src.all::<Type>(TARGET_TYPES, "/rest/v1/targettypes")? {
        let compatible: Vec<Type> = cx
            .src
            .get_optional(&format!(
                "/rest/v1/targettypes/{}/compatibledistributionsettypes",
                t.id
            ))?
            .unwrap_or_default();
        let compatible: Vec<i64> = compatible
            .iter()
            .filter_map(|d| cx.ds_types.get(&d.key()).copied())
            .collect();
        let input = type_in(&t, now);
        let (id, outcome) = cx.write(|c| store::target_type(c, &tenant, &input, &compatible))?;
        cx.target_types.insert(t.id, id);
        cx.report.tally(TARGET_TYPES).count(outcome);
    }
    Ok(())
}

/// Software modules with their metadata and artifacts (streamed into the artifact store).
pub fn modules(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let (tenant, now) = (cx.tenant.clone(), cx.now);
    let modules = cx.src.all::<Module>(
        MODULES,
        "/rest/v1/softwaremodules?soft_deleted_mode=INCLUDE_SOFT_DELETED",
    )?;
    for m in modules {
        let Some(&sm_type_id) = cx.sm_types.get(&m.type_key) else {
            cx.report.tally(MODULES).skipped.push(format!(
                "{} {}: its type {} is not in the source's type list",
                m.name, m.version, m.type_key
            ));
            continue;
        };
        let input = ModuleIn {
            sm_type_id,
            name: m.name.clone(),
            version: m.version.clone(),
            vendor: m.vendor.clone(),
            description: m.description.clone(),
            encrypted: m.encrypted,
            locked: m.locked,
            deleted: m.deleted,
            audit: m.audited.audit(now),
        };
        let entries: Vec<_> = cx
            .src
            .list::<wire::Metadata>(&format!("/rest/v1/softwaremodules/{}/metadata", m.id))?
            .into_iter()
            .map(wire::Metadata::entry)
            .collect();
        let (id, mut outcome) = cx.write(|c| {
            let (id, outcome) = store::software_module(c, &tenant, &input)?;
            let written = metadata::merge(c, Found::Sm(id), &entries)?;
            Ok((
                id,
                if outcome == Outcome::Unchanged && written > 0 {
                    Outcome::Updated
                } else {
                    outcome
                },
            ))
        })?;
        cx.modules.insert(m.id, id);
        if artifacts::of_module(cx, &m, id)? && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        cx.report.tally(MODULES).count(outcome);
    }
    Ok(())
}

/// Distribution sets with their modules, metadata and locked, valid and deleted state.
pub fn sets(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let (tenant, now) = (cx.tenant.clone(), cx.now);
    let sets = cx.src.all::<Set>(
        SETS,
        "/rest/v1/distributionsets?soft_deleted_mode=INCLUDE_SOFT_DELETED",
    )?;
    for s in sets {
        let type_key = s.type_key.clone().unwrap_or_else(|| "os_app".into());
        let Some(&ds_type_id) = cx.ds_types.get(&type_key) else {
            cx.report.tally(SETS).skipped.push(format!(
                "{}:{}: its type {type_key} is unknown",
                s.name, s.version
            ));
            continue;
        };
        let missing: Vec<i64> = s
            .modules
            .iter()
            .filter(|m| !cx.modules.contains_key(&m.id))
            .map(|m| m.id)
            .collect();
        if !missing.is_empty() {
            cx.report.tally(SETS).skipped.push(format!(
                "{}:{}: its modules {missing:?} were not imported",
                s.name, s.version
            ));
            continue;
        }
        let modules: Vec<i64> = s.modules.iter().map(|m| cx.modules[&m.id]).collect();
        let input = SetIn {
            ds_type_id,
            name: s.name.clone(),
            version: s.version.clone(),
            description: s.description.clone(),
            required_migration_step: s.required_migration_step,
            locked: s.locked,
            deleted: s.deleted,
            valid: s.valid.unwrap_or(true),
            audit: s.audited.audit(now),
        };
        let entries: Vec<_> = cx
            .src
            .list::<wire::Metadata>(&format!("/rest/v1/distributionsets/{}/metadata", s.id))?
            .into_iter()
            .map(|e| Entry {
                target_visible: false,
                ..e.entry()
            })
            .collect();
        let (id, outcome) = cx.write(|c| {
            let (id, outcome) = store::distribution_set(c, &tenant, &input, &modules)?;
            let written = metadata::merge(c, Found::Ds(id), &entries)?;
            Ok((
                id,
                if outcome == Outcome::Unchanged && written > 0 {
                    Outcome::Updated
                } else {
                    outcome
                },
            ))
        })?;
        cx.sets.insert(s.id, id);
        cx.report.tally(SETS).count(outcome);
    }
    Ok(())
}

/// The source's tags of `kind`: (source id, local id).
fn tag_list(cx: &mut Ctx<'_>, kind: Kind) -> Result<Vec<(i64, i64)>, ImportError> {
    let (path, label) = match kind {
        Kind::Target => ("/rest/v1/targettags", "target tags"),
        Kind::DistributionSet => ("/rest/v1/distributionsettags", "set tags"),
    };
    let (tenant, now) = (cx.tenant.clone(), cx.now);
    let mut ids = Vec::new();
    for t in cx.src.all::<Tag>(label, path)? {
        let input = TagIn {
            name: t.name.clone(),
            description: t.description.clone(),
            colour: t.colour.clone(),
            audit: t.audited.audit(now),
        };
        let (id, outcome) = cx.write(|c| store::tag(c, kind, &tenant, &input))?;
        cx.report.tally(label).count(outcome);
        ids.push((t.id, id));
    }
    Ok(ids)
}

/// Target tags and set tags (their assignments follow the targets, [`tag_assignments`]).
pub fn tags(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    cx.target_tags = tag_list(cx, Kind::Target)?;
    cx.set_tags = tag_list(cx, Kind::DistributionSet)?;
    Ok(())
}

/// Which targets and sets each tag marks.
pub fn tag_assignments(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    const LABEL: &str = "tag assignments";
    let (target_tags, set_tags) = (cx.target_tags.clone(), cx.set_tags.clone());
    let mut progress = Progress::new(LABEL, (target_tags.len() + set_tags.len()) as u64);
    let tenant = cx.tenant.clone();
    for (src_id, tag) in target_tags {
        let mut added = 0;
        let src = cx.src.clone();
        src.pages(
            &format!("/rest/v1/targettags/{src_id}/assigned"),
            |page: Vec<wire::Target>, _| {
                let cids: Vec<String> = page.into_iter().map(|t| t.controller_id).collect();
                added += cx.write(|c| {
                    let ids = crate::store::import::fleet::target_ids(c, &tenant, &cids)?;
                    let ids: Vec<i64> = ids.into_values().collect();
                    store::tag_entities(c, Kind::Target, tag, &ids)
                })?;
                Ok(())
            },
        )?;
        cx.report.tally(LABEL).added += added as u64;
        progress.inc(1);
    }
    for (src_id, tag) in set_tags {
        let ids: Vec<i64> = cx
            .src
            .list::<wire::IdOnly>(&format!("/rest/v1/distributionsettags/{src_id}/assigned"))?
            .iter()
            .filter_map(|s| cx.sets.get(&s.id).copied())
            .collect();
        let added = cx.write(|c| store::tag_entities(c, Kind::DistributionSet, tag, &ids))?;
        cx.report.tally(LABEL).added += added as u64;
        progress.inc(1);
    }
    progress.finish();
    Ok(())
}
