//! Soak time for auto-assignments, an Updraft extension to hawkBit's: a target filter's
//! auto-assignment may set a soak time (and a health gate, and an error threshold). Every device
//! it assigns to then soaks as a rollout's device does ([`crate::store::soak`]), and when too many
//! soaks fail, the auto-assignment pauses itself: it assigns its set to no further device until
//! it is set again, so a bad image does not spread to devices that register later.
//!
//! - A row of `auto_assign_soaks` is written with each action the auto-assignment creates
//!   ([`record`]), holding the device's `updraft.rollback_reason` from before the update.
//! - [`sweep`] runs on every scheduler sweep: rows whose action finished start soaking, and the
//!   due verdicts are taken by the shared rules. An action that ends in `error` is a failed soak
//!   too (reason `error`: the device could not even install the set); a canceled one is dropped.
//! - The auto-assignment pauses when `failed × 100 > threshold × max(decided, MIN_DECIDED)`, where
//!   `decided` counts passed and failed soaks: a share over the threshold, counted over at least
//!   [`MIN_DECIDED`] devices, so one early failure alone does not pause it but a few do.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::query::Sql;
use super::schema::{auto_assign_soaks as soaks, target_filter_queries as tfq};
use super::soak::{self, ROLLBACK_REASON, Rules, Scope};
use super::{AnyConnection, Error, Result, Rule, tenants};

type Stmt = Sql<Bool>;

/// The error threshold (percent of decided soaks) when the auto-assignment names none.
pub const DEFAULT_ERROR_THRESHOLD: i32 = 20;
/// The failure share is counted over at least this many devices.
pub const MIN_DECIDED: i64 = 5;

/// Checks an auto-assignment's soak settings: the shared soak time and gate rules, and a
/// threshold only with a soak time, from 0 to 100 percent.
pub fn validate(soak_secs: Option<i64>, gate: Option<&str>, threshold: Option<i32>) -> Result<()> {
    soak::validate(soak_secs, gate)?;
    match threshold {
        Some(_) if soak_secs.is_none() => Err(Error::refused(
            Rule::Constraint,
            "soakErrorThreshold needs a soakTime: it counts failed soaks.",
        )),
        Some(t) if !(0..=100).contains(&t) => Err(Error::refused(
            Rule::Constraint,
            format!("soakErrorThreshold must be a percentage from 0 to 100, not {t}."),
        )),
        _ => Ok(()),
    }
}

/// The soak rows of filter `id`.
fn scope(id: i64) -> Scope {
    Scope {
        table: "auto_assign_soaks",
        owner: "filter_id",
        id,
    }
}

/// Writes the pending soak row of an action filter `filter_id` just created, with the device's
/// rollback reason from before the update.
pub fn record(c: &mut AnyConnection, filter_id: i64, action_id: i64) -> Result<()> {
    let mut insert = Stmt::new()
        .sql(
            "INSERT INTO auto_assign_soaks (action_id, filter_id, target_id, started_at, ends_at, \
             rollback_reason, outcome) SELECT a.id, ",
        )
        .int(filter_id)
        .sql(", a.target_id, 0, 0, ");
    insert.push(soak::attribute(ROLLBACK_REASON));
    insert = insert
        .sql(", 'pending' FROM actions a WHERE a.id = ")
        .int(action_id);
    insert.execute(c)?;
    Ok(())
}

/// Drops the soak rows of a filter: its auto-assignment was set again or removed.
pub fn forget(c: &mut AnyConnection, filter_id: i64) -> Result<()> {
    diesel::delete(soaks::table.filter(soaks::filter_id.eq(filter_id))).execute(c)?;
    Ok(())
}

/// Soak counts of one auto-assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Assigned, not finished yet.
    pub pending: i64,
    pub soaking: i64,
    pub passed: i64,
    /// Failed soaks by reason (`rollback`, `health`, `gate`, `silent`, `error`).
    pub failed: Vec<(String, i64)>,
}

impl Counts {
    pub fn failed_total(&self) -> i64 {
        self.failed.iter().map(|(_, n)| n).sum()
    }
}

