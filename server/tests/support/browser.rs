//! What the headless-browser tests share: whether Chromium, node and playwright-core are here, and
//! a PNG's size to check the screenshots the scripts save.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's Chromium, which the scripts launch (no browser download).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The `ui-tests` directory with the scripts.
pub fn ui_tests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui-tests")
}

/// Why a browser test cannot run here, if it cannot.
pub fn missing_tool(ui_tests: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !ui_tests.join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (cd ui-tests && npm ci)".into());
    }
    None
}

/// False (with the reason printed) when a browser test must skip; under CI=true it fails instead.
pub fn browser_available(ui_tests: &Path) -> bool {
    match missing_tool(ui_tests) {
        None => true,
        Some(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "needed under CI: {why}"
            );
            eprintln!("skipping the browser test: {why}");
            false
        }
    }
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}
