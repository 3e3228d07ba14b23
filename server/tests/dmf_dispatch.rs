//! DMF conformance, what the server sends: checklist items 17-20 and 36-40 of the reference
//! (§7, hawkBit's `AmqpMessageDispatcherServiceIntegrationTest`), and DMF targets in the domain's
//! other flows (action timeouts, rollouts, several nodes), against a real RabbitMQ, on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod dmf_support;
mod support;

use dmf_support::Dmf;
use serde_json::{Value, json};

dmf_tests!(
    @tweak super::dmf_support::fast;
    assignment_pushes_download_and_install_with_hawkbits_envelope,
    thing_created_repeats_the_current_action_with_its_modules,
    download_before_the_maintenance_window_then_install_in_it,
    download_and_install_during_the_maintenance_window,
    cancel_before_the_first_poll_is_repeated_on_thing_created,
    assigning_again_cancels_first_then_sends_the_new_set,
    cancel_and_download_only_topics,
    deleting_a_target_sends_thing_deleted,
    attributes_are_requested_after_success_only,
    batch_assignments_send_one_message,
    confirmation_flow_sends_confirm_not_the_update,
    silent_dmf_targets_time_out_like_ddi_ones,
    rollouts_reach_dmf_targets_and_finish,
);

const TYPE_ID: &str = "org.eclipse.hawkbit.dmf.json.model.DmfDownloadAndUpdateRequest";

/// Item 36: `sendDownloadAndInstallStatus`: the assignment is pushed at once, with hawkBit's headers
/// and properties; the target is pending.
fn assignment_pushes_download_and_install_with_hawkbits_envelope(d: &Dmf) {
    let (_, action) = d.registered_with_assignment("d36", json!({"type": "forced"}));
    let r = d.reply();
    assert_eq!(r.header("type"), Some("EVENT"));
    assert_eq!(r.header("topic"), Some("DOWNLOAD_AND_INSTALL"));
    assert_eq!(r.header("thingId"), Some("d36"));
    assert_eq!(r.header("tenant"), Some("DEFAULT"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("__TypeId__"), Some(TYPE_ID));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.content_encoding.as_deref(), Some("UTF-8"));
    assert_eq!(r.delivery_mode, Some(2));
    assert!(r.correlation_id.is_some());
    assert_eq!(r.json()["actionId"], action);
    assert_eq!(d.target("d36")["updateStatus"], "pending");
    assert!(d.topics().is_empty(), "sent once");
}

