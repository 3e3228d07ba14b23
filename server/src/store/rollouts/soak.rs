//! Health-gated rollouts, an Updraft extension to hawkBit's: a rollout with a soak time counts a
//! device toward its group's success only after it reported success **and** then stayed healthy
//! for the soak time. Healthy means, during the whole soak:
//!
//! - it kept polling: no silence longer than [`SILENCE_POLLS`] times the tenant's longest polling
//!   interval (`pollingTime`, its deviation included);
//! - it reported no rollback: `updraft.rollback_reason` has no new value (compared with its value
//!   when the device's group started), and `updraft.slot.booted` stayed the slot it reported when
//!   the soak started (a client sends its slot attributes before its success feedback);
//! - it reported no failed health: `updraft.health`, when present, is `ok`;
//! - it kept matching the rollout's health gate (RSQL over targets), when it has one.
//!
//! The rules themselves are shared with auto-assignments ([`crate::store::soak`]); this module
//! keeps a rollout's rows (`rollout_soaks`, per group) and its counts.
//!
//! A device that breaks one of these fails its soak, which counts as an error of its group (so the
//! group's error threshold pauses the rollout before the next group starts); one that gets through
//! counts as finished. While it soaks, its action counts as running. The action itself stays
//! finished: the device did install the set.
//!
//! The verdicts are taken by [`track`], which [`super::engine::evaluate`] runs for a running or
//! paused rollout: after every report of its devices and on every scheduler sweep, with the
//! server's clock, so a test that shifts the clock needs no sleeping. Attributes are judged as the
//! server sees them at each evaluation.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::Rollout;
use crate::store::models::ActionStatus;
use crate::store::query::Sql;
use crate::store::schema::{actions, rollout_soaks};
use crate::store::soak::{self as shared, ROLLBACK_REASON, Rules, Scope, attribute};
use crate::store::tenants::TenantSettings;
use crate::store::{AnyConnection, Error, Result, Rule};

pub use crate::store::soak::{BOOTED_SLOT, HEALTH, MAX_SOAK_SECS, SILENCE_POLLS, silence_limit_ms};

type Stmt = Sql<Bool>;

/// Checks a requested soak time (seconds) and health gate; downloadonly rollouts install nothing
/// to soak.
pub fn validate(soak_secs: Option<i64>, gate: Option<&str>, download_only: bool) -> Result<()> {
    shared::validate(soak_secs, gate)?;
    if download_only && soak_secs.is_some() {
        return Err(Error::refused(
            Rule::Constraint,
            "soakTime does not apply to downloadonly rollouts: their devices install nothing.",
        ));
    }
    Ok(())
}

/// The soak rows of rollout `id`.
fn scope(id: i64) -> Scope {
    Scope {
        table: "rollout_soaks",
        owner: "rollout_id",
        id,
    }
}

/// Starts the soak of every newly finished action of `r` and takes the verdicts that are due.
pub fn track(conn: &mut AnyConnection, settings: &TenantSettings, r: &Rollout, now: i64) -> Result<()> {
    let Some(soak_secs) = r.soak_time else {
        return Ok(());
    };
    let rules = Rules {
        soak_ms: soak_secs * 1000,
        silence_ms: silence_limit_ms(settings),
        gate: r.health_gate.as_deref(),
    };
    start(conn, r.id, rules.soak_ms)?;
    shared::judge(conn, scope(r.id), &rules, now)
}

/// When a group of a rollout with a soak time starts: remembers each device's
/// `updraft.rollback_reason` from before the update, so a rollback reported at any time after it
/// counts, however soon after the success it comes.
pub fn prepare(conn: &mut AnyConnection, r: &Rollout, group_id: i64) -> Result<()> {
    if r.soak_time.is_none() {
        return Ok(());
    }
    let mut insert = Stmt::new().sql(
        "INSERT INTO rollout_soaks (action_id, rollout_id, group_id, target_id, started_at, ends_at, \
         rollback_reason, outcome) SELECT a.id, a.rollout_id, a.rollout_group_id, a.target_id, 0, 0, ",
    );
    insert.push(attribute(ROLLBACK_REASON));
    insert = insert
        .sql(", 'pending' FROM actions a WHERE a.rollout_group_id = ")
        .int(group_id)
        .sql(" AND a.active = ")
        .boolean(true)
        .sql(" AND NOT EXISTS (SELECT 1 FROM rollout_soaks s WHERE s.action_id = a.id)");
    insert.execute(conn)?;
    Ok(())
}

