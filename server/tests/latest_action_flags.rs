//! The figures database triggers keep for the console (migration `failed_latest`) stay what the
//! rows say after each way actions and devices change: `actions.latest` (each device's latest
//! started action: the one most recently created or moved out of SCHEDULED), `actions.latest_failed`
//! (that action failed and its device is in error: the failures page's devices) and
//! `rollout_group_counts` (actions per rollout group and status: the rollout page's totals). Checked
//! on SQLite and PostgreSQL, against the rows themselves, after assignment, failed and successful
//! feedback, cancel, a rollout's scheduled and started groups (one started after a newer manual
//! assignment), deletion of a device and action cleanup.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use reqwest::Method;
use serde_json::{Value, json};
use support::Fixture;
use updraft_server::config::Config;
use updraft_server::store::failures::{self, GroupKey};
use updraft_server::store::{self, AnyConnection};

fn fast_scheduler(c: &mut Config) {
    c.scheduler_interval_ms = 100;
}

backend_tests!(
    @tweak super::fast_scheduler;
    latest_and_failed_follow_every_write_path,
);

#[derive(diesel::QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    target_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    update_status: String,
    #[diesel(sql_type = BigInt)]
    latest: i64,
    #[diesel(sql_type = BigInt)]
    latest_failed: i64,
    /// The action's first status row: when it started (a scheduled action has none yet).
    #[diesel(sql_type = Nullable<BigInt>)]
    started: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    rollout_group_id: Option<i64>,
}

#[derive(diesel::QueryableByName, Debug)]
struct GroupCount {
    #[diesel(sql_type = BigInt)]
    rollout_group_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn rows(f: &Fixture) -> Vec<Row> {
    f.srv
        .state
        .db
        .read_blocking(|c: &mut AnyConnection| -> store::Result<Vec<Row>> {
            Ok(diesel::sql_query(
                "SELECT a.id, a.target_id, a.status, t.update_status, \
                 CAST(CASE WHEN a.latest THEN 1 ELSE 0 END AS BIGINT) AS latest, \
                 CAST(CASE WHEN a.latest_failed THEN 1 ELSE 0 END AS BIGINT) AS latest_failed, \
                 (SELECT min(s.id) FROM action_statuses s WHERE s.action_id = a.id) AS started, \
                 a.rollout_group_id \
                 FROM actions a JOIN targets t ON t.id = a.target_id ORDER BY a.id",
            )
            .load(c)?)
        })
        .unwrap()
}

/// Checks both flags of every action and the rollout group counts against the rows; returns the
/// failed devices' action ids.
fn check(f: &Fixture, when: &str) -> BTreeSet<i64> {
    let rows = rows(f);
    // Each device's latest started action: the one whose first status row is the newest.
    let mut latest: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for r in &rows {
        if r.status == "scheduled" {
            assert_eq!(
                r.started, None,
                "{when}: a scheduled action has no status yet: {r:?}"
            );
            continue;
        }
        let started = r.started.expect("a started action has a status row");
        let e = latest.entry(r.target_id).or_insert((started, r.id));
        if started > e.0 {
            *e = (started, r.id);
        }
    }
    let mut failed = BTreeSet::new();
    for r in &rows {
        let is_latest = latest.get(&r.target_id).is_some_and(|l| l.1 == r.id);
        assert_eq!(r.latest == 1, is_latest, "{when}: latest of {r:?}");
        let is_failed = is_latest && r.status == "error" && r.update_status == "error";
        assert_eq!(r.latest_failed == 1, is_failed, "{when}: latest_failed of {r:?}");
        if is_failed {
            failed.insert(r.id);
        }
    }
    let mut truth: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for r in &rows {
        if let Some(g) = r.rollout_group_id {
            *truth.entry((g, r.status.clone())).or_default() += 1;
        }
    }
    let kept: BTreeMap<(i64, String), i64> = f
        .srv
        .state
        .db
        .read_blocking(|c: &mut AnyConnection| -> store::Result<Vec<GroupCount>> {
            Ok(diesel::sql_query(
                "SELECT rollout_group_id, status, CAST(SUM(actions) AS BIGINT) AS n \
                 FROM rollout_group_counts GROUP BY rollout_group_id, status HAVING SUM(actions) <> 0",
            )
            .load(c)?)
        })
        .unwrap()
        .into_iter()
        .map(|g| ((g.rollout_group_id, g.status), g.n))
        .collect();
    assert_eq!(kept, truth, "{when}: rollout_group_counts");
    // The failures page counts exactly these devices, and lists them.
    let grouped = f
        .srv
        .state
        .db
        .read_blocking(|c: &mut AnyConnection| failures::grouped(c, "DEFAULT"))
        .unwrap();
    assert_eq!(grouped.total, failed.len() as i64, "{when}: failures total");
    failed
}

/// The failed devices of one group, as the failures page lists them.
fn group_devices(f: &Fixture, key: GroupKey) -> (Vec<String>, i64) {
    group_page(f, key, 0, 50)
}

/// One page of a group's failed devices.
fn group_page(f: &Fixture, key: GroupKey, offset: i64, limit: i64) -> (Vec<String>, i64) {
    let (rows, total) = f
        .srv
        .state
        .db
        .read_blocking(move |c: &mut AnyConnection| {
            failures::group_devices(c, "DEFAULT", &key, store::Page { offset, limit })
        })
        .unwrap();
    (rows.into_iter().map(|r| r.0).collect(), total)
}

fn fail(f: &Fixture, cid: &str, action: i64, message: &str) {
    let (s, v) = f.feedback_with(cid, action, "closed", "failure", &[message]);
    assert_eq!(s, 200, "{v}");
}

/// A rollout of `ds` with a first group of `first` and a second of `second`, each waiting for all
/// of the previous one's devices; started. Returns its id and the two groups' ids.
fn two_group_rollout(f: &Fixture, name: &str, ds: i64, first: &str, second: &str) -> (i64, Vec<i64>) {
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": name, "distributionSetId": ds,
            "targetFilterQuery": format!("controllerId=={first},controllerId=={second}"),
            "successCondition": { "expression": "100" }, "errorCondition": { "expression": "100" },
            "groups": [
                { "name": "first", "targetFilterQuery": format!("controllerId=={first}") },
                { "name": "second", "targetPercentage": 100 },
            ] }),
    );
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    support::eventually("the rollout is ready", || {
        f.get(&format!("/rest/v1/rollouts/{id}")).1["status"] == "ready"
    });
    let (s, v) = f.post(&format!("/rest/v1/rollouts/{id}/start"), json!({}));
    assert!(s < 300, "{v}");
    let (_, gs) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups"));
    let groups = gs["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    (id, groups)
}