/// Item 17: `receiveDownloadAndInstallMessageAfterAssignment`: THING_CREATED repeats the open action
/// with the set's modules, only target-visible metadata and the target's token.
fn thing_created_repeats_the_current_action_with_its_modules(d: &Dmf) {
    d.f.set_config("authentication.targettoken.enabled", json!(true));
    d.thing_created("d17", None);
    d.settle();
    let (sm, ds) = d.f.distribution_set("d17", "image.swu", b"image bytes");
    let (s, _) = d.f.post(
        &format!("/rest/v1/softwaremodules/{sm}/metadata"),
        json!([{"key": "visible", "value": "yes", "targetVisible": true}, {"key": "hidden", "value": "no"}]),
    );
    assert_eq!(s, 201);
    let action = d.f.assign(ds, "d17", json!({"type": "forced"}));
    d.settle();
    d.thing_created("d17", None);
    let body = d.reply_with("DOWNLOAD_AND_INSTALL").json();
    let token = d.target("d17")["securityToken"].clone();
    assert_eq!(body["actionId"], action);
    assert_eq!(body["targetSecurityToken"], token);
    let module = &body["softwareModules"][0];
    assert_eq!(
        (module["moduleId"].as_i64(), module["moduleType"].as_str()),
        (Some(sm), Some("os"))
    );
    assert_eq!(module["moduleVersion"], "1.0");
    assert_eq!(module["metadata"], json!([{"key": "visible", "value": "yes"}]));
    assert!(module.get("encrypted").is_none());
    let artifact = &module["artifacts"][0];
    assert_eq!(module["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(artifact["filename"], "image.swu");
    assert_eq!(artifact["size"], 11);
    assert!(artifact["hashes"]["sha1"].is_string() && artifact["hashes"]["md5"].is_string());
    assert!(artifact["hashes"].get("sha256").is_none());
    assert!(artifact["lastModified"].as_i64().unwrap() > 0);
    let url = artifact["urls"]["HTTP"].as_str().unwrap();
    assert!(
        url.ends_with(&format!(
            "/DEFAULT/controller/v1/d17/softwaremodules/{sm}/artifacts/image.swu"
        )),
        "{url}"
    );
    // The link is DDI's download, and the token in the message opens it.
    let path = &url[url.find("/DEFAULT/").unwrap()..];
    let got =
        d.f.http
            .get(d.f.url(path))
            .header(
                "Authorization",
                format!("TargetToken {}", token.as_str().unwrap()),
            )
            .send()
            .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().as_ref(), b"image bytes");
    assert_eq!(d.target("d17")["updateStatus"], "pending");
}

const HOUR: i64 = 3_600_000;

/// Item 18 and 36: `receiveDownloadMessageBeforeMaintenanceWindowStartTime`: DOWNLOAD while the
/// window is closed; once it opened, the next THING_CREATED brings DOWNLOAD_AND_INSTALL.
///
/// The clock moves from 5 minutes before the window to 1 minute into it: less than the action
/// timeout, so the silent device's action is still open when it announces itself. (A jump past the
/// timeout let the scheduler's sweep close the action as timed out before THING_CREATED was
/// handled, whenever the sweep won that race: then no command was owed, and no reply came.)
fn download_before_the_maintenance_window_then_install_in_it(d: &Dmf) {
    const MINUTE: i64 = 60_000;
    let jump = 6 * MINUTE;
    let timeout = i64::try_from(d.f.srv.state.config.action_timeout_secs).unwrap() * 1000;
    assert!(jump < timeout, "the jump must stay within the action timeout");
    let now = d.f.srv.state.now();
    let day = 24 * HOUR;
    let next_noon = now - now % day + 12 * HOUR + if now % day >= 12 * HOUR { day } else { 0 };
    d.f.srv.state.clock.advance(next_noon - 5 * MINUTE - now);
    let window = json!({"maintenanceWindow": {"schedule": "0 0 12 * * ?", "duration": "01:00:00", "timezone": "+00:00"}});
    let (_, action) = d.registered_with_assignment("d18", window);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("DOWNLOAD", Some(action))
    );
    assert_eq!(d.target("d18")["updateStatus"], "pending");
    d.f.srv.state.clock.advance(jump);
    d.thing_created("d18", None);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("DOWNLOAD_AND_INSTALL", Some(action))
    );
}

/// Item 19: `receiveDownloadAndInstallMessageDuringMaintenanceWindow`.
fn download_and_install_during_the_maintenance_window(d: &Dmf) {
    let always = json!({"maintenanceWindow": {"schedule": "0 * * * * ?", "duration": "00:01:00", "timezone": "+00:00"}});
    let (_, action) = d.registered_with_assignment("d19", always);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("DOWNLOAD_AND_INSTALL", Some(action))
    );
    assert_eq!(d.target("d19")["updateStatus"], "pending");
}

/// Item 20: `receiveCancelUpdateMessageAfterAssignmentWasCanceled`.
fn cancel_before_the_first_poll_is_repeated_on_thing_created(d: &Dmf) {
    let (_, action) = d.registered_with_assignment("d20", json!({"type": "forced"}));
    let (s, _) = d.f.delete(&format!("/rest/v1/targets/d20/actions/{action}"));
    assert_eq!(s, 204);
    d.settle();
    d.thing_created("d20", None);
    let r = d.replies().pop().unwrap();
    assert_eq!(r.topic(), "CANCEL_DOWNLOAD");
    assert_eq!(
        r.header("__TypeId__"),
        Some("org.eclipse.hawkbit.dmf.json.model.DmfActionRequest")
    );
    assert_eq!(r.json(), json!({"actionId": action}));
}

