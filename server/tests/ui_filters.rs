//! Saved target filters and the full rollout form in the console over HTTP (issue 19, item 5), on
//! both databases: filters are saved (also from the device list's query), renamed, changed and
//! deleted with the Management API's messages shown at their field; an auto-assignment set on the
//! Filters page reaches a polling device; the rollout form creates explicit groups with their own
//! filter and percentage, a start time, confirmation and dynamic groups; a finished rollout's
//! failed devices are retried from its page. Nothing sleeps: the scheduler runs by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Fixture, ui_form, ui_get, ui_login, ui_page};

backend_tests!(
    saved_filters_are_created_changed_and_deleted_with_the_apis_messages,
    an_auto_assignment_set_on_the_filters_page_reaches_a_polling_device,
    the_rollout_form_creates_explicit_groups_a_start_time_confirmation_and_dynamic_groups,
    failed_devices_of_a_finished_rollout_are_retried_from_its_page,
);

fn targets(f: &Fixture, cids: &[&str]) {
    let body: Vec<Value> = cids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, b) = f.post("/rest/v1/targets", json!(body));
    assert_eq!(s, 201, "{b}");
}

/// Text as maud escapes it in a page.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The id at the end of a redirect to `/ui/<what>/{id}?notice=…`.
fn id_in(location: &str, prefix: &str) -> i64 {
    location
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("not {prefix}…: {location}"))
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The message the Management API gives for a filter body it refuses.
fn api_refusal(f: &Fixture, body: Value) -> String {
    let (s, v) = f.post("/rest/v1/targetfilters", body);
    assert_eq!(s, 400, "{v}");
    v["message"].as_str().unwrap().to_owned()
}

/// Runs scheduler rounds (writing batched polls first) until `done` holds; 30 s at most.
fn sweep_until(f: &Fixture, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        f.srv.state.polls.flush(&f.srv.state.db).unwrap();
        updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
        if done() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn saved_filters_are_created_changed_and_deleted_with_the_apis_messages(f: &Fixture) {
    targets(f, &["lab-1", "lab-2", "field-1"]);
    let cookie = ui_login(f);
    // The device list offers to save its query; the link prefills the Filters page's form.
    let devices = ui_page(f, &cookie, "/ui/devices?q=controllerId%3D%3Dlab-*");
    let link = "/ui/filters?q=controllerId%3D%3Dlab%2D%2A#new";
    assert!(devices.contains(&format!("href=\"{link}\"")), "{devices}");
    let prefilled = ui_page(f, &cookie, link.trim_end_matches("#new"));
    assert!(
        prefilled.contains("<h1>Target filters</h1>") && prefilled.contains("value=\"controllerId==lab-*\""),
        "{prefilled}"
    );

    // Refusals are the Management API's sentences, next to the field they are about.
    let (s, _, page) = ui_form(f, &cookie, "/ui/filters", &[("name", "labs"), ("q", "nme==x")]);
    assert_eq!(s, 400, "{page}");
    let api = api_refusal(f, json!({ "name": "labs", "query": "nme==x" }));
    assert!(
        page.contains(&format!("id=\"f-q-error\" role=\"alert\">{}", escaped(&api))),
        "{api} at the query: {page}"
    );
    assert!(page.contains("value=\"nme==x\""), "the form as typed: {page}");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/filters",
        &[("name", " "), ("q", "controllerId==lab-*")],
    );
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("id=\"f-name-error\" role=\"alert\">name must not be empty.</p>"),
        "{page}"
    );

    let (s, location, _) = ui_form(
        f,
        &cookie,
        "/ui/filters",
        &[("name", "labs"), ("q", "controllerId==lab-*")],
    );
    assert_eq!(s, 303);
    let id = id_in(&location, "/ui/filters/");
    let (_, v) = f.get(&format!("/rest/v1/targetfilters/{id}"));
    assert_eq!(
        (&v["name"], &v["query"]),
        (&json!("labs"), &json!("controllerId==lab-*")),
        "{v}"
    );
    let list = ui_page(f, &cookie, "/ui/filters");
    assert!(
        list.contains(&format!("href=\"/ui/filters/{id}\">labs</a>"))
            && list.contains("href=\"/ui/devices?q=controllerId%3D%3Dlab%2D%2A\">2 devices</a>"),
        "the count links to the devices it matches: {list}"
    );
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/filters",
        &[("name", "labs"), ("q", "controllerId==field-*")],
    );
    assert_eq!(s, 409, "{page}");
    assert!(
        page.contains("id=\"f-name-error\"") && page.contains("already exists"),
        "{page}"
    );

    // Changing it: a bad query is refused at its field and nothing changes.
    let at = format!("/ui/filters/{id}");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        &at,
        &[("name", "labs"), ("q", "controllerId=in=(lab-1")],
    );
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("id=\"f-q-error\""), "{page}");
    let (s, _, _) = ui_form(
        f,
        &cookie,
        &at,
        &[("name", "lab one"), ("q", "controllerId==lab-1")],
    );
    assert_eq!(s, 303);
    let (_, v) = f.get(&format!("/rest/v1/targetfilters/{id}"));
    assert_eq!(
        (&v["name"], &v["query"]),
        (&json!("lab one"), &json!("controllerId==lab-1")),
        "{v}"
    );
    assert!(ui_page(f, &cookie, &at).contains(">1 devices</a>"));

    let (s, location, _) = ui_form(f, &cookie, &format!("{at}/delete"), &[]);
    assert_eq!((s, location.split('?').next().unwrap()), (303, "/ui/filters"));
    assert_eq!(f.get(&format!("/rest/v1/targetfilters/{id}")).0, 404);
    assert_eq!(ui_get(f, &cookie, &at).0, 404);
}

