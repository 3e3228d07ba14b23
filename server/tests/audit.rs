//! The audit log over real HTTP on both databases: an entry for each kind of write through the
//! Management API and through the console (logins included), `GET /rest/v1/auditlog`'s filters,
//! paging and permission, the console's audit page, the hourly retention; and the settings page's
//! users with role presets and permission checkboxes, and tenant settings with units.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, browser, read, ui_form_notice, ui_get, ui_login, ui_login_as, ui_page};

fn log(f: &Fixture, query: &str) -> Value {
    let limit = if query.contains("limit=") {
        ""
    } else {
        "limit=500&"
    };
    let (s, v) = f.get(&format!("/rest/v1/auditlog?{limit}{query}"));
    assert_eq!(s, 200, "{v}");
    v
}

/// The entry of `action` on object `id` (the newest); panics with the whole log when there is none.
fn entry(f: &Fixture, action: &str, id: &str) -> Value {
    let v = log(f, &format!("action={action}"));
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["objectId"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {action} of {id} in {:#}", log(f, "")))
}

fn count(f: &Fixture, query: &str) -> i64 {
    log(f, query)["total"].as_i64().unwrap()
}

fn wait_for_status(f: &Fixture, rollout: i64, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = f.get(&format!("/rest/v1/rollouts/{rollout}"));
        if r["status"] == status {
            return;
        }
        assert!(Instant::now() < deadline, "rollout never became {status}: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rollout(f: &Fixture, name: &str, ds: i64, filter: &str) -> i64 {
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": name, "distributionSetId": ds, "targetFilterQuery": filter, "amountGroups": 1 }),
    );
    assert_eq!(s, 201, "{r}");
    r["id"].as_i64().unwrap()
}

fn management_api_writes_are_audited(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/targets",
        json!([{ "controllerId": "dev-a", "name": "Device A" }, { "controllerId": "dev-b", "name": "Device B" }]),
    );
    assert_eq!(s, 201, "{v}");
    let created = entry(f, "target_create", "dev-a");
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["objectType"], "target");
    assert_eq!(created["objectName"], "Device A");
    assert!(
        created["detail"].as_str().unwrap().contains("2 created"),
        "{created}"
    );

    let (sm, ds) = f.distribution_set("os", "os.bin", b"image");
    assert_eq!(entry(f, "sm_create", &sm.to_string())["objectName"], "os 1.0");
    assert_eq!(entry(f, "ds_create", &ds.to_string())["objectName"], "os 1.0");
    let upload = entry(f, "artifact_upload", &sm.to_string());
    assert!(upload["detail"].as_str().unwrap().contains("os.bin"), "{upload}");

    f.assign(ds, "dev-a", json!({}));
    assert_eq!(
        entry(f, "assign", &ds.to_string())["objectType"],
        "distribution_set"
    );

    let (s, _) = f.put("/rest/v1/targets/dev-a", json!({ "name": "Device A2" }));
    assert_eq!(s, 200);
    assert_eq!(entry(f, "target_update", "dev-a")["objectName"], "Device A2");

    let id = rollout(f, "wave 1", ds, "controllerId==dev-b");
    assert_eq!(
        entry(f, "rollout_create", &id.to_string())["objectName"],
        "wave 1"
    );
    let op = |what: &str| {
        let (s, v) = read(
            f.mgmt(Method::POST, &format!("/rest/v1/rollouts/{id}/{what}"))
                .send()
                .unwrap(),
        );
        assert!(s < 300, "{what}: {s} {v}");
    };
    op("start");
    wait_for_status(f, id, "running");
    op("pause");
    op("resume");
    for action in ["rollout_start", "rollout_pause", "rollout_resume"] {
        assert_eq!(entry(f, action, &id.to_string())["objectName"], "wave 1");
    }
    let (s, _) = f.delete(&format!("/rest/v1/rollouts/{id}"));
    assert!(s < 300);
    // Named although the rollout is gone: the name was read before the delete.
    assert_eq!(
        entry(f, "rollout_delete", &id.to_string())["objectName"],
        "wave 1"
    );

    let (s, _) = f.delete("/rest/v1/targets/dev-b");
    assert!(s < 300);
    assert_eq!(entry(f, "target_delete", "dev-b")["objectName"], "Device B");

    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "app", "version": "2.0", "type": "application" }]),
    );
    assert_eq!(s, 201, "{v}");
    let app = v[0]["id"].as_i64().unwrap();
    let (s, a) = f.upload(app, "app.bin", b"app".to_vec());
    assert_eq!(s, 201, "{a}");
    let artifact = a["id"].as_i64().unwrap();
    let (s, _) = f.delete(&format!("/rest/v1/softwaremodules/{app}/artifacts/{artifact}"));
    assert!(s < 300);
    assert_eq!(
        entry(f, "artifact_delete", &app.to_string())["objectName"],
        "app 2.0"
    );
    let (s, _) = f.delete(&format!("/rest/v1/softwaremodules/{app}"));
    assert!(s < 300);
    assert_eq!(entry(f, "sm_delete", &app.to_string())["objectName"], "app 2.0");
    let (s, _) = f.delete(&format!("/rest/v1/distributionsets/{ds}"));
    assert!(s < 300);
    assert_eq!(entry(f, "ds_delete", &ds.to_string())["objectName"], "os 1.0");

    let (s, _) = f.put(
        "/rest/v1/system/configs/pollingTime",
        json!({ "value": "00:10:00" }),
    );
    assert_eq!(s, 200);
    assert_eq!(entry(f, "setting_change", "pollingTime")["objectType"], "setting");
    let (s, _) = f.put(
        "/rest/v1/system/configs",
        json!({ "pollingOverdueTime": "00:20:00" }),
    );
    assert_eq!(s, 200);
    assert!(
        entry(f, "setting_change", "configs")["detail"]
            .as_str()
            .unwrap()
            .contains("pollingOverdueTime")
    );

    let (s, v) = f.post("/rest/v1/targettags", json!([{ "name": "lab" }]));
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        entry(f, "tag_create", &v[0]["id"].to_string())["objectName"],
        "lab"
    );

    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "bot", "password": "a long enough secret", "permissions": ["READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(entry(f, "user_create", "bot")["objectType"], "user");
    let (s, _) = f.delete("/rest/v1/users/bot");
    assert!(s < 300);
    assert_eq!(entry(f, "user_delete", "bot")["objectName"], "bot");

    // A refused write leaves no entry.
    let before = count(f, "");
    let (s, _) = f.delete("/rest/v1/targets/no-such-device");
    assert_eq!(s, 404);
    let (s, _) = f.post("/rest/v1/targets", json!([{ "controllerId": "dev-a" }]));
    assert_eq!(s, 409);
    assert_eq!(count(f, ""), before);
}

