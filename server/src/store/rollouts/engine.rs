//! The rollout state machine (hawkBit's `JpaRolloutManagement` and `JpaRolloutExecutor`).
//!
//! Every function runs inside the caller's transaction on a rollout row the caller has locked
//! with [`lock`], so two server processes never change one rollout at the same time. Statements
//! over a whole group are set-based (`INSERT … SELECT`, `UPDATE … WHERE … IN`), so a group of
//! twenty thousand targets starts in a few statements, not tens of thousands.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::plan::{self, GroupPlan, NewGroup, NewRollout};
use super::soak;
use super::{Conditions, Group, GroupStatus, Rollout, RolloutStatus};
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{
    SERVER_PREFIX, add_status, set_action_status, success_cancellation, supersede_active_actions,
};
use crate::store::models::{Action, ActionStatus, ActionType, Target};
use crate::store::query::Sql;
use crate::store::schema::{actions, rollout_groups, rollout_targets, rollouts, targets};
use crate::store::tenants::TenantSettings;
use crate::store::{Error, Result, Rule};

type Stmt = Sql<Bool>;

/// Reads and locks a rollout row for the rest of the transaction. With `skip_locked`, a row another
/// process holds is skipped (None) instead of waited for. SQLite needs no row lock: its write
/// transactions already run one at a time.
pub fn lock(conn: &mut AnyConnection, id: i64, skip_locked: bool) -> Result<Option<Rollout>> {
    let q = rollouts::table.find(id);
    Ok(match conn {
        AnyConnection::Postgresql(pg) if skip_locked => q
            .select(Rollout::as_select())
            .for_update()
            .skip_locked()
            .first(pg)
            .optional()?,
        AnyConnection::Postgresql(pg) => q.select(Rollout::as_select()).for_update().first(pg).optional()?,
        AnyConnection::Sqlite(c) => q.select(Rollout::as_select()).first(c).optional()?,
    })
}

/// A tenant's rollout, locked.
pub fn lock_of_tenant(conn: &mut AnyConnection, tenant: &str, id: i64) -> Result<Rollout> {
    match lock(conn, id, false)? {
        Some(r) if r.tenant == tenant && !r.deleted => Ok(r),
        _ => Err(Error::not_found("Rollout", id)),
    }
}

pub fn groups(conn: &mut AnyConnection, rollout_id: i64) -> Result<Vec<Group>> {
    Ok(rollout_groups::table
        .filter(rollout_groups::rollout_id.eq(rollout_id))
        .order(rollout_groups::position.asc())
        .select(Group::as_select())
        .load(conn)?)
}

