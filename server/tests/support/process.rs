//! Child processes that listen on a port the system picks (`127.0.0.1:0`) and say which one in
//! their log: the real `updraft-server` binary, and Prometheus.
//!
//! Picking a free port in the test (binding `127.0.0.1:0`, dropping the listener, passing the
//! number on) is a race: until the child binds it, any other listener of the test binary can get
//! the same port, and a connect-wait then talks to the wrong server. A child that binds port 0
//! itself holds its port from the start; the address is read from the line it logs.
//!
//! Both pipes are read on threads as the child writes, so it never blocks on a full pipe; the
//! lines are kept and the last ones printed when a test fails while the child runs.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What `updraft-server` logs once it listens (at info): `updraft-server listening on <addr>`.
const UPDRAFT_LISTENING: &str = "updraft-server listening on ";

/// What Prometheus logs once its web server listens: `msg="Listening on" address=<addr>`.
const PROMETHEUS_LISTENING: &str = "msg=\"Listening on\" address=";

/// A running child whose output is collected; killed when dropped.
pub struct Process {
    child: Child,
    /// `http://<address it listens on>`.
    pub url: String,
    name: String,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Starts the `updraft-server` binary on `127.0.0.1:0` with `UPDRAFT_LOG=info`, after `configure`
/// has added its settings (it may override the log filter, but must let the start line at info
/// through), and waits until it answers `/healthz`.
pub fn updraft_server(configure: impl FnOnce(&mut Command)) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_updraft-server"));
    cmd.env("UPDRAFT_LISTEN", "127.0.0.1:0")
        .env("UPDRAFT_LOG", "info")
        .env_remove("RUST_BACKTRACE");
    configure(&mut cmd);
    let mut p = Process::spawn("updraft-server", &mut cmd, UPDRAFT_LISTENING);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http
        .get(format!("{}/healthz", p.url))
        .send()
        .is_ok_and(|r| r.status() == 200)
    {
        p.assert_running(deadline, "did not answer /healthz");
        std::thread::sleep(Duration::from_millis(25));
    }
    p
}

/// Starts Prometheus (`binary`) with `args` and its web server on `127.0.0.1:0`.
pub fn prometheus(binary: &str, args: &[String]) -> Process {
    let mut cmd = Command::new(binary);
    cmd.args(args).arg("--web.listen-address=127.0.0.1:0");
    Process::spawn("prometheus", &mut cmd, PROMETHEUS_LISTENING)
}

impl Process {
    /// Spawns `cmd` with both pipes read on threads, and waits (a minute at most) for a line with
    /// `marker` followed by the address it listens on.
    fn spawn(name: &str, cmd: &mut Command, marker: &'static str) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            read_lines(child.stdout.take().unwrap(), &lines, marker, tx.clone()),
            read_lines(child.stderr.take().unwrap(), &lines, marker, tx),
        ];
        let mut p = Self {
            child,
            url: String::new(),
            name: name.to_owned(),
            lines,
            readers,
        };
        // Both readers hang up without an address when the child closed its output (it exited).
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => p.url = format!("http://{addr}"),
            Err(e) => {
                let _ = p.child.kill();
                let status = p.child.wait();
                panic!(
                    "{name} did not say where it listens ({e}; {status:?}); its output:\n{}",
                    p.output()
                );
            }
        }
        p
    }

    /// The child's process id (for signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills the child (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the child to exit by itself within `within`; panics with its output otherwise.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let output = self.output();
                panic!(
                    "{} did not exit within {within:?}; its output:\n{output}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the child wrote to stdout and stderr, one line each, in the order it arrived;
    /// all of it once the child has exited.
    pub fn output(&mut self) -> String {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
        }
        self.lines.lock().unwrap().join("\n")
    }

    /// Panics with the output when the child exited or `deadline` passed.
    fn assert_running(&mut self, deadline: Instant, what: &str) {
        let exited = self.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() >= deadline {
            let state = exited.map_or("still running".to_owned(), |s| s.to_string());
            let output = self.output();
            panic!(
                "{} at {} {what} ({state}); its output:\n{output}",
                self.name, self.url
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let out = self.output();
            let lines: Vec<&str> = out.lines().collect();
            eprintln!("--- {} at {}, last lines ---", self.name, self.url);
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
}

/// Reads `pipe` into `lines` on a thread; sends the address after `marker` once it appears.
fn read_lines(
    pipe: impl Read + Send + 'static,
    lines: &Arc<Mutex<Vec<String>>>,
    marker: &'static str,
    found: mpsc::Sender<SocketAddr>,
) -> JoinHandle<()> {
    let lines = Arc::clone(lines);
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = found.as_ref().and_then(|_| address_after(&line, marker)) {
                let _ = found.take().map(|tx| tx.send(addr));
            }
            lines.lock().unwrap().push(line);
        }
    })
}

/// The socket address right after `marker` in `line`.
fn address_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || ".:[]".contains(c)))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