/// Item 37: `assignDistributionSetMultipleTimes`.
fn assigning_again_cancels_first_then_sends_the_new_set(d: &Dmf) {
    let (_, old) = d.registered_with_assignment("d37", json!({"type": "forced"}));
    let (_, ds2) = d.f.distribution_set("d37-2", "two.swu", b"two");
    let new = d.f.assign(ds2, "d37", json!({"type": "forced"}));
    let got: Vec<(String, i64)> = d
        .replies()
        .iter()
        .map(|r| (r.topic().to_owned(), r.json()["actionId"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("DOWNLOAD_AND_INSTALL".to_owned(), old),
            ("CANCEL_DOWNLOAD".to_owned(), old)
        ]
    );
    d.thing_created("d37", None);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("CANCEL_DOWNLOAD", Some(old))
    );
    d.status(old, "CANCELED", &[]);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("DOWNLOAD_AND_INSTALL", Some(new))
    );
    d.thing_created("d37", None);
    let r = d.reply();
    assert_eq!(
        (r.topic(), r.json()["actionId"].as_i64()),
        ("DOWNLOAD_AND_INSTALL", Some(new))
    );
    assert!(d.topics().is_empty());
}

/// Item 38: `sendCancelStatus`, `downloadOnlyAssignmentSendsDownloadMessageTopic`.
fn cancel_and_download_only_topics(d: &Dmf) {
    let (ds, action) = d.registered_with_assignment("d38", json!({"type": "downloadonly"}));
    let r = d.reply();
    assert_eq!(
        (r.header("type"), r.header("topic"), r.header("thingId")),
        (Some("EVENT"), Some("DOWNLOAD"), Some("d38"))
    );
    assert_eq!(d.f.get("/rest/v1/targets/d38/assignedDS").1["id"], ds);
    let (s, _) = d.f.delete(&format!("/rest/v1/targets/d38/actions/{action}"));
    assert_eq!(s, 204);
    let r = d.reply();
    assert_eq!((r.topic(), r.header("thingId")), ("CANCEL_DOWNLOAD", Some("d38")));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
}

/// Item 38: `sendDeleteMessage`: a DMF target deleted over the Management API is told so with
/// THING_DELETED (thingId, tenant, type), and no target is left.
fn deleting_a_target_sends_thing_deleted(d: &Dmf) {
    d.thing_created("d38-gone", None);
    d.settle();
    let (s, v) = d.f.delete("/rest/v1/targets/d38-gone");
    assert_eq!(s, 204, "{v}");
    let replies = d.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let r = &replies[0];
    assert_eq!(
        (r.header("type"), r.header("thingId"), r.header("tenant")),
        (Some("THING_DELETED"), Some("d38-gone"), Some("DEFAULT"))
    );
    assert!(r.header("topic").is_none());
    assert_eq!(d.targets_total(), 0);
}

/// Item 39: `attributeRequestAfterSuccessfulUpdate`.
fn attributes_are_requested_after_success_only(d: &Dmf) {
    // The device answers what it was told: a status before the update went out would close the
    // action first, and the update would then never be sent.
    let (_, a1) = d.registered_with_assignment("d39", json!({"type": "forced"}));
    assert_eq!(d.reply_with("DOWNLOAD_AND_INSTALL").json()["actionId"], a1);
    d.status(a1, "ERROR", &["broken"]);
    assert!(d.topics().is_empty(), "no attributes requested after an error");
    let (_, ds2) = d.f.distribution_set("d39-2", "b.swu", b"b");
    let a2 = d.f.assign(ds2, "d39", json!({"type": "forced"}));
    assert_eq!(d.reply_with("DOWNLOAD_AND_INSTALL").json()["actionId"], a2);
    d.status(a2, "FINISHED", &[]);
    assert_eq!(d.topics(), ["REQUEST_ATTRIBUTES_UPDATE"]);
}

