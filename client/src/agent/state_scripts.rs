//! Mender-style state scripts: executables in `[agent] state_scripts_dir` named
//! `<State>_<Enter|Leave|Error>[_NN][_description]` that the agent runs around the steps of an
//! update, in file-name order (Mender's state-script convention, mender docs "State scripts").
//!
//! Updraft's steps, and when each state's scripts run (`docs/device-integration.md` has the table):
//! - `Download`: `Enter` before the bundle is fetched; `Leave` once every image is streamed into the
//!   inactive slot and verified, before the slot is armed (Updraft, like Mender, writes the slot while
//!   downloading);
//! - `ArtifactInstall`: `Enter` right before the trial boot is armed; `Leave` after it;
//! - `ArtifactReboot`: `Enter` before `reboot_command`; `Leave` after the reboot, in the trial slot,
//!   before the health check;
//! - `ArtifactCommit`: `Enter` after a passed health check, before the commit; `Leave` after it;
//! - `ArtifactRollback`: `Enter` and `Leave` once the rollback is recorded, before the reboot into the
//!   old slot.
//!
//! A non-zero exit (or the timeout) of an `Enter` or `Leave` script fails the step, as in Mender: the
//! state's `Error` scripts run, and the update fails (before arming: nothing armed; after arming,
//! before the reboot: the trial is disarmed; in the trial: it is rolled back). `Error` and
//! `ArtifactRollback` scripts cannot change the outcome; their failures are logged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Agent, Step};
use crate::config::Config;
use crate::journal::{Phase, RollbackReason};
use crate::slots::{Outcome, Slot};

/// Where the output of the last state script goes; its last line is quoted in a failure.
const SCRIPT_LOG: &str = "state-script.log";

/// The update states scripts can hook, by Mender's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Download,
    ArtifactInstall,
    ArtifactReboot,
    ArtifactCommit,
    ArtifactRollback,
}

/// When in a state a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enter,
    Leave,
    Error,
}

/// The scripts of one device, with their timeout.
pub struct StateScripts {
    dir: Option<PathBuf>,
    timeout: Duration,
    log: PathBuf,
}

impl StateScripts {
    /// `[agent] state_scripts_dir` and `script_timeout_secs`; no directory runs nothing.
    pub fn from_config(config: &Config) -> StateScripts {
        StateScripts {
            dir: config.agent.state_scripts_dir.clone(),
            timeout: Duration::from_secs(config.agent.script_timeout_secs),
            log: config.data_dir.join(SCRIPT_LOG),
        }
    }

    /// The scripts for `state` and `action`, in the order they run (file-name order, so `_10_` runs
    /// before `_20_`). A name continues after `<State>_<Action>` only with `_`.
    pub fn scripts(&self, state: State, action: Action) -> Result<Vec<PathBuf>, String> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let prefix = format!("{state:?}_{action:?}");
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "cannot read the state scripts directory {} ({e}); create it or remove \
                 [agent] state_scripts_dir",
                dir.display()
            )
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(&prefix))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// Runs the `Enter` or `Leave` scripts of `state`; the first failure runs the state's `Error`
    /// scripts and answers a sentence naming the script and why it failed.
    pub fn run(&self, state: State, action: Action) -> Result<(), String> {
        let failure = self.scripts(state, action).and_then(|scripts| {
            scripts.iter().try_for_each(|script| {
                tracing::info!(script = %script.display(), "running state script");
                run_script(script, self.timeout, &self.log, state, action)
                    .map_err(|why| format!("the state script {} failed: {why}", script.display()))
            })
        });
        if let Err(reason) = &failure {
            tracing::warn!(%reason, "state script failed; running the {state:?}_Error scripts");
            self.run_logged(state, Action::Error);
        }
        failure
    }

    /// `Download_Leave` then `ArtifactInstall_Enter`: the slot is written and verified, the trial not
    /// armed yet.
    pub fn before_arm(&self) -> Result<(), String> {
        self.run(State::Download, Action::Leave)
            .and_then(|()| self.run(State::ArtifactInstall, Action::Enter))
    }

    /// Runs scripts whose failure changes nothing (`Error`, `ArtifactRollback`): each one runs, and
    /// failures are logged.
    pub fn run_logged(&self, state: State, action: Action) {
        let scripts = match self.scripts(state, action) {
            Ok(scripts) => scripts,
            Err(reason) => return tracing::warn!(%reason, "state scripts not run"),
        };
        for script in scripts {
            if let Err(why) = run_script(&script, self.timeout, &self.log, state, action) {
                tracing::warn!(script = %script.display(), %why, "state script failed; carrying on");
            }
        }
    }
}

