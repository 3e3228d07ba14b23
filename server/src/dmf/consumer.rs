//! Consuming `dmf_receiver` with several deliveries in hand at once, in order per target.
//!
//! Handled one after another, a node commits one transaction at a time and PostgreSQL's commit
//! latency caps it at a few hundred messages a second. Deliveries are therefore spread over a few
//! workers by target: every message about one target (by its `thingId`, or for an action status by
//! the action's target) goes to the same worker, which handles them in arrival order, so a
//! gateway's messages about one device take effect in the order it sent them, as they do when
//! handled one by one. Each delivery is still acknowledged only after its transaction committed.
//! A message about no target (PING, or one too malformed to route) waits until everything before
//! it was handled, so a PING's answer still says "all you sent before was handled".

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use tokio::sync::{mpsc, oneshot, watch};

use super::inbound::{self, Context};
use super::wire::{self, Envelope, Inbound};

/// How many action → target pairs are remembered (actions never change their target).
const REMEMBERED: usize = 100_000;

enum Job {
    Delivery(Box<(Envelope, Delivery)>),
    /// Answered once every job before it was done.
    Flush(oneshot::Sender<()>),
}

/// Consumes until the consumer or a worker fails, or until stopped; `workers` deliveries are
/// handled at once at most. Stopping takes no further delivery and lets the workers finish (and
/// acknowledge) the ones they were given; those still being routed are left unacknowledged, and the
/// broker requeues them when the connection closes.
pub(super) async fn consume(
    ctx: &Context,
    consumer: lapin::Consumer,
    workers: usize,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let workers = workers.max(1);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
    let working = futures_util::future::try_join_all(receivers.into_iter().map(|rx| worker(ctx, rx)));
    let targets = &Mutex::new(HashMap::new());
    // Working out a delivery's target may read the database: several at once, yielded in arrival
    // order, so the workers still get each target's messages in order.
    let mut routed = consumer
        .map(|delivery| async move {
            let delivery = delivery?;
            let env = super::envelope(&delivery.properties);
            // One worker keeps the arrival order of everything: nothing to work out.
            let key = if workers == 1 {
                Some(String::new())
            } else {
                route(ctx, targets, &env, &delivery.data).await
            };
            anyhow::Ok((env, delivery, key))
        })
        .buffered(workers);
    // Owns the senders: when it ends, the workers finish what they were given and end too.
    let routing = async move {
        loop {
            let next = tokio::select! {
                next = routed.next() => next,
                _ = stopped.wait_for(|s| *s) => return anyhow::Ok(()),
            };
            let Some(routed) = next else {
                anyhow::bail!("the broker cancelled the consumer");
            };
            let (env, delivery, key) = routed?;
            match key {
                Some(key) => {
                    let mut h = DefaultHasher::new();
                    key.hash(&mut h);
                    let i = usize::try_from(h.finish() % workers as u64).unwrap_or(0);
                    senders[i]
                        .send(Job::Delivery(Box::new((env, delivery))))
                        .map_err(|_| anyhow::anyhow!("a DMF worker stopped"))?;
                }
                None => {
                    flush(&senders).await?;
                    settle(ctx, &env, delivery).await?;
                }
            }
        }
    };
    tokio::try_join!(routing, working).map(drop)
}

/// The target a message is about, as `tenant/controller id`; None for a message about no target.
async fn route(
    ctx: &Context,
    targets: &Mutex<HashMap<(String, i64), String>>,
    env: &Envelope,
    body: &[u8],
) -> Option<String> {
    let tenant = wire::tenant(env).ok()?.to_owned();
    let thing = match wire::parse(env, body).ok()? {
        Inbound::ThingCreated { thing_id, .. }
        | Inbound::ThingRemoved { thing_id }
        | Inbound::UpdateAttributes { thing_id, .. }
        | Inbound::UpdateAutoConfirm { thing_id, .. } => thing_id,
        Inbound::UpdateActionStatus { body } => {
            let action = body.action_id;
            let key = (tenant.clone(), action);
            let known = lock(targets).get(&key).cloned();
            if let Some(t) = known {
                t
            } else {
                let t = tenant.clone();
                let found = ctx
                    .state
                    .db
                    .read(move |c| crate::store::dmf::action_target(c, &t, action))
                    .await;
                match found {
                    Ok(Some(thing)) => {
                        let mut targets = lock(targets);
                        if targets.len() >= REMEMBERED {
                            targets.clear();
                        }
                        targets.insert(key, thing.clone());
                        thing
                    }
                    // No such action (it is rejected when handled), or the database is away (it is
                    // requeued): nothing to keep in order with.
                    _ => format!("\0action {action}"),
                }
            }
        }
        Inbound::Ping => return None,
    };
    Some(format!("{tenant}/{thing}"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until every worker has done what it was given so far.
async fn flush(senders: &[mpsc::UnboundedSender<Job>]) -> anyhow::Result<()> {
    let mut done = Vec::with_capacity(senders.len());
    for s in senders {
        let (tx, rx) = oneshot::channel();
        s.send(Job::Flush(tx))
            .map_err(|_| anyhow::anyhow!("a DMF worker stopped"))?;
        done.push(rx);
    }
    for rx in done {
        rx.await.map_err(|_| anyhow::anyhow!("a DMF worker stopped"))?;
    }
    Ok(())
}

async fn worker(ctx: &Context, mut jobs: mpsc::UnboundedReceiver<Job>) -> anyhow::Result<()> {
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Delivery(job) => {
                let (env, delivery) = *job;
                settle(ctx, &env, delivery).await?;
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
    Ok(())
}

/// Handles one delivery and tells the broker the outcome, after the commit.
async fn settle(ctx: &Context, env: &Envelope, delivery: Delivery) -> anyhow::Result<()> {
    match inbound::handle(ctx, env, &delivery.data).await {
        inbound::Outcome::Ack => {
            delivery.acker.ack(BasicAckOptions::default()).await?;
        }
        inbound::Outcome::Reject(why) => {
            tracing::info!(reason = %why, "DMF: message rejected to the dead-letter queue");
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await?;
        }
        inbound::Outcome::Requeue(why) => {
            tracing::warn!(reason = %why, "DMF: message requeued; trying again shortly");
            // Not at once: the database that failed is most likely still away.
            tokio::time::sleep(Duration::from_millis(500)).await;
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: true })
                .await?;
        }
    }
    Ok(())
}
