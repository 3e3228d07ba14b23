//! The audit log: who did what to which object of a tenant, and when. Front doors record an entry
//! after a change succeeded (`crate::audit_trail` does it for every Management API and console
//! write; the console's login records in the session's own transaction); the Management API's
//! `/rest/v1/auditlog` and the console's audit page list them; the scheduler deletes entries older
//! than `audit_retention_days`.

use diesel::prelude::*;

use super::page::paginate;
use super::query::{Entity, Field, Path, Ty};
use super::schema::{
    audit_log, distribution_sets, ds_tags, ds_types, rollouts, sm_types, software_modules,
    target_filter_queries, target_tags, target_types, targets, users,
};
use super::{AnyConnection, Error, ListQuery, Paged, Result, Rule};

/// Every action an entry can name: a small fixed vocabulary, so filters and reports can rely on it.
pub const ACTIONS: &[&str] = &[
    "login",
    "login_failed",
    "logout",
    "assign",
    "action_cancel",
    "action_update",
    "target_create",
    "target_update",
    "target_delete",
    "ds_create",
    "ds_update",
    "ds_delete",
    "ds_invalidate",
    "sm_create",
    "sm_update",
    "sm_delete",
    "artifact_upload",
    "artifact_delete",
    "metadata_change",
    "rollout_create",
    "rollout_update",
    "rollout_start",
    "rollout_pause",
    "rollout_resume",
    "rollout_approve",
    "rollout_deny",
    "rollout_retry",
    "rollout_next_group",
    "rollout_delete",
    "rollout_change",
    "tag_create",
    "tag_update",
    "tag_delete",
    "tag_assign",
    "tag_unassign",
    "type_create",
    "type_update",
    "type_delete",
    "filter_create",
    "filter_update",
    "filter_delete",
    "setting_change",
    "user_create",
    "user_update",
    "user_delete",
    "tenant_create",
    "bulk_action",
    "failures_retry",
    "change",
];

/// `name` as an entry of [`ACTIONS`], or `None` for a name outside the vocabulary.
pub fn action(name: &str) -> Option<&'static str> {
    ACTIONS.iter().copied().find(|a| *a == name)
}

/// What an entry is about: the object's kind (`target`, `distribution_set`, `rollout`, ...), its id
/// as the front doors name it (a controller id, a number, a user or setting name) and its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    pub kind: String,
    pub id: String,
    pub name: String,
}

/// One entry to record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tenant: String,
    /// Server time, milliseconds (`AppState::now`, shiftable in tests).
    pub at: i64,
    /// A user name, `device <controllerId>`, `gateway` or `system`.
    pub actor: String,
    /// One of [`ACTIONS`].
    pub action: &'static str,
    pub object: Object,
    /// A short sentence or list (at most 500 characters kept).
    pub detail: String,
}

/// A recorded entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub object_name: String,
    pub detail: String,
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Writes one entry.
pub fn record(c: &mut AnyConnection, e: &Entry) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::tenant.eq(&e.tenant),
            audit_log::at.eq(e.at),
            audit_log::actor.eq(clip(&e.actor, 128)),
            audit_log::action.eq(e.action),
            audit_log::object_type.eq(clip(&e.object.kind, 64)),
            audit_log::object_id.eq(clip(&e.object.id, 256)),
            audit_log::object_name.eq(clip(&e.object.name, 256)),
            audit_log::detail.eq(clip(&e.detail, 500)),
        ))
        .execute(c)?;
    Ok(())
}

/// A failed login: recorded in the tenant of the user named, or in `fallback_tenant` when no such
/// user exists (the name is kept: it tells an operator what was tried).
pub fn record_login_failed(
    c: &mut AnyConnection,
    username: &str,
    fallback_tenant: &str,
    at: i64,
    detail: &str,
) -> Result<()> {
    let tenant: Option<String> = users::table
        .filter(users::username.eq(username))
        .select(users::tenant)
        .first(c)
        .optional()?;
    record(
        c,
        &Entry {
            tenant: tenant.unwrap_or_else(|| fallback_tenant.to_owned()),
            at,
            actor: username.to_owned(),
            action: "login_failed",
            object: Object {
                kind: "user".into(),
                id: username.to_owned(),
                name: username.to_owned(),
            },
            detail: detail.to_owned(),
        },
    )
}

const fn column(name: &'static str, column: &'static str, ty: Ty) -> Field {
    Field {
        name,
        path: Path::Column {
            column,
            ty,
            nullable: false,
        },
    }
}

/// The fields `q` and `sort` may name on `/rest/v1/auditlog`; newest first by default.
pub static AUDIT_LOG: Entity = Entity {
    table: "audit_log",
    default_order: "audit_log.at DESC",
    tiebreak: "id",
    fields: &[
        column("id", "id", Ty::Int),
        column("at", "at", Ty::Int),
        column("actor", "actor", Ty::Text),
        column("action", "action", Ty::Text),
        column("objectType", "object_type", Ty::Text),
        column("objectId", "object_id", Ty::Text),
        column("objectName", "object_name", Ty::Text),
        column("detail", "detail", Ty::Text),
    ],
};

/// The list's filters besides `q`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this action (one of [`ACTIONS`]).
    pub action: Option<String>,
    /// Exactly this object kind.
    pub object_type: Option<String>,
    /// Entries whose object id or name contains this text.
    pub object: Option<String>,
    /// At or after, milliseconds.
    pub from: Option<i64>,
    /// Before, milliseconds.
    pub to: Option<i64>,
}

