//! DDI quotas, time-dependent behaviour (with the server's shiftable clock, no real sleeping),
//! and settings that change what devices see. Each runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, action_id_of, link, read};
use updraft_server::config::Config;

fn small_quotas(c: &mut Config) {
    c.quotas.max_status_entries_per_action = 10;
    c.quotas.max_messages_per_action_status = 3;
    c.quotas.max_attribute_entries_per_target = 5;
    c.track_remote_ip = false;
    c.max_artifact_size = 4096;
}

backend_tests!(
    @tweak super::small_quotas;
    status_and_message_quotas_answer_429,
    cancel_feedback_quota_answers_429,
    untracked_remote_ip_is_masked,
    oversized_upload_is_413_and_leaves_nothing,
    time_forced_action_becomes_forced_when_its_time_comes,
    sleep_is_shortened_before_a_maintenance_window,
    revoked_confirmation_returns_action_to_waiting,
    cbor_is_served_for_every_action_resource,
    polls_are_written_in_batches_without_audit_changes,
);

fn proceeding(messages: usize) -> Value {
    let details: Vec<String> = (0..messages).map(|i| format!("m{i}")).collect();
    json!({"status": {"execution": "proceeding", "result": {"finished": "none"}, "details": details}})
}

fn status_and_message_quotas_answer_429(f: &Fixture) {
    let (_, ds) = f.distribution_set("quota", "q.swu", b"q");
    f.poll("q1");
    let action = f.assign(ds, "q1", json!({}));
    let path = format!("/deploymentBase/{action}/feedback");
    let (s, b) = read(
        f.ddi(Method::POST, "q1", &path)
            .json(&proceeding(4))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 429);
    assert_eq!(b["errorCode"], "hawkbit.server.error.quota.tooManyEntries");
    assert_eq!(
        b["exceptionClass"],
        "org.eclipse.hawkbit.repository.exception.AssignmentQuotaExceededException"
    );
    // One status row exists (the assignment); nine more fit under a quota of ten.
    for i in 0..9 {
        let (s, _) = read(
            f.ddi(Method::POST, "q1", &path)
                .json(&proceeding(1))
                .send()
                .unwrap(),
        );
        assert_eq!(s, 200, "feedback {i}");
    }
    let (s, _) = read(
        f.ddi(Method::POST, "q1", &path)
            .json(&proceeding(1))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 429);
    let (_, st) = f.get(&format!("/rest/v1/targets/q1/actions/{action}/status"));
    assert_eq!(st["total"], 10, "the refused feedback stored nothing");
    // Closing is always possible, whatever the status count.
    assert_eq!(f.feedback("q1", action, "closed", "success").0, 200);
    assert_eq!(f.target("q1")["updateStatus"], "in_sync");
}

fn cancel_feedback_quota_answers_429(f: &Fixture) {
    let (_, ds) = f.distribution_set("cq", "c.swu", b"c");
    f.poll("cq1");
    let action = f.assign(ds, "cq1", json!({}));
    f.delete(&format!("/rest/v1/targets/cq1/actions/{action}"));
    let mut last = 0;
    for _ in 0..12 {
        last = f.cancel_feedback("cq1", action, "proceeding", "none").0;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429);
}

fn untracked_remote_ip_is_masked(f: &Fixture) {
    f.poll("ip1");
    assert_eq!(f.target("ip1")["address"], "http://***");
    // The configData quota of this fixture is five attributes.
    let many: serde_json::Map<String, Value> = (0..6).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (s, _) = read(
        f.ddi(Method::PUT, "ip1", "/configData")
            .json(&json!({"data": many}))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 429);
}

fn oversized_upload_is_413_and_leaves_nothing(f: &Fixture) {
    let (_, sm) = f.post(
        "/rest/v1/softwaremodules",
        json!([{"name": "big", "version": "1", "type": "os"}]),
    );
    let sm = sm[0]["id"].as_i64().unwrap();
    let (s, b) = f.upload(sm, "big.bin", vec![7u8; 10_000]);
    assert_eq!(s, 413, "{b}");
    assert_eq!(b["errorCode"], "hawkbit.server.error.quota.fileSizeExceeded");
    let (_, list) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    assert_eq!(list, json!([]));
    let files = std::fs::read_dir(f.srv.data_dir.join("artifacts/tmp"))
        .unwrap()
        .count();
    assert_eq!(files, 0, "no temp file is left");
    let (s, _) = f.upload(sm, "small.bin", vec![7u8; 4096]);
    assert_eq!(s, 201);
}

const HOUR: i64 = 3_600_000;

