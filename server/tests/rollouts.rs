//! Rollouts, auto-assignment and action timeouts, black-box over HTTP on SQLite and PostgreSQL:
//! devices poll and report over DDI, the operator drives the Management API, and the server's own
//! scheduler moves rollouts on. Time-based behaviour advances the server's clock instead of sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, controller_ids, link, read};
use updraft_server::config::Config;

fn fast_scheduler(c: &mut Config) {
    c.scheduler_interval_ms = 100;
    c.action_timeout_secs = 600;
    c.action_retention_days = 30;
}

backend_tests!(
    @tweak super::fast_scheduler;
    groups_start_one_after_another_as_devices_report,
    errors_above_the_threshold_pause_until_resumed,
    illegal_transitions_and_bad_requests_are_refused,
    deleting_a_running_rollout_cancels_its_actions,
    explicit_groups_and_retry_of_failed_targets,
    approval_gates_the_start,
    silent_devices_time_out_and_the_rollout_goes_on,
    actions_waiting_for_their_window_do_not_time_out,
    scheduled_rollouts_start_at_their_time,
    invalidating_the_set_stops_its_rollouts,
    dynamic_rollouts_take_in_targets_that_match_later,
    old_closed_actions_are_deleted_after_the_retention_time,
);

fn devices(f: &Fixture, prefix: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}{i:03}")).collect();
    let body: Vec<Value> = ids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
    ids
}

fn rollout(f: &Fixture, body: Value) -> Value {
    let (s, v) = f.post("/rest/v1/rollouts", body);
    assert_eq!(s, 201, "{v}");
    v
}

fn get_rollout(f: &Fixture, id: i64) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

fn op(f: &Fixture, id: i64, what: &str) -> (u16, Value) {
    read(
        f.mgmt(Method::POST, &format!("/rest/v1/rollouts/{id}/{what}"))
            .send()
            .unwrap(),
    )
}

fn groups(f: &Fixture, id: i64) -> Vec<Value> {
    let (s, v) = f.get(&format!(
        "/rest/v1/rollouts/{id}/deploygroups?representation=full"
    ));
    assert_eq!(s, 200, "{v}");
    v["content"].as_array().unwrap().clone()
}

/// The action a device sees on its poll, if any.
fn offered(f: &Fixture, cid: &str) -> Option<i64> {
    link(&f.poll(cid), "deploymentBase").map(|h| support::action_id_of(&h))
}

fn report(f: &Fixture, cid: &str, ok: bool) {
    let action = offered(f, cid).unwrap_or_else(|| panic!("{cid} has no deployment"));
    let (s, v) = f.feedback(cid, action, "closed", if ok { "success" } else { "failure" });
    assert_eq!(s, 200, "{v}");
}