fn login_status(f: &Fixture, user: &str, password: &str) -> u16 {
    browser()
        .post(f.url("/ui/login"))
        .header("origin", &f.srv.url)
        .form(&[("username", user), ("password", password), ("next", "/ui")])
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn console_writes_and_logins_are_audited(f: &Fixture) {
    let session = ui_login(f);
    let login = entry(f, "login", "admin");
    assert_eq!(
        (login["actor"].as_str(), login["detail"].as_str()),
        (Some("admin"), Some("console"))
    );
    assert_eq!(login_status(f, "admin", "not the password"), 401);
    assert_eq!(entry(f, "login_failed", "admin")["actor"], "admin");
    assert_eq!(login_status(f, "mallory", "guessing"), 401);
    assert_eq!(entry(f, "login_failed", "mallory")["actor"], "mallory");

    f.create_target("ui-1");
    f.create_target("ui-2");
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"fw");
    let (s, _, body) = ui_form_notice(
        f,
        &session,
        "/ui/devices/ui-1/assign",
        &[("ds", &ds.to_string()), ("action_type", "forced")],
    );
    assert_eq!(s, 303, "{body}");
    let assign = entry(f, "assign", "ui-1");
    assert_eq!(
        (assign["objectType"].as_str(), assign["actor"].as_str()),
        (Some("target"), Some("admin"))
    );

    let id = rollout(f, "console wave", ds, "controllerId==ui-2");
    let path = |op: &str| format!("/ui/rollouts/{id}/{op}");
    assert_eq!(ui_form_notice(f, &session, &path("start"), &[]).0, 303);
    assert_eq!(
        entry(f, "rollout_start", &id.to_string())["objectName"],
        "console wave"
    );
    assert_eq!(ui_form_notice(f, &session, &path("delete"), &[]).0, 303);
    assert_eq!(
        entry(f, "rollout_delete", &id.to_string())["objectName"],
        "console wave"
    );

    let (s, _, body) = ui_form_notice(f, &session, "/ui/devices/ui-2/delete", &[]);
    assert_eq!(s, 303, "{body}");
    entry(f, "target_delete", "ui-2");

    let (s, notice, body) = ui_form_notice(
        f,
        &session,
        "/ui/settings/config",
        &[
            ("pollingOverdueTime.amount", "10"),
            ("pollingOverdueTime.unit", "minutes"),
        ],
    );
    assert_eq!(s, 303, "{body}");
    assert_eq!(notice, "Saved 1 changed setting(s).");
    let change = entry(f, "setting_change", "configs");
    assert!(
        change["detail"]
            .as_str()
            .unwrap()
            .contains("pollingOverdueTime 00:05:00 → 00:10:00"),
        "{change}"
    );

    let (s, notice, body) = ui_form_notice(
        f,
        &session,
        "/ui/settings/users",
        &[
            ("username", "op1"),
            ("password", "operator password"),
            ("tenant", ""),
            ("role", "operator"),
        ],
    );
    assert_eq!(s, 303, "{body}");
    assert_eq!(notice, "Created user op1.");
    assert!(
        entry(f, "user_create", "op1")["detail"]
            .as_str()
            .unwrap()
            .contains("Operator")
    );
    let (s, _, _) = ui_form_notice(
        f,
        &session,
        "/ui/settings/users/op1",
        &[("role", "custom"), ("perm", "READ_TARGET")],
    );
    assert_eq!(s, 303);
    assert!(
        entry(f, "user_update", "op1")["detail"]
            .as_str()
            .unwrap()
            .contains("READ_TARGET")
    );
    assert_eq!(
        ui_form_notice(f, &session, "/ui/settings/users/op1/delete", &[]).0,
        303
    );
    assert_eq!(entry(f, "user_delete", "op1")["objectName"], "op1");

    assert_eq!(ui_form_notice(f, &session, "/ui/logout", &[]).0, 303);
    entry(f, "logout", "admin");
    // Every console entry above is the admin's, in the admin's tenant.
    let v = log(f, "actor=admin");
    assert!(v["total"].as_i64().unwrap() >= 10, "{v}");
}

