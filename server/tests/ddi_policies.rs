//! Server-wide policies: hawkBit's DoS filter, skipping the artifact access check, stacked
//! migration-step actions, the consent flow switched off, and the first-start admin account.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Fixture, action_id_of, link, read};
use updraft_server::config::Config;

fn policies(c: &mut Config) {
    c.dos_filter.max_read = 5;
    c.dos_filter.max_write = 2;
    c.dos_filter.blacklist = vec!["203.0.113.*".into()];
    c.skip_artifact_access_check_tenants = vec!["*".into()];
    // The DoS filter test stands in for public clients with X-Forwarded-For from a loopback proxy.
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

backend_tests!(
    @tweak super::policies;
    dos_filter_limits_public_clients_per_second,
    access_check_can_be_skipped_per_tenant,
    migration_steps_are_offered_and_canceled_in_turn,
    revoking_a_confirmation_needs_the_flow,
    first_start_creates_admin_with_a_private_random_password,
);

fn dos_filter_limits_public_clients_per_second(f: &Fixture) {
    f.poll("dos1");
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            f.ddi(Method::GET, "dos1", "")
                .header("x-forwarded-for", "198.51.100.7")
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    // Private and loopback clients are never limited.
    for _ in 0..30 {
        let r = f
            .ddi(Method::GET, "dos1", "")
            .header("x-forwarded-for", "10.1.2.3")
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Writes have their own, lower limit.
    let statuses: Vec<u16> = (0..10)
        .map(|_| {
            f.ddi(Method::PUT, "dos1", "/configData")
                .header("x-forwarded-for", "198.51.100.8")
                .json(&json!({"data": {"a": "b"}}))
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    let r = f
        .ddi(Method::GET, "dos1", "")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403, "blacklisted clients are refused");
}

fn access_check_can_be_skipped_per_tenant(f: &Fixture) {
    let (sm, _) = f.distribution_set("open", "o.bin", b"open");
    f.poll("anyone");
    let r = f
        .ddi(
            Method::GET,
            "anyone",
            &format!("/softwaremodules/{sm}/artifacts/o.bin"),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().as_ref(), b"open");
    assert_eq!(
        f.ddi(Method::GET, "anyone", "/softwaremodules/999999/artifacts")
            .send()
            .unwrap()
            .status(),
        404
    );
}

fn migration_steps_are_offered_and_canceled_in_turn(f: &Fixture) {
    let mut sets = Vec::new();
    for name in ["step1", "step2", "step3"] {
        let (s, v) = f.post(
            "/rest/v1/softwaremodules",
            json!([{"name": name, "version": "1", "type": "os"}]),
        );
        assert_eq!(s, 201);
        let sm = v[0]["id"].as_i64().unwrap();
        let (s, v) = f.post(
            "/rest/v1/distributionsets",
            json!([{"name": name, "version": "1", "type": "os", "modules": [{"id": sm}], "requiredMigrationStep": true}]),
        );
        assert_eq!(s, 201, "{v}");
        sets.push(v[0]["id"].as_i64().unwrap());
    }
    f.poll("mig1");
    let actions: Vec<i64> = sets.iter().map(|ds| f.assign(*ds, "mig1", json!({}))).collect();
    for a in &actions {
        assert_eq!(
            f.action("mig1", *a)["active"],
            true,
            "migration steps are not superseded"
        );
    }
    // The device sees the oldest first; cancelling each moves the assignment to the next.
    for (i, a) in actions.iter().enumerate() {
        let root = f.poll("mig1");
        assert_eq!(
            action_id_of(&link(&root, "deploymentBase").unwrap()),
            *a,
            "step {i}"
        );
        assert_eq!(f.delete(&format!("/rest/v1/targets/mig1/actions/{a}")).0, 204);
        let root = f.poll("mig1");
        assert_eq!(action_id_of(&link(&root, "cancelAction").unwrap()), *a);
        let (s, _) = read(
            f.ddi(Method::GET, "mig1", &format!("/cancelAction/{a}"))
                .send()
                .unwrap(),
        );
        assert_eq!(s, 200);
        assert_eq!(f.cancel_feedback("mig1", *a, "closed", "success").0, 200);
        let (s, assigned) = f.get("/rest/v1/targets/mig1/assignedDS");
        match sets.get(i + 1) {
            Some(next) => assert_eq!(assigned["id"], *next),
            None => assert_eq!(s, 204, "nothing installed, nothing left: {assigned}"),
        }
    }
    assert_eq!(f.target("mig1")["updateStatus"], "in_sync");
    let (_, st) = f.get(&format!("/rest/v1/targets/mig1/actions/{}/status", actions[0]));
    // hawkBit's accounting (`multipleCancelActionFeedback`): assignment, cancel request,
    // cancelAction retrieved, cancel confirmed; no deploymentBase was fetched.
    assert_eq!(st["total"], 4, "{st}");
}

fn revoking_a_confirmation_needs_the_flow(f: &Fixture) {
    f.set_config("user.confirmation.flow.enabled", json!(true));
    let (_, ds) = f.distribution_set("flow", "f.swu", b"f");
    f.poll("flow1");
    let action = f.assign(ds, "flow1", json!({}));
    let fb = |c: &str| {
        read(
            f.ddi(
                Method::POST,
                "flow1",
                &format!("/confirmationBase/{action}/feedback"),
            )
            .json(&json!({"confirmation": c}))
            .send()
            .unwrap(),
        )
        .0
    };
    assert_eq!(fb("confirmed"), 200);
    f.set_config("user.confirmation.flow.enabled", json!(false));
    assert_eq!(fb("denied"), 404, "no revoking once the flow is off");
    assert_eq!(f.action("flow1", action)["status"], "running");
    // Closed actions answer 410.
    f.feedback("flow1", action, "closed", "success");
    assert_eq!(fb("confirmed"), 410);
}

fn first_start_creates_admin_with_a_private_random_password(_f: &Fixture) {
    use std::os::unix::fs::PermissionsExt;
    let srv = updraft_server::testing::TestServer::start_with(None, |c| c.admin_password = None);
    let file = srv.data_dir.join("admin-password");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(password.len(), 32);
    assert_ne!(password, "admin");
    let http = reqwest::blocking::Client::new();
    let ok = http
        .get(format!("{}/rest/v1/targets", srv.url))
        .basic_auth("admin", Some(&password))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let no = http
        .get(format!("{}/rest/v1/targets", srv.url))
        .basic_auth("admin", Some("admin"))
        .send()
        .unwrap();
    assert_eq!(no.status(), 401, "no well-known default password");
}
