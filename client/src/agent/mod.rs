//! `updraft agent`: polls the server over DDI and carries out what it says, SWUpdate-suricatta style.
//!
//! One [`Agent::step`] is: finish what a reboot left (health check → commit or roll back, then report
//! the result of that action), poll the root resource, send attributes when asked, answer a
//! cancellation or a confirmation request, and run a deployment: stream the bundle into the inactive
//! slot, arm it and reboot. The final result of an update is reported only after the new slot booted
//! and was committed (or rolled back), from the journal, so a power cut at any point loses nothing:
//! the next start reads the journal and reports then.

pub mod ddi;

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
use crate::config::Config;
use crate::journal::{Phase, RollbackReason};
use crate::slots::{Outcome, RealFs, Storage, Updater};

/// The file (in the data dir) naming the last action whose final result the server has.
const REPORTED_FILE: &str = "reported-action";
/// The boot id at the moment an update was armed.
const ARMED_BOOT_FILE: &str = "armed-boot-id";

pub struct Agent {
    config: Config,
    ddi: Ddi,
    /// Actions this process already told "waiting for the maintenance window", so it says it once.
    waiting: Option<String>,
    attributes_sent: bool,
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
        Ok(Agent {
            config,
            ddi,
            waiting: None,
            attributes_sent: false,
        })
    }

    /// Polls until stopped; errors are logged and retried at the polling interval.
    pub fn run(&mut self) -> ! {
        let fallback = Duration::from_secs(self.config.server.as_ref().map_or(60, |s| s.poll_secs));
        loop {
            let sleep = match self.step() {
                Ok((step, sleep)) => {
                    tracing::info!(?step, next_poll_in = ?sleep, "poll done");
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
        if let Some(step) = self.finish_previous_update()? {
            return Ok((step, Duration::ZERO));
        }
        let root: ControllerBase = self.ddi.get("")?;
        let sleep = parse_sleep(&root.config.polling.sleep).unwrap_or(fallback);
        let links = &root.links;
        if links.config_data.is_some() && !self.attributes_sent {
            self.send_attributes()?;
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

    /// After a reboot: health check and commit or roll back, then report the action's result once.
    fn finish_previous_update(&mut self) -> anyhow::Result<Option<Step>> {
        let backend = self.config.backend()?;
        let journal_store = self.config.journal();
        let journal = journal_store.load()?;
        if matches!(journal.phase, Phase::Armed { .. }) && self.same_boot_as_armed() {
            // Armed, and the reboot has not happened yet: nothing to reconcile.
            return Ok(None);
        }
        if matches!(
            journal.phase,
            Phase::Installing { .. } | Phase::Armed { .. } | Phase::Trial { .. }
        ) {
            let outcome =
                Updater::new(backend.as_ref(), &journal_store).recover(|slot| self.healthy(slot))?;
            tracing::info!(?outcome, "finished the update in flight");
            if let Outcome::RolledBack {
                reboot_needed: true, ..
            } = outcome
            {
                // The failed trial is still running: report first, then boot the good slot.
                let step = self.report_final()?;
                self.reboot();
                return Ok(step);
            }
        }
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
            } => (
                false,
                vec![format!(
                    "version {version} in slot {slot} was rolled back: {}",
                    describe_rollback(*reason)
                )],
            ),
            _ => return Ok(None),
        };
        let marker = self.config.data_dir.join(REPORTED_FILE);
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(action.as_str()) {
            return Ok(None);
        }
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

    /// Runs the configured health check with its timeout; without one the trial is healthy.
    fn healthy(&self, slot: crate::slots::Slot) -> bool {
        let Some(cmd) = &self.config.agent.health_check else {
            return true;
        };
        let timeout = Duration::from_secs(self.config.agent.health_timeout_secs);
        let ok = run_with_timeout(cmd, timeout);
        tracing::info!(%slot, healthy = ok, "health check done");
        ok
    }

    fn send_attributes(&mut self) -> anyhow::Result<()> {
        let mut data: BTreeMap<String, Option<String>> = self
            .config
            .agent
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        if let Some(cmd) = &self.config.agent.attributes_command {
            let out = Command::new("sh")
                .args(["-c", cmd])
                .output()
                .with_context(|| format!("running attributes_command {cmd:?}"))?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    data.insert(k.trim().to_owned(), Some(v.trim().to_owned()));
                }
            }
        }
        if let Some(v) = self.config.current_version()? {
            data.entry("updraft.version".into()).or_insert(Some(v));
        }
        self.ddi.send(
            Method::PUT,
            "/configData",
            &ConfigData {
                mode: Some(ConfigDataMode::Merge),
                data,
            },
        )?;
        self.attributes_sent = true;
        Ok(())
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
            vec![format!("downloading {name}")],
        )?;
        let download = self.ddi.download(&url)?;
        if d.update == HandlingType::Skip {
            return self.download_only(&action, &name, download);
        }
        let force = false;
        match crate::install::install_from(&self.config, download, &url, force, Some(&action)) {
            Ok(done) => {
                if let Some(id) = self.boot_id() {
                    RealFs.replace(&self.config.data_dir.join(ARMED_BOOT_FILE), id.as_bytes())?;
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
                let reason = format!("{e:#}");
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

fn describe_rollback(reason: RollbackReason) -> &'static str {
    match reason {
        RollbackReason::InstallInterrupted => "the install was interrupted",
        RollbackReason::Unhealthy => "the new slot failed its health check",
        RollbackReason::BootedOldSlot => "the new slot did not boot (the old slot came up)",
    }
}

/// The first `.swu` artifact of the deployment and its download URL (HTTPS preferred).
fn bundle_of(d: &DeploymentBase) -> Option<(String, String)> {
    d.deployment
        .chunks
        .iter()
        .flat_map(|c| &c.artifacts)
        .find(|a| a.filename.to_ascii_lowercase().ends_with(".swu"))
        .and_then(|a| {
            let link = a.links.get("download").or_else(|| a.links.get("download-http"))?;
            Some((a.filename.clone(), link.href.clone()))
        })
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

/// Runs `sh -c cmd`; false when it fails or outlives `timeout`. The command runs in its own process
/// group, so a timeout kills everything it started, not just the shell.
fn run_with_timeout(cmd: &str, timeout: Duration) -> bool {
    use std::os::unix::process::CommandExt as _;
    let Ok(mut child) = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
    else {
        return false;
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if start.elapsed() >= timeout => {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(command = cmd, ?timeout, "health check timed out");
                return false;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_hawkbits_hh_mm_ss() {
        assert_eq!(parse_sleep("00:05:00"), Some(Duration::from_secs(300)));
        assert_eq!(parse_sleep("12:00:01"), Some(Duration::from_secs(43_201)));
        assert_eq!(parse_sleep("00:60:00"), None);
        assert_eq!(parse_sleep("5"), None);
    }

    #[test]
    fn health_checks_time_out() {
        assert!(run_with_timeout("true", Duration::from_secs(5)));
        assert!(!run_with_timeout("exit 3", Duration::from_secs(5)));
        let start = Instant::now();
        assert!(!run_with_timeout("sleep 10", Duration::from_millis(200)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