fn user(f: &Fixture, name: &str, permissions: &[&str]) {
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": name, "password": "a long enough secret", "permissions": permissions }),
    );
    assert_eq!(s, 201, "{v}");
}

fn the_audit_log_filters_pages_and_needs_permission(f: &Fixture) {
    for i in 0..7 {
        f.create_target(&format!("page-{i}"));
    }
    let t0 = f.srv.state.now();
    f.srv.state.clock.advance(3_600_000);
    f.create_target("later");
    let creates = log(f, "action=target_create");
    assert_eq!(creates["total"], 8, "{creates}");
    // Newest first by default; `sort` turns it round.
    assert_eq!(creates["content"][0]["objectId"], "later");
    let asc = log(f, "action=target_create&sort=at:ASC,id:ASC");
    assert_eq!(asc["content"][0]["objectId"], "page-0");

    let page = log(f, "action=target_create&offset=2&limit=3&sort=id:ASC");
    assert_eq!(
        (page["total"].as_i64(), page["size"].as_i64()),
        (Some(8), Some(3))
    );
    assert_eq!(page["content"][0]["objectId"], "page-2");

    assert_eq!(count(f, "object=page-"), 7);
    assert_eq!(count(f, "object=later&actor=admin"), 1);
    assert_eq!(count(f, "object=later&actor=nobody"), 0);
    assert_eq!(count(f, &format!("action=target_create&from={}", t0 + 1)), 1);
    assert_eq!(count(f, &format!("action=target_create&to={}", t0 + 1)), 7);
    assert_eq!(count(f, "q=objectId==page-*;action==target_create"), 7);
    assert_eq!(count(f, "objectType=target&action=target_create"), 8);

    let (s, v) = f.get("/rest/v1/auditlog?action=explode");
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("explode is not an audit action"),
        "{v}"
    );
    let (s, v) = f.get("/rest/v1/auditlog?from=10&to=5");
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("The time range ends before it starts."))
    );
    let (s, _) = f.get("/rest/v1/auditlog?sort=password:ASC");
    assert_eq!(s, 400);

    user(f, "viewer", &["READ_TARGET", "READ_ROLLOUT"]);
    let (s, _) = read(
        f.http
            .get(f.url("/rest/v1/auditlog"))
            .basic_auth("viewer", Some("a long enough secret"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 403);
    let viewer = ui_login_as(f, "viewer", "a long enough secret");
    assert_eq!(ui_get(f, &viewer, "/ui/audit").0, 403);
    assert!(!ui_page(f, &viewer, "/ui").contains("href=\"/ui/audit\""));

    let admin = ui_login(f);
    let html = ui_page(f, &admin, "/ui/audit?action=target_create&object=later");
    assert!(
        html.contains("1 entries match") && html.contains("later"),
        "{html}"
    );
    let (s, html) = ui_get(f, &admin, "/ui/audit?from=yesterday");
    assert_eq!(s, 400);
    assert!(html.contains("From must be a day like 2026-12-07."), "{html}");
}

fn old_entries_are_deleted_at_most_hourly(f: &Fixture) {
    let state = &f.srv.state;
    let run = || updraft_server::scheduler::run_once(state, true).unwrap();
    f.create_target("old");
    run();
    state.clock.advance(23 * 3_600_000 + 50 * 60_000);
    run();
    assert_eq!(count(f, "object=old"), 1, "not a day old yet");
    // A day and 10 minutes old, but the last cleanup was 20 minutes ago: it waits.
    state.clock.advance(20 * 60_000);
    f.create_target("new");
    run();
    assert_eq!(count(f, "object=old"), 1);
    state.clock.advance(50 * 60_000);
    run();
    assert_eq!(count(f, "object=old"), 0);
    assert_eq!(count(f, "object=new"), 1);
}

fn users_get_role_presets_and_permission_checkboxes(f: &Fixture) {
    let admin = ui_login(f);
    let html = ui_page(f, &admin, "/ui/settings");
    for want in [
        "Release manager",
        "name=\"perm\" value=\"APPROVE_ROLLOUT\"",
        "name=\"role\"",
    ] {
        assert!(html.contains(want), "{want} missing");
    }
    let (s, _, body) = ui_form_notice(
        f,
        &admin,
        "/ui/settings/users",
        &[
            ("username", "rm"),
            ("password", "release manager pw"),
            ("tenant", "default"),
            ("role", "release_manager"),
        ],
    );
    assert_eq!(s, 303, "{body}");
    let perms = |name: &str| -> Vec<String> {
        let (_, all) = f.get("/rest/v1/users");
        let u = all
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()
            .clone();
        serde_json::from_value(u["permissions"].clone()).unwrap()
    };
    let rm = perms("rm");
    assert!(rm.contains(&"APPROVE_ROLLOUT".to_owned()) && rm.contains(&"CREATE_DISTRIBUTION_SET".to_owned()));
    assert!(!rm.contains(&"SYSTEM_ADMIN".to_owned()) && !rm.contains(&"DELETE_TARGET".to_owned()));
    let edit = ui_page(f, &admin, "/ui/settings/users/rm");
    assert!(
        edit.contains("<option value=\"release_manager\" selected>"),
        "{edit}"
    );

    let (s, _, _) = ui_form_notice(
        f,
        &admin,
        "/ui/settings/users/rm",
        &[
            ("role", "custom"),
            ("perm", "READ_TARGET"),
            ("perm", "UPDATE_TARGET"),
        ],
    );
    assert_eq!(s, 303);
    let rm = perms("rm");
    assert!(
        rm.contains(&"UPDATE_TARGET".to_owned()) && !rm.contains(&"APPROVE_ROLLOUT".to_owned()),
        "{rm:?}"
    );
    let edit = ui_page(f, &admin, "/ui/settings/users/rm");
    assert!(
        edit.contains("value=\"UPDATE_TARGET\" checked") && !edit.contains("value=\"DELETE_TARGET\" checked")
    );

    let (s, _, body) = ui_form_notice(f, &admin, "/ui/settings/users/rm", &[("role", "custom")]);
    assert_eq!(s, 400);
    assert!(
        body.contains("Tick at least one permission, or choose a role other than Custom."),
        "{body}"
    );
    let (s, _, body) = ui_form_notice(f, &admin, "/ui/settings/users/admin", &[("role", "viewer")]);
    assert_eq!(s, 400, "the last SYSTEM_ADMIN keeps it");
    assert!(body.contains("last user with SYSTEM_ADMIN"), "{body}");

    // A user without SYSTEM_ADMIN is refused, and changes nothing.
    let rm_session = ui_login_as(f, "rm", "release manager pw");
    let (s, _, _) = ui_form_notice(f, &rm_session, "/ui/settings/users/rm", &[("role", "admin")]);
    assert_eq!(s, 403);
    assert!(!perms("rm").contains(&"SYSTEM_ADMIN".to_owned()));
    assert_eq!(ui_get(f, &rm_session, "/ui/settings/users/rm").0, 403);
}

fn config_value(f: &Fixture, key: &str) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/system/configs/{key}"));
    assert_eq!(s, 200, "{v}");
    v["value"].clone()
}