/// Item 40: `assertBatchAssignmentsMessagePayload`: one BATCH_* message per assignment, without
/// thingId, naming every target with its token.
fn batch_assignments_send_one_message(d: &Dmf) {
    d.f.set_config("batch.assignments.enabled", json!(true));
    for (kind, topic, prefix) in [
        ("forced", "BATCH_DOWNLOAD_AND_INSTALL", "bf"),
        ("downloadonly", "BATCH_DOWNLOAD", "bd"),
    ] {
        let cids: Vec<String> = (1..=3).map(|i| format!("{prefix}{i}")).collect();
        for cid in &cids {
            d.thing_created(cid, None);
        }
        d.settle();
        let (_, ds) = d.f.distribution_set(&format!("batch-{kind}"), "b.swu", b"b");
        let body: Value = cids.iter().map(|c| json!({"id": c, "type": kind})).collect();
        let (s, v) =
            d.f.post(&format!("/rest/v1/distributionsets/{ds}/assignedTargets"), body);
        assert_eq!(s, 200, "{v}");
        let replies = d.replies();
        assert_eq!(
            replies.len(),
            1,
            "{:?}",
            replies.iter().map(|r| r.topic().to_owned()).collect::<Vec<_>>()
        );
        let r = &replies[0];
        assert_eq!(
            (r.header("type"), r.topic(), r.header("thingId")),
            (Some("EVENT"), topic, None)
        );
        let body = r.json();
        let mut ids: Vec<&str> = body["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["controllerId"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, cids);
        for t in body["targets"].as_array().unwrap() {
            let cid = t["controllerId"].as_str().unwrap();
            assert_eq!(t["targetSecurityToken"], d.target(cid)["securityToken"]);
        }
        assert_eq!(body["softwareModules"].as_array().unwrap().len(), 1);
    }
}

/// Item 40: `sendConfirmStatus`.
fn confirmation_flow_sends_confirm_not_the_update(d: &Dmf) {
    d.f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, action) = d.registered_with_assignment("d40", json!({"type": "forced"}));
    let replies = d.replies();
    assert_eq!(
        replies.iter().map(dmf_support::Reply::topic).collect::<Vec<_>>(),
        ["CONFIRM"]
    );
    assert_eq!(replies[0].json()["actionId"], action);
}

/// One domain, two transports: a DMF target that stays silent times out as a DDI one does, and
/// the next assignment reaches it.
fn silent_dmf_targets_time_out_like_ddi_ones(d: &Dmf) {
    let (_, action) = d.registered_with_assignment("quiet", json!({"type": "forced"}));
    d.settle();
    d.f.srv.state.clock.advance(700_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while d.f.action("quiet", action)["status"] != "error" {
        assert!(std::time::Instant::now() < deadline, "the action never timed out");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(d.target("quiet")["updateStatus"], "error");
    let (_, ds2) = d.f.distribution_set("quiet-2", "q.swu", b"q");
    let a2 = d.f.assign(ds2, "quiet", json!({"type": "forced"}));
    let got: Vec<_> = d
        .replies()
        .iter()
        .map(|r| r.json()["actionId"].as_i64())
        .collect();
    assert_eq!(got, [Some(action), Some(a2)]);
}

/// A rollout over DMF targets: each group's targets get DOWNLOAD_AND_INSTALL when the group
/// starts, their FINISHED counts, and the rollout finishes.
fn rollouts_reach_dmf_targets_and_finish(d: &Dmf) {
    let ids: Vec<String> = (0..4).map(|i| format!("ro-{i}")).collect();
    for c in &ids {
        d.thing_created(c, None);
    }
    d.settle();
    let (_, ds) = d.f.distribution_set("ro", "ro.bin", b"payload");
    let id = d.rollout("dmf", ds, "controllerId==ro-*", 2);
    let mut finished = std::collections::BTreeSet::new();
    while finished.len() < ids.len() {
        let r = d.reply_with("DOWNLOAD_AND_INSTALL");
        let cid = r.header("thingId").unwrap().to_owned();
        assert!(finished.insert(cid.clone()), "{cid} was told twice");
        d.status(r.json()["actionId"].as_i64().unwrap(), "FINISHED", &[]);
    }
    let r = d.wait_rollout_finished(id);
    assert_eq!(r["totalTargetsPerStatus"]["finished"], 4, "{r}");
}