impl Filter {
    /// Refuses an action outside the vocabulary and a time range that ends before it starts.
    pub fn check(&self) -> Result<()> {
        if let Some(a) = self.action.as_deref().filter(|a| action(a).is_none()) {
            return Err(Error::refused(
                Rule::Constraint,
                format!(
                    "{a} is not an audit action; known actions are {}.",
                    ACTIONS.join(", ")
                ),
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(Error::refused(
                Rule::Constraint,
                "The time range ends before it starts.",
            ));
        }
        Ok(())
    }
}

fn matching<'a>(
    tenant: &str,
    f: &Filter,
    list: &ListQuery,
) -> audit_log::BoxedQuery<'a, super::db::MultiBackend> {
    let mut q = audit_log::table
        .filter(audit_log::tenant.eq(tenant.to_owned()))
        .filter(list.spec.filter.clone())
        .into_boxed();
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(k) = &f.object_type {
        q = q.filter(audit_log::object_type.eq(k.clone()));
    }
    if let Some(o) = &f.object {
        let like = format!(
            "%{}%",
            o.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        q = q.filter(
            audit_log::object_id
                .like(like.clone())
                .escape('\\')
                .or(audit_log::object_name.like(like).escape('\\')),
        );
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    q
}

/// One page of the tenant's entries matching `f` and `list`'s query, in `list`'s order.
pub fn list(c: &mut AnyConnection, tenant: &str, f: &Filter, list: &ListQuery) -> Result<Paged<AuditRow>> {
    f.check()?;
    Ok(paginate!(c, matching(tenant, f, list) => AuditRow::as_select(), list))
}

/// The actors that appear in the tenant's log, for the console's filter (at most 200).
pub fn actors(c: &mut AnyConnection, tenant: &str) -> Result<Vec<String>> {
    Ok(audit_log::table
        .filter(audit_log::tenant.eq(tenant))
        .select(audit_log::actor)
        .distinct()
        .order(audit_log::actor.asc())
        .limit(200)
        .load(c)?)
}

/// Deletes up to `limit` entries older than `retention_days` (all tenants); how many went.
pub fn delete_older_than(c: &mut AnyConnection, retention_days: u64, now: i64, limit: i64) -> Result<usize> {
    let days = i64::try_from(retention_days).unwrap_or(i64::MAX / 86_400_000);
    let cutoff = now.saturating_sub(days.saturating_mul(86_400_000));
    let ids: Vec<i64> = audit_log::table
        .filter(audit_log::at.lt(cutoff))
        .select(audit_log::id)
        .order(audit_log::at.asc())
        .limit(limit)
        .load(c)?;
    Ok(diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&ids))).execute(c)?)
}

/// The name of an object of any tenant, by kind and id, as `(tenant, name)` pairs: a front door
/// asks before a delete (the row is gone afterwards) and keeps the pair of the actor's tenant.
/// Unknown kinds and ids give none.
pub fn names(c: &mut AnyConnection, kind: &str, id: &str) -> Result<Vec<(String, String)>> {
    let num = id.parse::<i64>().ok();
    let by_id = |n: Option<i64>| n.unwrap_or(-1);
    let pairs: Vec<(String, String)> = match kind {
        "target" => targets::table
            .filter(targets::controller_id.eq(id))
            .select((targets::tenant, targets::name))
            .load(c)?,
        "user" => users::table
            .filter(users::username.eq(id))
            .select((users::tenant, users::username))
            .load(c)?,
        _ if num.is_none() => Vec::new(),
        "distribution_set" => distribution_sets::table
            .filter(distribution_sets::id.eq(by_id(num)))
            .select((
                distribution_sets::tenant,
                distribution_sets::name,
                distribution_sets::version,
            ))
            .load::<(String, String, String)>(c)?
            .into_iter()
            .map(|(t, n, v)| (t, format!("{n} {v}")))
            .collect(),
        "software_module" => software_modules::table
            .filter(software_modules::id.eq(by_id(num)))
            .select((
                software_modules::tenant,
                software_modules::name,
                software_modules::version,
            ))
            .load::<(String, String, String)>(c)?
            .into_iter()
            .map(|(t, n, v)| (t, format!("{n} {v}")))
            .collect(),
        "rollout" => rollouts::table
            .filter(rollouts::id.eq(by_id(num)))
            .select((rollouts::tenant, rollouts::name))
            .load(c)?,
        "target_tag" => target_tags::table
            .filter(target_tags::id.eq(by_id(num)))
            .select((target_tags::tenant, target_tags::name))
            .load(c)?,
        "ds_tag" => ds_tags::table
            .filter(ds_tags::id.eq(by_id(num)))
            .select((ds_tags::tenant, ds_tags::name))
            .load(c)?,
        "target_type" => target_types::table
            .filter(target_types::id.eq(by_id(num)))
            .select((target_types::tenant, target_types::name))
            .load(c)?,
        "ds_type" => ds_types::table
            .filter(ds_types::id.eq(by_id(num)))
            .select((ds_types::tenant, ds_types::name))
            .load(c)?,
        "sm_type" => sm_types::table
            .filter(sm_types::id.eq(by_id(num)))
            .select((sm_types::tenant, sm_types::name))
            .load(c)?,
        "target_filter" => target_filter_queries::table
            .filter(target_filter_queries::id.eq(by_id(num)))
            .select((target_filter_queries::tenant, target_filter_queries::name))
            .load(c)?,
        _ => Vec::new(),
    };
    Ok(pairs)
}
