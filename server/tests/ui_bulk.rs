//! The console's device list and failures page over HTTP, on both databases: bulk assign, tag,
//! untag, cancel and delete on checked devices or on all devices matching a filter, with the
//! Management API's permissions and a confirmation before deleting; sorting, paging and the choice
//! of columns; failures grouped by message, set and rollout, and the retry of a group.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::{Value, json};
use support::{Fixture, browser, controller_ids, ui_form_notice, ui_get, ui_login, ui_login_as};

fn targets(f: &Fixture, cids: &[&str]) {
    let body: Vec<Value> = cids
        .iter()
        .map(|c| json!({ "controllerId": c, "name": format!("name of {c}") }))
        .collect();
    let (s, b) = f.post("/rest/v1/targets", json!(body));
    assert_eq!(s, 201, "{b}");
}

fn tag(f: &Fixture, name: &str) -> i64 {
    let (s, v) = f.post("/rest/v1/targettags", json!([{ "name": name }]));
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

fn tagged(f: &Fixture, tag: i64) -> Vec<String> {
    let (s, v) = f.get(&format!("/rest/v1/targettags/{tag}/assigned?limit=100"));
    assert_eq!(s, 200, "{v}");
    let mut ids = controller_ids(&v);
    ids.sort();
    ids
}

fn assigned_ds(f: &Fixture, cid: &str) -> Option<i64> {
    let (_, v) = f.get(&format!("/rest/v1/targets/{cid}/assignedDS"));
    v["id"].as_i64()
}

/// Index of each controller id's link in a page, in the order given; panics when one is missing.
fn positions(page: &str, cids: &[&str]) -> Vec<usize> {
    cids.iter()
        .map(|c| {
            page.find(&format!("href=\"/ui/devices/{c}\""))
                .unwrap_or_else(|| panic!("{c} not on the page"))
        })
        .collect()
}

fn bulk_actions_change_the_checked_devices(f: &Fixture) {
    targets(f, &["dev-a", "dev-b", "dev-c"]);
    let (_, ds) = f.distribution_set("os", "os.bin", b"image");
    let lab = tag(f, "lab");
    let session = ui_login(f);
    let (s, page) = ui_get(f, &session, "/ui/devices");
    assert_eq!(s, 200);
    assert!(
        page.contains("action=\"/ui/devices/bulk\"") && page.contains("All 3 devices matching the filter"),
        "{page}"
    );
    let ds = ds.to_string();
    let assign = |cids: &[&'static str]| {
        let mut form = vec![("op", "assign"), ("ds", ds.as_str()), ("action_type", "soft")];
        form.extend(cids.iter().map(|c| ("cid", *c)));
        ui_form_notice(f, &session, "/ui/devices/bulk", &form)
    };
    let (s, notice, _) = assign(&["dev-a", "dev-b"]);
    assert_eq!(
        (s, notice.as_str()),
        (303, "Assigned the set to 2 of 2 selected devices.")
    );
    assert_eq!(assigned_ds(f, "dev-a"), Some(ds.parse().unwrap()));
    assert_eq!(assigned_ds(f, "dev-c"), None);
    let (_, notice, _) = assign(&["dev-a", "dev-b", "dev-c"]);
    assert_eq!(
        notice,
        "Assigned the set to 1 of 3 selected devices; 2 had it assigned already."
    );

    let lab_id = lab.to_string();
    let (s, notice, _) = ui_form_notice(
        f,
        &session,
        "/ui/devices/bulk",
        &[
            ("op", "tag"),
            ("tag_id", &lab_id),
            ("cid", "dev-a"),
            ("cid", "dev-c"),
        ],
    );
    assert_eq!((s, notice.as_str()), (303, "Tagged 2 of 2 selected devices."));
    assert_eq!(tagged(f, lab), ["dev-a", "dev-c"]);
    let (_, notice, _) = ui_form_notice(
        f,
        &session,
        "/ui/devices/bulk",
        &[
            ("op", "untag"),
            ("tag_id", &lab_id),
            ("cid", "dev-a"),
            ("cid", "dev-b"),
        ],
    );
    assert_eq!(
        notice,
        "Untagged 1 of 2 selected devices; 1 did not have the tag."
    );
    assert_eq!(tagged(f, lab), ["dev-c"]);

    let (s, notice, _) = ui_form_notice(
        f,
        &session,
        "/ui/devices/bulk",
        &[("op", "cancel"), ("cid", "dev-a"), ("cid", "dev-b")],
    );
    assert_eq!(
        (s, notice.as_str()),
        (
            303,
            "Requested the cancelation of the active action of 2 of 2 selected devices."
        )
    );
    let (_, actions) = f.get("/rest/v1/targets/dev-a/actions");
    assert_eq!(actions["content"][0]["status"], "canceling", "{actions}");
    // Nothing checked is a clear error, not a silent no-op.
    let (s, _, page) = ui_form_notice(f, &session, "/ui/devices/bulk", &[("op", "cancel")]);
    assert_eq!(s, 400);
    assert!(page.contains("No device is selected"), "{page}");
}

fn all_matching_the_filter_acts_on_every_match(f: &Fixture) {
    targets(f, &["lab-1", "lab-2", "lab-3", "prod-1", "prod-2"]);
    let lab = tag(f, "lab");
    let session = ui_login(f);
    let (_, page) = ui_get(f, &session, "/ui/devices?q=controllerId%3D%3Dlab-*");
    assert!(page.contains("All 3 devices matching the filter"), "{page}");
    // Only one device is checked, but the scope is the whole filter (which spans pages too).
    let lab_id = lab.to_string();
    let (s, notice, _) = ui_form_notice(
        f,
        &session,
        "/ui/devices/bulk",
        &[
            ("q", "controllerId==lab-*"),
            ("scope", "all"),
            ("op", "tag"),
            ("tag_id", &lab_id),
            ("cid", "lab-1"),
        ],
    );
    assert_eq!((s, notice.as_str()), (303, "Tagged 3 of 3 selected devices."));
    assert_eq!(tagged(f, lab), ["lab-1", "lab-2", "lab-3"]);
    // A filter that does not parse acts on nothing.
    let (s, _, page) = ui_form_notice(
        f,
        &session,
        "/ui/devices/bulk",
        &[
            ("q", "nosuchfield==1"),
            ("scope", "all"),
            ("op", "untag"),
            ("tag_id", &lab_id),
        ],
    );
    assert_eq!(s, 400, "{page}");
    assert_eq!(tagged(f, lab).len(), 3);
}

fn delete_needs_confirmation(f: &Fixture) {
    targets(f, &["old-1", "old-2", "keep"]);
    let session = ui_login(f);
    let form = [("op", "delete"), ("cid", "old-1"), ("cid", "old-2")];
    let (s, _, page) = ui_form_notice(f, &session, "/ui/devices/bulk", &form);
    assert_eq!(s, 200);
    assert!(
        page.contains("Delete 2 devices") && page.contains("name=\"confirm\" value=\"yes\""),
        "{page}"
    );
    assert_eq!(
        f.get("/rest/v1/targets/old-1").0,
        200,
        "not deleted before confirming"
    );
    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "yes"));
    let (s, notice, _) = ui_form_notice(f, &session, "/ui/devices/bulk", &confirmed);
    assert_eq!((s, notice.as_str()), (303, "Deleted 2 devices."));
    assert_eq!(f.get("/rest/v1/targets/old-1").0, 404);
    assert_eq!(f.get("/rest/v1/targets/old-2").0, 404);
    assert_eq!(f.get("/rest/v1/targets/keep").0, 200);
}

