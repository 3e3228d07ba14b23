//! What a rollout's groups are doing and waiting for (the web UI's rollout page): per group its
//! totals per status (hawkBit's `totalTargetsPerStatus`), its open devices by stage (no poll since
//! the update was assigned, waiting for confirmation, downloading, installing, being canceled),
//! how many of those are offline, and when the group last moved; why a paused rollout is paused;
//! and the operator's way out of a group held up by offline devices, [`cancel_stragglers`].
//!
//! A fixed number of queries for the whole rollout (its groups, two GROUP BYs over its actions, one
//! over its soaks), so the page costs the same with 3 groups or 300.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use super::{Group, GroupStatus, Rollout, RolloutStatus, Totals, engine, soak, totals_per_status};
use crate::store::actions::operator::cancel_action;
use crate::store::fleet_health::select::Select;
use crate::store::models::{ActionStatus, ActionType};
use crate::store::query::Sql;
use crate::store::schema::{actions, targets};
use crate::store::{AnyConnection, Changes, Error, Result};

/// A group's open (active) actions by stage; `offline` overlaps the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stages {
    /// The device has not polled since the update was assigned to it (nor reported on it).
    pub not_polled: i64,
    /// Waiting for the device's (or an operator's) confirmation.
    pub confirming: i64,
    /// The device fetched the update or reported its download.
    pub downloading: i64,
    /// Downloaded, installing, or otherwise reporting progress.
    pub installing: i64,
    /// Canceled by an operator, waiting for the device to confirm.
    pub canceling: i64,
    /// Of all the above, devices that did not poll within their polling and overdue time.
    pub offline: i64,
}

impl Stages {
    /// All open actions.
    pub fn open(&self) -> i64 {
        self.not_polled + self.confirming + self.downloading + self.installing + self.canceling
    }
}

/// One group as the rollout page shows it.
#[derive(Debug, Clone)]
pub struct GroupActivity {
    pub group: Group,
    pub totals: Totals,
    pub open: Stages,
    /// When the group last moved: the latest change of one of its actions, else of the group.
    pub last_moved: i64,
}

impl GroupActivity {
    /// The group's devices with an action: every status but "not started".
    pub fn started(&self) -> i64 {
        self.totals
            .iter()
            .filter(|(k, _)| **k != "notstarted")
            .map(|(_, n)| n)
            .sum()
    }
}

/// Why a paused rollout is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// An operator paused it.
    Operator(String),
    /// A group's errors passed its error threshold (hawkBit's error action PAUSE); with a soak
    /// time, failed soaks count as errors.
    ErrorThreshold {
        group: String,
        errors: i64,
        total: i64,
        threshold: i64,
    },
    /// A group met its success threshold and its success action is PAUSE.
    SuccessPause { group: String, threshold: i64 },
}

/// A rollout's groups with their activity, and why it is held when it is paused.
#[derive(Debug, Clone)]
pub struct Activity {
    /// The rollout's totals per status (hawkBit's `totalTargetsPerStatus`), its groups' summed.
    pub totals: Totals,
    pub groups: Vec<GroupActivity>,
    pub hold: Option<Hold>,
    /// Failed soaks by reason (`rollback`, `health`, `gate`, `silent`), with a soak time.
    pub soak_failures: Vec<(String, i64)>,
    /// Devices that did not poll since this time counted as offline.
    pub offline_before: i64,
}

/// The stage of an open action `a` of target `t` (SQL), NULL for a closed one. Intermediate
/// feedback (download, downloaded, proceeding) is kept as status rows without changing the
/// action's status (as in hawkBit), so a polled action's stage is its latest status row; one the
/// device polled but did not report on yet counts as downloading (it has the link to fetch).
const STAGE: &str = "CASE WHEN a.status = 'canceling' THEN 'canceling' \
     WHEN a.status = 'wait_for_confirmation' THEN 'confirming' \
     WHEN a.status = 'running' AND a.last_modified_by <> a.target_controller_id \
          AND (a.target_last_poll IS NULL OR a.target_last_poll < a.last_modified_at) THEN 'not_polled' \
     WHEN a.status IN ('retrieved', 'download', 'running') THEN \
          CASE (SELECT s.status FROM action_statuses s WHERE s.action_id = a.id ORDER BY s.id DESC LIMIT 1) \
          WHEN 'retrieved' THEN 'downloading' WHEN 'download' THEN 'downloading' \
          WHEN 'running' THEN (CASE WHEN a.status = 'running' AND a.last_modified_by <> a.target_controller_id \
               THEN 'downloading' ELSE 'installing' END) \
          ELSE 'installing' END \
     ELSE 'installing' END";

