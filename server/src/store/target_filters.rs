//! Target filter queries: stored RSQL over targets, and the distribution set each may auto-assign to
//! the targets it matches (the assigning itself is `store::auto_assign`'s, run by the scheduler).

use diesel::prelude::*;

use super::distribution_sets::assignable_ds;
use super::models::ActionType;
use super::page::{ListQuery, Paged, paginate};
use super::query::{Sql, SqlFilter};
use super::schema::target_filter_queries as tfq;
use super::schema::targets;
use super::{AnyConnection, Changes, Error, Result, Rule, check_len, query};

const MAX_NAME_LEN: usize = 128;
const MAX_QUERY_LEN: usize = 1024;

/// A stored filter and its auto-assignment settings.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tfq)]
pub struct Filter {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub auto_assign_ds_id: Option<i64>,
    pub auto_assign_action_type: Option<String>,
    pub auto_assign_weight: Option<i32>,
    pub confirmation_required: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    /// Updraft's soak time of the auto-assignment, in seconds ([`super::auto_assign_soak`]).
    #[diesel(column_name = auto_assign_soak_time)]
    pub soak_time: Option<i64>,
    /// RSQL over targets a soaking device must keep matching.
    #[diesel(column_name = auto_assign_health_gate)]
    pub health_gate: Option<String>,
    /// Percent of failed soaks that pauses the auto-assignment (default
    /// [`super::auto_assign_soak::DEFAULT_ERROR_THRESHOLD`]).
    #[diesel(column_name = auto_assign_soak_error_threshold)]
    pub soak_error_threshold: Option<i32>,
    /// When the auto-assignment paused itself, and why.
    #[diesel(column_name = auto_assign_paused_at)]
    pub paused_at: Option<i64>,
    #[diesel(column_name = auto_assign_pause_reason)]
    pub pause_reason: Option<String>,
}

/// Who changes a filter, and when.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub by: &'a str,
    pub now: i64,
}

/// The tenant's filter `id`.
pub fn find(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<Filter> {
    tfq::table
        .find(id)
        .filter(tfq::tenant.eq(tenant))
        .select(Filter::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("TargetFilterQuery", id))
}

/// One page of the tenant's filters.
pub fn list(c: &mut AnyConnection, tenant: &str, list: &ListQuery) -> Result<Paged<Filter>> {
    Ok(paginate!(
        c,
        tfq::table
            .filter(tfq::tenant.eq(tenant)) => Filter::as_select(),
        list
    ))
}

/// Refuses `name` when another filter of the tenant has it.
fn name_is_free(c: &mut AnyConnection, tenant: &str, name: &str, except: Option<i64>) -> Result<()> {
    let taken: Option<i64> = tfq::table
        .filter(tfq::tenant.eq(tenant).and(tfq::name.eq(name)))
        .select(tfq::id)
        .first(c)
        .optional()?;
    match taken {
        Some(id) if Some(id) != except => Err(Error::refused(
            Rule::AlreadyExists,
            format!("Target filter query with name {name} already exists."),
        )),
        _ => Ok(()),
    }
}

/// A name: present, at most 128 characters.
fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::refused(Rule::Constraint, "name must not be empty."));
    }
    check_len("name", name, MAX_NAME_LEN)
}

/// A query: present, at most 1024 characters, and valid RSQL over target fields.
fn check_query(q: &str) -> Result<()> {
    if q.trim().is_empty() {
        return Err(Error::refused(Rule::Constraint, "query must not be empty."));
    }
    check_len("query", q, MAX_QUERY_LEN)?;
    query::list_spec(&query::TARGETS, Some(q), None).map(|_| ())
}