fn time_forced_action_becomes_forced_when_its_time_comes(f: &Fixture) {
    let (_, ds) = f.distribution_set("tf", "t.swu", b"t");
    f.poll("tf1");
    let force_at = f.srv.state.now() + HOUR;
    let action = f.assign(ds, "tf1", json!({"type": "timeforced", "forcetime": force_at}));
    let before = link(&f.poll("tf1"), "deploymentBase").unwrap();
    let (_, d) = read(
        f.ddi(Method::GET, "tf1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(d["deployment"]["update"], "attempt");
    f.srv.state.clock.advance(2 * HOUR);
    let after = link(&f.poll("tf1"), "deploymentBase").unwrap();
    assert_ne!(before, after, "the c= value changes when the force time passes");
    let (_, d) = read(
        f.ddi(Method::GET, "tf1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (
            d["deployment"]["download"].as_str(),
            d["deployment"]["update"].as_str()
        ),
        (Some("forced"), Some("forced"))
    );
}

fn sleep_of(root: &Value) -> u64 {
    let s = root["config"]["polling"]["sleep"].as_str().unwrap();
    let p: Vec<u64> = s.split(':').map(|x| x.parse().unwrap()).collect();
    p[0] * 3600 + p[1] * 60 + p[2]
}

fn sleep_is_shortened_before_a_maintenance_window(f: &Fixture) {
    let (_, ds) = f.distribution_set("mws", "m.swu", b"m");
    f.poll("mws1");
    // A daily window at 12:00 UTC; move the server clock to 11:50 on the next day.
    let now = f.srv.state.now();
    let day = 86_400_000;
    let next_noon = now - now % day + 12 * HOUR + if now % day >= 12 * HOUR { day } else { 0 };
    f.srv.state.clock.advance(next_noon - 10 * 60_000 - now);
    f.assign(ds, "mws1", json!({"maintenanceWindow": {"schedule": "0 0 12 * * ?", "duration": "01:00:00", "timezone": "+00:00"}}));
    let s = sleep_of(&f.poll("mws1"));
    assert!(
        (180..300).contains(&s),
        "10 minutes before the window, 3 polls: {s}"
    );
    f.srv.state.clock.advance(5 * 60_000);
    let s = sleep_of(&f.poll("mws1"));
    assert!(s < 120, "5 minutes before: {s}");
    f.srv.state.clock.advance(10 * 60_000);
    let root = f.poll("mws1");
    assert_eq!(
        sleep_of(&root),
        300,
        "inside the window the normal interval applies"
    );
    let action = action_id_of(&link(&root, "deploymentBase").unwrap());
    let (_, d) = read(
        f.ddi(Method::GET, "mws1", &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(d["deployment"]["maintenanceWindow"], "available");
}

fn revoked_confirmation_returns_action_to_waiting(f: &Fixture) {
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, ds) = f.distribution_set("rev", "r.swu", b"r");
    f.poll("rev1");
    let action = f.assign(ds, "rev1", json!({}));
    let fb = |c: &str| {
        read(
            f.ddi(
                Method::POST,
                "rev1",
                &format!("/confirmationBase/{action}/feedback"),
            )
            .json(&json!({"confirmation": c}))
            .send()
            .unwrap(),
        )
        .0
    };
    assert_eq!(fb("confirmed"), 200);
    assert_eq!(fb("denied"), 200);
    assert_eq!(f.action("rev1", action)["status"], "wait_for_confirmation");
    // Not while the action is being canceled.
    assert_eq!(fb("confirmed"), 200);
    f.delete(&format!("/rest/v1/targets/rev1/actions/{action}"));
    assert_eq!(fb("denied"), 404);
    // An assignment that does not ask for confirmation runs at once.
    f.poll("rev2");
    let a2 = f.assign(ds, "rev2", json!({"confirmationRequired": false}));
    assert_eq!(f.action("rev2", a2)["status"], "running");
}

fn cbor(r: reqwest::blocking::Response) -> Value {
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/cbor");
    ciborium::from_reader(&r.bytes().unwrap()[..]).unwrap()
}

fn cbor_is_served_for_every_action_resource(f: &Fixture) {
    let (_, ds) = f.distribution_set("cb", "c.swu", b"c");
    f.poll("cb1");
    let action = f.assign(ds, "cb1", json!({}));
    let get = |rest: &str| {
        f.ddi(Method::GET, "cb1", rest)
            .header("accept", "application/cbor")
            .send()
            .unwrap()
    };
    assert_eq!(
        cbor(get(&format!("/deploymentBase/{action}")))["id"],
        action.to_string()
    );
    let mut body = Vec::new();
    ciborium::into_writer(
        &json!({"status": {"execution": "closed", "result": {"finished": "success"}}}),
        &mut body,
    )
    .unwrap();
    let r = f
        .ddi(Method::POST, "cb1", &format!("/deploymentBase/{action}/feedback"))
        .header("content-type", "application/cbor")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        cbor(get(&format!("/installedBase/{action}")))["deployment"]["chunks"][0]["name"],
        "cb"
    );
    let a2 = f.assign(f.distribution_set("cb2", "c2.swu", b"c2").1, "cb1", json!({}));
    f.delete(&format!("/rest/v1/targets/cb1/actions/{a2}"));
    assert_eq!(
        cbor(get(&format!("/cancelAction/{a2}")))["cancelAction"]["stopId"],
        a2.to_string()
    );
    assert_eq!(cbor(get("/confirmationBase"))["autoConfirm"]["active"], false);
}

fn polls_are_written_in_batches_without_audit_changes(f: &Fixture) {
    f.poll("batch1");
    let modified = f.target("batch1")["lastModifiedAt"].clone();
    f.srv.state.clock.advance(60_000);
    f.poll("batch1");
    let t = f.target("batch1");
    let polled = t["lastControllerRequestAt"].as_i64().unwrap();
    assert!(
        polled >= f.srv.state.now() - 1000,
        "the newest poll shows at once"
    );
    assert_eq!(t["lastModifiedAt"], modified);
    // The flusher writes it to the database within its interval (200 ms in tests), with the
    // time rounded down to the second it was batched in.
    let stored = || {
        f.srv
            .state
            .db
            .tx_blocking(|c| {
                use diesel::prelude::*;
                use updraft_server::store::schema::targets;
                Ok(targets::table
                    .filter(targets::controller_id.eq("batch1"))
                    .select(targets::last_poll)
                    .first::<Option<i64>>(c)?)
            })
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored().is_none_or(|s| s < polled - polled % 1000) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(stored(), Some(polled - polled % 1000));
}
