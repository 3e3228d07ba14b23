//! What operators do to a rollout after creating it, over the Management API or the web UI: rename
//! it, start, pause, resume, trigger the next group, approve or deny, delete, and retry its failed
//! targets. Each locks the rollout and runs on the [`engine`] in the caller's transaction.

use diesel::prelude::*;

use super::queries::{Extra, get};
use super::{Rollout, engine, plan};
use crate::store::schema::rollouts;
use crate::store::{AnyConnection, Changes, Error, Result, Rule, check_len, tenants};

/// The state changes of a rollout that its operators trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Start,
    Pause,
    Resume,
    TriggerNextGroup,
    Approve,
    Deny,
    Delete,
}

/// Runs `op` on the tenant's rollout `id` (locked); `remark` goes with an approval or denial.
/// Returns the devices whose poll answer changed.
pub fn apply(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    op: Op,
    remark: Option<&str>,
    by: &str,
    now: i64,
) -> Result<Changes> {
    if let Some(r) = remark {
        check_len("remark", r, 512)?;
    }
    let r = engine::lock_of_tenant(c, tenant, id)?;
    let s = &tenants::load(c, tenant)?;
    match op {
        Op::Start => engine::start(c, s, &r, by, now),
        Op::Pause => engine::pause(c, &r, by, now).map(|()| Changes::none()),
        Op::Resume => engine::resume(c, s, &r, by, now),
        Op::TriggerNextGroup => engine::trigger_next_group(c, s, &r, now),
        Op::Approve | Op::Deny => {
            engine::decide_approval(c, &r, op == Op::Approve, remark, by, now).map(|()| Changes::none())
        }
        Op::Delete => engine::delete(c, &r, by, now),
    }
}

/// Creates `<name>_retry` over the targets whose action in the tenant's finished rollout `id`
/// failed; it waits for approval when the tenant has approval on and `may_approve` is false.
pub fn retry(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    may_approve: bool,
    by: &str,
    now: i64,
) -> Result<(Rollout, Extra)> {
    let r = engine::lock_of_tenant(c, tenant, id)?;
    let settings = tenants::load(c, tenant)?;
    let new_id = engine::retry(c, &settings, &r, by, now, may_approve)?;
    get(c, tenant, new_id)
}

/// Renames the tenant's rollout `id` or changes its description (what is `None` stays).
pub fn update(
    c: &mut AnyConnection,
    tenant: &str,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
    by: &str,
    now: i64,
) -> Result<(Rollout, Extra)> {
    if let Some(n) = name {
        if n.trim().is_empty() {
            return Err(Error::refused(Rule::Constraint, "name must not be empty."));
        }
        check_len("name", n, 128)?;
    }
    if let Some(d) = description {
        check_len("description", d, 512)?;
    }
    let r = engine::lock_of_tenant(c, tenant, id)?;
    if let Some(n) = name {
        plan::name_is_free(c, tenant, n, Some(id))?;
    }
    diesel::update(rollouts::table.find(r.id))
        .set((
            rollouts::name.eq(name.unwrap_or(&r.name)),
            rollouts::description.eq(description.or(r.description.as_deref())),
            rollouts::last_modified_at.eq(now),
            rollouts::last_modified_by.eq(by),
        ))
        .execute(c)?;
    get(c, tenant, id)
}
