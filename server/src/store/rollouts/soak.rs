//! Health-gated rollouts, an Updraft extension to hawkBit's: a rollout with a soak time counts a
//! device toward its group's success only after it reported success **and** then stayed healthy
//! for the soak time. Healthy means, during the whole soak:
//!
//! - it kept polling: no silence longer than [`SILENCE_POLLS`] times the tenant's longest polling
//!   interval (`pollingTime`, its deviation included);
//! - it reported no rollback: `updraft.rollback_reason` has no new value (compared with its value
//!   when the device's group started), and `updraft.slot.booted` stayed the slot it reported when
//!   the soak started (a client sends its slot attributes before its success feedback);
//! - it reported no failed health: `updraft.health`, when present, is `ok`.
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

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::Rollout;
use crate::store::query::Sql;
use crate::store::schema::rollout_soaks;
use crate::store::tenants::TenantSettings;
use crate::store::{AnyConnection, Error, Result, Rule};

type Stmt = Sql<Bool>;

/// A device fails its soak after this many polling intervals without a poll.
pub const SILENCE_POLLS: i64 = 3;
/// The longest soak time a rollout may set, in seconds (30 days).
pub const MAX_SOAK_SECS: i64 = 30 * 24 * 3600;

/// The slot the device booted (`a`, `b`, or whatever names its bootloader uses).
pub const BOOTED_SLOT: &str = "updraft.slot.booted";
/// Why the device last rolled back (`bootloader`, `health`, `watchdog`, …); set on a rollback.
pub const ROLLBACK_REASON: &str = "updraft.rollback_reason";
/// `ok` while the device's health check passes; anything else is a failure.
pub const HEALTH: &str = "updraft.health";

/// Checks a requested soak time (seconds); downloadonly rollouts install nothing to soak.
pub fn validate(soak_secs: Option<i64>, download_only: bool) -> Result<()> {
    let Some(s) = soak_secs else {
        return Ok(());
    };
    if !(1..=MAX_SOAK_SECS).contains(&s) {
        return Err(Error::refused(
            Rule::Constraint,
            format!("soakTime must be between 1 and {MAX_SOAK_SECS} seconds, not {s}."),
        ));
    }
    if download_only {
        return Err(Error::refused(
            Rule::Constraint,
            "soakTime does not apply to downloadonly rollouts: their devices install nothing.",
        ));
    }
    Ok(())
}

/// How long a soaking device may stay silent, in milliseconds: [`SILENCE_POLLS`] times the
/// longest interval the tenant's `pollingTime` can hand out.
pub fn silence_limit_ms(settings: &TenantSettings) -> i64 {
    let p = &settings.polling_time;
    let longest = std::iter::once(p.default)
        .chain(p.overrides.iter().map(|(_, t)| *t))
        .map(|t| t.interval.as_millis() as i64 * (100 + i64::from(t.deviation_percent)) / 100)
        .max()
        .unwrap_or(0);
    SILENCE_POLLS * longest.max(1000)
}

/// Starts the soak of every newly finished action of `r` and takes the verdicts that are due.
pub fn track(conn: &mut AnyConnection, settings: &TenantSettings, r: &Rollout, now: i64) -> Result<()> {
    let Some(soak_secs) = r.soak_time else {
        return Ok(());
    };
    start(conn, r.id, soak_secs * 1000)?;
    judge(conn, r.id, silence_limit_ms(settings), now)
}

