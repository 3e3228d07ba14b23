//! The layering rules of `docs/architecture.md`, checked on the source: the domain core knows no HTTP
//! and no front door, background work names no front door, and front doors do not grow new SQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as (path relative to `src/`, text).
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src().join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The code of a file without its comments, so a doc line may name what the code must not use.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn forbid(dirs: &[&str], names: &[&str], why: &str) {
    let mut found = Vec::new();
    for dir in dirs {
        for (file, text) in sources(dir) {
            let code = code(&text);
            for name in names {
                if code.contains(name) {
                    found.push(format!("{file} uses {name}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{why}:\n  {}", found.join("\n  "));
}

#[test]
fn the_store_knows_no_http_and_no_front_door() {
    forbid(
        &["store"],
        &[
            "actix",
            "ApiError",
            "crate::error",
            "crate::ddi",
            "crate::mgmt",
            "crate::ui",
            "crate::state",
        ],
        "the domain core (server/src/store) must not depend on HTTP or on a front door \
         (docs/architecture.md); return store::Error and let the front door render it",
    );
}

#[test]
fn background_work_names_no_front_door() {
    forbid(
        &["scheduler"],
        &["crate::ddi", "crate::mgmt", "crate::ui"],
        "the scheduler calls the store, not a front door; move what it needs into server/src/store",
    );
}

#[test]
fn the_device_api_does_not_call_the_other_front_doors_nor_sql() {
    forbid(
        &["ddi"],
        &["crate::mgmt", "crate::ui", "diesel", "store::schema"],
        "ddi/ must not call mgmt/ or ui/, nor query the database itself: what it needs belongs in \
         server/src/store",
    );
}

/// Diesel tables still named in front-door files, while their queries move into the store. A file
/// may name fewer (then lower its number here) but never more, and no other front-door file may
/// name any: new queries go into `server/src/store/<aggregate>.rs`.
const TABLE_DEBT: &[(&str, usize)] = &[
    ("mgmt/actions.rs", 9),
    ("mgmt/distribution_sets.rs", 28),
    ("mgmt/ds_assignments.rs", 3),
    ("mgmt/ds_invalidate.rs", 6),
    ("mgmt/ds_statistics.rs", 3),
    ("mgmt/ds_tags.rs", 16),
    ("mgmt/json.rs", 1),
    ("mgmt/metadata.rs", 15),
    ("mgmt/rollout_groups.rs", 6),
    ("mgmt/rollouts.rs", 7),
    ("mgmt/sm_metadata.rs", 6),
    ("mgmt/system.rs", 4),
    ("mgmt/target_actions.rs", 9),
    ("mgmt/target_filters.rs", 9),
    ("mgmt/target_tags.rs", 14),
    ("mgmt/targets.rs", 9),
    ("mgmt/users.rs", 3),
    ("ui/devices.rs", 5),
    ("ui/distributions.rs", 10),
    ("ui/overview.rs", 5),
    ("ui/rollout_form.rs", 1),
    ("ui/rollouts.rs", 2),
    ("ui/session.rs", 6),
    ("ui/settings.rs", 3),
];

#[test]
fn front_doors_name_no_new_tables() {
    let debt: BTreeMap<&str, usize> = TABLE_DEBT.iter().copied().collect();
    let mut problems = Vec::new();
    for dir in ["ddi", "mgmt", "ui"] {
        for (file, text) in sources(dir) {
            let n = text.matches("::table").count();
            let allowed = debt.get(file.as_str()).copied().unwrap_or(0);
            if n > allowed {
                problems.push(format!(
                    "{file} names a Diesel table {n} times (allowed: {allowed}); put the query in \
                     server/src/store and call it"
                ));
            } else if n < allowed {
                problems.push(format!(
                    "{file} names a Diesel table {n} times: lower its entry in TABLE_DEBT \
                     (server/tests/architecture.rs) from {allowed} to {n}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_passes_800_lines() {
    let mut problems = Vec::new();
    for (file, text) in sources("") {
        let lines = text.lines().count();
        if lines > 800 {
            problems.push(format!("{file} has {lines} lines (limit 800): split it by idea"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
