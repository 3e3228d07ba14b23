//! Harness for running the real `SWUpdate` binary (suricatta, hawkBit mode) against an
//! in-process updraft-server: bundle building, the device process, the Management API,
//! a download-cutting proxy and deadline-based waiting.

pub mod bundle;
pub mod device;
pub mod mgmt;
pub mod proxy;
pub mod wait;

use std::env;

/// External programs these tests drive; `.ci/compat-deps.sh` installs them.
const REQUIRED_TOOLS: [&str; 4] = ["swupdate", "cpio", "openssl", "kill"];

/// Whether the external tools are installed. A missing tool skips the test on a developer
/// machine but fails it under CI (`CI=true`), so a CI image without swupdate cannot pass by
/// skipping every test.
pub fn tools_available() -> bool {
    let missing: Vec<&str> = REQUIRED_TOOLS
        .iter()
        .copied()
        .filter(|tool| !on_path(tool))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!("{} not installed (run .ci/compat-deps.sh)", missing.join(", "));
    let in_ci = matches!(env::var("CI").as_deref(), Ok("true" | "1"));
    assert!(!in_ci, "CI=true and {reason}");
    eprintln!("skipping SWUpdate compatibility test: {reason}");
    false
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Deterministic, incompressible-looking bytes (xorshift64), so a partially written or
/// stale stand-in partition never compares equal by accident.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}