/// Runs one executable with no arguments, its output in `log` (`UPDRAFT_STATE`/`UPDRAFT_ACTION` in its
/// environment), in its own process group so a timeout kills everything it started. The reason of a
/// failure ends with the last line it printed.
fn run_script(
    script: &Path,
    timeout: Duration,
    log: &Path,
    state: State,
    action: Action,
) -> Result<(), String> {
    let out = std::fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(script);
    cmd.env("UPDRAFT_STATE", format!("{state:?}"))
        .env("UPDRAFT_ACTION", format!("{action:?}"));
    let result = run_executable(&mut cmd, timeout, Stdio::from(out), Stdio::from(err));
    result.map_err(|failed| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
            Some(last) => format!("{failed} ({})", last.chars().take(120).collect::<String>()),
            None => failed,
        }
    })
}

/// Runs `cmd` (stdin closed) with a timeout; answers why it failed as a short phrase.
pub(crate) fn run_executable(
    cmd: &mut Command,
    timeout: Duration,
    stdout: Stdio,
    stderr: Stdio,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let program = Path::new(cmd.get_program()).to_owned();
    let executable =
        std::fs::metadata(&program).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err("it is not an executable file (chmod +x it, or remove it)".into());
    }
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    // "Text file busy": the file is still open for writing somewhere, typically for a moment (a
    // script being replaced, or another thread's child that inherited the writer's descriptor
    // between its fork and exec). Try again for up to a second before calling it a failure.
    let mut busy = 0;
    let mut child = loop {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && busy < 50 => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            spawned => break spawned.map_err(|e| format!("it could not start ({e}); check its #! line"))?,
        }
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(status
                    .code()
                    .map_or_else(|| status.to_string(), |c| format!("exit code {c}")));
            }
            Ok(None) if start.elapsed() >= timeout => {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it was still running after {}s (script_timeout_secs) and was killed",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Agent {
    /// The scripts of this agent's config.
    pub(super) fn state_scripts(&self) -> StateScripts {
        StateScripts::from_config(&self.config)
    }

    /// A deployment ended by a state script before anything was armed: report it, like a refusal.
    pub(super) fn script_failed(&mut self, action: &str, reason: String) -> anyhow::Result<Step> {
        self.ddi.feedback(
            action,
            updraft_ddi::Execution::Closed,
            updraft_ddi::Finished::Failure,
            vec![reason.clone()],
        )?;
        Ok(Step::Failed {
            action: action.to_owned(),
            reason,
        })
    }

    /// `ArtifactInstall_Leave` and `ArtifactReboot_Enter`, between arming and the reboot. A failure
    /// disarms the trial (the bootloader keeps the committed slot) and closes the journal entry.
    pub(super) fn before_reboot(&mut self, slot: Slot, version: &str) -> anyhow::Result<Result<(), String>> {
        let scripts = self.state_scripts();
        let verdict = scripts
            .run(State::ArtifactInstall, Action::Leave)
            .and_then(|()| scripts.run(State::ArtifactReboot, Action::Enter));
        if verdict.is_err() {
            self.config.backend()?.rollback()?;
            self.config.journal().advance(Phase::RolledBack {
                slot,
                version: version.to_owned(),
                reason: RollbackReason::InstallInterrupted,
            })?;
        }
        Ok(verdict.map_err(|reason| {
            format!(
                "{reason}; the trial of slot {slot} was disarmed and the device stays on slot {}",
                slot.other()
            )
        }))
    }

    /// The verdict on a trial: `ArtifactReboot_Leave`, the health check, then `ArtifactCommit_Enter`;
    /// a failing script counts as a failed health check (and shows in `updraft.health`).
    pub(super) fn trial_healthy(&mut self, slot: Slot) -> bool {
        let scripts = self.state_scripts();
        if let Err(reason) = scripts.run(State::ArtifactReboot, Action::Leave) {
            self.health = Some(format!("failed: {reason}"));
            return false;
        }
        if !self.healthy(slot) {
            return false;
        }
        if let Err(reason) = scripts.run(State::ArtifactCommit, Action::Enter) {
            self.health = Some(format!("failed: {reason}"));
            return false;
        }
        true
    }

    /// The scripts that follow the outcome of a trial: `ArtifactCommit_Leave` after a commit, the
    /// `ArtifactRollback` ones after a rollback. Their failures are logged; the outcome stands.
    pub(super) fn after_settle(&self, outcome: Outcome) {
        let scripts = self.state_scripts();
        match outcome {
            Outcome::Committed(_) => scripts.run_logged(State::ArtifactCommit, Action::Leave),
            Outcome::RolledBack { .. } => {
                scripts.run_logged(State::ArtifactRollback, Action::Enter);
                scripts.run_logged(State::ArtifactRollback, Action::Leave);
            }
            Outcome::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scripts(dir: &Path) -> StateScripts {
        StateScripts {
            dir: Some(dir.to_owned()),
            timeout: Duration::from_secs(5),
            log: dir.join("log"),
        }
    }

    fn script(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn names_select_state_and_action_in_file_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "Download_Enter_20_b",
            "Download_Enter_10_a",
            "Download_Enter",
            "Download_Entering",
            "Download_Leave_10",
            "ArtifactInstall_Enter_01",
        ] {
            script(dir.path(), name, "true");
        }
        let names: Vec<String> = scripts(dir.path())
            .scripts(State::Download, Action::Enter)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["Download_Enter", "Download_Enter_10_a", "Download_Enter_20_b"]
        );
    }

    #[test]
    fn failures_name_the_script_and_run_the_error_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace");
        let append = |name: &str| format!("echo {name} >> {}", trace.display());
        script(
            dir.path(),
            "Download_Enter_10",
            &format!("{}; echo no network; exit 3", append("enter10")),
        );
        script(dir.path(), "Download_Enter_20", &append("enter20"));
        script(
            dir.path(),
            "Download_Error_10",
            &format!("{}; exit 1", append("error10")),
        );
        script(dir.path(), "Download_Error_20", &append("error20"));
        let err = scripts(dir.path())
            .run(State::Download, Action::Enter)
            .unwrap_err();
        assert!(
            err.contains("Download_Enter_10 failed: exit code 3 (no network)"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&trace).unwrap(),
            "enter10\nerror10\nerror20\n",
            "the failure stops the Enter scripts; every Error script runs"
        );
    }

    #[test]
    fn a_script_that_is_not_executable_or_hangs_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ArtifactCommit_Enter_10"), "#!/bin/sh\n").unwrap();
        let err = scripts(dir.path())
            .run(State::ArtifactCommit, Action::Enter)
            .unwrap_err();
        assert!(err.contains("not an executable file"), "{err}");

        script(dir.path(), "ArtifactReboot_Enter", "sleep 30");
        let mut s = scripts(dir.path());
        s.timeout = Duration::from_millis(300);
        let start = Instant::now();
        let err = s.run(State::ArtifactReboot, Action::Enter).unwrap_err();
        assert!(err.contains("still running after"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn no_directory_runs_nothing_and_a_missing_one_says_so() {
        let none = StateScripts {
            dir: None,
            timeout: Duration::from_secs(1),
            log: PathBuf::from("/nonexistent/log"),
        };
        assert_eq!(none.run(State::Download, Action::Enter), Ok(()));
        let missing = StateScripts {
            dir: Some(PathBuf::from("/nonexistent/updraft-scripts")),
            ..none
        };
        let err = missing.run(State::Download, Action::Enter).unwrap_err();
        assert!(err.contains("state_scripts_dir"), "{err}");
    }
}
