//! Inbound DMF messages: each is parsed, carried out by the same store operations the DDI front
//! door calls, and answered with an outcome for the broker once the transaction committed.

use std::sync::Arc;

use super::publisher::{Message, Publisher};
use super::wire::{self, ActionStatusUpdate, AttributeUpdate, DmfStatus, Envelope, Inbound, UpdateMode};
use crate::state::AppState;
use crate::store::actions::{self, Execution, Report, SERVER_PREFIX, confirmation};
use crate::store::dmf::{self as domain, OutboxKind, Thing};
use crate::store::targets::{self, AttributeUpdate as Mode};
use crate::store::{AnyConnection, Changes, Error, Rule, tenants};

/// What the broker is told about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ack,
    /// To the dead-letter queue: it can never succeed.
    Reject(String),
    /// Back to the queue: it may succeed later (the database was away).
    Requeue(String),
}

/// What inbound handling needs.
pub struct Context {
    pub state: Arc<AppState>,
    pub publisher: Arc<Publisher>,
    /// The vhost reply-to exchanges live in.
    pub vhost: String,
}

/// hawkBit's `RequeueExceptionStrategy`: refusals and unknown entities are fatal, an unreachable
/// database is not, and neither is a transaction PostgreSQL aborted because it ran into another one
/// (messages of different targets are handled at once).
fn outcome(e: &Error) -> Outcome {
    match e {
        Error::Unavailable(why) | Error::Contended(why) => Outcome::Requeue(why.clone()),
        Error::NotFound { entity, id } => Outcome::Reject(format!("{entity} {id} does not exist")),
        Error::Refused { message, .. } => Outcome::Reject(message.clone()),
        Error::Internal(why) => {
            tracing::error!(error = %why, "DMF: handling a message failed");
            Outcome::Reject(why.clone())
        }
    }
}

/// Handles one delivery; nothing is acknowledged before its transaction committed.
pub async fn handle(ctx: &Context, env: &Envelope, body: &[u8]) -> Outcome {
    let message = match wire::parse(env, body) {
        Ok(m) => m,
        Err(wire::Malformed(why)) => return Outcome::Reject(why),
    };
    let Ok(tenant) = wire::tenant(env).map(str::to_owned) else {
        return Outcome::Reject("the tenant header is missing".into());
    };
    if let Inbound::Ping = message {
        return ping(ctx, env, &tenant).await;
    }
    let state = &ctx.state;
    let now = state.now();
    let result = match message {
        Inbound::ThingCreated {
            thing_id,
            reply_to,
            body,
        } => {
            if let Some(update) = body.as_ref().and_then(|b| b.attribute_update.as_ref())
                && let Err(o) = check_attributes(update)
            {
                return o;
            }
            let address = wire::address(&ctx.vhost, &reply_to);
            let token = crate::auth::random_token();
            let quota = state.config.quotas.max_attribute_entries_per_target;
            state
                .db
                .write(move |c| {
                    known_tenant(c, &tenant)?;
                    let thing = Thing {
                        controller_id: &thing_id,
                        name: body.as_ref().and_then(|b| b.name.as_deref()),
                        type_name: body.as_ref().and_then(|b| b.type_name.as_deref()),
                        address: &address,
                    };
                    let (target, mut changes) = domain::register_thing(c, &tenant, &thing, &token, now)?;
                    if let Some(update) = body.as_ref().and_then(|b| b.attribute_update.as_ref()) {
                        changes = changes.and(apply_attributes(c, &target, update, quota, now)?);
                    }
                    Ok(changes)
                })
                .await
        }
        Inbound::ThingRemoved { thing_id } => {
            state
                .db
                .write(move |c| targets::delete_target(c, &tenant, &thing_id))
                .await
        }
        Inbound::UpdateAttributes { thing_id, body } => {
            if let Err(o) = check_attributes(&body) {
                return o;
            }
            let quota = state.config.quotas.max_attribute_entries_per_target;
            state
                .db
                .write(move |c| {
                    let target = targets::find_target(c, &tenant, &thing_id)?;
                    apply_attributes(c, &target, &body, quota, now)
                })
                .await
        }
        Inbound::UpdateActionStatus { body } => {
            let correlation = env.correlation_id.clone();
            let quotas = state.config.quotas.clone();
            state
                .db
                .write(move |c| action_status(c, &tenant, &body, correlation.as_deref(), &quotas, now))
                .await
        }
        Inbound::UpdateAutoConfirm { thing_id, body } => {
            state
                .db
                .write(move |c| {
                    let target = targets::find_target(c, &tenant, &thing_id)?;
                    if !body.enabled {
                        confirmation::deactivate_auto_confirm(c, target.id)?;
                        return Ok(Changes::device(&tenant, &thing_id));
                    }
                    let remark = body
                        .remark
                        .clone()
                        .or_else(|| Some("Activated using Device Management Federation API.".to_owned()));
                    match confirmation::activate_auto_confirm(c, &target, body.initiator.clone(), remark, now)
                    {
                        // Enabling twice changes nothing: acknowledged, not requeued forever.
                        Err(Error::Refused {
                            rule: Rule::AutoConfirmActive,
                            ..
                        })
                        | Ok(()) => Ok(Changes::device(&tenant, &thing_id)),
                        Err(e) => Err(e),
                    }
                })
                .await
        }
        Inbound::Ping => unreachable!("answered above"),
    };
    match result {
        Ok(changes) => {
            state.apply(changes);
            Outcome::Ack
        }
        Err(e) => outcome(&e),
    }
}

