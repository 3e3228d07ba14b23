//! Invalidating a distribution set: it can no longer be assigned, auto-assignments drop it, its
//! rollouts stop and its open actions are canceled as asked.

use diesel::prelude::*;

use super::{get_live, missing_mandatory};
use crate::store::actions;
use crate::store::models::{Action, ActionStatus, Target};
use crate::store::schema::{actions as actions_t, distribution_sets, target_filter_queries, targets};
use crate::store::{AnyConnection, Changes, Error, Result, Rule};

/// What happens to the open actions of an invalidated set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelation {
    /// Leave them running.
    None,
    /// Cancel them; devices see `cancelAction`.
    Soft,
    /// Cancel and force-quit them at once.
    Force,
}

/// Invalidates the tenant's complete, live set `id`, in one transaction with what follows from it.
pub fn invalidate(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    cancelation: Cancelation,
    by: &str,
    now: i64,
) -> Result<Changes> {
    let ds = get_live(c, tenant, id)?;
    if !missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty() {
        return Err(Error::refused(
            Rule::DsIncomplete,
            format!("Distribution set {id} is incomplete and cannot be invalidated."),
        ));
    }
    diesel::update(distribution_sets::table.find(id))
        .set((
            distribution_sets::valid.eq(false),
            distribution_sets::last_modified_at.eq(now),
            distribution_sets::last_modified_by.eq(by),
        ))
        .execute(c)?;
    diesel::update(
        target_filter_queries::table.filter(
            target_filter_queries::tenant
                .eq(tenant)
                .and(target_filter_queries::auto_assign_ds_id.eq(Some(id))),
        ),
    )
    .set((
        target_filter_queries::auto_assign_ds_id.eq(None::<i64>),
        target_filter_queries::auto_assign_action_type.eq(None::<String>),
        target_filter_queries::auto_assign_weight.eq(None::<i32>),
    ))
    .execute(c)?;
    if cancelation == Cancelation::None {
        return Ok(Changes::none());
    }
    crate::store::rollouts::engine::stop_rollouts_of_ds(c, id, by, now)?;
    let open: Vec<(Action, String)> = actions_t::table
        .inner_join(targets::table)
        .filter(actions_t::ds_id.eq(id).and(actions_t::active))
        .select((Action::as_select(), targets::controller_id))
        .load(c)?;
    for (a, _) in &open {
        cancel(c, a, cancelation == Cancelation::Force, now, by)?;
    }
    Ok(Changes::devices(tenant, open.iter().map(|(_, cid)| cid)))
}

/// Cancels (and with `force` force-quits) one open action of an invalidated set.
fn cancel(c: &mut AnyConnection, action: &Action, force: bool, now: i64, by: &str) -> Result<()> {
    if action.status() != ActionStatus::Canceling {
        actions::request_cancel(c, action, now, by)?;
    }
    if force {
        let target: Target = targets::table
            .find(action.target_id)
            .select(Target::as_select())
            .first(c)?;
        let action: Action = actions_t::table
            .find(action.id)
            .select(Action::as_select())
            .first(c)?;
        actions::force_quit(c, &target, &action, now, by)?;
    }
    Ok(())
}
