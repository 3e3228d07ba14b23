//! Running a `ui-tests/*.mjs` script in headless Chromium (Playwright core, Debian's chromium):
//! what it needs, and a check of the screenshots it saved.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The `ui-tests` directory.
pub fn ui_tests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui-tests")
}

/// Why a browser script cannot run here, if it cannot.
pub fn missing_tool() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !ui_tests().join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (cd ui-tests && npm ci)".into());
    }
    None
}

/// True when the browser can run; otherwise prints why and answers false, or fails under CI.
pub fn available() -> bool {
    let Some(why) = missing_tool() else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "needed under CI: {why}"
    );
    eprintln!("skipping the browser test: {why}");
    false
}

/// Runs `node <script>` in `ui-tests` with `env` and CHROMIUM set; panics with its output when it
/// fails.
pub fn run(script: &str, env: &[(&str, &str)]) {
    let out = Command::new("node")
        .arg(script)
        .current_dir(ui_tests())
        .envs(env.iter().copied())
        .env("CHROMIUM", CHROMIUM)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Checks that `dir` has a screenshot `name.png` of a desktop-sized, not blank page.
pub fn assert_screenshot(dir: &Path, name: &str) {
    let png = std::fs::read(dir.join(format!("{name}.png")))
        .unwrap_or_else(|e| panic!("no screenshot {name}: {e}"));
    let (w, h) = png_size(&png);
    assert!(w >= 1000 && h >= 300, "{name}: {w}x{h}");
    // A blank page compresses to a few hundred bytes.
    assert!(png.len() > 8_000, "{name}: only {} bytes", png.len());
}