fn an_auto_assignment_set_on_the_filters_page_reaches_a_polling_device(f: &Fixture) {
    targets(f, &["auto-1", "other-1"]);
    let ds = f.distribution_set("auto", "auto.bin", b"firmware").1;
    let cookie = ui_login(f);
    let (s, location, _) = ui_form(
        f,
        &cookie,
        "/ui/filters",
        &[("name", "autos"), ("q", "controllerId==auto-*")],
    );
    assert_eq!(s, 303);
    let id = id_in(&location, "/ui/filters/");
    let set = format!("/ui/filters/{id}/auto-assign");
    let ds_s = ds.to_string();

    // The Management API's refusals, at their fields.
    let form = |w: &'static str, t: &'static str| {
        vec![
            ("ds", ds_s.clone()),
            ("action_type", t.to_owned()),
            ("weight", w.to_owned()),
            ("confirmation", "no".to_owned()),
        ]
    };
    let post = |form: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ui_form(f, &cookie, &set, &pairs)
    };
    let (s, _, page) = post(form("5000", "soft"));
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("id=\"a-weight-error\" role=\"alert\">weight must be between 0 and 1000.</p>"),
        "{page}"
    );
    let (s, _, page) = post(form("", "timeforced"));
    assert_eq!(s, 400, "{page}");
    let (_, api) = f.post(
        &format!("/rest/v1/targetfilters/{id}/autoAssignDS"),
        json!({ "id": ds, "type": "timeforced" }),
    );
    let api = api["message"].as_str().unwrap();
    assert!(
        page.contains(&format!(
            "id=\"a-type-error\" role=\"alert\">{}",
            escaped(api).replace('\'', "&#39;")
        )) || page.contains(&format!("id=\"a-type-error\" role=\"alert\">{}", escaped(api))),
        "{api}: {page}"
    );
    let (s, _, page) = post(vec![("ds", String::new()), ("action_type", "soft".into())]);
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("id=\"a-ds-error\""), "{page}");
    let (_, v) = f.get(&format!("/rest/v1/targetfilters/{id}"));
    assert!(v["autoAssignDistributionSet"].is_null(), "nothing was set: {v}");

    let (s, _, page) = post(form("600", "soft"));
    assert_eq!(s, 303, "{page}");
    let (_, v) = f.get(&format!("/rest/v1/targetfilters/{id}"));
    assert_eq!(
        (
            &v["autoAssignDistributionSet"],
            &v["autoAssignActionType"],
            &v["autoAssignWeight"],
            &v["confirmationRequired"]
        ),
        (&json!(ds), &json!("soft"), &json!(600), &json!(false)),
        "{v}"
    );
    let list = ui_page(f, &cookie, "/ui/filters");
    assert!(list.contains("auto:1.0 · soft · weight 600"), "{list}");

    // The scheduler assigns the set to the matching device, which sees it when it polls.
    sweep_until(f, "auto-1's deployment", || {
        f.poll("auto-1")["_links"]["deploymentBase"]["href"].is_string()
    });
    assert!(
        f.poll("other-1")["_links"]["deploymentBase"].is_null(),
        "only matching devices"
    );

    let (s, _, _) = ui_form(f, &cookie, &format!("/ui/filters/{id}/auto-assign/clear"), &[]);
    assert_eq!(s, 303);
    assert_eq!(f.get(&format!("/rest/v1/targetfilters/{id}/autoAssignDS")).0, 204);
    assert!(!ui_page(f, &cookie, &format!("/ui/filters/{id}")).contains("Stop auto-assignment"));
}

