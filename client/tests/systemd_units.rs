#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shipped systemd units (`client/dist/updraft-agent.service`, `client/dist/systemd/`) pass
//! `systemd-analyze verify` (package `systemd`), with their `ExecStart` programs pointed at ones that
//! exist here: the built `updraft` for the agent, `/bin/true` for the example application.

use std::process::Command;

#[test]
fn shipped_units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "systemd-analyze missing on CI (apt-get install systemd)"
        );
        eprintln!("skipping: systemd-analyze not installed (apt-get install systemd)");
        return;
    }
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/dist");
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for (file, program) in [
        ("updraft-agent.service", "/usr/bin/updraft"),
        ("systemd/example-app.service", "/usr/bin/example-app"),
        ("systemd/updraft-health-gate.service", "/bin/sh"),
    ] {
        let text = std::fs::read_to_string(format!("{dist}/{file}")).unwrap();
        assert!(text.contains(&format!("ExecStart={program}")), "{file}");
        let stand_in = match program {
            "/usr/bin/updraft" => env!("CARGO_BIN_EXE_updraft"),
            "/usr/bin/example-app" => "/bin/true",
            other => other,
        };
        let unit = dir.path().join(file.rsplit('/').next().unwrap());
        std::fs::write(
            &unit,
            text.replace(&format!("ExecStart={program}"), &format!("ExecStart={stand_in}")),
        )
        .unwrap();
        units.push(unit);
    }
    let gate = std::fs::read_to_string(format!("{dist}/systemd/updraft-health-gate.service")).unwrap();
    assert!(gate.contains("Before=boot-complete.target") && gate.contains("RequiredBy=boot-complete.target"));
    let app = std::fs::read_to_string(format!("{dist}/systemd/example-app.service")).unwrap();
    assert!(app.contains("WatchdogSec=") && app.contains("Type=notify"));

    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