fn settings_take_units_and_refuse_bad_values_with_a_sentence(f: &Fixture) {
    let admin = ui_login(f);
    let html = ui_page(f, &admin, "/ui/settings");
    assert!(html.contains("Polling interval") && html.contains("Kept for hawkBit clients"));
    assert!(
        !html.contains("multi.assignments.enabled"),
        "no switch for multi-assignment"
    );

    let (s, _, body) = ui_form_notice(
        f,
        &admin,
        "/ui/settings/config",
        &[
            ("action.cleanup.auto.expiry.amount", "30"),
            ("action.cleanup.auto.expiry.unit", "days"),
            ("pollingTime.amount", "2"),
            ("pollingTime.unit", "minutes"),
            ("maintenanceWindowPollCount", "5"),
            ("rollout.approval.enabled", "true"),
        ],
    );
    assert_eq!(s, 303, "{body}");
    assert_eq!(
        config_value(f, "action.cleanup.auto.expiry"),
        json!(2_592_000_000_i64)
    );
    assert_eq!(config_value(f, "pollingTime"), "00:02:00");
    assert_eq!(config_value(f, "maintenanceWindowPollCount"), json!(5));
    assert_eq!(config_value(f, "rollout.approval.enabled"), json!(true));
    // The page shows them back in their units.
    let html = ui_page(f, &admin, "/ui/settings");
    assert!(
        html.contains("name=\"action.cleanup.auto.expiry.amount\" value=\"30\""),
        "{html}"
    );
    assert!(html.contains("<option value=\"days\" selected>days</option>"));
    assert!(html.contains("name=\"pollingTime.amount\" value=\"2\""));

    // Empty means never.
    let (s, _, _) = ui_form_notice(
        f,
        &admin,
        "/ui/settings/config",
        &[
            ("action.cleanup.auto.expiry.amount", ""),
            ("action.cleanup.auto.expiry.unit", "days"),
        ],
    );
    assert_eq!(s, 303);
    assert_eq!(config_value(f, "action.cleanup.auto.expiry"), json!(-1));

    for (form, sentence) in [
        (
            vec![
                ("pollingOverdueTime.amount", "soon"),
                ("pollingOverdueTime.unit", "minutes"),
            ],
            "Overdue after must be a whole number of seconds, minutes, hours (you entered “soon”).",
        ),
        (
            vec![("pollingTime.amount", "0"), ("pollingTime.unit", "minutes")],
            "Polling interval must be more than zero.",
        ),
        (
            vec![("maintenanceWindowPollCount", "-3")],
            "Polls per maintenance window must be a whole number of polls, 0 or more (you entered “-3”).",
        ),
        (
            vec![("pollingTime.amount", "2"), ("pollingTime.unit", "weeks")],
            "Polling interval needs a unit: seconds, minutes, hours.",
        ),
    ] {
        let (s, _, body) = ui_form_notice(f, &admin, "/ui/settings/config", &form);
        assert_eq!(s, 400, "{form:?}");
        assert!(body.contains(sentence), "{sentence} not in {body}");
    }
    assert_eq!(
        config_value(f, "pollingTime"),
        "00:02:00",
        "a refused form changes nothing"
    );

    // Saving the page unchanged changes nothing and records nothing.
    let before = count(f, "action=setting_change");
    let (s, notice, _) = ui_form_notice(
        f,
        &admin,
        "/ui/settings/config",
        &[("pollingTime.amount", "2"), ("pollingTime.unit", "minutes")],
    );
    assert_eq!((s, notice.as_str()), (303, "Saved 0 changed setting(s)."));
    assert_eq!(
        count(f, "action=setting_change"),
        before,
        "{:#}",
        log(f, "action=setting_change")
    );
}