fn the_rollout_form_creates_explicit_groups_a_start_time_confirmation_and_dynamic_groups(f: &Fixture) {
    targets(f, &["east-1", "east-2", "west-1", "west-2"]);
    let ds = f.distribution_set("full", "full.bin", b"firmware").1.to_string();
    let (s, v) = f.post(
        "/rest/v1/targetfilters",
        json!({ "name": "regions", "query": "controllerId==*-*" }),
    );
    assert_eq!(s, 201, "{v}");
    let cookie = ui_login(f);
    let form_page = ui_page(f, &cookie, "/ui/rollouts/new");
    assert!(
        form_page.contains("<option value=\"controllerId==*-*\">regions (controllerId==*-*)</option>"),
        "the saved filters to pick from: {form_page}"
    );
    // hawkBit's defaults on a fresh form.
    for default in [
        "id=\"r-success\" name=\"success\" type=\"number\" min=\"0\" max=\"100\" value=\"50\"",
        "value=\"manual\" checked",
        "value=\"forced\" selected",
    ] {
        assert!(form_page.contains(default), "{default}: {form_page}");
    }

    // The no-JavaScript preview counts the picked filter and keeps the group rows.
    let (s, page) = ui_get(
        f,
        &cookie,
        &format!(
            "/ui/rollouts/new?name=x&ds={ds}&q=&saved=controllerId%3D%3D*-*&groups_mode=explicit&g_name=east&g_q=&g_pct=&g_success=&g_error=&preview=1"
        ),
    );
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("<strong>4</strong> devices match") && page.contains("value=\"east\""),
        "{page}"
    );

    let mut form = vec![
        ("name", "explicit"),
        ("ds", ds.as_str()),
        ("q", ""),
        ("saved", "controllerId==*-*"),
        ("action_type", "timeforced"),
        ("forcetime", ""),
        ("start", "at"),
        ("start_at", "2030-01-01T10:00"),
        ("confirmation", "1"),
        ("dynamic", "1"),
        ("dynamic_size", "10"),
        ("groups_mode", "explicit"),
        ("success", "50"),
        ("error", "50"),
        ("g_name", "east"),
        ("g_q", "controllerId==east-*"),
        ("g_pct", ""),
        ("g_success", ""),
        ("g_error", ""),
        ("g_name", "west"),
        ("g_q", "controllerId==west-*"),
        ("g_pct", "50"),
        ("g_success", "90"),
        ("g_error", ""),
        ("g_name", ""),
        ("g_q", ""),
        ("g_pct", ""),
        ("g_success", ""),
        ("g_error", ""),
    ];
    let (s, _, page) = ui_form(f, &cookie, "/ui/rollouts", &form);
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("A time-forced rollout needs the time its updates become forced."),
        "{page}"
    );
    assert!(
        page.contains("value=\"west\"") && page.contains("value=\"controllerId==*-*\""),
        "{page}"
    );
    form[16].1 = "abc";
    form[5].1 = "2030-01-02T00:00";
    let (s, _, page) = ui_form(f, &cookie, "/ui/rollouts", &form);
    assert_eq!(s, 400, "{page}");
    assert!(
        page.contains("The percentage of group 1 must be a number from 1 to 100."),
        "{page}"
    );
    form[16].1 = "";
    let (s, location, page) = ui_form(f, &cookie, "/ui/rollouts", &form);
    assert_eq!(s, 303, "{page}");
    let id = id_in(&location, "/ui/rollouts/");
    let (_, r) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(
        (
            &r["targetFilterQuery"],
            &r["type"],
            &r["forcetime"],
            &r["startAt"],
            &r["dynamic"]
        ),
        (
            &json!("controllerId==*-*"),
            &json!("timeforced"),
            &json!(1_893_542_400_000_i64),
            &json!(1_893_492_000_000_i64),
            &json!(true)
        ),
        "{r}"
    );
    let (_, groups) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups?limit=50"));
    let g = groups["content"].as_array().unwrap();
    let by_name = |n: &str| {
        g.iter()
            .find(|g| g["name"] == n)
            .unwrap_or_else(|| panic!("no group {n}: {groups}"))
    };
    let (east, west) = (by_name("east"), by_name("west"));
    assert_eq!(
        (
            &east["totalTargets"],
            &east["targetFilterQuery"],
            &east["confirmationRequired"]
        ),
        (&json!(2), &json!("controllerId==east-*"), &json!(true)),
        "{east}"
    );
    assert_eq!(
        (
            &west["totalTargets"],
            &west["targetPercentage"],
            &west["successCondition"]["expression"],
            &west["errorCondition"]["expression"]
        ),
        (&json!(1), &json!(50.0), &json!("90"), &json!("50")),
        "{west}"
    );
    let page = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
    assert!(
        page.contains("<dd>required</dd>") && page.contains("later matches join groups of 10"),
        "{page}"
    );

    // Counted groups, started now: the scheduler starts it without a Start button.
    let counted = [
        ("name", "counted"),
        ("ds", ds.as_str()),
        ("q", "controllerId==east-*"),
        ("action_type", "soft"),
        ("start", "now"),
        ("start_at", ""),
        ("groups_mode", "count"),
        ("groups", "2"),
        ("success", "100"),
        ("success_action", "PAUSE"),
        ("error", "20"),
    ];
    let (s, location, page) = ui_form(f, &cookie, "/ui/rollouts", &counted);
    assert_eq!(s, 303, "{page}");
    let id = id_in(&location, "/ui/rollouts/");
    let (_, groups) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups"));
    assert_eq!(groups["total"], 2, "{groups}");
    assert_eq!(
        (
            &groups["content"][0]["successAction"]["action"],
            &groups["content"][0]["errorCondition"]["expression"]
        ),
        (&json!("PAUSE"), &json!("20")),
        "{groups}"
    );
    sweep_until(f, "the rollout started now to run", || {
        f.get(&format!("/rest/v1/rollouts/{id}")).1["status"] == "running"
    });
}

