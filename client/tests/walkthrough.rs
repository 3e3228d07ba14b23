#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 15's "done when": the README's five-minute walkthrough (server → agent → `updraft sim
//! reboot` → commit → success, then a trial boot that fails and is reported by the agent itself)
//! runs end to end. The test takes the shell blocks between the README's `walkthrough:begin` and
//! `walkthrough:end` markers as they are and runs them with bash against a real `updraft-server` on
//! loopback, with the built `updraft` first on `PATH`; only `UPDRAFT` and `AUTH` are set for them,
//! as the README says. The result is checked as an operator sees it, through the Management API.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use updraft_server::testing::TestServer;

/// The `sh` blocks between the walkthrough markers, in order.
fn walkthrough_script(readme: &str) -> String {
    let mut script = String::new();
    let (mut marked, mut fenced) = (false, false);
    for line in readme.lines() {
        match line.trim() {
            "<!-- walkthrough:begin -->" => marked = true,
            "<!-- walkthrough:end -->" => marked = false,
            "```sh" if marked => fenced = true,
            "```" if fenced => fenced = false,
            _ if fenced => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

fn have_tools() -> bool {
    [
        ("bash", "--version"),
        ("curl", "--version"),
        ("jq", "--version"),
        ("openssl", "version"),
        ("truncate", "--version"),
    ]
    .into_iter()
    .all(|(tool, arg)| support::tool_available(tool, arg))
}

struct Server {
    srv: TestServer,
    http: reqwest::blocking::Client,
}

impl Server {
    fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.srv.url))
            .basic_auth(&self.srv.admin_user, Some(&self.srv.admin_password))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }
}

/// Runs `script` in `dir` with bash, `updraft` on `PATH`, `UPDRAFT`/`AUTH` set; answers stdout.
fn run(server: &Server, dir: &Path, script: &str) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_updraft"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("UPDRAFT", &server.srv.url)
        .env(
            "AUTH",
            format!("{}:{}", server.srv.admin_user, server.srv.admin_password),
        )
        .env_remove("UPDRAFT_CONFIG")
        .env("UPDRAFT_LOG", "warn")
        .output()
        .unwrap();
    let text = support::text(&out);
    assert!(out.status.success(), "the walkthrough failed:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn line_with<'a>(stdout: &'a str, needle: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stdout}"))
}

#[test]
fn the_readme_walkthrough_updates_a_simulated_device_and_reports_a_failed_trial() {
    if !have_tools() {
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let script = walkthrough_script(&readme);
    for step in [
        "updraft sim boot",
        "updraft sim reboot",
        "updraft sim fail-next-boot",
        "publish 2.1.0",
    ] {
        assert!(
            script.contains(step),
            "the README walkthrough lost `{step}`:\n{script}"
        );
    }
    // After the README's lines: the device takes the next update with no human step.
    let script =
        format!("{script}\nACTION=$(publish 2.2.0)\nupdraft agent --once\necho \"third action $ACTION\"\n");
    let server = Server {
        srv: TestServer::start(),
        http: reqwest::blocking::Client::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let stdout = run(&server, dir.path(), &script);
    println!("{stdout}");

    // The first update: installed into B, "rebooted", committed, reported; the server agrees.
    line_with(&stdout, "powered on: slot A is running");
    let armed = line_with(&stdout, "installed and armed; `updraft sim reboot` to try it");
    let first: i64 = armed
        .trim_start_matches("action ")
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    line_with(&stdout, "rebooted: slot B is running a trial boot");
    line_with(&stdout, &format!("action {first}: reported success"));
    line_with(&stdout, "running:     slot B, version 2.0.0");
    line_with(&stdout, "slot A:      inactive, updates go here, version unknown");
    line_with(&stdout, &format!("action {first}: finished"));
    line_with(&stdout, "installed: laptop-os 2.0.0");

    // The second: the trial boot failed, the firmware fell back to B, the agent reported it.
    line_with(
        &stdout,
        "the trial boot of slot A failed, and the firmware fell back to slot B",
    );
    let failed = line_with(&stdout, "reported failure");
    let second: i64 = failed
        .trim_start_matches("action ")
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(first, second);
    let why = line_with(&stdout, "rolled back");
    assert!(why.contains("did not boot"), "{stdout}");
    let action = server.get(&format!("/rest/v1/targets/laptop-1/actions/{second}"));
    assert_eq!(action["status"], "error", "{action}");
    let messages = server
        .get(&format!(
            "/rest/v1/targets/laptop-1/actions/{second}/status?limit=100"
        ))
        .to_string();
    assert!(messages.contains("did not boot"), "{messages}");

    // The third update was taken at once: nothing waits for an `updraft rollback`.
    let third = line_with(&stdout, "third action ")
        .trim_start_matches("third action ")
        .to_owned();
    assert!(
        stdout.contains(&format!("action {third}: installed and armed")),
        "{stdout}"
    );
    let target = server.get("/rest/v1/targets/laptop-1");
    assert_eq!(target["updateStatus"], "pending", "{target}");
}

#[test]
fn the_walkthrough_blocks_are_found() {
    let script = walkthrough_script(
        "x\n<!-- walkthrough:begin -->\n```sh\necho one\n```\n<!-- walkthrough:end -->\n```sh\necho no\n```\n",
    );
    assert_eq!(script, "echo one\n");
}
