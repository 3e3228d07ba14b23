//! What the bundle tests share: the built `updraft` binary, openssl signers and Debian's `swupdate`
//! run as a one-shot installer (`swupdate -i`).
#![allow(dead_code)]

pub mod agent;
pub mod images;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Board and revision the device claims with `-H`; the manifest lists the revision.
pub const HW_BOARD: &str = "updraft-board";
pub const HW_REVISION: &str = "1.0";

/// Whether `openssl` exists. Missing fails the test under `CI=true`, else skips it.
pub fn have_openssl() -> bool {
    let ok = Command::new("openssl").arg("version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`openssl` is required under CI=true"
        );
        eprintln!("skipping: `openssl` not found on PATH");
    }
    ok
}

pub fn updraft(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(args)
        .output()
        .expect("run updraft")
}

pub fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether the external `tool` can run; when it cannot, the test fails on CI and is skipped
/// (with the reason printed) elsewhere.
pub fn tool_available(tool: &str, version_arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{tool}` is required on CI but cannot be run"
        );
        eprintln!("skipping: `{tool}` is not installed");
    }
    ok
}

pub fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", text(&output));
}

/// A self-signed signer certificate (no extendedKeyUsage, so it passes `SWUpdate`'s default
/// `--cert-purpose emailProtection`) and its key.
pub struct SigningKey {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SigningKey {
    pub fn generate(dir: &Path, cn: &str) -> Self {
        let cert = dir.join(format!("{cn}.cert.pem"));
        let key = dir.join(format!("{cn}.key.pem"));
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
            .arg("-subj")
            .arg(format!("/O=Updraft tests/CN={cn}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null()));
        Self { cert, key }
    }
}

/// `swupdate` in its own process group, killed as a group on drop (it forks helpers).
pub struct Swupdate {
    child: Child,
    log: PathBuf,
}

impl Swupdate {
    /// `swupdate -i BUNDLE -k CERT [-K AES_KEY] -H board:rev -f CFG` with a private TMPDIR under
    /// `work_dir`.
    fn install(
        work_dir: &Path,
        bundle: &Path,
        cert: &Path,
        aes_key: Option<&Path>,
        select: Option<&str>,
    ) -> Self {
        let tmp_dir = work_dir.join("tmp");
        fs::create_dir_all(&tmp_dir).unwrap();
        assert!(
            tmp_dir.join("sockinstctrl").as_os_str().len() < 108,
            "TMPDIR {} is too long for swupdate's Unix sockets",
            tmp_dir.display()
        );
        // A config of our own, so a host /etc/swupdate.cfg is never read.
        let config = work_dir.join("swupdate.cfg");
        fs::write(&config, "globals: {\n\tverbose = true;\n\tloglevel = 6;\n};\n").unwrap();
        let log = work_dir.join("swupdate.log");
        let log_file = fs::File::create(&log).unwrap();
        let child = Command::new("swupdate")
            .arg("-i")
            .arg(bundle)
            .arg("-k")
            .arg(cert)
            .args(aes_key.map(|key| [Path::new("-K"), key]).into_iter().flatten())
            .args(select.map(|s| ["-e", s]).into_iter().flatten())
            .args(["-H", &format!("{HW_BOARD}:{HW_REVISION}")])
            .arg("-f")
            .arg(&config)
            .env("TMPDIR", &tmp_dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("start swupdate");
        Self { child, log }
    }

    /// Waits for swupdate to exit.
    fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "swupdate still running after {timeout:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        format!(
            "--- swupdate log {}:\n{}",
            self.log.display(),
            fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// `swupdate -i`, retried only on Debian 2022.12's own intermittent failures: about one run in
    /// thirty it reports that a valid `sw-description.sig` "cannot be parsed" or "cannot be opened",
    /// or exits non-zero after logging success (the same bundle, byte for byte, installs on the
    /// next run; `cpio --only-verify-crc` and `openssl cms -verify` accept it). Any other outcome
    /// is returned as it is.
    pub fn install_retrying_known_flake(work_dir: &Path, bundle: &Path, cert: &Path) -> (bool, String) {
        Self::install_retrying_known_flake_with_key(work_dir, bundle, cert, None, None)
    }

    /// [`Self::install_retrying_known_flake`] with `-K AES_KEY` and `-e SET,MODE` when given.
    pub fn install_retrying_known_flake_with_key(
        work_dir: &Path,
        bundle: &Path,
        cert: &Path,
        aes_key: Option<&Path>,
        select: Option<&str>,
    ) -> (bool, String) {
        const FLAKES: [&str; 3] = [
            "cannot be parsed as DER-encoded CMS signature blob",
            "sw-description.sig cannot be opened",
            // It logged success yet exited non-zero: run it again rather than trust either.
            "[endupdate] : SWUpdate was successful",
        ];
        // One swupdate at a time on this machine: concurrent instances (nextest runs each test in
        // its own process) made Debian's build exit non-zero after "SWUPDATE successful".
        let lock = fs::File::create(std::env::temp_dir().join("updraft-tests-swupdate.lock")).unwrap();
        lock.lock().unwrap();
        let mut last = (false, String::new());
        for attempt in 0..3 {
            let mut run = Self::install(
                &work_dir.join(format!("run{attempt}")),
                bundle,
                cert,
                aes_key,
                select,
            );
            let status = run.wait(Duration::from_secs(60));
            // The status goes with the log: after a logged success it tells the exit flake apart.
            last = (status.success(), format!("swupdate {status}\n{}", run.log()));
            if last.0 || !FLAKES.iter().any(|f| last.1.contains(f)) {
                break;
            }
            eprintln!("swupdate hit its known signature-parsing flake; running it again");
        }
        last
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
    }
}