/// Finished actions start their soak, from the time they finished: prepared ones keep the
/// rollback reason from before the update, others (finished at once) take the current one.
fn start(conn: &mut AnyConnection, rollout_id: i64, soak_ms: i64) -> Result<()> {
    shared::start(conn, scope(rollout_id), soak_ms)?;
    let mut insert = Stmt::new().sql(
        "INSERT INTO rollout_soaks (action_id, rollout_id, group_id, target_id, started_at, ends_at, \
         booted_slot, rollback_reason, outcome) SELECT a.id, a.rollout_id, a.rollout_group_id, a.target_id, \
         a.last_modified_at, a.last_modified_at + ",
    );
    insert.push_int(soak_ms);
    insert.push_sql(", ");
    insert.push(attribute(BOOTED_SLOT));
    insert.push_sql(", ");
    insert.push(attribute(ROLLBACK_REASON));
    insert = insert
        .sql(", 'soaking' FROM actions a WHERE a.rollout_id = ")
        .int(rollout_id)
        .sql(
            " AND a.rollout_group_id IS NOT NULL AND a.status = 'finished' \
             AND NOT EXISTS (SELECT 1 FROM rollout_soaks s WHERE s.action_id = a.id)",
        );
    insert.execute(conn)?;
    Ok(())
}

/// Devices of a rollout (or one group) still soaking, and those that failed their soak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub soaking: i64,
    pub failed: i64,
}

/// The soak counts of a rollout, or of one of its groups.
pub fn counts(conn: &mut AnyConnection, rollout_id: i64, group_id: Option<i64>) -> Result<Counts> {
    Ok(by_group(conn, rollout_id, group_id)?
        .into_values()
        .fold(Counts::default(), |a, b| Counts {
            soaking: a.soaking + b.soaking,
            failed: a.failed + b.failed,
        }))
}

/// The soak counts of each group of a rollout (or of one group). A device whose success is not
/// yet tracked (its row still `pending`: the evaluation after its report has not committed) counts
/// as soaking already, so no reader ever sees it finished before its soak.
pub fn by_group(
    conn: &mut AnyConnection,
    rollout_id: i64,
    group_id: Option<i64>,
) -> Result<HashMap<i64, Counts>> {
    let mut q = rollout_soaks::table
        .inner_join(actions::table.on(actions::id.eq(rollout_soaks::action_id)))
        .filter(rollout_soaks::rollout_id.eq(rollout_id))
        .filter(
            rollout_soaks::outcome
                .eq_any(["soaking", "failed"])
                .or(rollout_soaks::outcome
                    .eq("pending")
                    .and(actions::status.eq(ActionStatus::Finished))),
        )
        .group_by((rollout_soaks::group_id, rollout_soaks::outcome))
        .select((
            rollout_soaks::group_id,
            rollout_soaks::outcome,
            diesel::dsl::count_star(),
        ))
        .into_boxed();
    if let Some(g) = group_id {
        q = q.filter(rollout_soaks::group_id.eq(g));
    }
    let mut out: HashMap<i64, Counts> = HashMap::new();
    for (g, outcome, n) in q.load::<(i64, String, i64)>(conn)? {
        let c = out.entry(g).or_default();
        match outcome.as_str() {
            "failed" => c.failed += n,
            _ => c.soaking += n,
        }
    }
    Ok(out)
}

/// Action counts per status with the soak applied: a finished action still soaking counts as
/// running, one whose soak failed as an error.
pub fn apply(counts: &mut Vec<(String, i64)>, soak: Counts) {
    if soak == Counts::default() {
        return;
    }
    for (status, n) in counts.iter_mut() {
        if status == "finished" {
            *n -= soak.soaking + soak.failed;
        }
    }
    counts.push(("running".to_owned(), soak.soaking));
    counts.push(("error".to_owned(), soak.failed));
}

/// Failed soaks of a rollout (or one group) by reason (`rollback`, `health`, `gate`, `silent`).
pub fn failures(
    conn: &mut AnyConnection,
    rollout_id: i64,
    group_id: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    let mut q = rollout_soaks::table
        .filter(rollout_soaks::rollout_id.eq(rollout_id))
        .filter(rollout_soaks::outcome.eq("failed"))
        .group_by(rollout_soaks::reason)
        .select((rollout_soaks::reason, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(g) = group_id {
        q = q.filter(rollout_soaks::group_id.eq(g));
    }
    Ok(q.load::<(Option<String>, i64)>(conn)?
        .into_iter()
        .map(|(r, n)| (r.unwrap_or_default(), n))
        .collect())
}