/// The current value of the target's attribute `key`, as a subquery.
fn attribute(key: &str) -> Stmt {
    Stmt::new()
        .sql("(SELECT ta.attr_value FROM target_attributes ta WHERE ta.target_id = a.target_id AND ta.attr_key = ")
        .text(key)
        .sql(")")
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
    let finished_at = "(SELECT a.last_modified_at FROM actions a WHERE a.id = rollout_soaks.action_id)";
    Stmt::new()
        .sql("UPDATE rollout_soaks SET outcome = 'soaking', started_at = ")
        .sql(finished_at)
        .sql(", ends_at = ")
        .sql(finished_at)
        .sql(" + ")
        .int(soak_ms)
        .sql(", booted_slot = (SELECT ta.attr_value FROM target_attributes ta WHERE ta.target_id = rollout_soaks.target_id AND ta.attr_key = ")
        .text(BOOTED_SLOT)
        .sql(") WHERE rollout_id = ")
        .int(rollout_id)
        .sql(
            " AND outcome = 'pending' AND EXISTS (SELECT 1 FROM actions a \
             WHERE a.id = rollout_soaks.action_id AND a.status = 'finished')",
        )
        .execute(conn)?;
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

/// Fails the soaking rows of the rollout that match `condition` (on `rollout_soaks s` and the
/// target's attribute values `ta`), giving `reason`.
fn fail(conn: &mut AnyConnection, rollout_id: i64, reason: &str, condition: Stmt, now: i64) -> Result<()> {
    let mut update = Stmt::new()
        .sql("UPDATE rollout_soaks SET outcome = 'failed', reason = ")
        .text(reason)
        .sql(", decided_at = ")
        .int(now)
        .sql(" WHERE rollout_id = ")
        .int(rollout_id)
        .sql(" AND outcome = 'soaking' AND (");
    update.push(condition);
    update.push_sql(")");
    update.execute(conn)?;
    Ok(())
}

/// The target attribute `key` of the soak row being updated, compared by `rest`.
fn attribute_where(key: &str, rest: &str) -> Stmt {
    Stmt::new()
        .sql("EXISTS (SELECT 1 FROM target_attributes ta WHERE ta.target_id = rollout_soaks.target_id AND ta.attr_key = ")
        .text(key)
        .sql(" AND ")
        .sql(rest)
        .sql(")")
}

/// Rollbacks, then failed health, then silence; the rows still healthy at their end pass.
fn judge(conn: &mut AnyConnection, rollout_id: i64, silence_ms: i64, now: i64) -> Result<()> {
    let mut rollback = attribute_where(
        ROLLBACK_REASON,
        "ta.attr_value <> '' AND (rollout_soaks.rollback_reason IS NULL \
         OR ta.attr_value <> rollout_soaks.rollback_reason)",
    );
    rollback.push_sql(" OR ");
    rollback.push(attribute_where(
        BOOTED_SLOT,
        "rollout_soaks.booted_slot IS NOT NULL AND ta.attr_value <> rollout_soaks.booted_slot",
    ));
    fail(conn, rollout_id, "rollback", rollback, now)?;
    fail(
        conn,
        rollout_id,
        "health",
        attribute_where(HEALTH, "ta.attr_value <> 'ok'"),
        now,
    )?;
    // Silence is measured up to the soak's end: a device may go quiet once its soak passed.
    let silent = Stmt::new()
        .sql("EXISTS (SELECT 1 FROM targets t WHERE t.id = rollout_soaks.target_id AND t.last_poll < ")
        .sql("(CASE WHEN rollout_soaks.ends_at < ")
        .int(now)
        .sql(" THEN rollout_soaks.ends_at ELSE ")
        .int(now)
        .sql(" END) - ")
        .int(silence_ms)
        .sql(")");
    fail(conn, rollout_id, "silent", silent, now)?;
    diesel::update(
        rollout_soaks::table
            .filter(rollout_soaks::rollout_id.eq(rollout_id))
            .filter(rollout_soaks::outcome.eq("soaking"))
            .filter(rollout_soaks::ends_at.le(now)),
    )
    .set((
        rollout_soaks::outcome.eq("passed"),
        rollout_soaks::decided_at.eq(now),
    ))
    .execute(conn)?;
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
    let mut q = rollout_soaks::table
        .filter(rollout_soaks::rollout_id.eq(rollout_id))
        .filter(rollout_soaks::outcome.eq_any(["soaking", "failed"]))
        .group_by(rollout_soaks::outcome)
        .select((rollout_soaks::outcome, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(g) = group_id {
        q = q.filter(rollout_soaks::group_id.eq(g));
    }
    let mut c = Counts::default();
    for (outcome, n) in q.load::<(String, i64)>(conn)? {
        match outcome.as_str() {
            "soaking" => c.soaking += n,
            _ => c.failed += n,
        }
    }
    Ok(c)
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

/// Failed soaks of a rollout (or one group) by reason (`rollback`, `health`, `silent`).
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
