//! One simulated device: a poll loop that follows the root resource's `_links` like a hawkBit
//! client (SWUpdate's suricatta, rauc-hawkbit-updater) and never reports an action twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use updraft_ddi::{
    ActionFeedback, Artifact, CancelActionBase, ConfigData, ConfigDataMode, Confirmation,
    ConfirmationFeedback, ControllerBase, Deployment, DeploymentBase, Execution, FeedbackResult,
    FeedbackStatus, Finished, HandlingType, MaintenanceWindowStatus,
};

use crate::duration::parse_polling_sleep;
use crate::verify::ArtifactVerifier;
use crate::{ActionOutcome, ActionResult, Shared};

/// The `updraft.*` attributes of slot state (docs/fleet-health.md).
const SLOT_BOOTED: &str = "updraft.slot.booted";
const ROLLBACK_REASON: &str = "updraft.rollback_reason";
const HEALTH: &str = "updraft.health";

/// Downloads that fail on the wire are retried at the next polls, then reported as a failure.
const DOWNLOAD_ATTEMPTS: u32 = 3;
/// Until the server has said how often to poll.
const FIRST_SLEEP: Duration = Duration::from_secs(5);

/// Why a request failed; `kind` names it without ids, so the report's error map stays small.
enum Failure {
    Status(StatusCode),
    Transport(reqwest::Error),
    Body(String),
}

impl Failure {
    fn kind(&self) -> String {
        match self {
            Self::Status(s) => format!("HTTP {}", s.as_u16()),
            Self::Transport(e) if e.is_timeout() => "timeout".into(),
            Self::Transport(e) if e.is_connect() => "connection failed".into(),
            Self::Transport(e) if e.is_body() || e.is_decode() => "body interrupted".into(),
            Self::Transport(_) => "request failed".into(),
            Self::Body(why) => why.clone(),
        }
    }

    /// The server refused for good (4xx other than 408/429): sending the same again cannot help.
    fn is_final(&self) -> bool {
        matches!(self, Self::Status(s) if s.is_client_error()
            && *s != StatusCode::REQUEST_TIMEOUT
            && *s != StatusCode::TOO_MANY_REQUESTS)
    }
}

enum DownloadError {
    /// Counted in `http_errors`; retried.
    Http,
    /// Counted in `hash_mismatches`; reported as failure.
    Mismatch(String),
}

/// The deployment this device is working on.
struct Current {
    action: u64,
    proceeding_sent: bool,
    download_attempts: u32,
    /// Set once downloaded: what to report, and when.
    install: Option<Install>,
}

struct Install {
    feedback_url: String,
    ready_at: Instant,
    success: bool,
    download_only: bool,
    detail: String,
}

pub(crate) struct Device {
    shared: Arc<Shared>,
    slot: usize,
    id: String,
    /// Index into `servers` of the node this device talks to; a node that refuses connections is
    /// left for the next one, as a load balancer would (multi-node tests kill nodes).
    server: std::sync::atomic::AtomicUsize,
    auth: Option<HeaderValue>,
    fails: bool,
    server_sleep: Duration,
    attributes_sent: bool,
    current: Option<Current>,
    /// Actions this device has reported a final result for (or the server refused for good).
    finished: Vec<u64>,
    /// Slot state (`FleetConfig::slots`): the slot booted now, `a` or `b`.
    booted: &'static str,
    slots: bool,
    rolls_back: bool,
    goes_silent: bool,
    /// Reports `updraft.health=failed: disk` with its successes.
    unhealthy: bool,
    /// When the rollback after the last success is due.
    rollback_at: Option<Instant>,
    /// Stopped polling for good.
    silent: bool,
    /// The first poll succeeded and the attributes the server asked for were accepted.
    registered: bool,
}

impl Device {
    pub(crate) fn new(shared: Arc<Shared>, slot: usize) -> Self {
        let config = &shared.config;
        let i = config.first_index + slot;
        let id = config.controller_id(i);
        let auth = config
            .auth
            .header(&id)
            .and_then(|h| HeaderValue::from_str(&h).ok())
            .map(|mut h| {
                h.set_sensitive(true);
                h
            });
        let fails = config.device_fails(&id);
        let rolls_back = config.device_rolls_back(&id);
        let goes_silent = config.device_goes_silent(&id);
        let unhealthy = config.device_unhealthy(&id);
        Self {
            booted: "a",
            slots: config.slots || rolls_back || goes_silent || unhealthy,
            unhealthy,
            rolls_back,
            goes_silent,
            rollback_at: None,
            silent: false,
            registered: false,
            slot,
            server: std::sync::atomic::AtomicUsize::new(config.server_index(i)),
            id,
            auth,
            fails,
            server_sleep: FIRST_SLEEP,
            attributes_sent: false,
            current: None,
            finished: Vec::new(),
            shared,
        }
    }

