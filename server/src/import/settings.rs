//! The tenant's settings (hawkBit's `/rest/v1/system/configs`) and the rollouts, which the report
//! lists but the import does not recreate.

use std::collections::BTreeMap;

use super::progress::Progress;
use super::wire::{ConfigValue, Rollout};
use super::{Ctx, ImportError};
use crate::store::import::Outcome;
use crate::store::tenants;

const CONFIG: &str = "tenant settings";

/// Copies the values the source's tenant set (not the server defaults it reports as `global`).
pub fn tenant_config(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let values: BTreeMap<String, ConfigValue> = match cx.src.get("/rest/v1/system/configs") {
        Ok(values) => values,
        // The credentials worked for the targets (`connect`): this is a missing permission.
        Err(ImportError::Credentials(why)) => {
            cx.report.tally(CONFIG).skipped.push(why);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut progress = Progress::new(CONFIG, values.len() as u64);
    let tenant = cx.tenant.clone();
    let stored = cx.write(|c| tenants::stored(c, &tenant))?;
    for (key, v) in values {
        progress.inc(1);
        if v.global {
            continue;
        }
        let text = match tenants::validate(&cx.state.config, &key, &v.value) {
            Ok(text) => text,
            Err(e) => {
                cx.report.tally(CONFIG).skipped.push(format!("{key}: {e}"));
                continue;
            }
        };
        let before = stored.iter().find(|s| s.key == key).map(|s| s.value.clone());
        if before.as_deref() == Some(text.as_str()) {
            cx.report.tally(CONFIG).count(Outcome::Unchanged);
            continue;
        }
        let (config, now) = (&cx.state.config, cx.now);
        let pair = [(key.clone(), v.value.clone())];
        let changes = cx.write(|c| tenants::set_values(c, config, &tenant, &pair, "import", now))?;
        if !cx.dry() {
            cx.state.apply(changes);
        }
        cx.report.tally(CONFIG).count(if before.is_some() {
            Outcome::Updated
        } else {
            Outcome::Added
        });
    }
    progress.finish();
    Ok(())
}

/// Lists the rollouts that are not finished: they are not recreated (see the report's explanation).
pub fn rollouts(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let rollouts = match cx.src.all::<Rollout>("rollouts", "/rest/v1/rollouts") {
        Ok(rollouts) => rollouts,
        Err(ImportError::Credentials(why)) => {
            cx.report.tally("rollouts").skipped.push(why);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut listed = Vec::new();
    let mut finished = 0u64;
    for r in rollouts {
        match r.status.to_ascii_lowercase().as_str() {
            "finished" | "deleted" | "deleting" => finished += 1,
            status => listed.push(format!(
                "rollout {} \"{}\" ({status}, {} targets)",
                r.id,
                r.name,
                r.total_targets.map_or_else(|| "?".into(), |n| n.to_string())
            )),
        }
    }
    let tally = cx.report.tally("rollouts");
    for r in &listed {
        tally
            .skipped
            .push(format!("{r} is in progress and not recreated"));
    }
    if finished > 0 {
        tally.skipped.push(format!(
            "{finished} finished rollouts: their actions are in the imported history"
        ));
    }
    cx.report.rollouts = listed;
    Ok(())
}
