//! `updraft agent`: polls the server over DDI and carries out what it says, SWUpdate-suricatta style.
//!
//! One [`Agent::step`] is: settle what a reboot left (health check → commit or roll back; a trial
//! the bootloader gave up on is recorded as rolled back), run the post-commit health window, poll
//! the root resource, send the attributes when they changed or the server asks (the `updraft.*`
//! slot state of [`fleet`] first, so the server knows the booted slot before the result), report the
//! result of that action, answer a cancellation or a confirmation request, and run a deployment:
//! stream the bundle into the inactive slot, arm it and reboot. The final result of an update is
//! reported only after the new slot booted and was committed (or rolled back), from the journal, so
//! a power cut at any point loses nothing: the next start reads the journal and reports then. No
//! state needs a human: every journal phase is settled at start-up, so the next update is accepted.

pub mod ddi;
pub mod fleet;
pub mod http;
pub mod inventory;
pub mod state_scripts;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Method;
use updraft_ddi::{
    CancelActionBase, ConfigData, ConfigDataMode, Confirmation, ConfirmationBase, ConfirmationFeedback,
    ControllerBase, DeploymentBase, Execution, Finished, HandlingType, MaintenanceWindowStatus,
};

use self::ddi::{Ddi, Refused};
use self::fleet::FleetState;
use crate::config::Config;
use crate::install::ARMED_BOOT_FILE;
use crate::journal::{Phase, RollbackReason};
use crate::slots::{Outcome, RealFs, Slot, Storage, Updater};

/// The file (in the data dir) naming the last action whose final result the server has.
const REPORTED_FILE: &str = "reported-action";
/// Where the health check's output goes; its last line is the reason of a failure.
const HEALTH_LOG: &str = "health-check.log";

pub struct Agent {
    config: Config,
    ddi: Ddi,
    /// Actions this process already told "waiting for the maintenance window", so it says it once.
    waiting: Option<String>,
    /// `[agent.attributes]` plus `attributes_command`'s output: gathered once per process, and
    /// again when the server asks for attributes.
    user_attributes: Option<BTreeMap<String, String>>,
    /// The verdict of a health check this process ran and has not put into the fleet state yet.
    health: Option<String>,
    /// When this process last ran the health check.
    last_health_check: Option<Instant>,
    /// A reboot into the committed slot was asked for: nothing is settled again until it happened.
    reboot_requested: bool,
}

/// What one step did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Idle,
    /// An update was installed and armed; the device reboots (or waits to be rebooted).
    Armed {
        action: String,
    },
    /// A deployment was refused or failed before anything was armed.
    Failed {
        action: String,
        reason: String,
    },
    /// The result of an earlier update was reported.
    Reported {
        action: String,
        success: bool,
    },
    /// A download-only action was fetched and verified.
    Downloaded {
        action: String,
    },
    /// Waiting for the maintenance window of an action.
    Waiting {
        action: String,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Idle => f.write_str("idle"),
            Step::Armed { action } => write!(f, "action {action}: installed and armed; reboot to try it"),
            Step::Failed { action, reason } => write!(f, "action {action}: failed: {reason}"),
            Step::Reported { action, success } => write!(
                f,
                "action {action}: reported {}",
                if *success { "success" } else { "failure" }
            ),
            Step::Downloaded { action } => write!(f, "action {action}: downloaded and verified"),
            Step::Waiting { action } => write!(f, "action {action}: waiting for the maintenance window"),
        }
    }
}

impl Agent {
    pub fn new(config: Config) -> anyhow::Result<Agent> {
        let server = config
            .server
            .as_ref()
            .context("the agent needs a [server] section in the config (url, controller_id, a token)")?;
        let controller_id = match &server.controller_id {
            Some(id) => id.clone(),
            None => std::fs::read_to_string("/etc/hostname")
                .context("no [server] controller_id and no /etc/hostname to take it from")?
                .trim()
                .to_owned(),
        };
        let ddi = Ddi::new(server, &controller_id)?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
        Ok(Agent {
            config,
            ddi,
            waiting: None,
            user_attributes: None,
            health: None,
            last_health_check: None,
            reboot_requested: false,
        })
    }

