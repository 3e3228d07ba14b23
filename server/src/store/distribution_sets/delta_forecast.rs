//! What rolling a set out would make devices download (issue 18, item 2): per installed set, how
//! many devices would take a per-source patch, a chunk delta or the full bundle, and the bytes the
//! patches save against the full download. The same choice as `software_modules::
//! deployment_modules_for` makes for one device, counted for many in one grouped query.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::store::fleet_health::select::Select;
use crate::store::query::Sql;
use crate::store::schema::{artifacts, distribution_sets, ds_modules};
use crate::store::software_modules::{deployment_modules, lists_form};
use crate::store::target_counts::TargetCounts;
use crate::store::{AnyConnection, Result};

/// Devices on one installed set that would take a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchSource {
    /// The installed set (`name:version`).
    pub from: String,
    pub devices: i64,
    /// Size of the patch artifact each of them downloads.
    pub patch_bytes: i64,
    /// What one device saves against the full download of the patch's module.
    pub saved_per_device: i64,
}

/// The forecast for one set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaForecast {
    /// Whether the devices counted are those with the set assigned; otherwise (nobody has it
    /// assigned yet) every device that does not run it.
    pub assigned: bool,
    /// Devices that run the set already (assigned and installed: nothing to download).
    pub current: i64,
    pub patch: Vec<PatchSource>,
    /// Updraft agents without a matching patch, when the set has a `.zck` artifact.
    pub chunk: i64,
    pub full: i64,
    /// The set's artifacts other than patches, in bytes: what a full download fetches at most.
    pub full_bytes: i64,
    /// Bytes all patch-taking devices together save against their full downloads.
    pub saved: i64,
    /// Whether the set has patches or a `.zck` at all; otherwise every device takes the full
    /// download and no device is counted (the counts stay 0).
    pub has_delta: bool,
}

/// The forecast for the tenant's set `ds_id`; `counts` are the tenant's (the page reads them once
/// for this and for the set's installed and assigned figures).
pub fn forecast(
    c: &mut AnyConnection,
    tenant: &str,
    counts: &TargetCounts,
    ds_id: i64,
) -> Result<DeltaForecast> {
    let modules = deployment_modules(c, ds_id)?;
    let all: Vec<_> = modules.iter().flat_map(|m| m.artifacts.iter()).collect();
    let full_of_module = |sm: i64| -> i64 {
        all.iter()
            .filter(|a| a.sm_id == sm && a.patch_source_sha256.is_none())
            .map(|a| a.size)
            .sum()
    };
    let full_bytes: i64 = all
        .iter()
        .filter(|a| a.patch_source_sha256.is_none())
        .map(|a| a.size)
        .sum();
    let has_zck = all.iter().any(|a| {
        std::path::Path::new(&a.filename)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zck"))
    });
    let patches: Vec<_> = all.iter().filter(|a| a.patch_source_sha256.is_some()).collect();
    let mut out = DeltaForecast {
        full_bytes,
        has_delta: has_zck || !patches.is_empty(),
        ..DeltaForecast::default()
    };
    if !out.has_delta {
        // Every device takes the full download: nothing to count per device.
        return Ok(out);
    }
    let mut counted = devices_by_forms(c, tenant, counts, Some(ds_id))?;
    out.assigned = !counted.is_empty();
    if counted.is_empty() {
        counted = devices_by_forms(c, tenant, counts, None)?
            .into_iter()
            .filter(|(installed, _, _)| *installed != Some(ds_id))
            .collect();
    }
    // What each installed set's bundles install, for the patch sources.
    let installed: Vec<i64> = counted.iter().filter_map(|g| g.0).collect();
    let images: Vec<(i64, String)> = if patches.is_empty() || installed.is_empty() {
        Vec::new()
    } else {
        artifacts::table
            .inner_join(ds_modules::table.on(ds_modules::sm_id.eq(artifacts::sm_id)))
            .filter(ds_modules::ds_id.eq_any(&installed))
            .filter(artifacts::patch_source_sha256.is_null())
            .filter(artifacts::image_sha256.is_not_null())
            .select((ds_modules::ds_id, artifacts::image_sha256.assume_not_null()))
            .load(c)?
    };
    let mut by_source: BTreeMap<i64, PatchSource> = BTreeMap::new();
    for (installed, delta, devices) in counted {
        if installed == Some(ds_id) {
            out.current += devices;
            continue;
        }
        let delta = delta.unwrap_or_default();
        let patch = installed
            .filter(|_| lists_form(&delta, "patch"))
            .and_then(|from| {
                patches
                    .iter()
                    .find(|p| {
                        images
                            .iter()
                            .any(|(ds, img)| *ds == from && p.patch_source_sha256.as_ref() == Some(img))
                    })
                    .map(|p| (from, p))
            });
        if let Some((from, p)) = patch {
            let saved = (full_of_module(p.sm_id) - p.size).max(0);
            let e = by_source.entry(from).or_insert(PatchSource {
                from: String::new(),
                devices: 0,
                patch_bytes: p.size,
                saved_per_device: saved,
            });
            e.devices += devices;
            out.saved += saved * devices;
        } else if has_zck && lists_form(&delta, "chunk") {
            out.chunk += devices;
        } else {
            out.full += devices;
        }
    }
    if !by_source.is_empty() {
        let ids: Vec<i64> = by_source.keys().copied().collect();
        let names: Vec<(i64, String, String)> = distribution_sets::table
            .filter(distribution_sets::id.eq_any(&ids))
            .select((
                distribution_sets::id,
                distribution_sets::name,
                distribution_sets::version,
            ))
            .load(c)?;
        for (id, name, version) in names {
            if let Some(s) = by_source.get_mut(&id) {
                s.from = format!("{name}:{version}");
            }
        }
    }
    out.patch = by_source.into_values().collect();
    Ok(out)
}

