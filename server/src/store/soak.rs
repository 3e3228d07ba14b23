//! Soak time, an Updraft extension shared by rollouts ([`super::rollouts::soak`]) and
//! auto-assignments ([`super::auto_assign_soak`]): a device's success counts only after it then
//! stayed healthy for the soak time. Healthy means, during the whole soak:
//!
//! - it kept polling: no silence longer than [`SILENCE_POLLS`] times the tenant's longest polling
//!   interval (`pollingTime`, its deviation included);
//! - it reported no rollback: `updraft.rollback_reason` has no new value (compared with its value
//!   before the update), and `updraft.slot.booted` stayed the slot it reported when the soak
//!   started (a client sends its slot attributes before its success feedback);
//! - it reported no failed health: `updraft.health`, when present, is `ok`;
//! - it matches the health gate, when one is set: RSQL over the target (its attributes, tags, …).
//!
//! Each owner keeps one row per action in a table of its own (`rollout_soaks`,
//! `auto_assign_soaks`) with the same soak columns; a [`Scope`] names the table and the owner.
//! Rows are `pending` until their action finished, `soaking` until they end, then `passed` or
//! `failed` with a reason (`rollback`, `health`, `gate`, `silent`). Every statement here works on
//! all rows of one owner at once, so an evaluation costs a handful of statements however many
//! devices soak.

use diesel::RunQueryDsl;
use diesel::sql_types::Bool;

use crate::store::query::{self, Sql};
use crate::store::tenants::TenantSettings;
use crate::store::{AnyConnection, Error, Result, Rule};

type Stmt = Sql<Bool>;

/// A device fails its soak after this many polling intervals without a poll.
pub const SILENCE_POLLS: i64 = 3;
/// The longest soak time, in seconds (30 days).
pub const MAX_SOAK_SECS: i64 = 30 * 24 * 3600;
/// The longest health gate, in characters (as a target filter query).
pub const MAX_GATE_LEN: usize = 1024;

/// The slot the device booted (`a`, `b`, or whatever names its bootloader uses).
pub const BOOTED_SLOT: &str = "updraft.slot.booted";
/// Why the device last rolled back (`bootloader`, `health`, `watchdog`, …); set on a rollback.
pub const ROLLBACK_REASON: &str = "updraft.rollback_reason";
/// `ok` while the device's health check passes; anything else is a failure.
pub const HEALTH: &str = "updraft.health";

/// The soak rows of one owner: `table` has the soak columns and `owner` = `id` picks the rows.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub table: &'static str,
    pub owner: &'static str,
    pub id: i64,
}

/// How a soak is judged.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The soak time, in milliseconds.
    pub soak_ms: i64,
    /// How long a soaking device may stay silent ([`silence_limit_ms`]).
    pub silence_ms: i64,
    /// RSQL over targets a soaking device must keep matching.
    pub gate: Option<&'a str>,
}

