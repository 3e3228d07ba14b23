//! Outbound DMF messages: the dispatcher claims what the outbox says targets are owed, works out
//! what each target should hear now (hawkBit's `AmqpMessageDispatcherService`), publishes it with
//! publisher confirms, and only then records it sent and removes the rows, all in one transaction.
//!
//! Several nodes share the outbox: rows are claimed with `FOR UPDATE SKIP LOCKED` and each target
//! row is locked while its messages go out, so two nodes never push the same change twice. A node
//! that dies mid-batch rolls back; its rows go out from another node (at least once, and exactly
//! once unless a node dies between the broker's confirm and its commit).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::publisher::{Message, Publisher, Sent};
use super::wire::{self, BatchRequest, BatchTarget, DownloadRequest, Module};
use crate::state::AppState;
use crate::store::actions;
use crate::store::dmf::{self as domain, OutboxEntry, OutboxKind};
use crate::store::models::{Action, ActionStatus, ActionType, Target};
use crate::store::{AnyConnection, Error, Result, software_modules, tenants};

/// Outbox rows handled per transaction.
const BATCH: i64 = 200;

/// Pushes the outbox of this node's database to the broker.
pub struct Dispatcher {
    state: Arc<AppState>,
    publisher: Arc<Publisher>,
}

impl Dispatcher {
    pub fn new(state: Arc<AppState>, publisher: Arc<Publisher>) -> Self {
        Self { state, publisher }
    }

