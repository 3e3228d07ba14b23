//! The device: the real `swupdate` binary in suricatta (hawkBit) mode.
//!
//! Each start gets its own run directory with `TMPDIR` (`SWUpdate` puts its IPC sockets and
//! scratch files there), a minimal config file (so a host `/etc/swupdate.cfg` is never read)
//! and a log file. `SWUpdate` forks helper processes, so it runs in its own process group and
//! the whole group is killed on stop/drop.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::bundle::{HW_BOARD, HW_REVISION};

/// hawkBit tenant Updraft serves.
const TENANT: &str = "DEFAULT";

static RUN_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Proxy variables libcurl honours; cleared so the host environment cannot reroute the device.
const PROXY_ENV: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

pub enum DdiAuth {
    TargetToken(String),
    GatewayToken(String),
}

/// Builder for one `swupdate` start.
pub struct SwupdateCommand {
    server_url: String,
    controller_id: String,
    trusted_cert: PathBuf,
    auth: Option<DdiAuth>,
    confirm: Option<u8>,
    http_proxy: Option<String>,
    select: Option<String>,
    config: Option<String>,
}

impl SwupdateCommand {
    pub fn new(server_url: &str, controller_id: &str, trusted_cert: &Path) -> Self {
        Self {
            server_url: server_url.to_owned(),
            controller_id: controller_id.to_owned(),
            trusted_cert: trusted_cert.to_owned(),
            auth: None,
            confirm: None,
            http_proxy: None,
            select: None,
            config: None,
        }
    }

    pub fn auth(mut self, auth: DdiAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// `-c STATE`: with the `none` bootloader nothing persists across restarts, so this plays
    /// the post-reboot `ustate` (2 = update succeeded, 3 = update failed).
    pub fn confirm(mut self, state: u8) -> Self {
        self.confirm = Some(state);
        self
    }

    /// Sends every request (polls, feedback and the artifact download, whatever host the
    /// server's hrefs name) through an HTTP forward proxy (`-y` plus `http_proxy`).
    pub fn via_proxy(mut self, proxy_url: &str) -> Self {
        self.http_proxy = Some(proxy_url.to_owned());
        self
    }

    /// `-e SET,MODE`: the software collection to install, e.g. `stable,copy2` for slot B.
    pub fn select(mut self, selection: &str) -> Self {
        self.select = Some(selection.to_owned());
        self
    }

    /// Starts with this configuration file (`-f`) instead of the minimal one.
    pub fn config_file_text(mut self, text: &str) -> Self {
        self.config = Some(text.to_owned());
        self
    }

    /// The `-u` value: ONE string that swupdate splits on blanks.
    fn suricatta_args(&self) -> String {
        let mut args = format!("-t {TENANT} -u {} -i {}", self.server_url, self.controller_id);
        match &self.auth {
            Some(DdiAuth::TargetToken(token)) => write!(args, " -k {token}"),
            Some(DdiAuth::GatewayToken(token)) => write!(args, " -g {token}"),
            None => Ok(()),
        }
        .expect("format suricatta args");
        if let Some(state) = self.confirm {
            // Resend the initial state every second (not 10 s) if the server cannot take it.
            write!(args, " -c {state} -m 1").expect("format suricatta args");
        }
        // -p: poll delay until the server's config.polling.sleep applies (and after a 401);
        // -r/-w: resume an interrupted download up to 5 times, 1 s apart.
        args.push_str(" -p 1 -r 5 -w 1");
        if self.http_proxy.is_some() {
            args.push_str(" -y");
        }
        args
    }

    pub fn start(self, work_dir: &Path) -> Swupdate {
        let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
        let run_dir = work_dir.join(format!("swupdate-{n}"));
        let tmp_dir = run_dir.join("tmp");
        fs::create_dir_all(&tmp_dir).expect("create swupdate TMPDIR");
        // SWUpdate binds Unix sockets in TMPDIR; sun_path holds 108 bytes.
        assert!(
            tmp_dir.join("sockinstctrl").as_os_str().len() < 108,
            "TMPDIR {} is too long for swupdate's Unix sockets; use a shorter TMPDIR",
            tmp_dir.display()
        );
        let config = run_dir.join("swupdate.cfg");
        let text = self
            .config
            .as_deref()
            .unwrap_or("globals: {\n\tverbose = true;\n\tloglevel = 6;\n};\n");
        fs::write(&config, text).expect("write swupdate.cfg");
        let log = run_dir.join("swupdate.log");
        let log_file = File::create(&log).expect("create swupdate log");

        let mut command = Command::new("swupdate");
        command
            .arg("-f")
            .arg(&config)
            .arg("-k")
            .arg(&self.trusted_cert)
            .args(["-H", &format!("{HW_BOARD}:{HW_REVISION}")])
            .args(["-u", &self.suricatta_args()])
            .args(self.select.iter().flat_map(|s| ["-e", s.as_str()]))
            .env("TMPDIR", &tmp_dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .process_group(0);
        for var in PROXY_ENV.iter().chain(&["no_proxy", "NO_PROXY"]) {
            command.env_remove(var);
        }
        if let Some(proxy) = &self.http_proxy {
            command.env("http_proxy", proxy);
        }
        let command_line = format!("{command:?}");
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command_line}: {e}"));
        Swupdate {
            child,
            log,
            command_line,
        }
    }
}

/// A running swupdate process group; killed on drop. If the test is failing, the drop
/// prints the command line and the tail of the device log.
pub struct Swupdate {
    child: Child,
    log: PathBuf,
    command_line: String,
}

impl Swupdate {
    /// Panics (with the log) if swupdate has exited: it is a daemon and must keep polling.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("swupdate exited early with {status}\n{}", self.diagnostics());
        }
    }

    /// Kills the process group (what dropping does), for readability at the call site.
    pub fn stop(self) {
        drop(self);
    }

    /// The command line, the errors swupdate logged and the end of its log (whose verbose
    /// poll chatter would drown the errors).
    fn diagnostics(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let errors: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains("[ERROR]") || l.contains("[WARN ]"))
            .take(40)
            .collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        format!(
            "--- swupdate: {}\n--- errors and warnings in {}:\n{}\n--- last {} lines:\n{}",
            self.command_line,
            self.log.display(),
            errors.join("\n"),
            tail.len(),
            tail.join("\n")
        )
    }
}

impl Drop for Swupdate {
    fn drop(&mut self) {
        // process_group(0) made the child a group leader: pgid == pid.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
    }
}