/// A rollout `name` created in the UI over `cids`, started, and finished with the first device
/// updated and the others failed; with a check on the way that an unfinished rollout offers no retry.
fn finished_with_failures(f: &Fixture, cookie: &str, name: &str, prefix: &str, cids: &[&str]) -> i64 {
    let ds = f.distribution_set(name, "retry.bin", b"firmware").1.to_string();
    let q = format!("controllerId=={prefix}*");
    let form = [
        ("name", name),
        ("ds", ds.as_str()),
        ("q", q.as_str()),
        ("groups", "1"),
        ("success", "100"),
        ("error", "100"),
        ("start", "manual"),
    ];
    let (s, location, page) = ui_form(f, cookie, "/ui/rollouts", &form);
    assert_eq!(s, 303, "{page}");
    let id = id_in(&location, "/ui/rollouts/");
    // Not finished yet: no button, and a crafted post gets the API's refusal.
    assert!(!ui_page(f, cookie, &format!("/ui/rollouts/{id}")).contains("id=\"retry\""));
    let (s, _, page) = ui_form(f, cookie, &format!("/ui/rollouts/{id}/retry"), &[]);
    assert_eq!(s, 400, "{page}");
    let (s, _, _) = ui_form(f, cookie, &format!("/ui/rollouts/{id}/start"), &[]);
    assert_eq!(s, 303);
    for (i, cid) in cids.iter().enumerate() {
        let mut href = String::new();
        sweep_until(f, &format!("{cid}'s deployment"), || {
            f.poll(cid)["_links"]["deploymentBase"]["href"]
                .as_str()
                .unwrap_or_default()
                .clone_into(&mut href);
            !href.is_empty()
        });
        let action = support::action_id_of(&href);
        let result = if i == 0 { "success" } else { "failure" };
        assert_eq!(f.feedback(cid, action, "closed", result).0, 200);
    }
    sweep_until(f, "the rollout to finish", || {
        f.get(&format!("/rest/v1/rollouts/{id}")).1["status"] == "finished"
    });
    id
}