/// Creates a filter; both fields are required.
pub fn create(
    c: &mut AnyConnection,
    tenant: &str,
    name: Option<&str>,
    query: Option<&str>,
    audit: Audit<'_>,
) -> Result<Filter> {
    let (Some(name), Some(q)) = (name, query) else {
        return Err(Error::refused(Rule::Constraint, "name and query are required."));
    };
    check_name(name)?;
    check_query(q)?;
    name_is_free(c, tenant, name, None)?;
    let id: i64 = diesel::insert_into(tfq::table)
        .values((
            tfq::tenant.eq(tenant),
            tfq::name.eq(name),
            tfq::query.eq(q),
            tfq::confirmation_required.eq(false),
            tfq::created_at.eq(audit.now),
            tfq::created_by.eq(audit.by),
            tfq::last_modified_at.eq(audit.now),
            tfq::last_modified_by.eq(audit.by),
        ))
        .returning(tfq::id)
        .get_result(c)?;
    find(c, tenant, id)
}

/// Changes a filter's name and/or query; what is not given stays.
pub fn update(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    name: Option<&str>,
    query: Option<&str>,
    audit: Audit<'_>,
) -> Result<Filter> {
    if let Some(name) = name {
        check_name(name)?;
    }
    if let Some(q) = query {
        check_query(q)?;
    }
    let old = find(c, tenant, id)?;
    let name = name.unwrap_or(&old.name);
    name_is_free(c, tenant, name, Some(id))?;
    diesel::update(tfq::table.find(id))
        .set((
            tfq::name.eq(name),
            tfq::query.eq(query.unwrap_or(&old.query)),
            tfq::last_modified_at.eq(audit.now),
            tfq::last_modified_by.eq(audit.by),
        ))
        .execute(c)?;
    find(c, tenant, id)
}

/// Deletes a filter.
pub fn delete(c: &mut AnyConnection, tenant: &str, id: i64) -> Result<()> {
    find(c, tenant, id)?;
    diesel::delete(tfq::table.find(id)).execute(c)?;
    Ok(())
}

/// What a filter auto-assigns (hawkBit's `MgmtDistributionSetAutoAssignment`, and Updraft's soak).
#[derive(Debug, Clone, Default)]
pub struct AutoAssign {
    /// The distribution set; required.
    pub ds_id: Option<i64>,
    /// `forced` when not given; `timeforced` is refused.
    pub action_type: Option<ActionType>,
    /// 0 to 1000.
    pub weight: Option<i32>,
    /// Whether devices must confirm; the tenant's consent-flow setting when not given.
    pub confirmation_required: Option<bool>,
    /// Updraft: seconds each assigned device must stay healthy after its success.
    pub soak_time: Option<i64>,
    /// Updraft: RSQL over targets a soaking device must keep matching; needs `soak_time`.
    pub health_gate: Option<String>,
    /// Updraft: percent of failed soaks that pauses the auto-assignment; needs `soak_time`.
    pub soak_error_threshold: Option<i32>,
}

impl AutoAssign {
    /// Checks the settings on their own: a set named, an action type auto-assignment may use, a
    /// weight in range. Returns the set and the action type.
    pub fn check(&self) -> Result<(i64, ActionType)> {
        let ds_id = self
            .ds_id
            .ok_or_else(|| Error::refused(Rule::Constraint, "id of the distribution set is required."))?;
        let action_type = self.action_type.unwrap_or(ActionType::Forced);
        if action_type == ActionType::TimeForced {
            return Err(Error::refused(
                Rule::AutoAssignActionType,
                "The given action type for auto-assignment is invalid: allowed values are 'forced', \
                 'soft' and 'downloadonly'.",
            ));
        }
        if self.weight.is_some_and(|w| !(0..=1000).contains(&w)) {
            return Err(Error::refused(
                Rule::Constraint,
                "weight must be between 0 and 1000.",
            ));
        }
        super::auto_assign_soak::validate(
            self.soak_time,
            self.health_gate.as_deref(),
            self.soak_error_threshold,
        )?;
        if self.soak_time.is_some() && action_type == ActionType::DownloadOnly {
            return Err(Error::refused(
                Rule::Constraint,
                "soakTime does not apply to downloadonly auto-assignments: their devices install nothing.",
            ));
        }
        Ok((ds_id, action_type))
    }
}