fn groups_start_one_after_another_as_devices_report(f: &Fixture) {
    let ids = devices(f, "ga-", 6);
    let (_, ds) = f.distribution_set("ga", "ga.bin", b"payload");
    let r = rollout(
        f,
        json!({
            "name": "three steps", "distributionSetId": ds, "targetFilterQuery": "controllerId==ga-*",
            "amountGroups": 3,
            "successCondition": { "condition": "THRESHOLD", "expression": "100" },
        }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["status"], "ready");
    assert_eq!(r["totalTargets"], 6);
    assert_eq!(r["totalGroups"], 3);
    assert_eq!(r["totalTargetsPerStatus"]["notstarted"], 6);
    let gs = groups(f, id);
    assert_eq!(gs.len(), 3);
    assert!(
        gs.iter()
            .all(|g| g["totalTargets"] == 2 && g["status"] == "ready")
    );
    // Nothing is visible to devices before the start.
    assert!(ids.iter().all(|c| offered(f, c).is_none()));

    assert_eq!(op(f, id, "start").0, 204);
    let r = get_rollout(f, id);
    assert_eq!(r["status"], "running");
    assert_eq!(r["totalTargetsPerStatus"]["running"], 2);
    assert_eq!(r["totalTargetsPerStatus"]["scheduled"], 4);
    let gs = groups(f, id);
    assert_eq!(
        gs.iter()
            .map(|g| g["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["running", "scheduled", "scheduled"]
    );
    let members = |g: &Value| -> Vec<String> {
        let (s, v) = f.get(&format!(
            "/rest/v1/rollouts/{id}/deploygroups/{}/targets",
            g["id"]
        ));
        assert_eq!(s, 200, "{v}");
        controller_ids(&v)
    };
    let group_members: Vec<Vec<String>> = gs.iter().map(members).collect();
    assert!(group_members.iter().all(|m| m.len() == 2));
    for c in &group_members[1] {
        assert_eq!(offered(f, c), None, "{c} is in a group that has not started");
    }
    for (i, g) in group_members.iter().enumerate() {
        // The group's first device alone does not meet the 100 % success threshold.
        report(f, &g[0], true);
        std::thread::sleep(std::time::Duration::from_millis(300));
        if let Some(next) = group_members.get(i + 1) {
            assert_eq!(offered(f, &next[0]), None, "group {} started early", i + 2);
        }
        report(f, &g[1], true);
        if let Some(next) = group_members.get(i + 1) {
            support::eventually("the next group starts", || offered(f, &next[0]).is_some());
        }
    }
    support::eventually("the rollout finishes", || {
        get_rollout(f, id)["status"] == "finished"
    });
    let r = get_rollout(f, id);
    assert_eq!(r["totalTargetsPerStatus"]["finished"], 6);
    assert_eq!(r["totalTargetsPerStatus"]["running"], 0);
    assert!(groups(f, id).iter().all(|g| g["status"] == "finished"));
    for c in &ids {
        assert_eq!(f.target(c)["updateStatus"], "in_sync");
    }
}

fn errors_above_the_threshold_pause_until_resumed(f: &Fixture) {
    devices(f, "er-", 8);
    let (_, ds) = f.distribution_set("er", "er.bin", b"payload");
    let r = rollout(
        f,
        json!({
            "name": "careful", "distributionSetId": ds, "targetFilterQuery": "controllerId==er-*",
            "amountGroups": 2,
            "successCondition": { "condition": "THRESHOLD", "expression": "100" },
            "errorCondition": { "condition": "THRESHOLD", "expression": "25" },
            "errorAction": { "action": "PAUSE" },
        }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(op(f, id, "start").0, 204);
    let g = groups(f, id);
    let first: Vec<String> = {
        let (_, v) = f.get(&format!(
            "/rest/v1/rollouts/{id}/deploygroups/{}/targets",
            g[0]["id"]
        ));
        v["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["controllerId"].as_str().unwrap().to_owned())
            .collect()
    };
    // One failure of four is 25 %: not above the threshold.
    report(f, &first[0], false);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(get_rollout(f, id)["status"], "running");
    report(f, &first[1], false);
    support::eventually("the rollout pauses", || get_rollout(f, id)["status"] == "paused");
    assert_eq!(groups(f, id)[0]["status"], "error");
    assert_eq!(groups(f, id)[1]["status"], "scheduled");
    let r = get_rollout(f, id);
    assert_eq!(r["totalTargetsPerStatus"]["error"], 2);
    assert_eq!(r["totalTargetsPerStatus"]["running"], 2);
    assert_eq!(r["totalTargetsPerStatus"]["scheduled"], 4);
    // Paused: reporting the rest starts nothing.
    report(f, &first[2], true);
    report(f, &first[3], true);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(groups(f, id)[1]["status"], "scheduled");
    let (s, v) = op(f, id, "pause");
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errorCode"], "hawkbit.server.error.rollout.illegalState");
    assert_eq!(op(f, id, "resume").0, 204);
    support::eventually("the second group starts", || {
        groups(f, id)[1]["status"] == "running"
    });
    assert_eq!(get_rollout(f, id)["status"], "running");
}

fn illegal_transitions_and_bad_requests_are_refused(f: &Fixture) {
    devices(f, "il-", 2);
    let (_, ds) = f.distribution_set("il", "il.bin", b"payload");
    for (body, code) in [
        (
            json!({ "name": "x", "distributionSetId": ds }),
            "hawkbit.server.error.rest.param.rsqlInvalidField",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "controllerId==nobody" }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "nosuchfield==1" }),
            "hawkbit.server.error.rest.param.rsqlInvalidField",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "id==il-*", "amountGroups": 501 }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "id==il-*", "successCondition": { "condition": "THRESHOLD", "expression": "150" } }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "id==il-*", "dynamicGroupTemplate": { "targetCount": 5 } }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "id==il-*", "amountGroups": 2, "groups": [{ "name": "g" }] }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
        (
            json!({ "name": "x", "distributionSetId": ds, "targetFilterQuery": "id==il-*", "type": "sometimes" }),
            "hawkbit.server.error.repo.constraintViolation",
        ),
    ] {
        let (s, v) = f.post("/rest/v1/rollouts", body.clone());
        assert_eq!(s, 400, "{body} → {v}");
        if code.contains("rsql") {
            assert!(v["errorCode"].as_str().unwrap().contains("rsql"), "{body} → {v}");
        } else {
            assert_eq!(v["errorCode"], code, "{body} → {v}");
        }
    }
    let (s, v) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "x", "distributionSetId": 999_999, "targetFilterQuery": "id==il-*" }),
    );
    assert_eq!(s, 404, "{v}");
    let r = rollout(
        f,
        json!({ "name": "once", "distributionSetId": ds, "targetFilterQuery": "id==il-*" }),
    );
    let id = r["id"].as_i64().unwrap();
    let (s, _) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "once", "distributionSetId": ds, "targetFilterQuery": "id==il-*" }),
    );
    assert_eq!(s, 409);
    for what in ["pause", "resume", "triggerNextGroup", "approve", "deny", "retry"] {
        let (s, v) = op(f, id, what);
        assert_eq!(s, 400, "{what}: {v}");
        assert_eq!(
            v["errorCode"], "hawkbit.server.error.rollout.illegalState",
            "{what}"
        );
    }
    assert_eq!(op(f, id, "start").0, 204);
    let (s, v) = op(f, id, "start");
    assert_eq!(
        (s, v["errorCode"].as_str()),
        (400, Some("hawkbit.server.error.rollout.illegalState"))
    );
    let (s, v) = op(f, id, "triggerNextGroup");
    assert_eq!(s, 400, "the only group already runs: {v}");
    assert_eq!(op(f, 999_999, "start").0, 404);
    let (s, v) = f.put(
        &format!("/rest/v1/rollouts/{id}"),
        json!({ "name": "renamed", "description": "d" }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["description"].as_str()),
        (Some("renamed"), Some("d"))
    );
    // The set is locked by the rollout.
    let (_, v) = f.get(&format!("/rest/v1/distributionsets/{ds}"));
    assert_eq!(v["locked"], true);
}