fn failed_devices_of_a_finished_rollout_are_retried_from_its_page(f: &Fixture) {
    targets(f, &["retry-1", "retry-2"]);
    let cookie = ui_login(f);
    let id = finished_with_failures(f, &cookie, "flaky", "retry-", &["retry-1", "retry-2"]);
    let page = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
    assert!(page.contains("Retry 1 failed devices"), "{page}");
    let (s, location, _) = ui_form(f, &cookie, &format!("/ui/rollouts/{id}/retry"), &[]);
    assert_eq!(s, 303);
    let retry = id_in(&location, "/ui/rollouts/");
    let (_, r) = f.get(&format!("/rest/v1/rollouts/{retry}"));
    assert_eq!(
        (&r["name"], &r["totalTargets"], &r["status"]),
        (&json!("flaky_retry"), &json!(1), &json!("ready")),
        "{r}"
    );
    let (_, t) = f.get(&format!("/rest/v1/rollouts/{retry}/deploygroups/{}/targets", {
        let (_, g) = f.get(&format!("/rest/v1/rollouts/{retry}/deploygroups"));
        g["content"][0]["id"].as_i64().unwrap()
    }));
    assert_eq!(support::controller_ids(&t), ["retry-2"], "{t}");
}

/// The Filters page and the full rollout form in headless Chromium (`ui-tests/filters.mjs`), with
/// desktop and phone screenshots.
#[test]
fn browser_saves_a_filter_and_fills_the_full_rollout_form() {
    if !support::browser::available() {
        return;
    }
    let f = Fixture::sqlite();
    targets(&f, &["fl-1", "fl-2", "fl-3", "done-1", "done-2"]);
    let cookie = ui_login(&f);
    let finished = finished_with_failures(&f, &cookie, "done", "done-", &["done-1", "done-2"]);
    f.distribution_set("fl", "fl.bin", b"firmware");
    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-filters-screenshots"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&shots);
    support::browser::run(
        "filters.mjs",
        &[
            ("UPDRAFT_URL", &f.srv.url),
            ("ADMIN_USER", &f.srv.admin_user),
            ("ADMIN_PASSWORD", &f.srv.admin_password),
            ("DS_LABEL", "fl:1.0"),
            ("FINISHED_ROLLOUT_ID", &finished.to_string()),
            ("SCREENSHOT_DIR", shots.to_str().unwrap()),
        ],
    );
    for name in [
        "filter-error",
        "filter",
        "filters",
        "rollout-form",
        "rollout-created",
        "rollout-retry",
    ] {
        support::browser::assert_screenshot(&shots, name);
    }
    for name in ["phone-filters", "phone-filter", "phone-rollout-form"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        let (w, h) = support::browser::png_size(&png);
        assert!(
            w == 390 && h >= 600 && png.len() > 8_000,
            "{name}: {w}x{h}, {} bytes",
            png.len()
        );
    }
    // What the script did, as the Management API sees it.
    let (_, filters) = f.get("/rest/v1/targetfilters?q=name==fleet-lab");
    let filter = &filters["content"][0];
    assert_eq!(
        (
            &filter["query"],
            &filter["autoAssignActionType"],
            &filter["autoAssignWeight"]
        ),
        (&json!("controllerId==fl-*"), &json!("soft"), &json!(500)),
        "{filters}"
    );
    let (_, rollouts) = f.get("/rest/v1/rollouts?q=name==fl-rollout");
    let r = &rollouts["content"][0];
    assert_eq!(
        (&r["targetFilterQuery"], &r["startAt"]),
        (&json!("controllerId==fl-*"), &json!(1_893_492_000_000_i64)),
        "{rollouts}"
    );
}
