//! The domain side of DMF (hawkBit's Device Management Federation over AMQP): things registering
//! through a gateway, finding an action by id within a tenant, and the outbox of messages owed to
//! targets whose address is `amqp:…`.
//!
//! The outbox is written by database triggers (`migrations/*/…_dmf/up.sql`) in the same
//! transaction as the operation that changed a DMF target's actions, deleted it or asked for its
//! attributes, so no domain operation needs to know the transport and none can forget it. The DMF
//! front door claims rows, pushes what the target should see now, and removes the rows only after
//! the broker confirmed.

use diesel::prelude::*;

use super::claim::claim;
use super::models::{Action, NewTarget, Target, UpdateStatus};
use super::schema::{actions, dmf_outbox, dmf_sent, target_types, targets};
use super::{AnyConnection, Changes, Error, Result, Rule};

/// Why a target is owed a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// Its actions changed: push the current command if it differs from the last one pushed.
    Command,
    /// It announced itself (THING_CREATED): push the current command even if it was pushed before.
    Poll,
    /// The server asks for its attributes (REQUEST_ATTRIBUTES_UPDATE).
    Attributes,
    /// It was deleted (THING_DELETED, to the address it had).
    Deleted,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Poll => "poll",
            Self::Attributes => "attributes",
            Self::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "command" => Self::Command,
            "poll" => Self::Poll,
            "attributes" => Self::Attributes,
            "deleted" => Self::Deleted,
            other => return Err(Error::internal(format!("unknown DMF outbox kind {other:?}"))),
        })
    }
}

/// One message owed to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub tenant: String,
    pub controller_id: String,
    pub address: String,
    pub kind: OutboxKind,
}

/// The oldest `limit` outbox rows no other node is working on, locked until the transaction ends.
pub fn claim_outbox(c: &mut AnyConnection, limit: i64) -> Result<Vec<OutboxEntry>> {
    let q = || {
        dmf_outbox::table
            .order(dmf_outbox::id.asc())
            .select((
                dmf_outbox::id,
                dmf_outbox::tenant,
                dmf_outbox::controller_id,
                dmf_outbox::address,
                dmf_outbox::kind,
            ))
            .limit(limit)
    };
    let rows: Vec<(i64, String, String, String, String)> = claim!(c, q())?;
    rows.into_iter()
        .map(|(id, tenant, controller_id, address, kind)| {
            Ok(OutboxEntry {
                id,
                tenant,
                controller_id,
                address,
                kind: OutboxKind::parse(&kind)?,
            })
        })
        .collect()
}

/// Removes outbox rows whose messages the broker confirmed (or that owe nothing any more).
pub fn remove_outbox(c: &mut AnyConnection, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(500) {
        diesel::delete(dmf_outbox::table.filter(dmf_outbox::id.eq_any(chunk))).execute(c)?;
    }
    Ok(())
}

/// Owes `target` a message of `kind` (when it is a DMF target).
pub fn enqueue(c: &mut AnyConnection, target: &Target, kind: OutboxKind) -> Result<()> {
    let Some(address) = target.address.as_deref().filter(|a| is_dmf_address(a)) else {
        return Ok(());
    };
    diesel::insert_into(dmf_outbox::table)
        .values((
            dmf_outbox::tenant.eq(&target.tenant),
            dmf_outbox::controller_id.eq(&target.controller_id),
            dmf_outbox::address.eq(address),
            dmf_outbox::kind.eq(kind.as_str()),
        ))
        .execute(c)?;
    Ok(())
}

/// Whether messages to `address` go over DMF (hawkBit: any address with scheme `amqp`).
pub fn is_dmf_address(address: &str) -> bool {
    address.starts_with("amqp:")
}

/// The tenant's target, locked for the rest of the transaction on PostgreSQL so that two nodes
/// pushing to the same target take turns (SQLite's writers already do).
pub fn lock_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Option<Target>> {
    let q = || {
        targets::table
            .filter(targets::tenant.eq(tenant))
            .filter(targets::controller_id.eq(controller_id))
    };
    Ok(match c {
        AnyConnection::Postgresql(pg) => q()
            .select(Target::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        AnyConnection::Sqlite(s) => q().select(Target::as_select()).first(s).optional()?,
    })
}

/// The (action, topic) last pushed to the target and confirmed; `None` when nothing was pushed.
pub fn last_sent(c: &mut AnyConnection, target_id: i64) -> Result<Option<(Option<i64>, Option<String>)>> {
    Ok(dmf_sent::table
        .find(target_id)
        .select((dmf_sent::action_id, dmf_sent::topic))
        .first(c)
        .optional()?)
}

/// Records what the target was last told (`None`: that it has nothing to do).
pub fn record_sent(
    c: &mut AnyConnection,
    target_id: i64,
    action: Option<i64>,
    topic: Option<&str>,
) -> Result<()> {
    diesel::delete(dmf_sent::table.find(target_id)).execute(c)?;
    diesel::insert_into(dmf_sent::table)
        .values((
            dmf_sent::target_id.eq(target_id),
            dmf_sent::action_id.eq(action),
            dmf_sent::topic.eq(topic),
        ))
        .execute(c)?;
    Ok(())
}

/// A thing as a gateway announces it (`THING_CREATED`).
#[derive(Debug, Clone)]
pub struct Thing<'a> {
    pub controller_id: &'a str,
    /// A new name; blank keeps the current one.
    pub name: Option<&'a str>,
    /// A target type by name; `Some("")` removes the type, an unknown name is ignored.
    pub type_name: Option<&'a str>,
    /// Where to send its messages: `amqp://<vhost>/<reply-to exchange>`.
    pub address: &'a str,
}