fn deleting_a_running_rollout_cancels_its_actions(f: &Fixture) {
    let ids = devices(f, "dl-", 4);
    let (_, ds) = f.distribution_set("dl", "dl.bin", b"payload");
    let r = rollout(
        f,
        json!({ "name": "doomed", "distributionSetId": ds, "targetFilterQuery": "id==dl-*", "amountGroups": 2 }),
    );
    let id = r["id"].as_i64().unwrap();
    // A rollout that never started is removed entirely.
    let spare = rollout(
        f,
        json!({ "name": "spare", "distributionSetId": ds, "targetFilterQuery": "id==dl-*" }),
    );
    let (s, _) = f.delete(&format!("/rest/v1/rollouts/{}", spare["id"]));
    assert_eq!(s, 204);
    assert_eq!(f.get(&format!("/rest/v1/rollouts/{}", spare["id"])).0, 404);

    assert_eq!(op(f, id, "start").0, 204);
    let running: Vec<&String> = ids.iter().filter(|c| offered(f, c).is_some()).collect();
    assert_eq!(running.len(), 2);
    let (s, _) = f.delete(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 204);
    for c in &ids {
        assert_eq!(offered(f, c), None, "{c} still has a deployment");
        let (_, v) = f.get(&format!("/rest/v1/targets/{c}/actions"));
        for a in v["content"].as_array().unwrap() {
            assert_eq!(a["status"], "canceled", "{c}: {a}");
        }
    }
    let (s, v) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 200);
    assert_eq!(
        (v["status"].as_str(), v["deleted"].as_bool()),
        (Some("deleted"), Some(true))
    );
    let (_, v) = f.get("/rest/v1/rollouts");
    assert_eq!(v["total"], 0, "deleted rollouts are not listed by default: {v}");
    let (_, v) = f.get("/rest/v1/rollouts?soft_deleted_mode=ONLY_SOFT_DELETED");
    assert_eq!(v["total"], 1);
}