/// A group, a status, its actions, and when the latest of them changed.
pub type GroupCount = (Option<i64>, String, i64, Option<i64>);

/// Per group and status: its actions and when the latest of them changed, from `rollout_group_counts`
/// (kept by triggers on `actions`, migration `failed_latest`; PostgreSQL's appended rows summed)
/// and one `max` per row from the index `actions_rollout_group`. Counting a rollout of 75,000
/// actions from that index took ~11 ms on SQLite.
pub fn group_counts(c: &mut AnyConnection, group_ids: &[i64]) -> Result<Vec<GroupCount>> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new().sql(
        "SELECT n.rollout_group_id, n.status, CAST(SUM(n.actions) AS BIGINT), \
         (SELECT max(a.last_modified_at) FROM actions a \
          WHERE a.rollout_group_id = n.rollout_group_id AND a.status = n.status) \
         FROM rollout_group_counts n WHERE n.rollout_group_id IN (",
    );
    for (i, id) in group_ids.iter().enumerate() {
        if i > 0 {
            q.push_sql(", ");
        }
        q.push_int(*id);
    }
    q.push_sql(") GROUP BY n.rollout_group_id, n.status HAVING SUM(n.actions) <> 0");
    Ok(Select::<(Nullable<BigInt>, Text, BigInt, Nullable<BigInt>)>::new(q).load(c)?)
}

/// Rows of (group id, stage, offline 0/1, open actions).
type StageRow = (Nullable<BigInt>, Text, Integer, BigInt);

/// The activity of rollout `r`'s groups; devices that did not poll since `offline_before` count
/// as offline.
///
/// Two queries whatever its size: the totals per group and status from the counts the database
/// triggers keep ([`group_counts`]), with when each group last moved; and the stages of its open
/// actions only (the partial index `actions_rollout_open`), with the copies of their devices' last
/// poll and controller id that open actions keep (migration `rollout_open_poll`: joining 10,000
/// open actions to their devices took ~20 ms on PostgreSQL, reading the copies ~6 ms). Scheduled
/// and closed actions, most of a big rollout's, are never read.
pub fn activity(c: &mut AnyConnection, r: &Rollout, offline_before: i64) -> Result<Activity> {
    let groups = engine::groups(c, r.id)?;
    let group_ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let rows = group_counts(c, &group_ids)?;
    let mut q = Sql::new().sql("SELECT a.rollout_group_id, ");
    q.push_sql(STAGE);
    q.push_sql(", CASE WHEN a.target_last_poll IS NULL OR a.target_last_poll < ");
    q.push_int(offline_before);
    q.push_sql(
        " THEN 1 ELSE 0 END, COUNT(*) FROM actions a \
         WHERE a.active AND a.rollout_id = ",
    );
    q.push_int(r.id);
    q.push_sql(" GROUP BY 1, 2, 3");
    let open: Vec<(Option<i64>, String, i32, i64)> = Select::<StageRow>::new(q).load(c)?;
    let soak_by_group = if r.soak_time.is_some() {
        soak::by_group(c, r.id, None)?
    } else {
        HashMap::new()
    };
    let soak_failures = if r.soak_time.is_some() {
        soak::failures(c, r.id, None)?
    } else {
        Vec::new()
    };

    let mut counts: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let mut stages: HashMap<i64, Stages> = HashMap::new();
    let mut moved: HashMap<i64, i64> = HashMap::new();
    for (g, status, n, last) in rows {
        let Some(g) = g else { continue };
        counts.entry(g).or_default().push((status, n));
        if let Some(last) = last {
            let m = moved.entry(g).or_default();
            *m = (*m).max(last);
        }
    }
    for (g, stage, offline, n) in open {
        let Some(g) = g else { continue };
        let s = stages.entry(g).or_default();
        if offline == 1 {
            s.offline += n;
        }
        match stage.as_str() {
            "canceling" => s.canceling += n,
            "confirming" => s.confirming += n,
            "not_polled" => s.not_polled += n,
            "downloading" => s.downloading += n,
            _ => s.installing += n,
        }
    }
    let download_only = r.action_type == ActionType::DownloadOnly;
    let mut rollout_counts: Vec<(String, i64)> = Vec::new();
    let groups: Vec<GroupActivity> = groups
        .into_iter()
        .map(|g| {
            let mut per_status = counts.remove(&g.id).unwrap_or_default();
            soak::apply(
                &mut per_status,
                soak_by_group.get(&g.id).copied().unwrap_or_default(),
            );
            rollout_counts.extend(per_status.iter().cloned());
            GroupActivity {
                totals: totals_per_status(&per_status, g.total_targets, download_only),
                open: stages.get(&g.id).copied().unwrap_or_default(),
                last_moved: moved
                    .get(&g.id)
                    .copied()
                    .unwrap_or(g.last_modified_at)
                    .max(g.last_modified_at),
                group: g,
            }
        })
        .collect();
    let hold = (r.status() == RolloutStatus::Paused)
        .then(|| hold(r, &groups))
        .flatten();
    Ok(Activity {
        totals: totals_per_status(&rollout_counts, r.total_targets, download_only),
        groups,
        hold,
        soak_failures,
        offline_before,
    })
}

