//! Runs the shell blocks of `docs/api-walkthrough.md` against a fresh server, so the walkthrough a
//! newcomer follows stays true.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

use std::path::PathBuf;
use std::process::Command;

use updraft_server::testing::TestServer;

fn shell_blocks(markdown: &str) -> String {
    let mut script = String::new();
    let mut inside = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside && line.trim() == "```sh";
            continue;
        }
        if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    script
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn the_curl_walkthrough_updates_a_device() {
    for tool in ["bash", "curl", "jq", "sha256sum", "cmp"] {
        if !have(tool) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{tool} is needed under CI"
            );
            eprintln!("skipping: {tool} is not installed");
            return;
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = shell_blocks(&std::fs::read_to_string(root.join("docs/api-walkthrough.md")).unwrap());
    assert!(
        script.contains("assignedDS"),
        "the walkthrough's shell blocks were not found"
    );

    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("UPDRAFT", &srv.url)
        .env("AUTH", format!("{}:{}", srv.admin_user, srv.admin_password))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("download verified"), "{stdout}");
    let last: Vec<&str> = stdout.lines().rev().take(3).collect();
    assert_eq!(last, ["gateway 1.0.0", "in_sync", "finished"], "{stdout}");
}
