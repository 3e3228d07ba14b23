#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The grubenv codec against Debian's `grub-editenv` (package `grub-common`).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use updraft_client::slots::RealFs;
use updraft_client::slots::grub::{self, GrubEnvFile, GrubVars};

fn have_tool() -> bool {
    let found = Command::new("grub-editenv").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "grub-editenv missing on CI (apt-get install grub-common)"
        );
        eprintln!("skipping: grub-editenv not installed (apt-get install grub-common)");
    }
    found
}

fn editenv(file: &Path, args: &[&str]) -> String {
    let out = Command::new("grub-editenv")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "grub-editenv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn listed(file: &Path) -> GrubVars {
    editenv(file, &["list"])
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn our_grubenv_reads_back_with_grub_editenv() {
    if !have_tool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grubenv");
    let env = GrubEnvFile::new(Arc::new(RealFs), &path);
    env.update(|v| {
        v.insert("B_TRY".into(), "1".into());
        v.insert("B_OK".into(), "0".into());
        v.insert("odd".into(), "back\\slash".into());
    })
    .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1024);
    let theirs = listed(&path);
    assert_eq!(theirs.get("ORDER").map(String::as_str), Some("A B"));
    assert_eq!(theirs.get("B_TRY").map(String::as_str), Some("1"));
    assert_eq!(theirs.get("odd").map(String::as_str), Some("back\\slash"));
    assert_eq!(theirs, env.load().unwrap());
}

#[test]
fn grub_editenv_writes_read_back_with_ours() {
    if !have_tool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grubenv");
    editenv(&path, &["create"]);
    editenv(
        &path,
        &[
            "set",
            "ORDER=B A",
            "A_OK=1",
            "B_OK=1",
            "A_TRY=0",
            "B_TRY=0",
            "weird=a\\b",
        ],
    );
    let raw = std::fs::read(&path).unwrap();
    let ours = grub::decode(&raw).unwrap();
    assert_eq!(ours.get("ORDER").map(String::as_str), Some("B A"));
    assert_eq!(ours.get("weird").map(String::as_str), Some("a\\b"));
    assert_eq!(grub::default_slot(&ours), updraft_client::slots::Slot::B);
    editenv(&path, &["unset", "B_OK"]);
    let ours = GrubEnvFile::new(Arc::new(RealFs), &path).load().unwrap();
    assert!(!ours.contains_key("B_OK"));
    assert_eq!(grub::default_slot(&ours), updraft_client::slots::Slot::A);
    // Our re-encoding of their block is byte-identical apart from their warning comment.
    assert_eq!(grub::decode(&grub::encode(&ours).unwrap()).unwrap(), ours);
}

#[test]
fn shipped_grub_cfg_passes_grub_script_check() {
    if !have_tool() {
        return;
    }
    let shipped = include_str!("../dist/grub/updraft.cfg");
    assert!(
        shipped.contains(grub::GRUB_CFG),
        "client/dist/grub/updraft.cfg holds the client's GRUB_CFG byte for byte"
    );
    for id in ["--id A {", "--id B {", "updraft.slot=A", "updraft.slot=B"] {
        assert!(shipped.contains(id), "the shipped menu entries need {id:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("slots.cfg", grub::GRUB_CFG), ("grub.cfg", shipped)] {
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new("grub-script-check").arg(&cfg).output().unwrap();
        assert!(
            out.status.success(),
            "grub-script-check {name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
