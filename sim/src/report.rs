//! What a fleet run did: totals, the errors seen by kind, and each device's actions.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// The outcome of one run of [`crate::run`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub devices: usize,
    /// Successful root polls (`GET {base}`).
    pub polls: u64,
    /// Distinct deployment actions the devices fetched (`deploymentBase`).
    pub deployments: u64,
    /// Final `closed`/`success` (or `downloaded` for download-only) feedback the server accepted.
    pub succeeded: u64,
    /// Final `closed`/`failure` feedback the server accepted.
    pub failed: u64,
    /// Cancellations acknowledged with `closed`/`success` on `cancelAction`.
    pub canceled: u64,
    /// Actions confirmed on `confirmationBase`.
    pub confirmations: u64,
    /// `PUT configData` the server accepted.
    pub config_data_updates: u64,
    pub bytes_downloaded: u64,
    /// Failed requests: transport errors, timeouts, non-2xx answers and unreadable bodies.
    pub http_errors: u64,
    /// Artifacts whose size or hash did not match the deployment (reported as failure).
    pub hash_mismatches: u64,
    /// Rollbacks reported through `updraft.*` attributes (`rollback_fraction`, `rollback_ids`).
    pub rollbacks: u64,
    /// Devices that stopped polling after a success (`silent_fraction`, `silent_ids`).
    pub went_silent: u64,
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The stop condition's timeout passed before it was met.
    pub timed_out: bool,
    /// Failed requests by kind, e.g. `"feedback: HTTP 410"`.
    pub errors: BTreeMap<String, u64>,
    /// Per controller id: the actions it finished and with what result.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_device: BTreeMap<String, DeviceOutcome>,
}

/// One device's share of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceOutcome {
    pub polls: u64,
    pub http_errors: u64,
    /// In the order they were finished.
    pub actions: Vec<ActionOutcome>,
}

impl DeviceOutcome {
    /// The result this device reported for `action_id`, if it finished it.
    pub fn result_of(&self, action_id: u64) -> Option<ActionResult> {
        self.actions
            .iter()
            .find(|a| a.action_id == action_id)
            .map(|a| a.result)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub action_id: u64,
    pub result: ActionResult,
    /// The detail sent with the final feedback.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionResult {
    Succeeded,
    Failed,
    Canceled,
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Report {
    pub fn polls_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.polls as f64 / secs } else { 0.0 }
    }

    /// Actions finished with a reported result (succeeded, failed or canceled).
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.canceled
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} devices, {:.1} s{}: {} polls ({:.1}/s), {} deployments, {} succeeded, {} failed, {} canceled",
            self.devices,
            self.elapsed.as_secs_f64(),
            if self.timed_out { " (timed out)" } else { "" },
            self.polls,
            self.polls_per_second(),
            self.deployments,
            self.succeeded,
            self.failed,
            self.canceled,
        )?;
        write!(
            f,
            "{:.1} MiB downloaded ({:.1} MiB/s), {} hash mismatches, {} confirmations, {} configData updates, {} HTTP errors",
            self.bytes_downloaded as f64 / 1_048_576.0,
            self.bytes_downloaded as f64 / 1_048_576.0 / self.elapsed.as_secs_f64().max(f64::EPSILON),
            self.hash_mismatches,
            self.confirmations,
            self.config_data_updates,
            self.http_errors,
        )?;
        if self.rollbacks > 0 || self.went_silent > 0 {
            write!(
                f,
                "\n{} rollbacks reported, {} devices went silent after success",
                self.rollbacks, self.went_silent
            )?;
        }
        for (kind, n) in &self.errors {
            write!(f, "\n  {n:>8} x {kind}")?;
        }
        Ok(())
    }
}