/// Makes the filter auto-assign a set: `default_confirmation` applies when the settings leave
/// consent open. Every matching target is then checked once, so auto-assignment is due. A paused
/// auto-assignment resumes, and its soaks are counted afresh.
pub fn set_auto_assign(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    settings: &AutoAssign,
    default_confirmation: bool,
    audit: Audit<'_>,
) -> Result<(Filter, Changes)> {
    let (ds_id, action_type) = settings.check()?;
    find(c, tenant, id)?;
    assignable_ds(c, tenant, ds_id)?;
    diesel::update(tfq::table.find(id))
        .set((
            tfq::auto_assign_ds_id.eq(ds_id),
            tfq::auto_assign_action_type.eq(action_type.as_str()),
            tfq::auto_assign_weight.eq(settings.weight),
            tfq::confirmation_required.eq(settings.confirmation_required.unwrap_or(default_confirmation)),
            // The scheduler checks every matching target once.
            tfq::auto_assign_pending.eq(true),
            tfq::auto_assign_soak_time.eq(settings.soak_time),
            tfq::auto_assign_health_gate.eq(&settings.health_gate),
            tfq::auto_assign_soak_error_threshold.eq(settings.soak_error_threshold),
            tfq::auto_assign_paused_at.eq(None::<i64>),
            tfq::auto_assign_pause_reason.eq(None::<String>),
            tfq::last_modified_at.eq(audit.now),
            tfq::last_modified_by.eq(audit.by),
        ))
        .execute(c)?;
    super::auto_assign_soak::forget(c, id)?;
    Ok((find(c, tenant, id)?, Changes::targets()))
}

/// Stops the filter's auto-assignment.
pub fn clear_auto_assign(c: &mut AnyConnection, tenant: &str, id: i64, audit: Audit<'_>) -> Result<()> {
    find(c, tenant, id)?;
    diesel::update(tfq::table.find(id))
        .set((
            tfq::auto_assign_ds_id.eq(None::<i64>),
            tfq::auto_assign_action_type.eq(None::<String>),
            tfq::auto_assign_weight.eq(None::<i32>),
            tfq::confirmation_required.eq(false),
            tfq::auto_assign_soak_time.eq(None::<i64>),
            tfq::auto_assign_health_gate.eq(None::<String>),
            tfq::auto_assign_soak_error_threshold.eq(None::<i32>),
            tfq::auto_assign_paused_at.eq(None::<i64>),
            tfq::auto_assign_pause_reason.eq(None::<String>),
            tfq::last_modified_at.eq(audit.now),
            tfq::last_modified_by.eq(audit.by),
        ))
        .execute(c)?;
    super::auto_assign_soak::forget(c, id)?;
    Ok(())
}

/// How many of the tenant's targets each of `queries` matches, counted in one pass over the
/// targets (one `SUM(CASE …)` per query), so that a list of filters shows every row's count
/// without a query per row. A query that no longer parses counts as `None`.
pub fn match_counts(c: &mut AnyConnection, tenant: &str, queries: &[&str]) -> Result<Vec<Option<i64>>> {
    let parsed: Vec<Option<SqlFilter>> = queries
        .iter()
        .map(|q| query::filter(&query::TARGETS, Some(q)).ok())
        .collect();
    if parsed.iter().all(Option::is_none) {
        return Ok(vec![None; queries.len()]);
    }
    // One text column, the counts joined by commas: a select list of any length on either backend.
    let mut sums = Sql::<diesel::sql_types::Text>::new();
    for (i, f) in parsed.iter().flatten().enumerate() {
        if i > 0 {
            sums.push_sql(" || ',' || ");
        }
        sums.push_sql("CAST(COALESCE(SUM(CASE WHEN (");
        sums.push(f.clone());
        sums.push_sql(") THEN 1 ELSE 0 END), 0) AS TEXT)");
    }
    let joined: String = targets::table
        .filter(targets::tenant.eq(tenant))
        .select(sums)
        .first(c)?;
    let mut counts = joined.split(',').map(|n| n.trim().parse::<i64>().ok());
    Ok(parsed
        .iter()
        .map(|p| p.as_ref().and_then(|_| counts.next().flatten()))
        .collect())
}