fn explicit_groups_and_retry_of_failed_targets(f: &Fixture) {
    let ids = devices(f, "ex-", 4);
    f.put(
        &format!("/rest/v1/targets/{}", ids[0]),
        json!({ "description": "canary" }),
    );
    let (_, ds) = f.distribution_set("ex", "ex.bin", b"payload");
    let (s, v) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "gaps", "distributionSetId": ds, "targetFilterQuery": "id==ex-*",
                "groups": [{ "name": "canary", "targetFilterQuery": "description==canary" }] }),
    );
    assert_eq!(s, 400, "groups must cover every target: {v}");
    let r = rollout(
        f,
        json!({ "name": "canary first", "distributionSetId": ds, "targetFilterQuery": "id==ex-*",
                "successCondition": { "expression": "100" }, "errorCondition": { "expression": "100" },
                "groups": [
                    { "name": "canary", "targetFilterQuery": "description==canary" },
                    { "name": "rest", "targetPercentage": 100 },
                ] }),
    );
    let id = r["id"].as_i64().unwrap();
    let gs = groups(f, id);
    assert_eq!(
        (gs[0]["name"].as_str(), gs[0]["totalTargets"].as_i64()),
        (Some("canary"), Some(1))
    );
    assert_eq!(gs[1]["totalTargets"], 3);
    assert_eq!(op(f, id, "start").0, 204);
    report(f, &ids[0], true);
    support::eventually("the rest starts", || groups(f, id)[1]["status"] == "running");
    report(f, &ids[1], false);
    report(f, &ids[2], true);
    report(f, &ids[3], false);
    support::eventually("the rollout finishes", || {
        get_rollout(f, id)["status"] == "finished"
    });
    let r = get_rollout(f, id);
    assert_eq!(r["totalTargetsPerStatus"]["finished"], 2);
    assert_eq!(r["totalTargetsPerStatus"]["error"], 2);
    let (s, retry) = op(f, id, "retry");
    assert_eq!(s, 201, "{retry}");
    assert_eq!(retry["name"], "canary first_retry");
    assert_eq!(retry["totalTargets"], 2);
    let rid = retry["id"].as_i64().unwrap();
    let (_, v) = f.get(&format!(
        "/rest/v1/rollouts/{rid}/deploygroups/{}/targets",
        groups(f, rid)[0]["id"]
    ));
    let mut retried: Vec<&str> = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["controllerId"].as_str().unwrap())
        .collect();
    retried.sort_unstable();
    assert_eq!(retried, [ids[1].as_str(), ids[3].as_str()]);
}