/// The soak counts of filter `filter_id`.
pub fn counts(c: &mut AnyConnection, filter_id: i64) -> Result<Counts> {
    let rows: Vec<(String, Option<String>, i64)> = soaks::table
        .filter(soaks::filter_id.eq(filter_id))
        .group_by((soaks::outcome, soaks::reason))
        .select((soaks::outcome, soaks::reason, diesel::dsl::count_star()))
        .load(c)?;
    let mut out = Counts::default();
    for (outcome, reason, n) in rows {
        match outcome.as_str() {
            "pending" => out.pending += n,
            "soaking" => out.soaking += n,
            "passed" => out.passed += n,
            _ => out.failed.push((reason.unwrap_or_default(), n)),
        }
    }
    out.failed.sort();
    Ok(out)
}

/// An auto-assignment with a soak time.
#[derive(Queryable)]
struct Soaking {
    id: i64,
    tenant: String,
    soak_time: i64,
    gate: Option<String>,
    threshold: Option<i32>,
    paused: bool,
}

/// Takes the due verdicts of every auto-assignment with a soak time (paused ones too, so their
/// counts still become what their devices did), and pauses those whose failures reached their
/// threshold. Returns how many it paused.
pub fn sweep(c: &mut AnyConnection, now: i64) -> Result<usize> {
    let filters: Vec<Soaking> = tfq::table
        .filter(tfq::auto_assign_ds_id.is_not_null())
        .filter(tfq::auto_assign_soak_time.is_not_null())
        .select((
            tfq::id,
            tfq::tenant,
            tfq::auto_assign_soak_time.assume_not_null(),
            tfq::auto_assign_health_gate,
            tfq::auto_assign_soak_error_threshold,
            tfq::auto_assign_paused_at.is_not_null(),
        ))
        .load(c)?;
    let mut paused = 0;
    for f in filters {
        let settings = tenants::load(c, &f.tenant)?;
        let rules = Rules {
            soak_ms: f.soak_time * 1000,
            silence_ms: soak::silence_limit_ms(&settings),
            gate: f.gate.as_deref(),
        };
        settle_unfinished(c, f.id, now)?;
        soak::start(c, scope(f.id), rules.soak_ms)?;
        soak::judge(c, scope(f.id), &rules, now)?;
        if f.paused {
            continue;
        }
        let counts = counts(c, f.id)?;
        let threshold = f.threshold.unwrap_or(DEFAULT_ERROR_THRESHOLD);
        if let Some(reason) = pause_reason(&counts, threshold) {
            tracing::warn!(filter = f.id, tenant = %f.tenant, %reason, "auto-assignment paused");
            paused += diesel::update(tfq::table.find(f.id).filter(tfq::auto_assign_paused_at.is_null()))
                .set((
                    tfq::auto_assign_paused_at.eq(now),
                    tfq::auto_assign_pause_reason.eq(reason),
                ))
                .execute(c)?;
        }
    }
    Ok(paused)
}

/// Why the auto-assignment pauses with these counts, if it does.
pub fn pause_reason(counts: &Counts, threshold: i32) -> Option<String> {
    let failed = counts.failed_total();
    let decided = failed + counts.passed;
    if failed == 0 || failed * 100 <= i64::from(threshold) * decided.max(MIN_DECIDED) {
        return None;
    }
    let by_reason: Vec<String> = counts.failed.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    Some(format!(
        "{failed} of {decided} devices whose soak is decided failed it ({}), more than the \
         threshold of {threshold} % (counted over at least {MIN_DECIDED} devices).",
        by_reason.join(", ")
    ))
}

/// Rows whose action ended without finishing: an error fails the soak, a cancellation drops it.
fn settle_unfinished(c: &mut AnyConnection, filter_id: i64, now: i64) -> Result<()> {
    let ended = |status: &str| {
        Stmt::new()
            .sql("EXISTS (SELECT 1 FROM actions a WHERE a.id = auto_assign_soaks.action_id AND a.status = ")
            .text(status)
            .sql(")")
    };
    let mut fail = Stmt::new()
        .sql("UPDATE auto_assign_soaks SET outcome = 'failed', reason = 'error', decided_at = ")
        .int(now)
        .sql(" WHERE filter_id = ")
        .int(filter_id)
        .sql(" AND outcome = 'pending' AND ");
    fail.push(ended("error"));
    fail.execute(c)?;
    let mut drop = Stmt::new()
        .sql("DELETE FROM auto_assign_soaks WHERE filter_id = ")
        .int(filter_id)
        .sql(" AND outcome = 'pending' AND ");
    drop.push(ended("canceled"));
    drop.execute(c)?;
    Ok(())
}