backend_tests!(
    management_api_writes_are_audited,
    console_writes_and_logins_are_audited,
    the_audit_log_filters_pages_and_needs_permission,
    users_get_role_presets_and_permission_checkboxes,
    settings_take_units_and_refuse_bad_values_with_a_sentence,
);

mod retention {
    use super::*;
    fn tweak(c: &mut updraft_server::config::Config) {
        c.audit_retention_days = 1;
        c.scheduler_interval_ms = 0;
    }
    backend_tests!(@tweak super::tweak; old_entries_are_deleted_at_most_hourly);
}

/// `ui-tests/audit.mjs` in headless Chromium: a user from a preset, narrowed with the checkboxes, a
/// setting in minutes, and all of it in the filtered audit log; desktop and 390 px phone
/// screenshots.
#[test]
fn browser_finds_user_and_setting_changes_in_the_audit_log() {
    if !support::browser::available() {
        return;
    }
    let f = Fixture::sqlite();
    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-audit-screenshots"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&shots);
    support::browser::run(
        "audit.mjs",
        &[
            ("UPDRAFT_URL", &f.srv.url),
            ("ADMIN_USER", &f.srv.admin_user),
            ("ADMIN_PASSWORD", &f.srv.admin_password),
            ("SCREENSHOT_DIR", shots.to_str().unwrap()),
        ],
    );
    for name in ["settings-desktop", "audit-desktop"] {
        support::browser::assert_screenshot(&shots, name);
    }
    let phone = std::fs::read(shots.join("audit-phone.png")).unwrap();
    assert_eq!(support::browser::png_size(&phone).0, 390);
    // What the browser did is in the database, not only on the page.
    let (_, users) = f.get("/rest/v1/users");
    let op = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "browser-op")
        .unwrap();
    let perms = op["permissions"].to_string();
    assert!(
        perms.contains("UPDATE_TARGET") && !perms.contains("DELETE_TARGET"),
        "{perms}"
    );
    assert_eq!(config_value(&f, "pollingOverdueTime"), "00:10:00");
}