fn approval_gates_the_start(f: &Fixture) {
    devices(f, "ap-", 2);
    let (_, ds) = f.distribution_set("ap", "ap.bin", b"payload");
    f.set_config("rollout.approval.enabled", json!(true));
    let password = "Approval-test-pw-1";
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "planner", "password": password,
                "permissions": ["CREATE_ROLLOUT", "READ_ROLLOUT", "HANDLE_ROLLOUT", "READ_DISTRIBUTION_SET", "READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{v}");
    let as_planner = |m: Method, path: &str| {
        f.http
            .request(m, f.url(path))
            .basic_auth("planner", Some(password))
    };
    let (s, r) = read(
        as_planner(Method::POST, "/rest/v1/rollouts")
            .json(&json!({ "name": "needs a yes", "distributionSetId": ds, "targetFilterQuery": "id==ap-*" }))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "waiting_for_approval");
    let id = r["id"].as_i64().unwrap();
    let (s, v) = read(
        as_planner(Method::POST, &format!("/rest/v1/rollouts/{id}/start"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 400, "{v}");
    let (s, v) = read(
        as_planner(Method::POST, &format!("/rest/v1/rollouts/{id}/approve"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 403, "{v}");
    let (s, _) = read(
        f.mgmt(
            Method::POST,
            &format!("/rest/v1/rollouts/{id}/approve?remark=ok%20by%20me"),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(s, 204);
    let r = get_rollout(f, id);
    assert_eq!(
        (
            r["status"].as_str(),
            r["approvalRemark"].as_str(),
            r["approveDecidedBy"].as_str()
        ),
        (Some("ready"), Some("ok by me"), Some("admin"))
    );
    let (s, _) = read(
        as_planner(Method::POST, &format!("/rest/v1/rollouts/{id}/start"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204);
    // The administrator may approve, so their rollouts need no approval.
    let r = rollout(
        f,
        json!({ "name": "admin's", "distributionSetId": ds, "targetFilterQuery": "id==ap-*" }),
    );
    assert_eq!(r["status"], "ready");
    let denied = read(
        as_planner(Method::POST, "/rest/v1/rollouts")
            .json(&json!({ "name": "not this", "distributionSetId": ds, "targetFilterQuery": "id==ap-*" }))
            .send()
            .unwrap(),
    )
    .1["id"]
        .as_i64()
        .unwrap();
    assert_eq!(op(f, denied, "deny").0, 204);
    assert_eq!(get_rollout(f, denied)["status"], "approval_denied");
}

fn silent_devices_time_out_and_the_rollout_goes_on(f: &Fixture) {
    let ids = devices(f, "to-", 2);
    let (_, ds) = f.distribution_set("to", "to.bin", b"payload");
    let r = rollout(
        f,
        json!({ "name": "patient", "distributionSetId": ds, "targetFilterQuery": "id==to-*", "amountGroups": 2,
                "successCondition": { "expression": "100" }, "errorCondition": { "expression": "100" } }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(op(f, id, "start").0, 204);
    let first = ids.iter().find(|c| offered(f, c).is_some()).unwrap().clone();
    let second = ids.iter().find(|c| **c != first).unwrap().clone();
    // The device keeps reporting progress: no timeout, however long it takes.
    let action = offered(f, &first).unwrap();
    f.srv.state.clock.advance(500_000);
    let (s, _) = f.feedback(&first, action, "proceeding", "none");
    assert_eq!(s, 200);
    f.srv.state.clock.advance(500_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(f.action(&first, action)["status"], "running");
    // Then it goes silent for longer than the timeout (600 s).
    f.srv.state.clock.advance(200_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    // The server's own scheduler may have claimed the action first (this call then skips it).
    support::eventually("the action times out", || {
        f.action(&first, action)["status"] == "error"
    });
    assert_eq!(f.target(&first)["updateStatus"], "error");
    let (_, history) = f.get(&format!("/rest/v1/targets/{first}/actions/{action}/status"));
    assert!(history.to_string().contains("timed out"), "{history}");
    // The error closed the first group; the second starts.
    support::eventually("the next group starts", || offered(f, &second).is_some());
    assert_eq!(get_rollout(f, id)["totalTargetsPerStatus"]["error"], 1);
}

fn scheduled_rollouts_start_at_their_time(f: &Fixture) {
    let ids = devices(f, "sc-", 1);
    let (_, ds) = f.distribution_set("sc", "sc.bin", b"payload");
    let start_at = f.srv.state.now() + 3_600_000;
    let r = rollout(
        f,
        json!({ "name": "tonight", "distributionSetId": ds, "targetFilterQuery": "id==sc-*", "startAt": start_at }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["startAt"], start_at);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(get_rollout(f, id)["status"], "ready");
    f.srv.state.clock.advance(3_600_001);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    support::eventually("the rollout starts", || get_rollout(f, id)["status"] == "running");
    assert!(offered(f, &ids[0]).is_some());
}

fn invalidating_the_set_stops_its_rollouts(f: &Fixture) {
    let ids = devices(f, "iv-", 4);
    let (_, ds) = f.distribution_set("iv", "iv.bin", b"payload");
    let r = rollout(
        f,
        json!({ "name": "recalled", "distributionSetId": ds, "targetFilterQuery": "id==iv-*", "amountGroups": 2 }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(op(f, id, "start").0, 204);
    let (s, v) = f.get(&format!("/rest/v1/distributionsets/{ds}/statistics/rollouts"));
    assert_eq!(s, 200);
    assert_eq!(v["rollouts"], json!({ "RUNNING": 1, "total": 1 }));
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{ds}/invalidate"),
        json!({ "actionCancelationType": "soft" }),
    );
    assert_eq!(s, 204, "{v}");
    let r = get_rollout(f, id);
    assert_eq!(r["status"], "stopped");
    assert_eq!(r["totalTargetsPerStatus"]["scheduled"], 0);
    assert!(groups(f, id).iter().all(|g| g["status"] == "finished"));
    // The running group's devices are asked to cancel; the others never see the set.
    let canceling = ids
        .iter()
        .filter(|c| link(&f.poll(c), "cancelAction").is_some())
        .count();
    assert_eq!(canceling, 2);
    assert!(ids.iter().all(|c| offered(f, c).is_none()));
}

fn dynamic_rollouts_take_in_targets_that_match_later(f: &Fixture) {
    let first = devices(f, "dy-", 2);
    let (_, ds) = f.distribution_set("dy", "dy.bin", b"payload");
    let r = rollout(
        f,
        json!({ "name": "forever", "distributionSetId": ds, "targetFilterQuery": "id==dy-*",
                "dynamic": true, "dynamicGroupTemplate": { "nameSuffix": "-dyn", "targetCount": 2 } }),
    );
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["dynamic"], true);
    assert_eq!(op(f, id, "start").0, 204);
    for c in &first {
        report(f, c, true);
    }
    support::eventually("the static group finishes", || {
        groups(f, id)[0]["status"] == "finished"
    });
    // A dynamic rollout keeps running, waiting for targets that match later.
    assert_eq!(get_rollout(f, id)["status"], "running");
    // Created in one transaction, so the scheduler sees all three at once (devices registering one
    // by one could be taken in by groups of one, depending on when its sweep runs).
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{ "controllerId": "dy-new-1" }, { "controllerId": "dy-new-2" }, { "controllerId": "dy-new-3" }]),
    );
    assert_eq!(s, 201, "{v}");
    support::eventually("a dynamic group takes in new targets", || {
        groups(f, id).len() >= 2
    });
    let gs = groups(f, id);
    assert_eq!(
        (
            gs[1]["name"].as_str(),
            gs[1]["dynamic"].as_bool(),
            gs[1]["totalTargets"].as_i64()
        ),
        (Some("group-2-dyn"), Some(true), Some(2))
    );
    for c in ["dy-new-1", "dy-new-2"] {
        report(f, c, true);
    }
    support::eventually("the next dynamic group takes the last one", || {
        offered(f, "dy-new-3").is_some()
    });
    report(f, "dy-new-3", true);
    support::eventually("all five are counted", || {
        get_rollout(f, id)["totalTargetsPerStatus"]["finished"] == 5
    });
    assert_eq!(get_rollout(f, id)["totalTargets"], 5);
    // The actions name their rollout, and can be found by it.
    let (s, v) = f.get(&format!(
        "/rest/v1/actions?q=rollout.id=={id};rollout.name==forever"
    ));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 5);
    let (_, a) = f.get(&format!("/rest/v1/actions/{}", v["content"][0]["id"]));
    assert_eq!(
        (a["rollout"].as_i64(), a["rolloutName"].as_str()),
        (Some(id), Some("forever"))
    );
    let (_, per_target) = f.get("/rest/v1/targets/dy-new-1/actions");
    assert_eq!(per_target["content"][0]["rolloutName"], "forever");
}

fn old_closed_actions_are_deleted_after_the_retention_time(f: &Fixture) {
    let (_, v1) = f.distribution_set("ret1", "r1.bin", b"one");
    let (_, v2) = f.distribution_set("ret2", "r2.bin", b"two");
    let (_, v3) = f.distribution_set("ret3", "r3.bin", b"three");
    f.poll("ret-dev");
    let first = f.assign(v1, "ret-dev", json!({}));
    report(f, "ret-dev", true);
    let failed = f.assign(v2, "ret-dev", json!({}));
    report(f, "ret-dev", false);
    f.srv.state.clock.advance(20 * 86_400_000);
    let installing = f.assign(v3, "ret-dev", json!({}));
    report(f, "ret-dev", true);
    let ids = |f: &Fixture| -> Vec<i64> {
        let (_, v) = f.get("/rest/v1/targets/ret-dev/actions");
        let mut ids: Vec<i64> = v["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(ids(f), [first, failed, installing], "nothing is 30 days old yet");
    f.srv.state.clock.advance(11 * 86_400_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    support::eventually("the old closed actions are gone", || ids(f) == [installing]);
    // The target still knows what it runs.
    let t = f.target("ret-dev");
    assert_eq!(t["updateStatus"], "in_sync");
    let (_, installed) = f.get("/rest/v1/targets/ret-dev/installedDS");
    assert_eq!(installed["id"], v3);
    // The installing action is kept even when it is old.
    f.srv.state.clock.advance(60 * 86_400_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(ids(f), [installing]);
}

/// A device told to wait for its maintenance window has nothing to report until the window opens: the
/// action times out only after the timeout passes silently inside an open window.
fn actions_waiting_for_their_window_do_not_time_out(f: &Fixture) {
    const HOUR: i64 = 3_600_000;
    let (_, ds) = f.distribution_set("mwto", "mwto.bin", b"payload");
    f.poll("mwto-1");
    // A daily hour-long window opening between one and two hours from now.
    let start = (f.srv.state.now() / HOUR + 2) * HOUR;
    let schedule = format!("0 0 {} * * ?", (start / HOUR) % 24);
    let action = f.assign(
        ds,
        "mwto-1",
        json!({"maintenanceWindow": {"schedule": schedule, "duration": "01:00:00", "timezone": "+00:00"}}),
    );
    let status = |f: &Fixture| f.action("mwto-1", action)["status"].clone();
    // Long past the 600 s timeout, but before the window: still waiting.
    f.srv.state.clock.advance(start - f.srv.state.now() - 60_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(status(f), "running");
    // Inside the window, silent for half the timeout: still waiting.
    f.srv.state.clock.advance(60_000 + 300_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(status(f), "running");
    // Silent for longer than the timeout inside the window: timed out.
    f.srv.state.clock.advance(301_000);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    support::eventually("the action times out", || status(f) == "error");
}