fn known_tenant(c: &mut AnyConnection, tenant: &str) -> crate::store::Result<()> {
    if tenants::exists(c, tenant)? {
        Ok(())
    } else {
        Err(Error::refused(
            Rule::TenantUnknown,
            format!("Tenant {tenant} does not exist."),
        ))
    }
}

/// Keys and values hawkBit accepts (`InvalidTargetAttributeException` otherwise): the whole message
/// is refused, nothing applied.
fn check_attributes(update: &AttributeUpdate) -> Result<(), Outcome> {
    let bad = update.attributes.iter().any(|(k, v)| {
        !targets::valid_attribute(k) || v.as_deref().is_some_and(|v| !targets::valid_attribute(v))
    });
    if bad {
        return Err(Outcome::Reject("invalid target attributes".into()));
    }
    Ok(())
}

fn apply_attributes(
    c: &mut AnyConnection,
    target: &crate::store::models::Target,
    update: &AttributeUpdate,
    quota: i64,
    now: i64,
) -> crate::store::Result<Changes> {
    let mode = match update.mode.unwrap_or(UpdateMode::Merge) {
        UpdateMode::Merge => Mode::Merge,
        UpdateMode::Replace => Mode::Replace,
        UpdateMode::Remove => Mode::Remove,
    };
    targets::update_attributes(c, target, mode, &update.attributes, quota, now)
}

/// `UPDATE_ACTION_STATUS`: the action is found by id within the tenant; the status goes through
/// the operation DDI feedback uses for it (`mapStatus` in hawkBit).
fn action_status(
    c: &mut AnyConnection,
    tenant: &str,
    body: &ActionStatusUpdate,
    correlation: Option<&str>,
    quotas: &crate::config::Quotas,
    now: i64,
) -> crate::store::Result<Changes> {
    let (action, target) = domain::find_tenant_action(c, tenant, body.action_id)?;
    let mut details = body.message.clone();
    if let Some(id) = correlation {
        details.push(format!("{SERVER_PREFIX}DMF message correlation-id {id}"));
    }
    let report = |execution, failed| Report {
        execution,
        failed,
        details: details.clone(),
        code: body.code,
        occurred_at: None,
    };
    match body.action_status {
        DmfStatus::Canceled => actions::cancel_feedback(
            c,
            quotas,
            &target,
            &action,
            &report(Execution::Closed, false),
            now,
        )?,
        DmfStatus::CancelRejected => {
            actions::cancel_feedback(
                c,
                quotas,
                &target,
                &action,
                &report(Execution::Rejected, false),
                now,
            )?;
        }
        DmfStatus::Confirmed | DmfStatus::Denied => {
            let consent_flow = tenants::load(c, tenant)?.confirmation_flow;
            confirmation::confirmation_feedback(
                c,
                &target,
                action.id,
                body.action_status == DmfStatus::Confirmed,
                &details,
                body.code,
                consent_flow,
                now,
            )?;
        }
        status => {
            let (execution, failed) = match status {
                DmfStatus::Download => (Execution::Download, false),
                DmfStatus::Downloaded => (Execution::Downloaded, false),
                DmfStatus::Retrieved => (Execution::Retrieved, false),
                DmfStatus::Warning => (Execution::Rejected, false),
                DmfStatus::Finished => (Execution::Closed, false),
                DmfStatus::Error => (Execution::Closed, true),
                _ => (Execution::Proceeding, false),
            };
            actions::deployment_feedback(c, quotas, &target, &action, &report(execution, failed), now)?;
        }
    }
    // A maintenance window may have opened meanwhile: the target hears its current command if it
    // changed. Every other change of what the target should do is in the outbox already.
    if actions::maintenance_window(&action).is_some() {
        domain::enqueue(c, &target, OutboxKind::Command)?;
    }
    let mut changes = Changes::device(tenant, &target.controller_id);
    if let Some(rollout) = action.rollout_id {
        changes = changes.and(Changes::rollout(rollout));
    }
    Ok(changes)
}

/// `PING` → `PING_RESPONSE` with the server's time, to the ping's reply-to exchange, carrying its
/// correlation id; without a correlation id there is nobody to answer (hawkBit acks silently).
async fn ping(ctx: &Context, env: &Envelope, tenant: &str) -> Outcome {
    let (Some(correlation), Some(reply_to)) = (env.correlation_id.clone(), env.reply_to.clone()) else {
        return Outcome::Ack;
    };
    let message = Message {
        exchange: reply_to,
        headers: vec![
            (wire::TYPE, "PING_RESPONSE".to_owned()),
            (wire::TENANT, tenant.to_owned()),
        ],
        content_type: "text/plain",
        correlation_id: Some(correlation),
        body: ctx.state.now().to_string().into_bytes(),
    };
    match ctx.publisher.send(&message).await {
        Ok(_) => Outcome::Ack,
        Err(e) => Outcome::Requeue(format!("answering a PING failed: {e}")),
    }
}