    /// Sends everything owed until the outbox is empty, or until `stopping` says so between two
    /// batches; an error means the broker connection broke (what was not confirmed stays owed).
    ///
    /// Not to be cancelled while a batch is in hand: its transaction runs on the blocking pool and
    /// publishes through this runtime, which must still be there when it does.
    pub async fn drain(&self, stopping: &dyn Fn() -> bool) -> anyhow::Result<()> {
        loop {
            let state = Arc::clone(&self.state);
            let publisher = Arc::clone(&self.publisher);
            let runtime = tokio::runtime::Handle::current();
            let base = download_base(&state.config);
            let handled = self
                .state
                .db
                .write(move |c| {
                    let rows = domain::claim_outbox(c, BATCH)?;
                    if rows.is_empty() {
                        return Ok(0);
                    }
                    // Read once the rows are ours: a clock that moved while this batch waited for
                    // the database counts (whether a maintenance window is open).
                    let now = state.now();
                    let plan = plan(c, &rows, &base, now)?;
                    for m in &plan.messages {
                        // Not `Unavailable`: that would tell the store the database is away.
                        match runtime.block_on(publisher.send(m)) {
                            Ok(Sent::Confirmed | Sent::NoExchange) => {}
                            Err(e) => return Err(Error::internal(format!("broker: {e}"))),
                        }
                    }
                    for (target, action, topic) in &plan.sent {
                        domain::record_sent(c, *target, *action, topic.as_deref())?;
                    }
                    domain::remove_outbox(c, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
                    Ok(rows.len())
                })
                .await
                .map_err(|e| anyhow::anyhow!("dispatching DMF messages failed: {e}"))?;
            if handled == 0 || stopping() {
                return Ok(());
            }
        }
    }
}

/// Where DMF download links point: the DDI download endpoints of this server.
fn download_base(config: &crate::config::Config) -> String {
    let base = config
        .dmf
        .download_url
        .clone()
        .or_else(|| config.external_url.clone());
    base.unwrap_or_else(|| {
        let port = config.listen.rsplit(':').next().unwrap_or("8080");
        format!("http://localhost:{port}")
    })
    .trim_end_matches('/')
    .to_owned()
}

/// The messages of one batch and what each target was last told.
#[derive(Default)]
struct Plan {
    messages: Vec<Message>,
    sent: Vec<(i64, Option<i64>, Option<String>)>,
}

/// A `BATCH_*` message being gathered: targets of one tenant given one set with one topic.
struct Batch {
    exchange: String,
    first: String,
    ds_id: i64,
    targets: Vec<BatchTarget>,
}

/// What to send for the claimed rows: per target (in the order first owed) its deletion, its
/// current command when it changed (or always, after THING_CREATED), and an attribute request for
/// each row that owes one.
fn plan(c: &mut AnyConnection, rows: &[OutboxEntry], base: &str, now: i64) -> Result<Plan> {
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut owed: HashMap<(&str, &str), Vec<&OutboxEntry>> = HashMap::new();
    for r in rows {
        let key = (r.tenant.as_str(), r.controller_id.as_str());
        let entry = owed.entry(key).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(r);
    }
    let mut plan = Plan::default();
    let mut batch_tenants: HashMap<String, bool> = HashMap::new();
    let mut batches: BTreeMap<(String, i64, &'static str), Batch> = BTreeMap::new();
    for key in order {
        let entries = &owed[&key];
        let (tenant, cid) = key;
        let has = |k: OutboxKind| entries.iter().any(|e| e.kind == k);
        if let Some(deleted) = entries.iter().find(|e| e.kind == OutboxKind::Deleted)
            && let Some(exchange) = wire::exchange_of(&deleted.address)
        {
            plan.messages.push(Message::json(
                exchange,
                "THING_DELETED",
                tenant,
                Some(cid),
                None,
                Vec::new(),
            ));
        }
        let Some(target) = domain::lock_target(c, tenant, cid)? else {
            continue;
        };
        let Some(exchange) = target.address.as_deref().and_then(wire::exchange_of) else {
            continue;
        };
        if has(OutboxKind::Command) || has(OutboxKind::Poll) {
            let current = command(c, &target, now)?;
            let key = current.as_ref().map(|(a, t)| (Some(a.id), Some((*t).to_owned())));
            let last = domain::last_sent(c, target.id)?;
            if has(OutboxKind::Poll) || key != last {
                let (action, topic) = key.clone().unwrap_or((None, None));
                plan.sent.push((target.id, action, topic));
                if let Some((action, topic)) = current {
                    let batching = !has(OutboxKind::Poll)
                        && matches!(topic, "DOWNLOAD" | "DOWNLOAD_AND_INSTALL")
                        && *batch_tenants
                            .entry(tenant.to_owned())
                            .or_insert(tenants::load(c, tenant)?.batch_assignments);
                    if batching {
                        let topic = if topic == "DOWNLOAD" {
                            "BATCH_DOWNLOAD"
                        } else {
                            "BATCH_DOWNLOAD_AND_INSTALL"
                        };
                        batches
                            .entry((tenant.to_owned(), action.ds_id, topic))
                            .or_insert_with(|| Batch {
                                exchange: exchange.to_owned(),
                                first: cid.to_owned(),
                                ds_id: action.ds_id,
                                targets: Vec::new(),
                            })
                            .targets
                            .push(BatchTarget {
                                action_id: action.id,
                                controller_id: cid.to_owned(),
                                target_security_token: target.security_token.clone(),
                            });
                    } else {
                        plan.messages
                            .push(command_message(c, &target, exchange, &action, topic, base)?);
                    }
                }
            }
        }
        // One request per owing row, as hawkBit sends one per status that asks for it: two rows
        // claimed in one drain must not become one message (item 30 expects two).
        let requests = entries
            .iter()
            .filter(|e| e.kind == OutboxKind::Attributes)
            .count();
        if target.request_attributes {
            for _ in 0..requests {
                plan.messages.push(Message::json(
                    exchange,
                    "EVENT",
                    tenant,
                    Some(cid),
                    Some("REQUEST_ATTRIBUTES_UPDATE"),
                    Vec::new(),
                ));
            }
        }
    }
    for ((tenant, _, topic), b) in batches {
        // hawkBit's quirk, kept: the links name the first target (`sendBatchUpdateMessage`).
        let body = BatchRequest {
            timestamp: now,
            targets: b.targets,
            software_modules: modules(c, b.ds_id, None, &tenant, &b.first, base)?,
        };
        plan.messages.push(Message::json(
            &b.exchange,
            "EVENT",
            &tenant,
            None,
            Some(topic),
            to_json(&body)?,
        ));
    }
    Ok(plan)
}

/// The target's current command and its DMF topic (`getEventTypeForTarget`): its cancellation,
/// the confirmation it waits for, a download without install (download-only, or outside its
/// maintenance window), or the update.
fn command(c: &mut AnyConnection, target: &Target, now: i64) -> Result<Option<(Action, &'static str)>> {
    let Some(action) = actions::top_active_action(c, target.id)? else {
        return Ok(None);
    };
    let status = action.status();
    let topic = if status.is_canceling_or_canceled() {
        "CANCEL_DOWNLOAD"
    } else if status == ActionStatus::WaitForConfirmation {
        "CONFIRM"
    } else if action.action_type() == ActionType::DownloadOnly
        || actions::maintenance_window(&action).is_some_and(|w| !w.is_available(now))
    {
        "DOWNLOAD"
    } else {
        "DOWNLOAD_AND_INSTALL"
    };
    Ok(Some((action, topic)))
}

fn to_json<T: serde::Serialize>(body: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(Error::internal)
}

fn command_message(
    c: &mut AnyConnection,
    target: &Target,
    exchange: &str,
    action: &Action,
    topic: &str,
    base: &str,
) -> Result<Message> {
    let body = if topic == "CANCEL_DOWNLOAD" {
        to_json(&wire::ActionRequest { action_id: action.id })?
    } else {
        to_json(&DownloadRequest {
            action_id: action.id,
            target_security_token: target.security_token.clone(),
            software_modules: modules(
                c,
                action.ds_id,
                Some(target.id),
                &target.tenant,
                &target.controller_id,
                base,
            )?,
        })?
    };
    Ok(Message::json(
        exchange,
        "EVENT",
        &target.tenant,
        Some(&target.controller_id),
        Some(topic),
        body,
    ))
}

/// The set's modules as DMF lists them to the target `target_id` (`None`: a batch for many, which
/// lists no per-source patch; `software_modules::deployment_modules_for`), with DDI download links
/// for `controller_id`.
fn modules(
    c: &mut AnyConnection,
    ds_id: i64,
    target_id: Option<i64>,
    tenant: &str,
    controller_id: &str,
    base: &str,
) -> Result<Vec<Module>> {
    let protocol = if base.starts_with("https://") {
        "HTTPS"
    } else {
        "HTTP"
    };
    Ok(software_modules::deployment_modules_for(c, ds_id, target_id)?
        .into_iter()
        .map(|m| Module {
            module_id: m.id,
            module_type: m.type_key,
            module_version: m.version,
            encrypted: m.encrypted.then_some(true),
            artifacts: m
                .artifacts
                .iter()
                .map(|a| wire::Artifact {
                    filename: a.filename.clone(),
                    hashes: wire::Hashes {
                        sha1: a.sha1.clone(),
                        md5: a.md5.clone(),
                    },
                    size: a.size,
                    last_modified: a.last_modified_at,
                    urls: BTreeMap::from([(
                        protocol.to_owned(),
                        format!(
                            "{base}/{tenant}/controller/v1/{}/softwaremodules/{}/artifacts/{}",
                            crate::links::encode_segment(controller_id),
                            a.sm_id,
                            crate::links::encode_segment(&a.filename)
                        ),
                    )]),
                })
                .collect(),
            metadata: (!m.metadata.is_empty()).then(|| {
                m.metadata
                    .into_iter()
                    .map(|(key, value)| wire::Metadata { key, value })
                    .collect()
            }),
        })
        .collect())
}
