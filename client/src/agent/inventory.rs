//! The inventory directory (`[agent] inventory_dir`): every executable in it prints device attributes
//! as `key=value` lines, which the agent sends with its other attributes (like Mender's
//! `mender-inventory-*` scripts). Scripts run in file-name order, each with `script_timeout_secs`;
//! a later script's key wins over an earlier one's, and a key printed twice by one script keeps both
//! values, joined by `, ` (Mender sends a list). A script that fails or times out is logged and its
//! output left out, so one broken script never stops the attribute upload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::state_scripts::run_executable;

/// Where a script's stdout is collected, in the data dir.
const OUTPUT_FILE: &str = "inventory.out";

/// Runs every executable of `dir` and gathers their attributes; `data_dir` holds the scratch file.
pub fn collect(dir: &Path, timeout: Duration, data_dir: &Path) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let mut scripts: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(
                "cannot read the inventory directory {} ({e}); create it or remove [agent] inventory_dir",
                dir.display()
            );
            return attributes;
        }
    };
    scripts.sort();
    let out_path = data_dir.join(OUTPUT_FILE);
    for script in scripts {
        let ran = std::fs::File::create(&out_path)
            .map_err(|e| format!("cannot write {}: {e}", out_path.display()))
            .and_then(|out| {
                run_executable(
                    &mut Command::new(&script),
                    timeout,
                    Stdio::from(out),
                    Stdio::inherit(),
                )
            });
        match ran {
            Ok(()) => {
                let text = std::fs::read_to_string(&out_path).unwrap_or_default();
                attributes.extend(parse(&text, &script));
            }
            Err(why) => tracing::warn!(
                "the inventory script {} failed: {why}; its attributes are left out",
                script.display()
            ),
        }
    }
    let _ = std::fs::remove_file(&out_path);
    attributes
}

/// `key=value` lines; blank lines and `#` comments are skipped, other lines logged.
fn parse(text: &str, script: &Path) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                let value = value.trim();
                found
                    .entry(key.trim().to_owned())
                    .and_modify(|v| {
                        v.push_str(", ");
                        v.push_str(value);
                    })
                    .or_insert_with(|| value.to_owned());
            }
            _ => tracing::warn!(
                "the inventory script {} printed {line:?}, which is not key=value; ignored",
                script.display()
            ),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn executables_print_attributes_and_broken_ones_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = dir.path().join("inventory.d");
        std::fs::create_dir(&scripts).unwrap();
        script(
            &scripts,
            "10-network",
            "echo 'ip=10.0.0.7'\necho ip=fd00::7\necho '# comment'\necho junk",
        );
        script(
            &scripts,
            "20-kernel",
            "echo kernel=6.1.0\necho ip=overridden-later-wins",
        );
        script(&scripts, "30-broken", "echo secret=leaked\nexit 1");
        std::fs::write(scripts.join("40-not-executable"), "#!/bin/sh\necho no=1\n").unwrap();
        let got = collect(&scripts, Duration::from_secs(10), dir.path());
        assert_eq!(got.get("kernel").map(String::as_str), Some("6.1.0"));
        assert_eq!(got.get("ip").map(String::as_str), Some("overridden-later-wins"));
        assert!(!got.contains_key("secret") && !got.contains_key("no"), "{got:?}");
        assert_eq!(
            parse("ip=a\nip=b\n", Path::new("x"))
                .get("ip")
                .map(String::as_str),
            Some("a, b")
        );
        assert!(!dir.path().join(OUTPUT_FILE).exists());
    }
}
