//! The layering rules of `docs/architecture.md`, checked on the source: the domain core knows no HTTP
//! and no front door, background work names no front door and holds no SQL, and front doors hold no
//! SQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

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
            "updraft_ddi",
        ],
        "the domain core (server/src/store) must not depend on HTTP, on a front door or on a \
         transport's wire types (docs/architecture.md); take domain types, return store::Error and \
         let the front door translate",
    );
}

#[test]
fn background_work_names_no_front_door_and_runs_no_sql_of_its_own() {
    forbid(
        &["scheduler"],
        &[
            "crate::ddi",
            "crate::mgmt",
            "crate::ui",
            "diesel",
            "store::schema",
            "::table",
        ],
        "the scheduler decides when work runs and calls the store for it, not a front door nor \
         the database itself; move a query or a write it needs into server/src/store",
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

#[test]
fn the_dmf_transport_calls_the_store_like_ddi_does() {
    forbid(
        &["dmf"],
        &[
            "crate::ddi",
            "crate::mgmt",
            "crate::ui",
            "diesel",
            "store::schema",
            "::table",
        ],
        "dmf/ is a device front door beside ddi/: it parses AMQP messages, calls the same store \
         operations DDI calls and publishes; a query or a rule it needs belongs in server/src/store",
    );
}

#[test]
fn the_management_api_and_the_web_ui_query_nothing_themselves() {
    forbid(
        &["mgmt", "ui"],
        &["diesel", "store::schema", "::table"],
        "front doors parse, authorize, call server/src/store and render; a query or a write they \
         need belongs in the store's module for that aggregate",
    );
}

#[test]
fn the_web_ui_and_the_management_api_share_the_store_not_each_other() {
    forbid(
        &["ui"],
        &["crate::mgmt"],
        "the web UI calls the same store operations the Management API calls, not its handlers",
    );
    forbid(
        &["mgmt"],
        &["crate::ui"],
        "the Management API does not call the web UI",
    );
}

#[test]
fn the_import_reads_hawkbit_and_writes_through_the_store() {
    forbid(
        &["import"],
        &[
            "diesel",
            "store::schema",
            "::table",
            "crate::mgmt",
            "crate::ui",
            "crate::ddi",
        ],
        "import/ reads a hawkBit over HTTP and writes through server/src/store (store::import), \
         neither with SQL of its own nor through another front door",
    );
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