fn read_only_user_is_refused(f: &Fixture) {
    targets(f, &["ro-1"]);
    let lab = tag(f, "lab").to_string();
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": "viewer", "password": "viewer-password", "permissions": ["READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{b}");
    let session = ui_login_as(f, "viewer", "viewer-password");
    let (s, page) = ui_get(f, &session, "/ui/devices");
    assert_eq!(s, 200);
    assert!(
        !page.contains("/ui/devices/bulk") && !page.contains("name=\"cid\""),
        "{page}"
    );
    for (op, permission) in [
        ("assign", "UPDATE_TARGET"),
        ("tag", "UPDATE_TARGET"),
        ("cancel", "UPDATE_TARGET"),
        ("delete", "DELETE_TARGET"),
    ] {
        let (s, _, page) = ui_form_notice(
            f,
            &session,
            "/ui/devices/bulk",
            &[
                ("op", op),
                ("cid", "ro-1"),
                ("ds", "1"),
                ("tag_id", &lab),
                ("confirm", "yes"),
            ],
        );
        assert_eq!(s, 403, "{op}: {page}");
        assert!(page.contains(permission), "{op}: {page}");
    }
    assert_eq!(f.get("/rest/v1/targets/ro-1").0, 200);
    let (s, _, _) = ui_form_notice(
        f,
        &session,
        "/ui/failures/retry",
        &[("by", "rollout"), ("key", "")],
    );
    assert_eq!(s, 403);
}