/// Checks a requested soak time (seconds) and health gate (valid RSQL over targets, and only with
/// a soak time).
pub fn validate(soak_secs: Option<i64>, gate: Option<&str>) -> Result<()> {
    if let Some(s) = soak_secs
        && !(1..=MAX_SOAK_SECS).contains(&s)
    {
        return Err(Error::refused(
            Rule::Constraint,
            format!("soakTime must be between 1 and {MAX_SOAK_SECS} seconds, not {s}."),
        ));
    }
    let Some(gate) = gate else {
        return Ok(());
    };
    if soak_secs.is_none() {
        return Err(Error::refused(
            Rule::Constraint,
            "healthGate needs a soakTime: the gate is checked while devices soak.",
        ));
    }
    if gate.trim().is_empty() {
        return Err(Error::refused(Rule::Constraint, "healthGate must not be empty."));
    }
    crate::store::check_len("healthGate", gate, MAX_GATE_LEN)?;
    query::filter(&query::TARGETS, Some(gate)).map(drop)
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

/// The current value of attribute `key` of the target of action row `a`, as a subquery.
pub fn attribute(key: &str) -> Stmt {
    Stmt::new()
        .sql("(SELECT ta.attr_value FROM target_attributes ta WHERE ta.target_id = a.target_id AND ta.attr_key = ")
        .text(key)
        .sql(")")
}

/// Pending rows whose action finished start soaking, from the time the action finished; they
/// keep the rollback reason from before the update and take the slot booted now.
pub fn start(conn: &mut AnyConnection, scope: Scope, soak_ms: i64) -> Result<()> {
    let t = scope.table;
    let finished_at = format!("(SELECT a.last_modified_at FROM actions a WHERE a.id = {t}.action_id)");
    Stmt::new()
        .sql(&format!("UPDATE {t} SET outcome = 'soaking', started_at = {finished_at}, ends_at = {finished_at} + "))
        .int(soak_ms)
        .sql(&format!(
            ", booted_slot = (SELECT ta.attr_value FROM target_attributes ta WHERE ta.target_id = {t}.target_id AND ta.attr_key = "
        ))
        .text(BOOTED_SLOT)
        .sql(&format!(") WHERE {} = ", scope.owner))
        .int(scope.id)
        .sql(&format!(
            " AND outcome = 'pending' AND EXISTS (SELECT 1 FROM actions a \
             WHERE a.id = {t}.action_id AND a.status = 'finished')"
        ))
        .execute(conn)?;
    Ok(())
}

/// Fails the soaking rows of the scope that match `condition` (on the soak table and the target's
/// attribute values `ta`), giving `reason`.
pub fn fail(conn: &mut AnyConnection, scope: Scope, reason: &str, condition: Stmt, now: i64) -> Result<()> {
    let mut update = Stmt::new()
        .sql(&format!(
            "UPDATE {} SET outcome = 'failed', reason = ",
            scope.table
        ))
        .text(reason)
        .sql(", decided_at = ")
        .int(now)
        .sql(&format!(" WHERE {} = ", scope.owner))
        .int(scope.id)
        .sql(" AND outcome = 'soaking' AND (");
    update.push(condition);
    update.push_sql(")");
    update.execute(conn)?;
    Ok(())
}

/// The target attribute `key` of the soak row being updated, compared by `rest`.
fn attribute_where(table: &str, key: &str, rest: &str) -> Stmt {
    Stmt::new()
        .sql(&format!(
            "EXISTS (SELECT 1 FROM target_attributes ta WHERE ta.target_id = {table}.target_id AND ta.attr_key = "
        ))
        .text(key)
        .sql(" AND ")
        .sql(&rest.replace("{t}", table))
        .sql(")")
}

/// Rollbacks, failed health, the gate, then silence; the rows still healthy at their end pass.
pub fn judge(conn: &mut AnyConnection, scope: Scope, rules: &Rules<'_>, now: i64) -> Result<()> {
    let t = scope.table;
    let mut rollback = attribute_where(
        t,
        ROLLBACK_REASON,
        "ta.attr_value <> '' AND ({t}.rollback_reason IS NULL OR ta.attr_value <> {t}.rollback_reason)",
    );
    rollback.push_sql(" OR ");
    rollback.push(attribute_where(
        t,
        BOOTED_SLOT,
        "{t}.booted_slot IS NOT NULL AND ta.attr_value <> {t}.booted_slot",
    ));
    fail(conn, scope, "rollback", rollback, now)?;
    fail(
        conn,
        scope,
        "health",
        attribute_where(t, HEALTH, "ta.attr_value <> 'ok'"),
        now,
    )?;
    // One statement for every soaking device: those whose target no longer matches the gate.
    // The filter names `targets.<column>`, so the subquery's table keeps its own name.
    if let Some(gate) = rules.gate
        && let Ok(filter) = query::filter(&query::TARGETS, Some(gate))
    {
        let mut outside = Stmt::new().sql(&format!(
            "NOT EXISTS (SELECT 1 FROM targets WHERE targets.id = {t}.target_id AND ("
        ));
        outside.push(filter);
        outside.push_sql("))");
        fail(conn, scope, "gate", outside, now)?;
    }
    // Silence is measured up to the soak's end: a device may go quiet once its soak passed.
    let silent = Stmt::new()
        .sql(&format!(
            "EXISTS (SELECT 1 FROM targets t WHERE t.id = {t}.target_id AND t.last_poll < (CASE WHEN {t}.ends_at < "
        ))
        .int(now)
        .sql(&format!(" THEN {t}.ends_at ELSE "))
        .int(now)
        .sql(" END) - ")
        .int(rules.silence_ms)
        .sql(")");
    fail(conn, scope, "silent", silent, now)?;
    Stmt::new()
        .sql(&format!("UPDATE {t} SET outcome = 'passed', decided_at = "))
        .int(now)
        .sql(&format!(" WHERE {} = ", scope.owner))
        .int(scope.id)
        .sql(" AND outcome = 'soaking' AND ends_at <= ")
        .int(now)
        .execute(conn)?;
    Ok(())
}