/// Why paused rollout `r` is paused: the engine pauses as `system` (engine::evaluate) when a group
/// passes its error threshold (the group goes to ERROR) or meets a success threshold whose action
/// is PAUSE; anyone else paused it by hand.
fn hold(r: &Rollout, groups: &[GroupActivity]) -> Option<Hold> {
    if r.last_modified_by != "system" {
        return Some(Hold::Operator(r.last_modified_by.clone()));
    }
    if let Some(g) = groups.iter().find(|g| g.group.status() == GroupStatus::Error) {
        let total = g.started();
        return Some(Hold::ErrorThreshold {
            group: g.group.name.clone(),
            errors: g.totals.get("error").copied().unwrap_or(0),
            total,
            threshold: g.group.conditions().error_threshold(),
        });
    }
    groups
        .iter()
        .rev()
        .find(|g| {
            g.group.conditions().pauses_on_success()
                && matches!(g.group.status(), GroupStatus::Running | GroupStatus::Finished)
        })
        .map(|g| Hold::SuccessPause {
            group: g.group.name.clone(),
            threshold: g.group.conditions().success_threshold(),
        })
}

/// Cancels the open actions of group `group_id` of the tenant's rollout `id` whose devices did not
/// poll since `offline_before`, as the Management API's cancel and force quit do one by one
/// (`DELETE /rest/v1/targets/{id}/actions/{actionId}`, then with `force=true`): a device that is
/// gone never confirms a cancel, so its action closes at once, and the group no longer waits for
/// it. Answers how many were canceled.
pub fn cancel_stragglers(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    group_id: i64,
    offline_before: i64,
    by: &str,
    now: i64,
) -> Result<(usize, Changes)> {
    let r = engine::lock_of_tenant(c, tenant, id)?;
    if !engine::groups(c, r.id)?.iter().any(|g| g.id == group_id) {
        return Err(Error::not_found("RolloutGroup", group_id));
    }
    let stragglers: Vec<(i64, String, String)> = actions::table
        .inner_join(targets::table)
        .filter(actions::rollout_group_id.eq(group_id))
        .filter(actions::active)
        .filter(
            targets::last_poll
                .is_null()
                .or(targets::last_poll.lt(offline_before)),
        )
        .select((actions::id, targets::controller_id, actions::status))
        .load(c)?;
    let mut changes = Changes::rollout(r.id);
    for (action, cid, status) in &stragglers {
        if status != ActionStatus::Canceling.as_str() {
            changes = changes.and(cancel_action(c, tenant, cid, *action, false, by, now)?);
        }
        changes = changes.and(cancel_action(c, tenant, cid, *action, true, by, now)?);
    }
    Ok((stragglers.len(), changes))
}