fn sorting_paging_and_columns(f: &Fixture) {
    // 60 devices: controller ids ascend while names descend.
    let body: Vec<Value> = (0..60)
        .map(|i| json!({ "controllerId": format!("d{i:02}"), "name": format!("n{:02}", 59 - i), "address": format!("10.0.0.{i}") }))
        .collect();
    let (s, b) = f.post("/rest/v1/targets", json!(body));
    assert_eq!(s, 201, "{b}");
    let session = ui_login(f);
    let (_, page) = ui_get(f, &session, "/ui/devices");
    let p = positions(&page, &["d00", "d01"]);
    assert!(
        p[0] < p[1] && !page.contains("/ui/devices/d50\""),
        "first page by controller id"
    );
    assert!(page.contains("Page 1 of 2"), "{page}");
    let (_, page) = ui_get(f, &session, "/ui/devices?sort=name");
    let p = positions(&page, &["d59", "d58", "d10"]);
    assert!(p[0] < p[1] && p[1] < p[2], "by name ascending");
    assert!(page.contains("aria-sort=\"ascending\""), "{page}");
    // The name header now offers the descending sort.
    assert!(page.contains("href=\"?sort=%2Dname&amp;\""), "{page}");
    let (_, page) = ui_get(f, &session, "/ui/devices?sort=-name");
    let p = positions(&page, &["d00", "d01"]);
    assert!(p[0] < p[1]);
    // Jump to page 2 of the descending sort: the last ten.
    let (_, page) = ui_get(f, &session, "/ui/devices?sort=-name&page=2");
    assert!(page.contains("Page 2 of 2"), "{page}");
    let p = positions(&page, &["d50", "d59"]);
    assert!(p[0] < p[1] && !page.contains("/ui/devices/d00\""));
    // Every sortable column sorts, with a filter too.
    for sort in ["lastpoll", "-lastpoll", "installed", "-assigned", "type", "-type"] {
        let (s, page) = ui_get(f, &session, &format!("/ui/devices?q=name%3D%3Dn0*&sort={sort}"));
        assert_eq!(s, 200, "{sort}");
        assert!(page.contains("10 devices match"), "{sort}: {page}");
    }
    // Columns: chosen in the query, kept in a cookie.
    let res = browser()
        .get(f.url("/ui/devices?cols=1&col=ip&col=tag"))
        .header("cookie", &session)
        .send()
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("updraft_columns=tag.ip;"), "{cookie}");
    let page = res.text().unwrap();
    assert!(
        page.contains("10.0.0.7") && !page.contains(">Installed<"),
        "{page}"
    );
    let kept = format!("{session}; {}", cookie.split(';').next().unwrap());
    let (_, page) = ui_get(f, &kept, "/ui/devices");
    assert!(
        page.contains(">IP address<") && page.contains("10.0.0.7"),
        "{page}"
    );
    assert!(!page.contains(">Last poll<"), "{page}");
}