/// The device's open action of rollout `rollout`.
fn rollout_action(f: &Fixture, cid: &str, rollout: i64) -> i64 {
    let (_, v) = f.get(&format!("/rest/v1/targets/{cid}/actions?limit=50"));
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["rollout"].as_i64() == Some(rollout)
                || a["_links"]["rollout"]["href"]
                    .as_str()
                    .is_some_and(|h| h.ends_with(&format!("/rollouts/{rollout}")))
        })
        .and_then(|a| a["id"].as_i64())
        .unwrap_or_else(|| panic!("{cid} has an action of rollout {rollout}: {v}"))
}

fn latest_and_failed_follow_every_write_path(f: &Fixture) {
    let cids = ["fl-0", "fl-1", "fl-2", "fl-3", "fl-4", "fl-5"];
    let body: Vec<Value> = cids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
    let (_, ds1) = f.distribution_set("fl-os", "os.bin", b"image");
    let (_, ds2) = f.distribution_set("fl-app", "app.bin", b"app");
    assert!(check(f, "no action yet").is_empty());

    // Assignment, then failed feedback: the device is failed.
    let a0 = f.assign(ds1, "fl-0", json!({}));
    assert!(check(f, "assigned").is_empty());
    fail(f, "fl-0", a0, "disk full");
    assert_eq!(check(f, "failed"), BTreeSet::from([a0]));
    // Success; and a cancel confirmed by the device.
    let a1 = f.assign(ds1, "fl-1", json!({}));
    assert_eq!(f.feedback("fl-1", a1, "closed", "success").0, 200);
    let a2 = f.assign(ds2, "fl-2", json!({}));
    fail(f, "fl-2", a2, "disk full");
    let a2b = f.assign(ds1, "fl-2", json!({}));
    assert_eq!(check(f, "a failed device assigned again"), BTreeSet::from([a0]));
    let res = f
        .mgmt(Method::DELETE, &format!("/rest/v1/targets/fl-2/actions/{a2b}"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(f.cancel_feedback("fl-2", a2b, "closed", "success").0, 200);
    assert_eq!(
        check(f, "the new assignment canceled"),
        BTreeSet::from([a0]),
        "a canceled attempt is the device's latest: fl-2 is in sync, not failed"
    );

    // A rollout whose second group holds the failed fl-0: its scheduled action is no attempt, so
    // fl-0 stays failed until that group starts.
    let (_, groups) = two_group_rollout(f, "fl-r1", ds2, "fl-3", "fl-0");
    support::eventually("the first group's action is open", || {
        rows(f)
            .iter()
            .any(|r| r.rollout_group_id == Some(groups[0]) && r.status == "running")
    });
    assert_eq!(check(f, "a scheduled rollout action"), BTreeSet::from([a0]));
    assert_eq!(
        group_devices(f, GroupKey::Message("disk full".into())),
        (vec!["fl-0".to_owned()], 1)
    );
    let r1 = f.get("/rest/v1/rollouts?q=name==fl-r1").1["content"][0]["id"]
        .as_i64()
        .unwrap();
    let a3 = rollout_action(f, "fl-3", r1);
    assert_eq!(f.feedback("fl-3", a3, "closed", "success").0, 200);
    support::eventually("the second group starts", || {
        rows(f)
            .iter()
            .any(|r| r.rollout_group_id == Some(groups[1]) && r.status == "running")
    });
    assert!(check(f, "fl-0's rollout action started").is_empty());

    // A rollout action created before a manual assignment but started after it is the latest.
    let (r2, groups) = two_group_rollout(f, "fl-r2", ds2, "fl-5", "fl-4");
    support::eventually("the first group's action is open", || {
        rows(f)
            .iter()
            .any(|r| r.rollout_group_id == Some(groups[0]) && r.status == "running")
    });
    let manual = f.assign(ds1, "fl-4", json!({}));
    check(f, "a manual assignment after the rollout's scheduled action");
    let a5 = rollout_action(f, "fl-5", r2);
    assert_eq!(f.feedback("fl-5", a5, "closed", "success").0, 200);
    support::eventually("the second group starts", || {
        rows(f)
            .iter()
            .any(|r| r.rollout_group_id == Some(groups[1]) && r.status != "scheduled")
    });
    check(f, "the older rollout action started");
    let a4 = rollout_action(f, "fl-4", r2);
    assert!(a4 < manual);
    fail(f, "fl-4", a4, "no space");
    assert_eq!(check(f, "the rollout action failed"), BTreeSet::from([a4]));
    assert_eq!(
        group_devices(f, GroupKey::Rollout(Some(r2))),
        (vec!["fl-4".to_owned()], 1)
    );
    assert_eq!(group_devices(f, GroupKey::Set(ds2)).1, 1);

    // Deleting a device takes its actions along.
    assert_eq!(f.delete("/rest/v1/targets/fl-4").0, 204);
    assert!(check(f, "a failed device deleted").is_empty());

    // Action cleanup deletes closed actions (here all old enough): a device whose latest goes gets
    // its newest remaining started action as latest.
    let a0b = f.assign(ds1, "fl-0", json!({}));
    fail(f, "fl-0", a0b, "flash");
    assert_eq!(check(f, "failed again"), BTreeSet::from([a0b]));
    let later = f.srv.state.now() + 2 * 86_400_000;
    let deleted = f
        .srv
        .state
        .db
        .write_blocking(move |c: &mut AnyConnection| store::housekeeping::delete_old_actions(c, 1, later))
        .unwrap();
    assert!(deleted > 0);
    check(f, "after action cleanup");

    // A group's pages, whether read walking the fleet in controller id order (a group that is a
    // large part of the fleet) or sorted (a small one).
    for (cid, ds) in [("fl-1", ds2), ("fl-3", ds1), ("fl-5", ds1)] {
        let a = f.assign(ds, cid, json!({}));
        fail(f, cid, a, "late");
    }
    assert_eq!(check(f, "three more failed").len(), 3);
    let late = || GroupKey::Message("late".into());
    for (offset, cid) in [(0, "fl-1"), (1, "fl-3"), (2, "fl-5")] {
        assert_eq!(group_page(f, late(), offset, 1), (vec![cid.to_owned()], 3));
    }
    assert_eq!(group_page(f, late(), 3, 1), (vec![], 3));
    // Folding PostgreSQL's appended counter rows changes no figure.
    f.srv
        .state
        .db
        .write_blocking(|c| store::target_counts::merge(c, 0))
        .unwrap();
    check(f, "after the counters are folded");
}