/// hawkBit's constraint on controller ids: non-empty, at most 256 characters, no whitespace.
pub fn check_controller_id(controller_id: &str) -> Result<()> {
    if controller_id.is_empty()
        || controller_id.chars().count() > 256
        || controller_id.chars().any(char::is_whitespace)
    {
        return Err(Error::refused(
            Rule::Constraint,
            "A controller id must be 1 to 256 characters without whitespace.",
        ));
    }
    Ok(())
}

/// hawkBit's `findOrRegisterTargetIfItDoesNotExist`: creates the thing as a plug-and-play target,
/// or updates its address, name and type; a target never heard from becomes REGISTERED. It is
/// owed its current command either way (the "poll" of DMF).
pub fn register_thing(
    c: &mut AnyConnection,
    tenant: &str,
    thing: &Thing<'_>,
    security_token: &str,
    now: i64,
) -> Result<(Target, Changes)> {
    check_controller_id(thing.controller_id)?;
    let type_id = match thing.type_name {
        Some("") | None => None,
        Some(name) => {
            let found = target_types::table
                .filter(target_types::tenant.eq(tenant).and(target_types::name.eq(name)))
                .select(target_types::id)
                .first::<i64>(c)
                .optional()?;
            if found.is_none() {
                tracing::warn!(tenant, name, "DMF thing names a target type that does not exist");
            }
            found
        }
    };
    let name = thing.name.filter(|n| !n.trim().is_empty());
    let mut changes = Changes::device(tenant, thing.controller_id);
    match super::targets::get_target(c, tenant, thing.controller_id)? {
        None => {
            let description = format!("Plug and Play target: {}", thing.controller_id);
            diesel::insert_into(targets::table)
                .values(NewTarget {
                    tenant,
                    controller_id: thing.controller_id,
                    name: name.unwrap_or(thing.controller_id),
                    description: Some(&description),
                    security_token,
                    address: Some(thing.address),
                    last_poll: Some(now),
                    update_status: UpdateStatus::Registered.as_str(),
                    request_attributes: true,
                    target_type_id: type_id,
                    created_at: now,
                    created_by: "CONTROLLER_PLUG_AND_PLAY",
                    last_modified_at: now,
                    last_modified_by: "CONTROLLER_PLUG_AND_PLAY",
                    auto_assign_pending: true,
                })
                .execute(c)?;
            changes = changes.and(Changes::targets());
        }
        Some(t) => {
            let status = if t.status() == UpdateStatus::Unknown {
                UpdateStatus::Registered
            } else {
                t.status()
            };
            let type_id = match thing.type_name {
                Some("") => None,
                Some(_) => type_id.or(t.target_type_id),
                None => t.target_type_id,
            };
            diesel::update(targets::table.find(t.id))
                .set((
                    targets::address.eq(thing.address),
                    targets::name.eq(name.unwrap_or(&t.name)),
                    targets::target_type_id.eq(type_id),
                    targets::update_status.eq(status.as_str()),
                    targets::last_poll.eq(now),
                    targets::last_modified_at.eq(now),
                ))
                .execute(c)?;
        }
    }
    let target = super::targets::find_target(c, tenant, thing.controller_id)?;
    enqueue(c, &target, OutboxKind::Poll)?;
    Ok((target, changes))
}

/// The tenant's action `action_id` with its target: DMF's status updates name only the action.
pub fn find_tenant_action(c: &mut AnyConnection, tenant: &str, action_id: i64) -> Result<(Action, Target)> {
    actions::table
        .inner_join(targets::table)
        .filter(actions::id.eq(action_id).and(actions::tenant.eq(tenant)))
        .select((Action::as_select(), Target::as_select()))
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("Action", action_id))
}

/// The controller id of the target of the tenant's action `action_id`, if there is one: what the
/// DMF consumer keeps a target's messages in order by (an action never changes its target).
pub fn action_target(c: &mut AnyConnection, tenant: &str, action_id: i64) -> Result<Option<String>> {
    Ok(actions::table
        .inner_join(targets::table)
        .filter(actions::id.eq(action_id).and(actions::tenant.eq(tenant)))
        .select(targets::controller_id)
        .first(c)
        .optional()?)
}

/// How many messages are still owed (the outbox's length).
pub fn pending(c: &mut AnyConnection) -> Result<i64> {
    Ok(dmf_outbox::table.count().get_result(c)?)
}