    /// Polls until stopped; errors are logged and retried at the polling interval.
    pub fn run(&mut self) -> ! {
        let fallback = Duration::from_secs(self.config.server.as_ref().map_or(60, |s| s.poll_secs));
        loop {
            let sleep = match self.step() {
                Ok((step, sleep)) => {
                    tracing::info!(%step, next_poll_in_secs = sleep.as_secs(), "poll done");
                    sleep
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "poll failed; retrying");
                    fallback
                }
            };
            std::thread::sleep(sleep);
        }
    }

    /// One round; answers what it did and how long to sleep before the next.
    pub fn step(&mut self) -> anyhow::Result<(Step, Duration)> {
        let fallback = Duration::from_secs(self.config.server.as_ref().map_or(60, |s| s.poll_secs));
        if let Outcome::RolledBack {
            reboot_needed: true, ..
        } = self.settle()?
        {
            // The failed trial is still running: tell the server what we can, then boot the good
            // slot. What could not be sent goes out after the reboot, from the journal.
            let step = match self.poll_and_report() {
                Ok(step) => step,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "could not report before the reboot");
                    None
                }
            };
            self.reboot_requested = true;
            self.reboot();
            return Ok((step.unwrap_or(Step::Idle), fallback));
        }
        let next_check = self.health_window()?;
        let root: ControllerBase = self.ddi.get("")?;
        let mut sleep = parse_sleep(&root.config.polling.sleep).unwrap_or(fallback);
        if let Some(next) = next_check {
            sleep = sleep.min(next);
        }
        let links = &root.links;
        self.sync_attributes(links.config_data.is_some())?;
        if let Some(step) = self.report_final()? {
            return Ok((step, Duration::ZERO));
        }
        if let Some(link) = &links.cancel_action {
            self.cancel(&link.href)?;
            return Ok((Step::Idle, Duration::ZERO));
        }
        if let Some(link) = &links.confirmation_base {
            self.confirm(&link.href)?;
            return Ok((Step::Idle, Duration::ZERO));
        }
        if let Some(link) = &links.deployment_base {
            let step = self.deploy(&link.href)?;
            let next = if matches!(step, Step::Waiting { .. }) {
                sleep
            } else {
                Duration::ZERO
            };
            return Ok((step, next));
        }
        Ok((Step::Idle, sleep))
    }

    /// Settles the journal with what the bootloader booted, whatever its phase: an interrupted
    /// install, a trial to check and commit or roll back, a trial the bootloader gave up on (recorded
    /// as rolled back, so the next update is accepted with no `updraft rollback`), a stale trial.
    /// Only an update armed in this very boot waits, for its reboot.
    fn settle(&mut self) -> anyhow::Result<Outcome> {
        if self.reboot_requested {
            return Ok(Outcome::Nothing);
        }
        let journal_store = self.config.journal();
        let journal = journal_store.load()?;
        if matches!(journal.phase, Phase::Armed { .. }) && self.same_boot_as_armed() {
            return Ok(Outcome::Nothing);
        }
        let backend = self.config.backend()?;
        let outcome =
            Updater::new(backend.as_ref(), &journal_store).recover(|slot| self.trial_healthy(slot))?;
        self.after_settle(outcome);
        if outcome != Outcome::Nothing {
            tracing::info!(%outcome, "settled the update in flight");
        }
        Ok(outcome)
    }

    /// Polls once, sends the attributes and reports the result of the last update.
    fn poll_and_report(&mut self) -> anyhow::Result<Option<Step>> {
        let root: ControllerBase = self.ddi.get("")?;
        self.sync_attributes(root.links.config_data.is_some())?;
        self.report_final()
    }

    fn report_final(&mut self) -> anyhow::Result<Option<Step>> {
        let journal = self.config.journal().load()?;
        let Some(action) = journal.action_id.clone() else {
            return Ok(None);
        };
        let (success, details) = match &journal.phase {
            Phase::Committed { slot, version } => (
                true,
                vec![format!(
                    "version {version} runs from slot {slot}, committed after a healthy boot"
                )],
            ),
            Phase::RolledBack {
                slot,
                version,
                reason,
            } => {
                let mut details = vec![format!(
                    "version {version} in slot {slot} was rolled back: {}; the device runs slot {} \
                     again and takes the next update",
                    reason.describe(slot.other()),
                    slot.other()
                )];
                if *reason == RollbackReason::Unhealthy {
                    details.extend(health_output(&self.config.data_dir.join(HEALTH_LOG)));
                }
                (false, details)
            }
            _ => return Ok(None),
        };
        let marker = self.config.data_dir.join(REPORTED_FILE);
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(action.as_str()) {
            return Ok(None);
        }
        // The result goes with the attributes it leads to (`updraft.version` of the new slot), so
        // the server never shows a finished action beside the old version. Unchanged ones are not
        // sent again.
        self.sync_attributes(false)?;
        let finished = if success {
            Finished::Success
        } else {
            Finished::Failure
        };
        match self.ddi.feedback(&action, Execution::Closed, finished, details) {
            Ok(()) => {}
            // The server closed the action meanwhile (canceled, superseded): nothing more to say.
            Err(e)
                if e.downcast_ref::<Refused>()
                    .is_some_and(|r| r.status.as_u16() == 410) => {}
            Err(e) => return Err(e),
        }
        RealFs.replace(&marker, action.as_bytes())?;
        Ok(Some(Step::Reported { action, success }))
    }

    /// Runs the configured health check with its timeout and keeps its verdict for `updraft.health`;
    /// without a check the trial is healthy.
    fn healthy(&mut self, slot: Slot) -> bool {
        let verdict = self.check_health();
        tracing::info!(%slot, healthy = verdict.is_ok(), "health check done");
        verdict.is_ok()
    }

    fn check_health(&mut self) -> Result<(), String> {
        let Some(cmd) = self.config.agent.health_check.clone() else {
            self.health = Some("ok".into());
            return Ok(());
        };
        let timeout = Duration::from_secs(self.config.agent.health_timeout_secs);
        let verdict = run_with_timeout(&cmd, timeout, &self.config.data_dir.join(HEALTH_LOG));
        self.last_health_check = Some(Instant::now());
        self.health = Some(match &verdict {
            Ok(()) => "ok".into(),
            Err(reason) => format!("failed: {reason}"),
        });
        verdict
    }

    /// The post-commit health window (`health_window_secs`): runs the health check when it is due
    /// and answers how long until the next one; `None` outside the window. A failure becomes
    /// `updraft.health=failed: ...` and a message on the action where the server still takes one.
    fn health_window(&mut self) -> anyhow::Result<Option<Duration>> {
        let window = self.config.agent.health_window_secs;
        if window == 0 || self.config.agent.health_check.is_none() {
            return Ok(None);
        }
        let journal = self.config.journal().load()?;
        let Phase::Committed { slot, .. } = journal.phase else {
            return Ok(None);
        };
        let (now, end) = (crate::journal::now(), journal.updated_at.saturating_add(window));
        if now >= end || self.config.backend()?.status()?.booted != slot {
            return Ok(None);
        }
        let interval = Duration::from_secs(self.config.agent.health_interval_secs.max(1));
        if self.last_health_check.is_none_or(|t| t.elapsed() >= interval) {
            let was_ok = FleetState::load(&self.config.data_dir).health.as_deref() == Some("ok");
            let verdict = self.check_health();
            tracing::info!(healthy = verdict.is_ok(), "health window check done");
            if let (Err(reason), Some(action), true) = (&verdict, &journal.action_id, was_ok) {
                let detail = format!(
                    "the health check failed {}s after the commit of slot {slot}: {reason}",
                    now.saturating_sub(journal.updated_at)
                );
                // An open action takes the message; a closed one refuses it, which is fine: the
                // attribute carries the verdict.
                if let Err(e) = self
                    .ddi
                    .feedback(action, Execution::Proceeding, Finished::None, vec![detail])
                {
                    tracing::info!(error = %format!("{e:#}"), "the action took no health message");
                }
            }
        }
        let since = self.last_health_check.map_or(Duration::ZERO, |t| t.elapsed());
        Ok(Some(
            interval
                .saturating_sub(since)
                .min(Duration::from_secs(end - now))
                .max(Duration::from_secs(1)),
        ))
    }

    /// `[agent.attributes]` and what `attributes_command` prints.
    fn user_attributes(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut data = self.config.agent.attributes.clone();
        if let Some(dir) = &self.config.agent.inventory_dir {
            let timeout = Duration::from_secs(self.config.agent.script_timeout_secs);
            data.extend(inventory::collect(dir, timeout, &self.config.data_dir));
        }
        if let Some(cmd) = &self.config.agent.attributes_command {
            let out = Command::new("sh")
                .args(["-c", cmd])
                .output()
                .with_context(|| format!("running attributes_command {cmd:?}"))?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    data.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        Ok(data)
    }

    /// [`Agent::send_attributes`]; a set the server refuses (a user attribute it finds invalid, a
    /// quota) is logged and tried again at the next poll, and never holds up the result report.
    fn sync_attributes(&mut self, requested: bool) -> anyhow::Result<()> {
        match self.send_attributes(requested) {
            Err(e) if e.downcast_ref::<Refused>().is_some() => {
                tracing::warn!(error = %format!("{e:#}"), "the server refused the attributes");
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Brings the fleet state up to date and sends the attribute set when it differs from the one
    /// the server has, or when the server asks (`requested`). Answers whether it sent.
    fn send_attributes(&mut self, requested: bool) -> anyhow::Result<bool> {
        if requested || self.user_attributes.is_none() {
            self.user_attributes = Some(self.user_attributes()?);
        }
        let status = self.config.backend()?.status()?;
        let journal = self.config.journal().load()?;
        let mut state = FleetState::load(&self.config.data_dir);
        let before = state.clone();
        let running = self.config.current_version()?;
        state.observe(&journal, status, running.as_deref(), self.boot_id().as_deref());
        if let Some(health) = self.health.take() {
            state.health = Some(health);
        }
        let mut data = self.user_attributes.clone().unwrap_or_default();
        for (key, value) in state.attributes(status, !journal.phase.is_final()) {
            if key == "updraft.version" {
                // A configured `updraft.version` wins, as before the slot state was sent.
                data.entry(key).or_insert(value);
            } else {
                data.insert(key, value);
            }
        }
        if state != before {
            state.save(&self.config.data_dir)?;
        }
        if !requested && data == state.sent {
            return Ok(false);
        }
        self.ddi.send(
            Method::PUT,
            "/configData",
            &ConfigData {
                mode: Some(ConfigDataMode::Merge),
                data: data.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
            },
        )?;
        tracing::info!(attributes = data.len(), requested, "attributes sent");
        state.sent = data;
        state.save(&self.config.data_dir)?;
        Ok(true)
    }

    /// Accepts a cancellation unless that action is already written to a slot.
    fn cancel(&mut self, href: &str) -> anyhow::Result<()> {
        let cancel: CancelActionBase = self.ddi.get(href)?;
        let journal = self.config.journal().load()?;
        let in_flight = journal.action_id.as_deref() == Some(cancel.cancel_action.stop_id.as_str())
            && !journal.phase.is_final();
        let (execution, finished, detail) = if in_flight {
            (
                Execution::Rejected,
                Finished::Failure,
                "the update is already installed and armed",
            )
        } else {
            (Execution::Closed, Finished::Success, "canceled before installing")
        };
        self.ddi.send(
            Method::POST,
            &format!("/cancelAction/{}/feedback", cancel.id),
            &ddi::feedback(execution, finished, vec![detail.to_owned()]),
        )
    }

    /// Answers every action waiting for the device's consent as configured.
    fn confirm(&mut self, href: &str) -> anyhow::Result<()> {
        let base: ConfirmationBase = self.ddi.get(href)?;
        let answer = if self.config.agent.confirm {
            Confirmation::Confirmed
        } else {
            Confirmation::Denied
        };
        for (rel, link) in &base.links {
            if rel != "confirmationBase" {
                continue;
            }
            let action = link
                .href
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default();
            self.ddi.send(
                Method::POST,
                &format!("/confirmationBase/{action}/feedback"),
                &ConfirmationFeedback {
                    confirmation: answer,
                    code: None,
                    details: vec![format!(
                        "updraft agent: [agent] confirm = {}",
                        self.config.agent.confirm
                    )],
                },
            )?;
        }
        Ok(())
    }

    fn deploy(&mut self, href: &str) -> anyhow::Result<Step> {
        let deployment: DeploymentBase = self.ddi.get(href)?;
        let action = deployment.id.clone();
        let journal = self.config.journal().load()?;
        if journal.action_id.as_deref() == Some(action.as_str()) {
            // Ours already: armed and waiting for the reboot, or its result is being reported.
            return Ok(Step::Idle);
        }
        let d = &deployment.deployment;
        let install_now = d.update != HandlingType::Skip
            && d.maintenance_window != Some(MaintenanceWindowStatus::Unavailable);
        let Some((name, url)) = bundle_of(&deployment) else {
            let reason = "the deployment has no .swu artifact with a download link".to_owned();
            self.ddi.feedback(
                &action,
                Execution::Closed,
                Finished::Failure,
                vec![reason.clone()],
            )?;
            return Ok(Step::Failed { action, reason });
        };
        if d.update != HandlingType::Skip && !install_now {
            if self.waiting.as_deref() != Some(action.as_str()) {
                self.ddi.feedback(
                    &action,
                    Execution::Scheduled,
                    Finished::None,
                    vec!["waiting for the maintenance window".into()],
                )?;
                self.waiting = Some(action.clone());
            }
            return Ok(Step::Waiting { action });
        }
        self.ddi.feedback(
            &action,
            Execution::Download,
            Finished::None,
            vec![format!(
                "downloading {}",
                patches_of(&deployment).first().map_or(&name, |(n, _)| n)
            )],
        )?;
        let scripts = self.state_scripts();
        if d.update != HandlingType::Skip
            && let Err(reason) = scripts.run(state_scripts::State::Download, state_scripts::Action::Enter)
        {
            return self.script_failed(&action, reason);
        }
        if d.update == HandlingType::Skip {
            let download = self.ddi.download(&url)?;
            return self.download_only(&action, &name, download);
        }
        let force = false;
        let mut before_arm = || scripts.before_arm().map_err(anyhow::Error::msg);
        // Chunk-delta images fetch their `.zck` from the deployment's other artifacts.
        let chunk_files = ddi::ChunkFiles {
            ddi: self.ddi.clone(),
            artifacts: artifact_links(&deployment),
        };
        // A per-source patch first, when listed: it installs only if its signed source is the
        // active slot's image, and is refused before anything is written otherwise; a patch that
        // fails later leaves the inactive slot unbootable. Either way the full bundle follows.
        let mut candidates = patches_of(&deployment);
        let patches = candidates.len();
        if !candidates.iter().any(|(n, _)| *n == name) {
            candidates.push((name.clone(), url.clone()));
        }
        let mut installed = Err(anyhow::anyhow!("no bundle was tried"));
        for (i, (name, url)) in candidates.iter().enumerate() {
            if i > 0 {
                self.ddi.feedback(
                    &action,
                    Execution::Download,
                    Finished::None,
                    vec![format!("downloading {name}")],
                )?;
            }
            installed = self.ddi.download(url).and_then(|download| {
                crate::install::install_from_remote(
                    &self.config,
                    download,
                    url,
                    force,
                    Some(&action),
                    &mut before_arm,
                    Some(&chunk_files),
                )
            });
            let last = i + 1 == candidates.len();
            match &installed {
                Err(e)
                    if i < patches
                        && !last
                        && e.downcast_ref::<crate::install::VersionRefused>().is_none() =>
                {
                    tracing::warn!(patch = %name, error = %format!("{e:#}"), "the patch was not installed; taking the next bundle");
                    self.ddi.feedback(
                        &action,
                        Execution::Proceeding,
                        Finished::None,
                        vec![format!(
                            "{name} was not installed ({e:#}); taking the next bundle"
                        )],
                    )?;
                }
                _ => break,
            }
        }
        match installed {
            Ok(done) if !done.armed => {
                self.ddi.feedback(
                    &action,
                    Execution::Closed,
                    Finished::Success,
                    vec![format!(
                        "every image of version {} is installed on the device already ({} skipped \
                         by install-if-different or install-if-higher); nothing was written",
                        done.version, done.skipped
                    )],
                )?;
                Ok(Step::Reported {
                    action,
                    success: true,
                })
            }
            Ok(done) => {
                if let Err(reason) = self.before_reboot(done.slot, &done.version)? {
                    return self.script_failed(&action, reason);
                }
                self.ddi.feedback(
                    &action,
                    Execution::Proceeding,
                    Finished::None,
                    vec![format!(
                        "installed version {} into slot {}; rebooting for a trial boot",
                        done.version, done.slot
                    )],
                )?;
                self.reboot();
                Ok(Step::Armed { action })
            }
            Err(e) => {
                // The server's reader cannot pass `--force` on the device: tell what they can do.
                let reason = match e.downcast_ref::<crate::install::VersionRefused>() {
                    Some(refused) => refused.for_operator(),
                    None => format!("{e:#}"),
                };
                self.ddi.feedback(
                    &action,
                    Execution::Closed,
                    Finished::Failure,
                    vec![reason.clone()],
                )?;
                Ok(Step::Failed { action, reason })
            }
        }
    }

    /// `downloadonly`: fetch and verify the whole bundle (signature, every image hash), keep nothing.
    fn download_only(&mut self, action: &str, name: &str, download: ddi::Download) -> anyhow::Result<Step> {
        let result = crate::install::verify_only(&self.config, download);
        let (execution, finished, detail) = match &result {
            Ok(images) => (
                Execution::Downloaded,
                Finished::Success,
                format!("{name}: downloaded and verified {images} image(s)"),
            ),
            Err(e) => (Execution::Closed, Finished::Failure, format!("{name}: {e:#}")),
        };
        self.ddi
            .feedback(action, execution, finished, vec![detail.clone()])?;
        Ok(match result {
            Ok(_) => Step::Downloaded {
                action: action.to_owned(),
            },
            Err(_) => Step::Failed {
                action: action.to_owned(),
                reason: detail,
            },
        })
    }

    /// The kernel's boot id (changes on every boot), to tell "armed, not rebooted yet" from "armed,
    /// rebooted, and the old slot came up".
    fn boot_id(&self) -> Option<String> {
        std::fs::read_to_string(&self.config.agent.boot_id_file)
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn same_boot_as_armed(&self) -> bool {
        let armed = std::fs::read_to_string(self.config.data_dir.join(ARMED_BOOT_FILE)).ok();
        armed.is_some() && armed.map(|s| s.trim().to_owned()) == self.boot_id()
    }

    fn reboot(&self) {
        let cmd = self.config.agent.reboot_command.trim();
        if cmd.is_empty() {
            tracing::info!("reboot_command is empty: waiting for someone else to reboot");
            return;
        }
        tracing::info!(command = cmd, "rebooting");
        match Command::new("sh").args(["-c", cmd]).status() {
            Ok(s) if s.success() => {}
            Ok(s) => tracing::error!(status = %s, "the reboot command failed"),
            Err(e) => tracing::error!(error = %e, "the reboot command could not run"),
        }
    }
}

/// Every artifact of the deployment with its download link (HTTPS preferred), by file name.
fn artifact_links(d: &DeploymentBase) -> BTreeMap<String, String> {
    d.deployment
        .chunks
        .iter()
        .flat_map(|c| &c.artifacts)
        .filter_map(|a| {
            let link = a.links.get("download").or_else(|| a.links.get("download-http"))?;
            Some((a.filename.clone(), link.href.clone()))
        })
        .collect()
}

/// The first full `.swu` artifact of the deployment (else the first patch bundle) and its
/// download URL (HTTPS preferred).
fn bundle_of(d: &DeploymentBase) -> Option<(String, String)> {
    let swus = swu_artifacts(d);
    swus.iter()
        .find(|(n, _)| !is_patch(n))
        .or_else(|| swus.first())
        .cloned()
}

/// The deployment's per-source patch bundles (`*.patch.swu`, docs/delta.md), in order.
fn patches_of(d: &DeploymentBase) -> Vec<(String, String)> {
    swu_artifacts(d)
        .into_iter()
        .filter(|(n, _)| is_patch(n))
        .collect()
}

fn is_patch(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".patch.swu")
}

fn swu_artifacts(d: &DeploymentBase) -> Vec<(String, String)> {
    d.deployment
        .chunks
        .iter()
        .flat_map(|c| &c.artifacts)
        .filter(|a| a.filename.to_ascii_lowercase().ends_with(".swu"))
        .filter_map(|a| {
            let link = a.links.get("download").or_else(|| a.links.get("download-http"))?;
            Some((a.filename.clone(), link.href.clone()))
        })
        .collect()
}

/// The failed health check's output for the server: its last lines, at most 2 KiB, one detail line
/// each (hawkBit shows the details of a status as lines).
fn health_output(log: &std::path::Path) -> Vec<String> {
    const MAX: usize = 2048;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut lines: Vec<&str> = Vec::new();
    let mut size = 0;
    for line in text
        .lines()
        .rev()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
    {
        let line = &line[..line.floor_char_boundary(200)];
        if size + line.len() > MAX {
            break;
        }
        size += line.len();
        lines.push(line);
    }
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = vec!["the health check printed (last lines):".to_owned()];
    out.extend(lines.into_iter().rev().map(|l| format!("> {l}")));
    out
}

/// hawkBit's `HH:MM:SS`.
pub fn parse_sleep(s: &str) -> Option<Duration> {
    let mut parts = s.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60 + sec))
}

/// Runs `sh -c cmd` with its output in `log`; fails with a short reason when the command fails or
/// outlives `timeout` (the reason ends with the last line it printed). The command runs in its own
/// process group, so a timeout kills everything it started, not just the shell.
fn run_with_timeout(cmd: &str, timeout: Duration, log: &std::path::Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    let out = std::fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let start = Instant::now();
    let failed = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                break status
                    .code()
                    .map_or_else(|| status.to_string(), |c| format!("exit code {c}"));
            }
            Ok(None) if start.elapsed() >= timeout => {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(command = cmd, ?timeout, "health check timed out");
                break format!("timed out after {timeout:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break e.to_string(),
        }
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    Err(match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(last) => format!("{failed} ({})", last.chars().take(120).collect::<String>()),
        None => failed,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sleep_is_hawkbits_hh_mm_ss() {
        assert_eq!(parse_sleep("00:05:00"), Some(Duration::from_secs(300)));
        assert_eq!(parse_sleep("12:00:01"), Some(Duration::from_secs(43_201)));
        assert_eq!(parse_sleep("00:60:00"), None);
        assert_eq!(parse_sleep("5"), None);
    }

    #[test]
    fn health_checks_time_out_and_say_why() {
        let dir = std::env::temp_dir().join(format!("updraft-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        assert_eq!(run_with_timeout("true", Duration::from_secs(5), &log), Ok(()));
        assert_eq!(
            run_with_timeout(
                "echo checking; echo disk full >&2; exit 3",
                Duration::from_secs(5),
                &log
            ),
            Err("exit code 3 (disk full)".into())
        );
        let start = Instant::now();
        assert_eq!(
            run_with_timeout("sleep 10", Duration::from_millis(200), &log),
            Err("timed out after 200ms".into())
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
