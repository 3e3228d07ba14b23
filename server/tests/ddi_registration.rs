//! Registration storms: plug-and-play registrations and attribute writes that arrive together are
//! committed in one transaction (`store::group_commit`), and each device's 200 still means its rows
//! are stored. Each runs on SQLite and PostgreSQL; nothing here depends on timing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};
use updraft_server::config::Config;
use updraft_server::error::ApiError;
use updraft_server::store::{AnyConnection, Changes, Error, Rule, group_commit::Job, targets};

fn small_quota(c: &mut Config) {
    c.quotas.max_attribute_entries_per_target = 2;
}

backend_tests!(
    @tweak super::small_quota;
    every_acknowledged_registration_is_stored,
    a_refused_write_does_not_lose_the_others,
    simultaneous_first_polls_of_one_device_make_one_target,
    a_failing_write_in_a_batch_takes_back_its_own_rows_only,
);

/// Runs `n` devices on 16 threads at once; `each` gets the device index.
fn at_once(n: usize, each: impl Fn(usize) + Sync) {
    std::thread::scope(|s| {
        for t in 0..16 {
            let each = &each;
            s.spawn(move || {
                for i in (t..n).step_by(16) {
                    each(i);
                }
            });
        }
    });
}

fn attributes(f: &Fixture, cid: &str) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/attributes"));
    // hawkBit answers a target without attributes with 204.
    if s == 204 {
        return json!({});
    }
    assert_eq!(s, 200, "{v}");
    v
}

fn put_attributes(f: &Fixture, cid: &str, data: Value) -> u16 {
    read(
        f.ddi(Method::PUT, cid, "/configData")
            .json(&json!({ "data": data }))
            .send()
            .unwrap(),
    )
    .0
}

/// 200 devices register at once (first poll, then configData): each device finds its target and
/// its attributes stored as soon as it has its 200, and the fleet is complete afterwards.
fn every_acknowledged_registration_is_stored(f: &Fixture) {
    at_once(200, |i| {
        let cid = format!("storm-{i:03}");
        let root = f.poll(&cid);
        assert!(support::link(&root, "configData").is_some(), "{root}");
        // Acknowledged: the target is there for anyone who reads now.
        assert_eq!(f.target(&cid)["updateStatus"], "registered");
        assert_eq!(put_attributes(f, &cid, json!({"serial": cid})), 200);
        assert_eq!(attributes(f, &cid), json!({"serial": cid}));
    });
    let (_, page) = f.get("/rest/v1/targets?q=controllerId==storm-*&limit=1");
    assert_eq!(page["total"], 200);
    for i in 0..200 {
        let cid = format!("storm-{i:03}");
        // The attributes were asked for once: a later poll has no configData link.
        assert!(support::link(&f.poll(&cid), "configData").is_none());
    }
}

/// Devices whose attributes break the quota get their refusal while the devices writing beside
/// them get their 200 and their rows.
fn a_refused_write_does_not_lose_the_others(f: &Fixture) {
    let outcomes: std::sync::Mutex<BTreeMap<String, u16>> = std::sync::Mutex::default();
    at_once(120, |i| {
        let cid = format!("mixed-{i:03}");
        f.poll(&cid);
        // Every third device sends three attributes; this fixture allows two.
        let data = if i.is_multiple_of(3) {
            json!({"a": "1", "b": "2", "c": "3"})
        } else {
            json!({"a": "1"})
        };
        let status = put_attributes(f, &cid, data);
        outcomes.lock().unwrap().insert(cid, status);
    });
    for (cid, status) in outcomes.into_inner().unwrap() {
        let i: usize = cid["mixed-".len()..].parse().unwrap();
        if i.is_multiple_of(3) {
            assert_eq!(status, 429, "{cid}");
            assert_eq!(attributes(f, &cid), json!({}), "{cid}");
        } else {
            assert_eq!(status, 200, "{cid}");
            assert_eq!(attributes(f, &cid), json!({"a": "1"}), "{cid}");
        }
    }
}

/// The same unknown device polling many times at once becomes one target, and every poll is
/// answered as a registered device's.
fn simultaneous_first_polls_of_one_device_make_one_target(f: &Fixture) {
    at_once(48, |i| {
        let cid = format!("twin-{}", i % 3);
        let root = f.poll(&cid);
        assert!(root["config"]["polling"]["sleep"].is_string(), "{root}");
    });
    for n in 0..3 {
        let (_, page) = f.get(&format!("/rest/v1/targets?q=controllerId==twin-{n}"));
        assert_eq!(page["total"], 1, "{page}");
        assert_eq!(page["content"][0]["updateStatus"], "registered");
    }
}

/// One transaction of three writes where the middle one fails after writing: its row is taken
/// back with its savepoint, the other two commit, and each gets its own result.
fn a_failing_write_in_a_batch_takes_back_its_own_rows_only(f: &Fixture) {
    let register = |cid: &'static str, fail: bool| -> Job<ApiError> {
        Box::new(move |c: &mut AnyConnection| -> Result<Changes, ApiError> {
            let (changes, _) = targets::register_on_poll(c, "DEFAULT", cid, "http://x", "token", 1)?;
            if fail {
                return Err(Error::refused(Rule::Quota, "refused after its insert").into());
            }
            Ok(changes)
        })
    };
    let jobs = vec![
        register("batch-a", false),
        register("batch-b", true),
        register("batch-c", false),
    ];
    let results = f.srv.state.writes.write_together(&jobs);
    assert!(matches!(results[0], Ok(Changes { .. })));
    assert!(results[1].is_err());
    assert!(results[2].is_ok());
    assert_eq!(f.get("/rest/v1/targets/batch-a").0, 200);
    assert_eq!(f.get("/rest/v1/targets/batch-b").0, 404);
    assert_eq!(f.get("/rest/v1/targets/batch-c").0, 200);
}
