//! `--api dmf`: the fleet behind one DMF gateway (hawkBit's Device Management Federation over
//! AMQP 0-9-1) instead of polling DDI. The gateway announces every device with `THING_CREATED`,
//! listens on its reply queue, and for each `DOWNLOAD_AND_INSTALL`/`DOWNLOAD` (or `BATCH_*`)
//! reports RUNNING, downloads and checks the artifacts with the message's target token, and
//! reports FINISHED (DOWNLOADED for a download), or ERROR for the devices that fail; it confirms
//! `CONFIRM`, acknowledges `CANCEL_DOWNLOAD` with CANCELED and answers
//! `REQUEST_ATTRIBUTES_UPDATE` with `UPDATE_ATTRIBUTES`, as the hawkBit SDK's `DmfApp` does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use sha1::Digest;

use crate::report::{ActionOutcome, ActionResult, Report};
use crate::{FleetConfig, StopWhen};

/// Runs the fleet over DMF until `stop`; a broker that cannot be reached is an error in the report.
pub async fn run(config: FleetConfig, amqp_url: &str, stop: StopWhen) -> Report {
    let started = Instant::now();
    let report = Arc::new(Mutex::new(Report {
        devices: config.devices,
        ..Report::default()
    }));
    if let Err(e) = serve(&config, amqp_url, &stop, &report).await {
        error(&report, &format!("amqp: {e}"));
    }
    let mut r = lock(&report).clone();
    r.elapsed = started.elapsed();
    r
}

/// [`run`] on a runtime of its own.
pub fn run_blocking(config: FleetConfig, amqp_url: &str, stop: StopWhen) -> Report {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(run(config, amqp_url, stop)),
        Err(e) => Report {
            http_errors: 1,
            errors: [(format!("runtime: {e}"), 1)].into(),
            ..Report::default()
        },
    }
}

fn lock(r: &Mutex<Report>) -> std::sync::MutexGuard<'_, Report> {
    r.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(report: &Mutex<Report>, kind: &str) {
    let mut r = lock(report);
    r.http_errors += 1;
    *r.errors.entry(kind.to_owned()).or_default() += 1;
}

async fn publish(
    ch: &Channel,
    tenant: &str,
    headers: &[(&str, &str)],
    body: &Value,
    reply_to: Option<&str>,
) -> lapin::Result<()> {
    let mut table = FieldTable::default();
    table.insert("tenant".into(), AMQPValue::LongString(tenant.into()));
    for (k, v) in headers {
        table.insert((*k).into(), AMQPValue::LongString((*v).into()));
    }
    let mut props = BasicProperties::default()
        .with_headers(table)
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    if let Some(r) = reply_to {
        props = props.with_reply_to(r.into());
    }
    let payload = serde_json::to_vec(body).unwrap_or_default();
    ch.basic_publish(
        "dmf.exchange".into(),
        "".into(),
        BasicPublishOptions::default(),
        &payload,
        props,
    )
    .await?
    .await?;
    Ok(())
}

async fn status(ch: &Channel, tenant: &str, action: i64, status: &str, message: &str) -> lapin::Result<()> {
    let body = json!({"actionId": action, "actionStatus": status, "message": [message]});
    publish(
        ch,
        tenant,
        &[("type", "EVENT"), ("topic", "UPDATE_ACTION_STATUS")],
        &body,
        None,
    )
    .await
}

fn done(report: &Report, config: &FleetConfig, stop: &StopWhen) -> bool {
    match stop {
        StopWhen::ActionsDone { per_device, .. } => {
            report.per_device.len() >= config.devices
                && report.per_device.values().all(|d| d.actions.len() >= *per_device)
        }
        StopWhen::Outcomes { count, .. } => report.finished() >= *count,
        _ => false,
    }
}