    pub(crate) async fn run(mut self) {
        let config = &self.shared.config;
        if !config.ramp_up.is_zero() && config.devices > 1 {
            let share = self.slot as f64 / config.devices as f64;
            tokio::time::sleep(config.ramp_up.mul_f64(share)).await;
        }
        loop {
            // Boxed: the request futures are large, and an idle device should hold only its
            // state and a timer (100,000 devices mostly sleep).
            let wait = Box::pin(self.cycle()).await;
            if self.silent {
                return;
            }
            if self.registered && matches!(self.shared.stop, crate::StopWhen::Registered { .. }) {
                self.shared.devices_done.fetch_add(1, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One poll and whatever its links ask for; returns the time until the next poll.
    async fn cycle(&mut self) -> Duration {
        let base = format!(
            "{}/{}/controller/v1/{}",
            self.current_server(),
            self.shared.config.tenant,
            self.id
        );
        if self.rollback_at.is_some_and(|at| Instant::now() >= at) {
            self.roll_back(&base).await;
        }
        let Ok(root) = self.get_json::<ControllerBase>(&base, "poll").await else {
            return self.next_wait();
        };
        self.shared.record_poll(self.slot);
        if let Some(sleep) = parse_polling_sleep(&root.config.polling.sleep) {
            self.server_sleep = sleep;
        }
        let links = root.links;
        let send_attributes = !self.attributes_sent && self.shared.config.attributes.is_some();
        if links.config_data.is_some() || send_attributes {
            let url = links
                .config_data
                .map_or_else(|| format!("{base}/configData"), |l| l.href);
            self.registered = self.put_config_data(&url).await;
        } else {
            self.registered = true;
        }
        // hawkBit shows at most one of these, for the active action with the highest weight.
        if let Some(link) = links.cancel_action {
            self.cancel(&link.href).await;
        } else if let Some(link) = links.confirmation_base {
            self.confirm(&link.href).await;
        } else if let Some(link) = links.deployment_base {
            self.deploy(&link.href).await;
        } else {
            // The server closed or withdrew the action (e.g. a forced cancel): nothing to report.
            self.current = None;
        }
        self.next_wait()
    }

    fn poll_interval(&self) -> Duration {
        self.shared.config.poll_interval.unwrap_or(self.server_sleep)
    }

    /// The poll interval, or less when an installation finishes sooner. An installation already
    /// due was tried in this cycle (or the poll failed), so it waits a full interval: a failing
    /// server must not turn a device into a busy loop.
    fn next_wait(&self) -> Duration {
        let interval = self.poll_interval();
        let until_ready = self
            .current
            .as_ref()
            .and_then(|c| c.install.as_ref())
            .map(|i| i.ready_at.saturating_duration_since(Instant::now()));
        let until_rollback = self
            .rollback_at
            .map(|at| at.saturating_duration_since(Instant::now()));
        match until_ready
            .into_iter()
            .chain(until_rollback)
            .filter(|d| !d.is_zero())
            .min()
        {
            Some(until) => interval.min(until),
            None => interval,
        }
    }

    /// Sends `updraft.*` attributes (merged into the device's others).
    async fn put_slot_state(&self, url: &str, values: &[(&str, &str)]) -> bool {
        let body = ConfigData {
            mode: Some(ConfigDataMode::Merge),
            data: values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
                .collect(),
        };
        let sent = self.send(Method::PUT, url, &body, "configData").await.is_ok();
        if sent {
            self.shared
                .totals
                .config_data_updates
                .fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// The slot an update installs into.
    fn other_slot(&self) -> &'static str {
        if self.booted == "a" { "b" } else { "a" }
    }

    /// The trial slot failed after all (a watchdog reset): the bootloader booted the old slot.
    async fn roll_back(&mut self, base: &str) {
        let old = self.other_slot();
        let url = format!("{base}/configData");
        let values = [(SLOT_BOOTED, old), (ROLLBACK_REASON, "watchdog"), (HEALTH, "ok")];
        if self.put_slot_state(&url, &values).await {
            self.booted = old;
            self.rollback_at = None;
            self.shared.totals.rollbacks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends the attributes; false when the server did not accept them.
    async fn put_config_data(&mut self, url: &str) -> bool {
        let data: BTreeMap<String, Option<String>> = match &self.shared.config.attributes {
            Some(attributes) => attributes
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            None => BTreeMap::from([("simulator".to_owned(), Some("updraft-sim".to_owned()))]),
        };
        self.attributes_sent = true;
        if data.is_empty() {
            return true;
        }
        let body = ConfigData {
            mode: Some(ConfigDataMode::Merge),
            data,
        };
        let sent = self.send(Method::PUT, url, &body, "configData").await.is_ok();
        if sent {
            self.shared
                .totals
                .config_data_updates
                .fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    async fn cancel(&mut self, href: &str) {
        let Some(id) = self.action_id(href, "cancelAction") else {
            return;
        };
        if self.finished.contains(&id) {
            return;
        }
        self.shared.touch();
        // Clients read the cancel resource for the id of the action to stop (hawkBit: the same id).
        let Ok(cancel) = self.get_json::<CancelActionBase>(href, "cancelAction").await else {
            return;
        };
        let stop_id = cancel.cancel_action.stop_id.parse().unwrap_or(id);
        let detail = "cancellation acknowledged by updraft-sim";
        let body = feedback(Execution::Closed, Finished::Success, detail);
        let url = format!("{}/feedback", strip_query(href));
        match self.send(Method::POST, &url, &body, "cancel feedback").await {
            Ok(()) => {
                if self.current.as_ref().is_some_and(|c| c.action == stop_id) {
                    self.current = None;
                }
                self.finish(id, ActionResult::Canceled, detail.into());
            }
            Err(f) if f.is_final() => self.finished.push(id),
            Err(_) => {} // asked again at the next poll
        }
    }

    async fn confirm(&mut self, href: &str) {
        let Some(id) = self.action_id(href, "confirmationBase") else {
            return;
        };
        if self.finished.contains(&id) {
            return;
        }
        self.shared.touch();
        let body = ConfirmationFeedback {
            confirmation: Confirmation::Confirmed,
            code: None,
            details: vec!["confirmed by updraft-sim".into()],
        };
        let url = format!("{}/feedback", strip_query(href));
        if self
            .send(Method::POST, &url, &body, "confirmation feedback")
            .await
            .is_ok()
        {
            self.shared.totals.confirmations.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn deploy(&mut self, href: &str) {
        let Some(id) = self.action_id(href, "deploymentBase") else {
            return;
        };
        if self.finished.contains(&id) {
            return;
        }
        self.shared.touch();
        if let Some(install) = self
            .current
            .as_ref()
            .filter(|c| c.action == id)
            .and_then(|c| c.install.as_ref())
        {
            if Instant::now() >= install.ready_at {
                self.report_final().await;
            }
            return;
        }
        let Ok(base) = self.get_json::<DeploymentBase>(href, "deploymentBase").await else {
            return;
        };
        let mut current = match self.current.take() {
            Some(c) if c.action == id => c,
            _ => {
                self.shared.totals.deployments.fetch_add(1, Ordering::Relaxed);
                Current {
                    action: id,
                    proceeding_sent: false,
                    download_attempts: 0,
                    install: None,
                }
            }
        };
        let deployment = base.deployment;
        // Outside its maintenance window an action may not be installed: wait for the window.
        if deployment.maintenance_window == Some(MaintenanceWindowStatus::Unavailable) {
            self.current = Some(current);
            return;
        }
        let feedback_url = format!("{}/feedback", strip_query(href));
        let config = &self.shared.config;
        if config.proceeding_feedback && !current.proceeding_sent {
            let body = feedback(Execution::Proceeding, Finished::None, "downloading");
            current.proceeding_sent = self
                .send(Method::POST, &feedback_url, &body, "feedback")
                .await
                .is_ok();
        }
        let (success, detail) = if config.download {
            match self.download_all(&deployment).await {
                Ok(n) if self.fails => (
                    false,
                    format!("simulated failure after downloading {n} artifacts"),
                ),
                Ok(n) => (true, format!("downloaded and verified {n} artifacts")),
                Err(DownloadError::Mismatch(why)) => {
                    self.shared.totals.hash_mismatches.fetch_add(1, Ordering::Relaxed);
                    (false, format!("artifact check failed: {why}"))
                }
                Err(DownloadError::Http) => {
                    current.download_attempts += 1;
                    if current.download_attempts < DOWNLOAD_ATTEMPTS {
                        self.current = Some(current);
                        return;
                    }
                    (false, format!("download failed {DOWNLOAD_ATTEMPTS} times"))
                }
            }
        } else if self.fails {
            (false, "simulated failure".into())
        } else {
            (true, "simulated installation".into())
        };
        current.install = Some(Install {
            feedback_url,
            ready_at: Instant::now() + config.feedback_delay,
            success,
            // Download-only actions (hawkBit's DOWNLOAD_ONLY: update `skip` without a window)
            // are closed by `downloaded`.
            download_only: deployment.update == HandlingType::Skip,
            detail,
        });
        let report_now = config.feedback_delay.is_zero();
        self.current = Some(current);
        if report_now {
            self.report_final().await;
        }
    }

    async fn report_final(&mut self) {
        let Some((id, install)) = self
            .current
            .as_ref()
            .and_then(|c| c.install.as_ref().map(|i| (c.action, i)))
        else {
            return;
        };
        let (execution, finished, result) = match (install.success, install.download_only) {
            (true, true) => (Execution::Downloaded, Finished::None, ActionResult::Succeeded),
            (true, false) => (Execution::Closed, Finished::Success, ActionResult::Succeeded),
            (false, _) => (Execution::Closed, Finished::Failure, ActionResult::Failed),
        };
        let body = feedback(execution, finished, &install.detail);
        let url = install.feedback_url.clone();
        let detail = install.detail.clone();
        let installed = install.success && !install.download_only;
        if installed && self.slots {
            // The new slot is reported before the success, so the server's soak starts from it.
            let config_data = format!("{}/configData", deployment_root(&url));
            let health = if self.unhealthy { "failed: disk" } else { "ok" };
            let values = [(SLOT_BOOTED, self.other_slot()), (HEALTH, health)];
            self.put_slot_state(&config_data, &values).await;
        }
        match self.send(Method::POST, &url, &body, "feedback").await {
            Ok(()) => {
                self.current = None;
                self.finish(id, result, detail);
                if installed {
                    self.booted = self.other_slot();
                    if self.goes_silent {
                        self.silent = true;
                        self.shared.totals.went_silent.fetch_add(1, Ordering::Relaxed);
                    } else if self.rolls_back {
                        self.rollback_at = Some(Instant::now() + self.shared.config.rollback_after);
                    }
                }
            }
            Err(f) if f.is_final() => {
                // e.g. 410: the action was closed meanwhile; reporting again would not count.
                self.current = None;
                self.finished.push(id);
            }
            Err(_) => {
                let retry = Instant::now() + self.poll_interval();
                if let Some(install) = self.current.as_mut().and_then(|c| c.install.as_mut()) {
                    install.ready_at = retry;
                }
            }
        }
    }

    fn finish(&mut self, id: u64, result: ActionResult, detail: String) {
        self.finished.push(id);
        self.shared.record_outcome(
            self.slot,
            ActionOutcome {
                action_id: id,
                result,
                detail,
            },
        );
    }

    async fn download_all(&self, deployment: &Deployment) -> Result<usize, DownloadError> {
        let mut n = 0;
        for chunk in &deployment.chunks {
            for artifact in &chunk.artifacts {
                self.download(artifact).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Streams one artifact through the hash check; the body is never held in memory.
    async fn download(&self, artifact: &Artifact) -> Result<(), DownloadError> {
        let Some(link) = artifact
            .links
            .get("download-http")
            .or_else(|| artifact.links.get("download"))
        else {
            self.shared
                .record_error(self.slot, "download: no download link".into());
            return Err(DownloadError::Http);
        };
        let result = async {
            let _permit = self.permit().await?;
            // No total timeout: a large artifact may take long; the client's read timeout
            // still ends a stalled transfer.
            let mut response = self
                .request(Method::GET, &link.href, false)
                .send()
                .await
                .map_err(Failure::Transport)?;
            if !response.status().is_success() {
                return Err(Failure::Status(response.status()));
            }
            let mut verifier = ArtifactVerifier::new(&artifact.hashes, artifact.size);
            while let Some(bytes) = response.chunk().await.map_err(Failure::Transport)? {
                verifier.update(&bytes);
                self.shared
                    .totals
                    .bytes_downloaded
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Ok(verifier.finish())
        }
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(mismatch)) => Err(DownloadError::Mismatch(format!(
                "{}: {mismatch}",
                artifact.filename
            ))),
            Err(f) => {
                self.fail_over(&f);
                self.shared
                    .record_error(self.slot, format!("download: {}", f.kind()));
                Err(DownloadError::Http)
            }
        }
    }

    fn action_id(&self, href: &str, what: &str) -> Option<u64> {
        let id = strip_query(href).rsplit('/').next()?.parse().ok();
        if id.is_none() {
            self.shared
                .record_error(self.slot, format!("{what}: link without an action id"));
        }
        id
    }

    /// The base URL of the node this device talks to now.
    fn current_server(&self) -> &str {
        let config = &self.shared.config;
        if config.servers.is_empty() {
            return config.server.trim_end_matches('/');
        }
        let i = self.server.load(Ordering::Relaxed) % config.servers.len();
        config.servers[i].trim_end_matches('/')
    }

    /// A link from any node, sent to the current node (links carry the origin that answered).
    fn route(&self, url: &str) -> String {
        let current = self.current_server();
        for s in &self.shared.config.servers {
            let s = s.trim_end_matches('/');
            if let Some(rest) = url.strip_prefix(s) {
                return format!("{current}{rest}");
            }
        }
        url.to_owned()
    }

    /// After a refused connection, the next node.
    fn fail_over(&self, f: &Failure) {
        if matches!(f, Failure::Transport(e) if e.is_connect()) && self.shared.config.servers.len() > 1 {
            self.server.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn request(&self, method: Method, url: &str, with_timeout: bool) -> reqwest::RequestBuilder {
        let mut builder = self.shared.client.request(method, self.route(url));
        if with_timeout {
            builder = builder.timeout(self.shared.config.request_timeout);
        }
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        builder
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Failure> {
        self.shared
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Body("simulator stopping".into()))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str, what: &str) -> Result<T, Failure> {
        let result = async {
            let _permit = self.permit().await?;
            let response = self
                .request(Method::GET, url, true)
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(Failure::Transport)?;
            if !response.status().is_success() {
                return Err(Failure::Status(response.status()));
            }
            let bytes = response.bytes().await.map_err(Failure::Transport)?;
            serde_json::from_slice(&bytes).map_err(|_| Failure::Body("unexpected JSON".into()))
        }
        .await;
        result.inspect_err(|f| {
            self.fail_over(f);
            self.shared
                .record_error(self.slot, format!("{what}: {}", f.kind()));
        })
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        url: &str,
        body: &B,
        what: &str,
    ) -> Result<(), Failure> {
        let result = async {
            let _permit = self.permit().await?;
            let response = self
                .request(method, url, true)
                .json(body)
                .send()
                .await
                .map_err(Failure::Transport)?;
            let status = response.status();
            // Read the (usually empty) body so the connection goes back to the pool.
            let _ = response.bytes().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(Failure::Status(status))
            }
        }
        .await;
        result.inspect_err(|f| {
            self.fail_over(f);
            self.shared
                .record_error(self.slot, format!("{what}: {}", f.kind()));
        })
    }
}

fn feedback(execution: Execution, finished: Finished, detail: &str) -> ActionFeedback {
    ActionFeedback {
        timestamp: None,
        status: FeedbackStatus {
            execution,
            result: FeedbackResult {
                finished,
                progress: None,
            },
            code: None,
            details: vec![detail.to_owned()],
        },
    }
}

/// The controller's base URL from a feedback URL (`{base}/deploymentBase/{action}/feedback`).
fn deployment_root(feedback_url: &str) -> &str {
    feedback_url
        .rfind("/deploymentBase/")
        .map_or(feedback_url, |i| &feedback_url[..i])
}

fn strip_query(href: &str) -> &str {
    href.split_once('?').map_or(href, |(path, _)| path)
}