/// Makes `cid`'s action fail with `detail` as the device's last feedback message.
fn fail(f: &Fixture, cid: &str, action: i64, detail: &str) {
    let (s, v) = f.feedback_with(cid, action, "closed", "failure", &["downloading", detail]);
    assert_eq!(s, 200, "{v}");
}

fn failures_are_grouped_and_retried(f: &Fixture) {
    targets(f, &["f1", "f2", "f3", "f4", "ok"]);
    let (_, ds1) = f.distribution_set("os", "os.bin", b"image");
    let (_, ds2) = f.distribution_set("app", "app.bin", b"app");
    for (cid, ds, detail) in [
        ("f1", ds1, "  disk full "),
        ("f2", ds1, "disk full"),
        ("f3", ds1, "checksum mismatch"),
        ("f4", ds2, "checksum mismatch"),
    ] {
        let action = f.assign(ds, cid, json!({}));
        fail(f, cid, action, detail);
    }
    f.assign(ds1, "ok", json!({}));
    let session = ui_login(f);
    let (s, page) = ui_get(f, &session, "/ui/failures");
    assert_eq!(s, 200);
    assert!(page.contains("href=\"/ui/failures\""), "in the navigation");
    assert!(
        page.contains("4 devices failed their latest deployment"),
        "{page}"
    );
    // Messages are trimmed before grouping.
    assert!(
        page.contains(
            "<td>disk full</td><td><a href=\"/ui/failures/devices?by=message&amp;key=disk%20full\">2</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<td>os:1.0</td><td><a href=\"/ui/failures/devices?by=set&amp;key={ds1}\">3</a>"
        )),
        "{page}"
    );
    assert!(
        page.contains(
            "<td>(assigned directly)</td><td><a href=\"/ui/failures/devices?by=rollout&amp;key=\">4</a>"
        ),
        "{page}"
    );
    let (s, page) = ui_get(
        f,
        &session,
        "/ui/failures/devices?by=message&key=checksum%20mismatch",
    );
    assert_eq!(s, 200);
    assert!(page.contains("2 devices"), "{page}");
    positions(&page, &["f3", "f4"]);
    assert!(!page.contains("/ui/devices/f1\""), "{page}");

    let (s, notice, _) = ui_form_notice(
        f,
        &session,
        "/ui/failures/retry",
        &[("by", "set"), ("key", &ds1.to_string())],
    );
    assert_eq!((s, notice.as_str()), (303, "Re-assigned 3 of 3 failed devices."));
    for cid in ["f1", "f2", "f3"] {
        assert_eq!(assigned_ds(f, cid), Some(ds1), "{cid}");
        assert_eq!(f.target(cid)["updateStatus"], "pending", "{cid}");
    }
    assert_eq!(f.target("f4")["updateStatus"], "error");
    let (_, page) = ui_get(f, &session, "/ui/failures");
    assert!(
        page.contains("1 devices failed their latest deployment"),
        "{page}"
    );
    // Retrying a group that has no failed device left says so.
    let (s, _, page) = ui_form_notice(
        f,
        &session,
        "/ui/failures/retry",
        &[("by", "set"), ("key", &ds1.to_string())],
    );
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("nothing to retry"), "{page}");
}

backend_tests!(
    bulk_actions_change_the_checked_devices,
    all_matching_the_filter_acts_on_every_match,
    delete_needs_confirmation,
    read_only_user_is_refused,
    sorting_paging_and_columns,
    failures_are_grouped_and_retried,
);
