//! Reading actions as operators see them: the tenant's actions, one target's actions, one action,
//! and an action's status history, each with what its rendering names.

use std::collections::HashMap;

use diesel::prelude::*;

use super::find_action_of_target;
use crate::store::models::{Action, Target};
use crate::store::page::paginate;
use crate::store::schema::{action_statuses, actions, distribution_sets, rollouts, targets};
use crate::store::targets::find_target;
use crate::store::{AnyConnection, Error, ListQuery, Paged, Result};

/// An action with what its rendering names besides its row.
#[derive(Debug, Clone)]
pub struct ActionView {
    pub action: Action,
    /// Its target's controller id.
    pub controller_id: String,
    /// `name:version` of its distribution set.
    pub ds_label: String,
    /// The name of the rollout that created it (hawkBit's `rolloutName`).
    pub rollout_name: Option<String>,
}

type Row = (Action, String, String, String);

/// The rows with their rollouts' names, read in one query.
fn views(c: &mut AnyConnection, rows: Vec<Row>) -> Result<Vec<ActionView>> {
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.0.rollout_id).collect();
    let names: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        rollouts::table
            .filter(rollouts::id.eq_any(ids))
            .select((rollouts::id, rollouts::name))
            .load::<(i64, String)>(c)?
            .into_iter()
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|(action, controller_id, n, v)| ActionView {
            rollout_name: action.rollout_id.and_then(|r| names.get(&r).cloned()),
            action,
            controller_id,
            ds_label: format!("{n}:{v}"),
        })
        .collect())
}

/// One page of the actions of all the tenant's targets.
pub fn list_actions(c: &mut AnyConnection, tenant: &str, list: &ListQuery) -> Result<Paged<ActionView>> {
    let page: Paged<Row> = paginate!(
        c,
        actions::table
            .inner_join(targets::table)
            .inner_join(distribution_sets::table)
            .filter(actions::tenant.eq(tenant))
            => (
                Action::as_select(),
                targets::controller_id,
                distribution_sets::name,
                distribution_sets::version,
            ),
        list
    );
    Ok(Paged {
        rows: views(c, page.rows)?,
        total: page.total,
    })
}

/// The tenant's action `id`; not found otherwise.
pub fn get_action(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<ActionView> {
    let row: Option<Row> = actions::table
        .inner_join(targets::table)
        .inner_join(distribution_sets::table)
        .filter(actions::tenant.eq(tenant).and(actions::id.eq(id)))
        .select((
            Action::as_select(),
            targets::controller_id,
            distribution_sets::name,
            distribution_sets::version,
        ))
        .first(c)
        .optional()?;
    let row = row.ok_or_else(|| Error::not_found("Action", id))?;
    views(c, vec![row])?
        .pop()
        .ok_or_else(|| Error::not_found("Action", id))
}

/// One page of the actions of the tenant's target `controller_id`; not found without the target.
pub fn list_target_actions(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    list: &ListQuery,
) -> Result<Paged<ActionView>> {
    let t = find_target(c, tenant, controller_id)?;
    let page: Paged<(Action, String, String)> = paginate!(
        c,
        actions::table
            .inner_join(distribution_sets::table)
            .filter(actions::target_id.eq(t.id))
            => (
                Action::as_select(),
                distribution_sets::name,
                distribution_sets::version,
            ),
        list
    );
    let rows = page
        .rows
        .into_iter()
        .map(|(a, n, v)| (a, t.controller_id.clone(), n, v))
        .collect();
    Ok(Paged {
        rows: views(c, rows)?,
        total: page.total,
    })
}

/// The tenant's target `controller_id` and its action `action_id`; not found when either is missing.
pub fn target_action(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    action_id: i64,
) -> Result<(Target, ActionView)> {
    let t = find_target(c, tenant, controller_id)?;
    let a = find_action_of_target(c, &t, action_id)?;
    let (n, v): (String, String) = distribution_sets::table
        .find(a.ds_id)
        .select((distribution_sets::name, distribution_sets::version))
        .first(c)?;
    let view = views(c, vec![(a, t.controller_id.clone(), n, v)])?
        .pop()
        .ok_or_else(|| Error::not_found("Action", action_id))?;
    Ok((t, view))
}

/// One entry of an action's status history.
#[derive(Debug, Clone)]
pub struct StatusEntry {
    pub id: i64,
    pub status: String,
    /// When the server recorded it.
    pub reported_at: i64,
    /// When the device says it happened.
    pub occurred_at: i64,
    pub code: Option<i32>,
    pub messages: Vec<String>,
}

/// One page of the status history of an action of the tenant's target `controller_id`.
pub fn status_history(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    action_id: i64,
    list: &ListQuery,
) -> Result<Paged<StatusEntry>> {
    let t = find_target(c, tenant, controller_id)?;
    let a = find_action_of_target(c, &t, action_id)?;
    let page: Paged<(i64, String, i64, i64, Option<i32>)> = paginate!(
        c,
        action_statuses::table
            .filter(action_statuses::action_id.eq(a.id))
            .select((
                action_statuses::id,
                action_statuses::status,
                action_statuses::created_at,
                action_statuses::occurred_at,
                action_statuses::code,
            )),
        list
    );
    let ids: Vec<i64> = page.rows.iter().map(|r| r.0).collect();
    let messages: Vec<(i64, String)> = super::status_messages(c, &ids)?;
    Ok(
        page.map(|(id, status, reported_at, occurred_at, code)| StatusEntry {
            id,
            status,
            reported_at,
            occurred_at,
            code,
            messages: messages
                .iter()
                .filter(|(s, _)| *s == id)
                .map(|(_, m)| m.clone())
                .collect(),
        }),
    )
}
