//! Targets as operators manage them: list, create, change, and what a target shows.

use diesel::prelude::*;

use super::find_target;
use crate::store::models::{NewTarget, Target, UpdateStatus};
use crate::store::page::{ListQuery, Paged, paginate};
use crate::store::schema::{target_attributes, target_types, targets};
use crate::store::{AnyConnection, Changes, Error, Result, Rule};

/// The fields of a target to create (a controller id needed) or to change (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct TargetFields {
    pub controller_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub security_token: Option<String>,
    pub address: Option<String>,
    pub target_type: Option<i64>,
    pub request_attributes: Option<bool>,
    pub group: Option<String>,
}

/// One page of the tenant's targets.
pub fn list(c: &mut AnyConnection, tenant: &str, list: &ListQuery) -> Result<Paged<Target>> {
    Ok(paginate!(
        c,
        targets::table.filter(targets::tenant.eq(tenant)) => Target::as_select(),
        list
    ))
}

/// Refuses a target type `id` the tenant does not have.
fn check_target_type(c: &mut AnyConnection, tenant: &str, id: Option<i64>) -> Result<()> {
    let Some(id) = id else { return Ok(()) };
    let found: i64 = target_types::table
        .filter(target_types::id.eq(id).and(target_types::tenant.eq(tenant)))
        .count()
        .get_result(c)?;
    if found == 0 {
        return Err(Error::not_found("TargetType", id));
    }
    Ok(())
}

/// Creates targets, all or none: a missing name is the controller id, a missing token is
/// `new_token()`. Each new target is due for auto-assignment.
pub fn create(
    c: &mut AnyConnection,
    tenant: &str,
    fields: &[TargetFields],
    new_token: impl Fn() -> String,
    by: &str,
    now: i64,
) -> Result<(Vec<Target>, Changes)> {
    let mut out = Vec::new();
    for r in fields {
        let cid = r
            .controller_id
            .as_deref()
            .ok_or_else(|| Error::refused(Rule::Constraint, "controllerId is required."))?;
        check_target_type(c, tenant, r.target_type)?;
        let token = match r.security_token.as_deref() {
            Some(t) if !t.is_empty() => t.to_owned(),
            _ => new_token(),
        };
        let id: i64 = diesel::insert_into(targets::table)
            .values(NewTarget {
                tenant,
                controller_id: cid,
                name: r.name.as_deref().unwrap_or(cid),
                description: r.description.as_deref(),
                security_token: &token,
                address: r.address.as_deref(),
                last_poll: None,
                update_status: UpdateStatus::Unknown.as_str(),
                request_attributes: r.request_attributes.unwrap_or(true),
                target_type_id: r.target_type,
                created_at: now,
                created_by: by,
                last_modified_at: now,
                last_modified_by: by,
                auto_assign_pending: true,
            })
            .returning(targets::id)
            .get_result(c)
            .map_err(|e| Error::taken(e, || format!("Target with controllerId {cid} already exists.")))?;
        if let Some(group) = &r.group {
            diesel::update(targets::table.find(id))
                .set(targets::target_group.eq(group))
                .execute(c)?;
        }
        out.push(targets::table.find(id).select(Target::as_select()).first(c)?);
    }
    let changes = Changes::targets().and(Changes::devices(
        tenant,
        out.iter().map(|t| t.controller_id.as_str()),
    ));
    Ok((out, changes))
}

/// Changes the given fields of the tenant's target `controller_id`; its controller id cannot change.
pub fn update(
    c: &mut AnyConnection,
    tenant: &str,
    controller_id: &str,
    r: &TargetFields,
    by: &str,
    now: i64,
) -> Result<(Target, Changes)> {
    let t = find_target(c, tenant, controller_id)?;
    if r.controller_id.as_deref().is_some_and(|x| x != controller_id) {
        return Err(Error::refused(
            Rule::Constraint,
            "controllerId cannot be changed.",
        ));
    }
    check_target_type(c, tenant, r.target_type)?;
    diesel::update(targets::table.find(t.id))
        .set((
            targets::name.eq(r.name.as_deref().unwrap_or(&t.name)),
            targets::description.eq(r.description.as_deref().or(t.description.as_deref())),
            targets::security_token.eq(r.security_token.as_deref().unwrap_or(&t.security_token)),
            targets::address.eq(r.address.as_deref().or(t.address.as_deref())),
            targets::request_attributes.eq(r.request_attributes.unwrap_or(t.request_attributes)),
            targets::target_group.eq(r.group.as_deref().or(t.target_group.as_deref())),
            targets::target_type_id.eq(r.target_type.or(t.target_type_id)),
            targets::last_modified_at.eq(now),
            targets::last_modified_by.eq(by),
        ))
        .execute(c)?;
    Ok((
        find_target(c, tenant, controller_id)?,
        Changes::device(tenant, controller_id),
    ))
}

/// The attributes the tenant's target `controller_id` reported, by key.
pub fn attributes(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Vec<(String, String)>> {
    let t = find_target(c, tenant, controller_id)?;
    Ok(target_attributes::table
        .filter(target_attributes::target_id.eq(t.id))
        .order(target_attributes::attr_key.asc())
        .select((target_attributes::attr_key, target_attributes::attr_value))
        .load(c)?)
}

/// The name of target type `id`, if it exists.
pub fn type_name(c: &mut AnyConnection, id: i64) -> Result<Option<String>> {
    Ok(target_types::table
        .find(id)
        .select(target_types::name)
        .first(c)
        .optional()?)
}