fn timeout(stop: &StopWhen) -> Duration {
    match stop {
        StopWhen::After(d) => *d,
        StopWhen::ActionsDone { timeout, .. }
        | StopWhen::Polls { timeout, .. }
        | StopWhen::Registered { timeout }
        | StopWhen::Outcomes { timeout, .. }
        | StopWhen::Idle { timeout, .. } => *timeout,
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn serve(
    config: &FleetConfig,
    url: &str,
    stop: &StopWhen,
    report: &Arc<Mutex<Report>>,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + timeout(stop);
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await?;
    let exchange = format!("{}replyTo", config.id_prefix);
    let queue = format!("{}receiver", config.id_prefix);
    ch.exchange_declare(
        exchange.as_str().into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        queue.as_str().into(),
        exchange.as_str().into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "updraft-sim".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    for cid in config.controller_ids() {
        let headers = [
            ("type", "THING_CREATED"),
            ("thingId", cid.as_str()),
            ("sender", "updraft-sim"),
        ];
        publish(
            &ch,
            &config.tenant,
            &headers,
            &json!({"name": cid}),
            Some(&exchange),
        )
        .await?;
    }
    if matches!(stop, StopWhen::Polls { .. } | StopWhen::Registered { .. }) {
        return Ok(());
    }
    let http = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .build()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    loop {
        if done(&lock(report), config, stop) {
            return Ok(());
        }
        let delivery = tokio::select! {
            d = consumer.next() => d,
            () = tokio::time::sleep_until(deadline) => {
                lock(report).timed_out = !matches!(stop, StopWhen::After(_));
                return Ok(());
            }
            // Re-check the stop condition now and then: outcomes are counted by other tasks.
            () = tokio::time::sleep(Duration::from_millis(50)) => continue,
        };
        let Some(delivery) = delivery else {
            return Err("the broker cancelled the consumer".into());
        };
        let delivery = delivery?;
        let header = |k: &str| {
            delivery.properties.headers().as_ref().and_then(|h| {
                h.inner().get(k).and_then(|v| match v {
                    AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
                    _ => None,
                })
            })
        };
        let topic = header("topic").or_else(|| header("type")).unwrap_or_default();
        let body: Value = serde_json::from_slice(&delivery.data).unwrap_or(Value::Null);
        let thing = header("thingId").unwrap_or_default();
        let work = Work {
            config: config.clone(),
            ch: ch.clone(),
            http: http.clone(),
            report: Arc::clone(report),
        };
        match topic.as_str() {
            "DOWNLOAD_AND_INSTALL" | "DOWNLOAD" => {
                let permits = Arc::clone(&permits);
                let modules = body["softwareModules"].clone();
                let (action, token) = (
                    body["actionId"].as_i64().unwrap_or(0),
                    body["targetSecurityToken"].as_str().unwrap_or("").to_owned(),
                );
                let only_download = topic == "DOWNLOAD";
                tokio::spawn(async move {
                    let _permit = permits.acquire().await;
                    work.update(&thing, action, &token, &modules, only_download).await;
                });
            }
            "BATCH_DOWNLOAD_AND_INSTALL" | "BATCH_DOWNLOAD" => {
                for t in body["targets"].as_array().cloned().unwrap_or_default() {
                    let (permits, work) = (Arc::clone(&permits), work.clone());
                    let modules = body["softwareModules"].clone();
                    let only_download = topic == "BATCH_DOWNLOAD";
                    tokio::spawn(async move {
                        let _permit = permits.acquire().await;
                        let cid = t["controllerId"].as_str().unwrap_or("");
                        let token = t["targetSecurityToken"].as_str().unwrap_or("");
                        work.update(
                            cid,
                            t["actionId"].as_i64().unwrap_or(0),
                            token,
                            &modules,
                            only_download,
                        )
                        .await;
                    });
                }
            }
            "CONFIRM" => {
                let action = body["actionId"].as_i64().unwrap_or(0);
                if status(
                    &ch,
                    &config.tenant,
                    action,
                    "CONFIRMED",
                    "Confirmed by updraft-sim.",
                )
                .await
                .is_ok()
                {
                    lock(report).confirmations += 1;
                }
            }
            "CANCEL_DOWNLOAD" => {
                let action = body["actionId"].as_i64().unwrap_or(0);
                status(
                    &ch,
                    &config.tenant,
                    action,
                    "CANCELED",
                    "Canceled by updraft-sim.",
                )
                .await?;
                work.outcome(&thing, action, ActionResult::Canceled, "canceled");
            }
            "REQUEST_ATTRIBUTES_UPDATE" => {
                let attributes = config
                    .attributes
                    .clone()
                    .unwrap_or_else(|| [("simulator".to_owned(), "updraft-sim".to_owned())].into());
                let headers = [
                    ("type", "EVENT"),
                    ("topic", "UPDATE_ATTRIBUTES"),
                    ("thingId", thing.as_str()),
                ];
                publish(
                    &ch,
                    &config.tenant,
                    &headers,
                    &json!({"attributes": attributes, "mode": "MERGE"}),
                    None,
                )
                .await?;
                lock(report).config_data_updates += 1;
            }
            _ => {}
        }
    }
}

/// What a device's update needs.
#[derive(Clone)]
struct Work {
    config: FleetConfig,
    ch: Channel,
    http: reqwest::Client,
    report: Arc<Mutex<Report>>,
}

impl Work {
    fn outcome(&self, cid: &str, action: i64, result: ActionResult, detail: &str) {
        let mut r = lock(&self.report);
        match result {
            ActionResult::Succeeded => r.succeeded += 1,
            ActionResult::Failed => r.failed += 1,
            ActionResult::Canceled => r.canceled += 1,
        }
        r.per_device
            .entry(cid.to_owned())
            .or_default()
            .actions
            .push(ActionOutcome {
                action_id: u64::try_from(action).unwrap_or(0),
                result,
                detail: detail.to_owned(),
            });
    }

    /// One device's update: RUNNING, the downloads, then its result.
    async fn update(&self, cid: &str, action: i64, token: &str, modules: &Value, only_download: bool) {
        lock(&self.report).deployments += 1;
        let tenant = &self.config.tenant;
        if status(&self.ch, tenant, action, "RUNNING", "Update begin.")
            .await
            .is_err()
        {
            return error(&self.report, "amqp: status");
        }
        let mut ok = true;
        if self.config.download {
            for artifact in modules
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|m| m["artifacts"].as_array().cloned().unwrap_or_default())
            {
                ok &= self.download(&artifact, token).await;
            }
        }
        let fails = self.config.device_fails(cid) || !ok;
        let (state, result, detail) = match (fails, only_download) {
            (true, _) => ("ERROR", ActionResult::Failed, "Update failed."),
            (false, true) => (
                "DOWNLOADED",
                ActionResult::Succeeded,
                "Update (download-only) completed.",
            ),
            (false, false) => ("FINISHED", ActionResult::Succeeded, "Update complete."),
        };
        tokio::time::sleep(self.config.feedback_delay).await;
        match status(&self.ch, tenant, action, state, detail).await {
            Ok(()) => self.outcome(cid, action, result, detail),
            Err(_) => error(&self.report, "amqp: status"),
        }
    }

    /// Downloads one artifact from its DDI link with the target token and checks size and SHA-1.
    /// The link's path is fetched from `--server`: the server may name itself by a host the
    /// simulator does not resolve.
    async fn download(&self, artifact: &Value, token: &str) -> bool {
        let Some(link) = artifact["urls"]["HTTPS"]
            .as_str()
            .or(artifact["urls"]["HTTP"].as_str())
        else {
            return false;
        };
        let path = link.splitn(4, '/').nth(3).unwrap_or("");
        let url = format!("{}/{path}", self.config.server.trim_end_matches('/'));
        let got = self
            .http
            .get(&url)
            .header("Authorization", format!("TargetToken {token}"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let bytes = match got {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let Ok(bytes) = bytes else {
            error(&self.report, "download");
            return false;
        };
        let sha1 = format!("{:x}", sha1::Sha1::digest(&bytes));
        let mut r = lock(&self.report);
        r.bytes_downloaded += bytes.len() as u64;
        let good = artifact["hashes"]["sha1"].as_str() == Some(sha1.as_str())
            && artifact["size"].as_u64() == Some(bytes.len() as u64);
        if !good {
            r.hash_mismatches += 1;
        }
        good
    }
}