fn set_status(conn: &mut AnyConnection, r: &Rollout, s: RolloutStatus, by: &str, now: i64) -> Result<()> {
    diesel::update(rollouts::table.find(r.id))
        .set((
            rollouts::status.eq(s.as_str()),
            rollouts::last_modified_at.eq(now),
            rollouts::last_modified_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

fn set_group_status(conn: &mut AnyConnection, g: i64, s: GroupStatus, now: i64) -> Result<()> {
    diesel::update(rollout_groups::table.find(g))
        .set((
            rollout_groups::status.eq(s.as_str()),
            rollout_groups::last_modified_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

fn illegal(r: &Rollout, what: &str) -> Error {
    Error::refused(
        Rule::RolloutState,
        format!(
            "Rollout {} is {} and cannot be {what}.",
            r.id,
            r.status().as_str()
        ),
    )
}

/// Creates the SCHEDULED (inactive, invisible to devices) actions of the group's targets that have
/// none yet in this rollout.
fn schedule_actions(conn: &mut AnyConnection, r: &Rollout, group_id: i64, now: i64) -> Result<()> {
    let forced_time = if r.action_type == ActionType::TimeForced {
        r.forced_time
    } else {
        0
    };
    Stmt::new()
        .sql(
            "INSERT INTO actions (tenant, target_id, ds_id, active, action_type, forced_time, weight, \
             status, initiated_by, revision, created_at, created_by, last_modified_at, last_modified_by, \
             rollout_id, rollout_group_id) SELECT ",
        )
        .text(&r.tenant)
        .sql(", rt.target_id, ")
        .int(r.ds_id)
        .sql(", ")
        .boolean(false)
        .sql(", ")
        .text(r.action_type.as_str())
        .sql(", ")
        .int(forced_time)
        .sql(", ")
        .int(i64::from(r.weight))
        .sql(", 'scheduled', ")
        .text(&r.created_by)
        .sql(", 1, ")
        .int(now)
        .sql(", ")
        .text(&r.created_by)
        .sql(", ")
        .int(now)
        .sql(", ")
        .text(&r.created_by)
        .sql(", ")
        .int(r.id)
        .sql(", rt.group_id FROM rollout_targets rt WHERE rt.group_id = ")
        .int(group_id)
        .sql(" AND NOT EXISTS (SELECT 1 FROM actions x WHERE x.rollout_group_id = rt.group_id AND x.target_id = rt.target_id)")
        .execute(conn)?;
    Ok(())
}

/// The controller ids of a group's targets.
fn group_devices(conn: &mut AnyConnection, tenant: &str, group_id: i64) -> Result<Vec<(String, String)>> {
    Ok(rollout_targets::table
        .inner_join(targets::table)
        .filter(rollout_targets::group_id.eq(group_id))
        .select(targets::controller_id)
        .load::<String>(conn)?
        .into_iter()
        .map(|cid| (tenant.to_owned(), cid))
        .collect())
}

/// Starts a group's SCHEDULED actions (hawkBit's `startScheduledActions`): targets that already have
/// the set assigned finish at once; the others' older open actions are superseded, and their new
/// action becomes active (RUNNING, or WAIT_FOR_CONFIRMATION with the consent flow).
fn start_group(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    g: &Group,
    now: i64,
) -> Result<Changes> {
    let by = r.created_by.as_str();
    let scheduled_in_group = |alias: &str| {
        Stmt::new()
            .sql(alias)
            .sql(".rollout_group_id = ")
            .int(g.id)
            .sql(" AND ")
            .sql(alias)
            .sql(".status = 'scheduled'")
    };
    // Already assigned: nothing for the device to do.
    let already: Vec<i64> = actions::table
        .inner_join(targets::table)
        .filter(actions::rollout_group_id.eq(g.id))
        .filter(actions::status.eq(ActionStatus::Scheduled.as_str()))
        .filter(targets::assigned_ds_id.eq(r.ds_id))
        .select(actions::id)
        .load(conn)?;
    for id in already {
        set_action_status(conn, id, ActionStatus::Finished, false, now, by)?;
        add_status(
            conn,
            id,
            ActionStatus::Finished,
            now,
            now,
            None,
            &[format!(
                "{SERVER_PREFIX}Distribution Set is already assigned. Skipping this action."
            )],
        )?;
    }
    // Older open actions of these targets are canceled (or closed), as a manual assignment does.
    let superseded: Vec<i64> = actions::table
        .filter(actions::active)
        .filter(
            Stmt::new()
                .sql("actions.target_id IN (SELECT s.target_id FROM actions s WHERE s.rollout_group_id = ")
                .int(g.id)
                .sql(" AND s.status = 'scheduled')"),
        )
        .select(actions::target_id)
        .distinct()
        .load(conn)?;
    for t in superseded {
        supersede_active_actions(conn, settings, t, now, by)?;
    }
    let waits = settings.confirmation_flow && g.confirmation_required;
    // The new status of the action row `alias`.
    let new_status = |alias: &str| {
        Stmt::new()
            .sql("CASE WHEN ")
            .boolean(waits)
            .sql(" AND (SELECT t.auto_confirm_at FROM targets t WHERE t.id = ")
            .sql(alias)
            .sql(".target_id) IS NULL THEN 'wait_for_confirmation' ELSE 'running' END")
    };
    let mut insert = Stmt::new()
        .sql("INSERT INTO action_statuses (action_id, status, occurred_at, created_at, code) SELECT a.id, ");
    insert.push(new_status("a"));
    insert = insert
        .sql(", ")
        .int(now)
        .sql(", ")
        .int(now)
        .sql(", NULL FROM actions a WHERE ");
    insert.push(scheduled_in_group("a"));
    insert.execute(conn)?;
    let waiting_message = "Waiting for the confirmation by the device before processing with the deployment";
    let message = format!(
        "Initiated by Rollout Group '{}' [Rollout {}:{}]",
        g.name, r.name, r.id
    );
    let mut messages = Stmt::new()
        .sql("INSERT INTO action_status_messages (action_status_id, message) SELECT s.id, ")
        .text(message.clone())
        .sql(" FROM action_statuses s JOIN actions a ON a.id = s.action_id WHERE ");
    messages.push(scheduled_in_group("a"));
    messages.execute(conn)?;
    if waits {
        let mut waiting = Stmt::new()
            .sql("INSERT INTO action_status_messages (action_status_id, message) SELECT s.id, ")
            .text(waiting_message)
            .sql(" FROM action_statuses s JOIN actions a ON a.id = s.action_id WHERE s.status = 'wait_for_confirmation' AND ");
        waiting.push(scheduled_in_group("a"));
        waiting.execute(conn)?;
    }
    let mut activate = Stmt::new()
        .sql("UPDATE actions SET active = ")
        .boolean(true)
        .sql(", status = ");
    activate.push(new_status("actions"));
    // The last message of each action's new status row: the confirmation request's, else the
    // rollout's (`actions.last_message`, as add_status keeps it).
    activate = activate.sql(", last_message = CASE WHEN ");
    activate.push(new_status("actions"));
    activate = activate
        .sql(" = 'wait_for_confirmation' THEN ")
        .text(crate::store::actions::last_message(waiting_message))
        .sql(" ELSE ")
        .text(crate::store::actions::last_message(&message))
        .sql(" END");
    activate = activate
        .sql(", revision = revision + 1, last_modified_at = ")
        .int(now)
        .sql(" WHERE rollout_group_id = ")
        .int(g.id)
        .sql(" AND status = 'scheduled'");
    activate.execute(conn)?;
    Stmt::new()
        .sql("UPDATE targets SET assigned_ds_id = ")
        .int(r.ds_id)
        .sql(", update_status = 'pending', last_modified_at = ")
        .int(now)
        .sql(", last_modified_by = ")
        .text(by)
        .sql(" WHERE id IN (SELECT target_id FROM actions WHERE rollout_group_id = ")
        .int(g.id)
        .sql(" AND active = ")
        .boolean(true)
        .sql(" AND status IN ('running', 'wait_for_confirmation') AND last_modified_at = ")
        .int(now)
        .sql(")")
        .execute(conn)?;
    soak::prepare(conn, r, g.id)?;
    set_group_status(conn, g.id, GroupStatus::Running, now)?;
    Ok(Changes {
        devices: group_devices(conn, &r.tenant, g.id)?,
        ..Changes::none()
    })
}

/// READY → RUNNING: every group's actions are created SCHEDULED, and the first group starts.
pub fn start(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    by: &str,
    now: i64,
) -> Result<Changes> {
    if r.status() != RolloutStatus::Ready {
        return Err(illegal(r, "started"));
    }
    let gs = groups(conn, r.id)?;
    for g in &gs {
        schedule_actions(conn, r, g.id, now)?;
    }
    diesel::update(rollout_groups::table.filter(rollout_groups::rollout_id.eq(r.id)))
        .set(rollout_groups::status.eq(GroupStatus::Scheduled.as_str()))
        .execute(conn)?;
    diesel::update(rollouts::table.find(r.id))
        .set((
            rollouts::status.eq(RolloutStatus::Running.as_str()),
            rollouts::last_modified_at.eq(now),
            rollouts::last_modified_by.eq(by),
        ))
        .execute(conn)?;
    let mut effects = Changes::none();
    if let Some(first) = groups(conn, r.id)?.first() {
        effects = effects.and(start_group(conn, settings, r, first, now)?);
    }
    Ok(effects)
}

pub fn pause(conn: &mut AnyConnection, r: &Rollout, by: &str, now: i64) -> Result<()> {
    if r.status() != RolloutStatus::Running {
        return Err(illegal(r, "paused"));
    }
    set_status(conn, r, RolloutStatus::Paused, by, now)
}

/// PAUSED → RUNNING. The next group starts at once when the last started group failed, or when it
/// paused the rollout on success (hawkBit's `resumeRollout`).
pub fn resume(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    by: &str,
    now: i64,
) -> Result<Changes> {
    if r.status() != RolloutStatus::Paused {
        return Err(illegal(r, "resumed"));
    }
    set_status(conn, r, RolloutStatus::Running, by, now)?;
    let r = reload(conn, r.id)?;
    let gs = groups(conn, r.id)?;
    let mut effects = Changes::none();
    let last_started = gs.iter().rev().find(|g| {
        matches!(
            g.status(),
            GroupStatus::Running | GroupStatus::Finished | GroupStatus::Error
        )
    });
    if let Some(last) = last_started {
        let restart = last.status() == GroupStatus::Error
            || (last.conditions().pauses_on_success() && {
                let (total, _, finished, _) = group_counts(conn, r.id, last.id, download_only(&r))?;
                meets_success(&last.conditions(), total, finished)
            });
        if restart && let Some(next) = gs.iter().find(|g| g.status() == GroupStatus::Scheduled) {
            effects = effects.and(start_group(conn, settings, &r, next, now)?);
        }
    }
    effects = effects.and(evaluate(conn, settings, &r, now, false)?);
    Ok(effects)
}

fn reload(conn: &mut AnyConnection, id: i64) -> Result<Rollout> {
    Ok(rollouts::table
        .find(id)
        .select(Rollout::as_select())
        .first(conn)?)
}

/// WAITING_FOR_APPROVAL → READY (approved) or APPROVAL_DENIED.
pub fn decide_approval(
    conn: &mut AnyConnection,
    r: &Rollout,
    approve: bool,
    remark: Option<&str>,
    by: &str,
    now: i64,
) -> Result<()> {
    if r.status() != RolloutStatus::WaitingForApproval {
        return Err(illegal(r, if approve { "approved" } else { "denied" }));
    }
    let next = if approve {
        RolloutStatus::Ready
    } else {
        RolloutStatus::ApprovalDenied
    };
    diesel::update(rollouts::table.find(r.id))
        .set((
            rollouts::status.eq(next.as_str()),
            rollouts::approval_remark.eq(remark),
            rollouts::approve_decided_by.eq(by),
            rollouts::last_modified_at.eq(now),
            rollouts::last_modified_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

/// Starts the next SCHEDULED group now, whatever the running group's conditions say.
pub fn trigger_next_group(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    now: i64,
) -> Result<Changes> {
    if r.status() != RolloutStatus::Running {
        return Err(illegal(r, "moved to its next group"));
    }
    let gs = groups(conn, r.id)?;
    let Some(next) = gs.iter().find(|g| g.status() == GroupStatus::Scheduled) else {
        return Err(Error::refused(
            Rule::RolloutState,
            format!("Rollout {} has no group left to start.", r.id),
        ));
    };
    start_group(conn, settings, r, next, now)
}

/// The actions of groups that never started: devices never saw them, so they simply go.
fn drop_scheduled_actions(conn: &mut AnyConnection, rollout_id: i64) -> Result<()> {
    diesel::delete(
        actions::table
            .filter(actions::rollout_id.eq(rollout_id))
            .filter(actions::status.eq(ActionStatus::Scheduled.as_str())),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes a rollout: its SCHEDULED actions go, its open actions are canceled at once; the rollout
/// itself is kept (soft-deleted) when it created actions that devices saw, else removed.
pub fn delete(conn: &mut AnyConnection, r: &Rollout, by: &str, now: i64) -> Result<Changes> {
    drop_scheduled_actions(conn, r.id)?;
    let open: Vec<Action> = actions::table
        .filter(actions::rollout_id.eq(r.id).and(actions::active))
        .select(Action::as_select())
        .load(conn)?;
    let mut effects = Changes::none();
    for a in &open {
        let target: Target = targets::table
            .find(a.target_id)
            .select(Target::as_select())
            .first(conn)?;
        add_status(
            conn,
            a.id,
            ActionStatus::Canceled,
            now,
            now,
            None,
            &[format!("{SERVER_PREFIX}Rollout {} was deleted.", r.name)],
        )?;
        success_cancellation(conn, &target, a.id, now, by)?;
        effects.devices.push((r.tenant.clone(), target.controller_id));
    }
    let used: i64 = actions::table
        .filter(actions::rollout_id.eq(r.id))
        .count()
        .get_result(conn)?;
    if used == 0 {
        diesel::delete(rollouts::table.find(r.id)).execute(conn)?;
    } else {
        diesel::update(rollout_groups::table.filter(rollout_groups::rollout_id.eq(r.id)))
            .set(rollout_groups::status.eq(GroupStatus::Finished.as_str()))
            .execute(conn)?;
        diesel::update(rollouts::table.find(r.id))
            .set((
                rollouts::status.eq(RolloutStatus::Deleted.as_str()),
                rollouts::deleted.eq(true),
                rollouts::last_modified_at.eq(now),
                rollouts::last_modified_by.eq(by),
            ))
            .execute(conn)?;
    }
    Ok(effects)
}

/// A new rollout `<name>_retry` over the targets whose action in a finished rollout failed.
pub fn retry(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    by: &str,
    now: i64,
    may_approve: bool,
) -> Result<i64> {
    if r.status() != RolloutStatus::Finished {
        return Err(illegal(r, "retried before it finished"));
    }
    let new = NewRollout {
        name: format!("{}_retry", r.name),
        description: r.description.clone(),
        target_filter: format!("failedrollout=={}", r.id),
        ds_id: r.ds_id,
        action_type: r.action_type,
        forced_time: r.forced_time,
        weight: r.weight,
        start_at: None,
        confirmation_required: r.confirmation_required,
        conditions: Conditions::from_json(&r.conditions),
        groups: GroupPlan::Count(1),
        dynamic: None,
        needs_approval: settings.rollout_approval && !may_approve,
        soak_time: r.soak_time,
        health_gate: r.health_gate.clone(),
    };
    plan::create(conn, &r.tenant, &new, by, now)
}

fn download_only(r: &Rollout) -> bool {
    r.action_type == ActionType::DownloadOnly
}

/// (total, errors, finished, complete) of a group's actions.
fn group_counts(
    conn: &mut AnyConnection,
    rollout_id: i64,
    group_id: i64,
    download_only: bool,
) -> Result<(i64, i64, i64, bool)> {
    let counts: Vec<(ActionStatus, i64)> = actions::table
        .filter(actions::rollout_group_id.eq(group_id))
        .group_by(actions::status)
        .select((actions::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut total = 0;
    // With a soak time, a finished device counts once its soak passed (soak.rs).
    let s = soak::counts(conn, rollout_id, Some(group_id))?;
    let (mut errors, mut finished, mut open) = (s.failed, -(s.soaking + s.failed), s.soaking);
    for (status, n) in counts {
        total += n;
        match status {
            ActionStatus::Error => errors += n,
            ActionStatus::Finished => finished += n,
            ActionStatus::Downloaded if download_only => finished += n,
            ActionStatus::Canceled => {}
            _ => open += n,
        }
    }
    Ok((total, errors, finished, open == 0))
}

fn meets_success(c: &Conditions, total: i64, finished: i64) -> bool {
    total == 0 || finished * 100 >= c.success_threshold() * total
}

/// Moves a RUNNING rollout on from its devices' feedback (hawkBit's `handleRunningRollout`): a
/// group whose errors exceed the error threshold pauses the rollout; a group that meets its
/// success threshold starts the next one (or pauses, if that is its success action); a group whose
/// actions are all closed finishes; with no group running or waiting, the rollout finishes. With
/// `sweep`, a dynamic rollout also takes in targets that match its filter since.
pub fn evaluate(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    now: i64,
    sweep: bool,
) -> Result<Changes> {
    let mut effects = Changes::none();
    // Devices keep soaking while an operator (or an error) holds the rollout.
    if matches!(r.status(), RolloutStatus::Running | RolloutStatus::Paused) {
        soak::track(conn, settings, r, now)?;
    }
    if r.status() != RolloutStatus::Running {
        return Ok(effects);
    }
    let system = "system";
    let gs = groups(conn, r.id)?;
    let dl_only = download_only(r);
    for (i, g) in gs.iter().enumerate() {
        if g.status() != GroupStatus::Running {
            continue;
        }
        let (total, errors, finished, complete) = group_counts(conn, r.id, g.id, dl_only)?;
        if total != g.total_targets {
            diesel::update(rollout_groups::table.find(g.id))
                .set(rollout_groups::total_targets.eq(total))
                .execute(conn)?;
        }
        let c = g.conditions();
        if total > 0 && errors * 100 > c.error_threshold() * total {
            set_group_status(conn, g.id, GroupStatus::Error, now)?;
            set_status(conn, r, RolloutStatus::Paused, system, now)?;
            return Ok(effects);
        }
        if (complete || meets_success(&c, total, finished))
            && let Some(next) = gs.get(i + 1).filter(|n| n.status() == GroupStatus::Scheduled)
        {
            if c.pauses_on_success() {
                if complete {
                    set_group_status(conn, g.id, GroupStatus::Finished, now)?;
                }
                set_status(conn, r, RolloutStatus::Paused, system, now)?;
                return Ok(effects);
            }
            effects = effects.and(start_group(conn, settings, r, next, now)?);
        }
        if complete {
            set_group_status(conn, g.id, GroupStatus::Finished, now)?;
        }
    }
    let gs = groups(conn, r.id)?;
    if gs.iter().any(|g| g.status() == GroupStatus::Running) {
        return Ok(effects);
    }
    if let Some(next) = gs.iter().find(|g| g.status() == GroupStatus::Scheduled) {
        effects = effects.and(start_group(conn, settings, r, next, now)?);
        return Ok(effects);
    }
    if r.is_dynamic {
        if sweep {
            effects = effects.and(grow_dynamic(conn, settings, r, &gs, now)?);
        }
        return Ok(effects);
    }
    set_status(conn, r, RolloutStatus::Finished, system, now)?;
    Ok(effects)
}

/// A dynamic rollout with every group done starts a new group of up to `targetCount` targets that
/// match its filter and are in none of its groups yet.
fn grow_dynamic(
    conn: &mut AnyConnection,
    settings: &TenantSettings,
    r: &Rollout,
    gs: &[Group],
    now: i64,
) -> Result<Changes> {
    let Some(template) = r.template() else {
        return Ok(Changes::none());
    };
    let ds_type: i64 = crate::store::schema::distribution_sets::table
        .find(r.ds_id)
        .select(crate::store::schema::distribution_sets::ds_type_id)
        .first(conn)?;
    let filter = plan::matching_filter(&r.tenant, plan::target_filter(&r.target_filter)?, ds_type)
        .sql(" AND targets.id NOT IN (SELECT rt.target_id FROM rollout_targets rt JOIN rollout_groups g ON g.id = rt.group_id WHERE g.rollout_id = ")
        .int(r.id)
        .sql(")");
    let ids: Vec<i64> = targets::table
        .filter(filter)
        .order(targets::id.asc())
        .limit(template.target_count.max(1))
        .select(targets::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Changes::none());
    }
    let position = gs.last().map_or(0, |g| g.position + 1);
    let conditions = Conditions::from_json(&r.conditions);
    let g = NewGroup {
        name: format!("group-{}{}", position + 1, template.name_suffix),
        description: None,
        target_filter: None,
        target_percentage: 100.0,
        confirmation_required: r.confirmation_required,
        conditions,
    };
    let gid = plan::insert_group(
        conn,
        r.id,
        position,
        &g,
        ids.len() as i64,
        true,
        &r.created_by,
        now,
    )?;
    plan::insert_members(conn, gid, &ids)?;
    schedule_actions(conn, r, gid, now)?;
    set_group_status(conn, gid, GroupStatus::Scheduled, now)?;
    diesel::update(rollouts::table.find(r.id))
        .set(rollouts::total_targets.eq(rollouts::total_targets + ids.len() as i64))
        .execute(conn)?;
    let group = rollout_groups::table
        .find(gid)
        .select(Group::as_select())
        .first(conn)?;
    start_group(conn, settings, r, &group, now)
}

/// Action counts per status of a rollout (or one of its groups), a soak time applied
/// ([`soak::apply`]).
pub fn status_counts(
    conn: &mut AnyConnection,
    rollout_id: i64,
    group_id: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    let mut q = actions::table
        .filter(actions::rollout_id.eq(rollout_id))
        .group_by(actions::status)
        .select((actions::status, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(g) = group_id {
        q = q.filter(actions::rollout_group_id.eq(g));
    }
    let mut counts = q.load(conn)?;
    soak::apply(&mut counts, soak::counts(conn, rollout_id, group_id)?);
    Ok(counts)
}

/// Stops the set's unfinished rollouts (hawkBit's `handleStopRollout`, when a set is invalidated):
/// their scheduled actions are dropped and their groups closed; open actions are the caller's.
pub fn stop_rollouts_of_ds(conn: &mut AnyConnection, ds_id: i64, by: &str, now: i64) -> Result<()> {
    let live: Vec<i64> = rollouts::table
        .filter(rollouts::ds_id.eq(ds_id))
        .filter(rollouts::status.ne_all([
            RolloutStatus::Finished.as_str(),
            RolloutStatus::Stopped.as_str(),
            RolloutStatus::Deleted.as_str(),
        ]))
        .select(rollouts::id)
        .load(conn)?;
    for id in live {
        let Some(r) = lock(conn, id, false)? else {
            continue;
        };
        drop_scheduled_actions(conn, r.id)?;
        diesel::update(
            rollout_groups::table
                .filter(rollout_groups::rollout_id.eq(r.id))
                .filter(rollout_groups::status.ne(GroupStatus::Error.as_str())),
        )
        .set(rollout_groups::status.eq(GroupStatus::Finished.as_str()))
        .execute(conn)?;
        set_status(conn, &r, RolloutStatus::Stopped, by, now)?;
    }
    Ok(())
}