/// Devices on one installed set (None: none) with one `updraft.delta` value (None: no attribute).
pub type Group = (Option<i64>, Option<String>, i64);

/// Devices counted per installed set and `updraft.delta` value (None: devices without the
/// attribute): those with the set `assigned` assigned, or (`None`) every device of the tenant.
/// Read from the counts database triggers keep on every write (migrations `target_counts` and
/// `delta_counts`): the devices with the attribute from `target_delta_counts`, the others as all
/// devices (`counts`, the tenant's [`crate::store::target_counts`]) less those. A few rows
/// instead of every device joined to its attributes.
pub fn devices_by_forms(
    c: &mut AnyConnection,
    tenant: &str,
    counts: &TargetCounts,
    assigned: Option<i64>,
) -> Result<Vec<Group>> {
    let mut all: BTreeMap<Option<i64>, i64> = BTreeMap::new();
    for r in &counts.rows {
        if assigned.is_none() || r.assigned == assigned {
            *all.entry(r.installed).or_default() += r.devices;
        }
    }
    let mut q = Sql::new()
        .sql(
            "SELECT installed_ds_id, delta_forms, CAST(SUM(devices) AS BIGINT) \
             FROM target_delta_counts WHERE tenant = ",
        )
        .text(tenant);
    if let Some(ds) = assigned {
        q = q.sql(" AND assigned_ds_id = ").int(ds);
    }
    let q = q.sql(
        " GROUP BY installed_ds_id, delta_forms HAVING SUM(devices) <> 0 \
         ORDER BY installed_ds_id, delta_forms",
    );
    let with_forms: Vec<(i64, String, i64)> = Select::<(BigInt, Text, BigInt)>::new(q).load(c)?;
    let mut out = Vec::with_capacity(with_forms.len() + all.len());
    for (installed, forms, devices) in with_forms {
        // The table stores "no set" as 0 (set ids start at 1).
        let installed = (installed != 0).then_some(installed);
        *all.entry(installed).or_default() -= devices;
        out.push((installed, Some(forms), devices));
    }
    out.extend(
        all.into_iter()
            .filter(|&(_, without)| without > 0)
            .map(|(installed, without)| (installed, None, without)),
    );
    Ok(out)
}
