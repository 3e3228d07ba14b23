//! The web UI's server side over HTTP: login and session cookie, CSRF refusal, permissions enforced
//! on POSTs, RSQL errors shown in the page, escaping, and error pages instead of blank answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::blocking::Response;
use serde_json::json;
use support::{Fixture, browser, ui_form, ui_get, ui_login_as};

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn post(f: &Fixture, cookie: &str, path: &str, origin: Option<&str>, form: &[(&str, &str)]) -> (u16, String) {
    let mut req = browser().post(f.url(path)).header("cookie", cookie).form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

fn admin(f: &Fixture) -> String {
    ui_login_as(f, &f.srv.admin_user, &f.srv.admin_password)
}

fn add_target(f: &Fixture, cid: &str, name: &str) {
    let (s, b) = f.post("/rest/v1/targets", json!([{ "controllerId": cid, "name": name }]));
    assert_eq!(s, 201, "{b}");
}

fn pages_need_a_login(f: &Fixture) {
    let res = browser().get(f.url("/ui/devices?q=x")).send().unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(header(&res, "location"), "/ui/login?next=%2Fui%2Fdevices%3Fq%3Dx");
    let res = browser().get(f.url("/")).send().unwrap();
    assert_eq!(header(&res, "location"), "/ui");
    let (s, page) = ui_get(f, "updraft_session=forged", "/ui/login");
    assert_eq!(s, 200);
    assert!(page.contains("<h1>Log in to Updraft</h1>"), "{page}");
    assert_eq!(ui_get(f, "updraft_session=forged", "/ui").0, 303);
}

fn session_cookie_is_httponly_strict_and_scoped(f: &Fixture) {
    let form = [
        ("username", f.srv.admin_user.as_str()),
        ("password", f.srv.admin_password.as_str()),
    ];
    let res = browser()
        .post(f.url("/ui/login"))
        .header("origin", &f.srv.url)
        .form(&form)
        .send()
        .unwrap();
    let cookie = header(&res, "set-cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // A client's own X-Forwarded-Proto changes nothing.
    let spoofed = browser()
        .post(f.url("/ui/login"))
        .header("origin", &f.srv.url)
        .header("x-forwarded-proto", "https")
        .form(&form)
        .send()
        .unwrap();
    assert!(!header(&spoofed, "set-cookie").contains("Secure"));
    // Behind a trusted TLS-terminating proxy the cookie is Secure.
    let proxied = f.sibling(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let form = [
        ("username", proxied.srv.admin_user.as_str()),
        ("password", proxied.srv.admin_password.as_str()),
    ];
    let res = browser()
        .post(proxied.url("/ui/login"))
        .header("origin", &proxied.srv.url)
        .header("x-forwarded-proto", "https")
        .form(&form)
        .send()
        .unwrap();
    assert!(header(&res, "set-cookie").contains("; Secure"));

    let res = browser()
        .post(f.url("/ui/login"))
        .header("origin", &f.srv.url)
        .form(&[("username", "admin"), ("password", "wrong")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(header(&res, "set-cookie").is_empty());
    assert!(res.text().unwrap().contains("Wrong username or password."));

    let session = cookie.split(';').next().unwrap();
    let (s, page) = ui_get(f, session, "/ui");
    assert_eq!(s, 200);
    assert!(page.contains("<h1>Overview</h1>"));
    assert_eq!(post(f, session, "/ui/logout", Some(&f.srv.url), &[]).0, 303);
    assert_eq!(ui_get(f, session, "/ui").0, 303, "logout ends the session");
}

fn cross_site_posts_are_refused(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let session = admin(f);
    let (s, page) = post(
        f,
        &session,
        "/ui/devices/dev1/delete",
        Some("http://evil.example"),
        &[],
    );
    assert_eq!(s, 403);
    assert!(page.contains("not sent from a page of this server"), "{page}");
    assert_eq!(post(f, &session, "/ui/devices/dev1/delete", None, &[]).0, 403);
    assert_eq!(f.get("/rest/v1/targets/dev1").0, 200, "the device is still there");
    let res = browser()
        .post(f.url("/ui/login"))
        .header("origin", "http://evil.example")
        .form(&[("username", "admin"), ("password", f.srv.admin_password.as_str())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    // From the server's own page the same POST works.
    let (s, _) = post(f, &session, "/ui/devices/dev1/delete", Some(&f.srv.url), &[]);
    assert_eq!(s, 303);
    assert_eq!(f.get("/rest/v1/targets/dev1").0, 404);
}

fn limited_user_sees_no_controls_and_is_refused(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": "viewer", "password": "viewer-password", "permissions": ["READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{b}");
    let session = ui_login_as(f, "viewer", "viewer-password");
    let (s, page) = ui_get(f, &session, "/ui/devices/dev1");
    assert_eq!(s, 200);
    assert!(page.contains("<h1>Device dev1</h1>"));
    for control in [
        ">Assign</button>",
        ">Delete device<",
        ">Add tag<",
        ">Cancel<",
        "/ui/settings",
        "/ui/software",
    ] {
        assert!(!page.contains(control), "{control} shown to a READ_TARGET user");
    }
    let (s, page) = post(f, &session, "/ui/devices/dev1/delete", Some(&f.srv.url), &[]);
    assert_eq!(s, 403);
    assert!(page.contains("DELETE_TARGET"), "{page}");
    // The refusal is a page inside the user's own navigation.
    assert!(
        page.contains(">Log out<") && page.contains("href=\"/ui/devices\""),
        "{page}"
    );
    assert_eq!(f.get("/rest/v1/targets/dev1").0, 200);
    let (s, _) = post(
        f,
        &session,
        "/ui/settings/config",
        Some(&f.srv.url),
        &[("pollingTime", "00:00:30")],
    );
    assert_eq!(s, 403);
    assert_eq!(ui_get(f, &session, "/ui/settings").0, 403);
}

fn rsql_errors_show_in_the_list(f: &Fixture) {
    add_target(f, "dev1", "gateway one");
    add_target(f, "dev2", "sensor");
    let session = admin(f);
    let (s, page) = ui_get(f, &session, "/ui/devices?q=nme%3D%3Dx");
    assert_eq!(s, 400);
    assert!(
        page.contains("<h1>Devices</h1>"),
        "the list page, not an error page"
    );
    assert!(
        page.contains("Unknown field &#39;nme&#39;") || page.contains("Unknown field 'nme'"),
        "{page}"
    );
    assert!(page.contains("aria-invalid=\"true\""));
    let (s, page) = ui_get(f, &session, "/ui/devices?q=name%3D%3D*gate*");
    assert_eq!(s, 200);
    assert!(page.contains("1 devices match"), "{page}");
    assert!(page.contains("/ui/devices/dev1") && !page.contains("/ui/devices/dev2"));
}

fn device_list_pages(f: &Fixture) {
    let many: Vec<_> = (0..60)
        .map(|i| json!({ "controllerId": format!("d{i:03}") }))
        .collect();
    assert_eq!(f.post("/rest/v1/targets", json!(many)).0, 201);
    let session = admin(f);
    let (_, first) = ui_get(f, &session, "/ui/devices");
    assert!(
        first.contains("1–50 of 60") && first.contains("offset=50"),
        "{first}"
    );
    assert!(first.contains(">d049<") && !first.contains(">d050<"));
    let (_, second) = ui_get(f, &session, "/ui/devices?offset=50");
    assert!(second.contains(">d050<") && second.contains(">d059<") && !second.contains(">d049<"));
}

fn names_are_escaped(f: &Fixture) {
    add_target(f, "dev1", "<script>alert(1)</script>");
    let session = admin(f);
    for path in ["/ui/devices", "/ui/devices/dev1"] {
        let (_, page) = ui_get(f, &session, path);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}");
        assert!(!page.contains("<script>alert"), "{path}");
    }
}

fn errors_are_pages(f: &Fixture) {
    let session = admin(f);
    for (path, status, text) in [
        ("/ui/devices/missing", 404, "does not exist"),
        ("/ui/no-such-page", 404, "There is no such page."),
        ("/ui/software/notanumber", 404, "There is no such page."),
        (
            "/ui/devices?offset=x",
            400,
            "parameters of this address are not valid",
        ),
    ] {
        let res = browser()
            .get(f.url(path))
            .header("cookie", &session)
            .send()
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert!(header(&res, "content-type").starts_with("text/html"), "{path}");
        let page = res.text().unwrap();
        assert!(
            page.contains("role=\"alert\"") && page.contains(text),
            "{path}: {page}"
        );
    }
}

fn assets_are_versioned_and_cached(f: &Fixture) {
    let (_, page) = ui_get(f, "", "/ui/login");
    let href = page
        .split("href=\"/ui/assets/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let res = browser()
        .get(f.url(&format!("/ui/assets/{href}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "cache-control").contains("immutable"));
    assert!(header(&res, "content-type").starts_with("text/css"));
    assert_eq!(
        browser()
            .get(f.url("/ui/assets/app-old.css"))
            .send()
            .unwrap()
            .status(),
        404
    );
}

/// Without JavaScript: create a module, upload an artifact as a plain multipart form, create a set
/// with it (the repeated `module` field), assign it to a device and change a setting.
fn forms_work_without_javascript(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let session = admin(f);
    let origin = Some(f.srv.url.as_str());
    let module = [("name", "app"), ("version", "1.0"), ("type_key", "application")];
    let res = browser()
        .post(f.url("/ui/software"))
        .header("cookie", &session)
        .header("origin", &f.srv.url)
        .form(&module)
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let sm_page = header(&res, "location");
    let sm_id = sm_page
        .trim_start_matches("/ui/software/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let part = reqwest::blocking::multipart::Part::bytes(vec![5u8; 100_000]).file_name("app.bin");
    let res = browser()
        .post(f.url(&format!("/ui/software/{sm_id}/artifacts")))
        .header("cookie", &session)
        .header("origin", &f.srv.url)
        .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, page) = ui_get(f, &session, &format!("/ui/software/{sm_id}"));
    assert!(page.contains("app.bin") && page.contains("97.7 KiB"), "{page}");
    // The page's script asks for JSON and shows the API's message when an upload fails.
    let part = reqwest::blocking::multipart::Part::bytes(vec![1u8; 10]).file_name("app.bin");
    let res = browser()
        .post(f.url(&format!("/ui/software/{sm_id}/artifacts")))
        .header("cookie", &session)
        .header("origin", &f.srv.url)
        .header("accept", "application/json")
        .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
        .send()
        .unwrap();
    assert_eq!(res.status(), 409);
    let err: serde_json::Value = res.json().unwrap();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("already has an artifact named app.bin"),
        "{err}"
    );

    let (s, _) = post(
        f,
        &session,
        &format!("/ui/software/{sm_id}/metadata"),
        origin,
        &[("key", "channel"), ("value", "beta"), ("target_visible", "true")],
    );
    assert_eq!(s, 303);
    let (_, meta) = f.get(&format!("/rest/v1/softwaremodules/{sm_id}/metadata"));
    assert_eq!(meta["content"][0]["value"], "beta", "{meta}");
    assert_eq!(meta["content"][0]["targetVisible"], true, "{meta}");

    let body = format!("name=set&version=1.0&type_key=app&module={sm_id}");
    let res = browser()
        .post(f.url("/ui/distributions"))
        .header("cookie", &session)
        .header("origin", &f.srv.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let ds_id = header(&res, "location")
        .trim_start_matches("/ui/distributions/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, ds) = f.get(&format!("/rest/v1/distributionsets/{ds_id}"));
    assert_eq!(ds["modules"][0]["id"].to_string(), sm_id, "{ds}");

    let (s, _) = post(
        f,
        &session,
        "/ui/devices/dev1/assign",
        origin,
        &[("ds", &ds_id), ("action_type", "soft")],
    );
    assert_eq!(s, 303);
    let (_, t) = f.get("/rest/v1/targets/dev1/actions");
    assert_eq!(t["content"][0]["type"], "update", "{t}");
    assert_eq!(t["content"][0]["forceType"], "soft", "{t}");
    let (_, page) = ui_get(f, &session, "/ui/devices/dev1");
    assert!(
        page.contains("Assignment initiated by user &#39;admin&#39;")
            || page.contains("Assignment initiated by user 'admin'")
    );

    let (s, _) = post(
        f,
        &session,
        "/ui/settings/config",
        origin,
        &[("pollingTime", "00:02:00")],
    );
    assert_eq!(s, 303);
    assert_eq!(
        f.get("/rest/v1/system/configs/pollingTime").1["value"],
        "00:02:00"
    );
    let (s, page) = post(
        f,
        &session,
        "/ui/settings/config",
        origin,
        &[("pollingTime", "soon")],
    );
    assert_eq!(s, 400);
    assert!(
        page.contains("pollingTime") && page.contains("role=\"alert\""),
        "{page}"
    );
}

/// `/ui/controller/v1/...` is a DDI path of a tenant named `ui`: it reaches the device API exactly
/// as any other tenant's path does, not the UI.
fn ddi_paths_of_a_tenant_named_ui_reach_ddi(f: &Fixture) {
    let ddi = |path: &str| {
        let res = browser().get(f.url(path)).send().unwrap();
        (res.status().as_u16(), header(&res, "content-type"))
    };
    let (ui_status, ui_type) = ddi("/ui/controller/v1/dev1");
    let (other_status, other_type) = ddi("/NOSUCH/controller/v1/dev1");
    assert_eq!((ui_status, ui_type.as_str()), (other_status, other_type.as_str()));
    assert!(!ui_type.starts_with("text/html"), "{ui_type}");
    assert_ne!(ui_status, 303, "not sent to the login page");
}

fn sessions_expire_after_twelve_hours(f: &Fixture) {
    let session = admin(f);
    f.srv.state.clock.advance(11 * 3600 * 1000);
    assert_eq!(ui_get(f, &session, "/ui").0, 200);
    f.srv.state.clock.advance(2 * 3600 * 1000);
    assert_eq!(
        ui_get(f, &session, "/ui").0,
        303,
        "expired: back to the login page"
    );
}

fn users_see_only_their_tenant(f: &Fixture) {
    add_target(f, "dev1", "default device");
    assert_eq!(f.post("/rest/v1/tenants", json!({ "name": "ACME" })).0, 201);
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": "acme", "password": "acme-password", "tenant": "ACME", "permissions": ["TENANT_ADMIN"] }),
    );
    assert_eq!(s, 201, "{b}");
    let session = ui_login_as(f, "acme", "acme-password");
    let (s, page) = ui_get(f, &session, "/ui/devices");
    assert_eq!(s, 200);
    assert!(
        page.contains("0 devices match") && !page.contains("dev1"),
        "{page}"
    );
    assert_eq!(ui_get(f, &session, "/ui/devices/dev1").0, 404);
    let (s, _) = post(f, &session, "/ui/devices/dev1/delete", Some(&f.srv.url), &[]);
    assert_eq!(s, 404);
    assert_eq!(f.get("/rest/v1/targets/dev1").0, 200);
}

/// The `id` in a `/ui/rollouts/{id}?notice=...` redirect.
fn rollout_id_of(location: &str) -> i64 {
    location
        .trim_start_matches("/ui/rollouts/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn rollout_status(f: &Fixture, id: i64) -> String {
    let (s, r) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(s, 200, "{r}");
    r["status"].as_str().unwrap().to_owned()
}

fn api_rollout(f: &Fixture, name: &str, ds: i64, filter: &str) -> i64 {
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": name, "distributionSetId": ds, "targetFilterQuery": filter, "amountGroups": 1 }),
    );
    assert_eq!(s, 201, "{r}");
    r["id"].as_i64().unwrap()
}

/// Create (with the preview count and the form's errors), then start, pause and resume through the
/// forms; each step is checked in the Management API.
fn rollouts_are_created_and_driven_through_forms(f: &Fixture) {
    add_target(f, "lab1", "lab-1");
    add_target(f, "lab2", "lab-2");
    add_target(f, "office", "office");
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"firmware");
    let ds = ds.to_string();
    let session = admin(f);
    let (_, overview) = ui_get(f, &session, "/ui");
    assert!(overview.contains("href=\"/ui/rollouts\""), "Rollouts in the menu");

    // The preview: as a fragment for the script, and as the whole form for the Preview button.
    let (s, fragment) = ui_get(
        f,
        &session,
        &format!("/ui/rollouts/preview?q=name%3D%3Dlab*&ds={ds}"),
    );
    assert_eq!(s, 200);
    assert!(
        fragment.contains("<strong>2</strong> devices match"),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "a fragment: {fragment}");
    let (s, page) = ui_get(
        f,
        &session,
        &format!("/ui/rollouts/new?name=x&q=name%3D%3D*&ds={ds}&preview=1"),
    );
    assert_eq!(s, 200);
    assert!(
        page.contains("<h1>New rollout</h1>") && page.contains("<strong>3</strong> devices match"),
        "{page}"
    );
    assert!(page.contains("value=\"x\""), "the form keeps what was typed");
    // The preview counts no further than its cap plus one (it then says "more than"): here with
    // caps below and at the three matching devices.
    let ds_id: i64 = ds.parse().unwrap();
    for (at_most, counted) in [(1, 2), (2, 3), (3, 3), (10, 3)] {
        let n = f
            .srv
            .state
            .db
            .read_blocking(move |c: &mut updraft_server::store::AnyConnection| {
                updraft_server::store::rollouts::plan::count_matching(
                    c,
                    "DEFAULT",
                    "name==*",
                    Some(ds_id),
                    at_most,
                )
            })
            .unwrap();
        assert_eq!(n, counted, "at most {at_most}");
    }

    // A bad filter is shown at the field, by the preview and by the create form alike.
    let (s, fragment) = ui_get(f, &session, "/ui/rollouts/preview?q=nme%3D%3Dx");
    assert_eq!(s, 400);
    assert!(
        fragment.contains("Unknown field") && fragment.contains("role=\"alert\""),
        "{fragment}"
    );
    let (s, page) = ui_get(f, &session, "/ui/rollouts/new?q=nme%3D%3Dx&preview=1");
    assert_eq!(s, 400);
    assert!(
        page.contains("<h1>New rollout</h1>") && page.contains("Unknown field"),
        "{page}"
    );
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    let mut form = vec![
        ("name", "spring"),
        ("description", ""),
        ("ds", ds.as_str()),
        ("q", "nme==x"),
        ("groups", "2"),
        ("success", "50"),
        ("error", "20"),
        ("action_type", "soft"),
        ("start_at", ""),
    ];
    let (s, _, page) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 400);
    assert!(
        page.contains("Unknown field") && page.contains("aria-invalid=\"true\""),
        "{page}"
    );
    form[3].1 = "name==nobody";
    let (s, _, page) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 400);
    assert!(
        page.contains("<h1>New rollout</h1>"),
        "the form again, not a blank page"
    );
    assert!(page.contains("does not match any existing targets"), "{page}");
    assert!(page.contains("value=\"spring\""), "{page}");

    form[3].1 = "name==lab*";
    let (s, location, _) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 303);
    let id = rollout_id_of(&location);
    let (_, r) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(
        (&r["status"], &r["totalTargets"], &r["totalGroups"], &r["type"]),
        (&json!("ready"), &json!(2), &json!(2), &json!("soft")),
        "{r}"
    );
    let (_, groups) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups"));
    assert_eq!(
        groups["content"][0]["errorCondition"]["expression"], "20",
        "{groups}"
    );
    let (s, _, page) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 409);
    assert!(
        page.contains("already exists") && page.contains("<h1>New rollout</h1>"),
        "{page}"
    );
    // The optional start time is read as UTC.
    form[0].1 = "later";
    form[8].1 = "soon";
    let (s, _, page) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 400);
    assert!(
        page.contains("The start time &#39;soon&#39;") || page.contains("The start time 'soon'"),
        "{page}"
    );
    form[8].1 = "2030-01-01T10:00";
    let (s, location, _) = ui_form(f, &session, "/ui/rollouts", &form);
    assert_eq!(s, 303);
    let (_, later) = f.get(&format!("/rest/v1/rollouts/{}", rollout_id_of(&location)));
    assert_eq!(later["startAt"], 1_893_492_000_000_i64, "{later}");

    let (_, list) = ui_get(f, &session, "/ui/rollouts");
    assert!(
        list.contains(&format!("href=\"/ui/rollouts/{id}\"")) && list.contains(">spring<"),
        "{list}"
    );
    assert!(list.contains("2 not started"), "the progress: {list}");

    let page_of = || ui_get(f, &session, &format!("/ui/rollouts/{id}")).1;
    let page = page_of();
    assert!(
        page.contains("<h1>Rollout spring</h1>") && page.contains(">Start</button>"),
        "{page}"
    );
    assert!(
        !page.contains(">Pause</button>") && !page.contains("data-refresh"),
        "{page}"
    );
    let act = |op: &str| ui_form(f, &session, &format!("/ui/rollouts/{id}/{op}"), &[]);

    let (s, location, _) = act("start");
    assert_eq!(
        (s, location.split('?').next().unwrap()),
        (303, format!("/ui/rollouts/{id}").as_str())
    );
    assert_eq!(rollout_status(f, id), "running");
    let page = page_of();
    assert!(
        page.contains(">Pause</button>") && !page.contains(">Start</button>"),
        "{page}"
    );
    assert!(page.contains(">Start next group now</button>"), "{page}");
    assert!(
        page.contains("data-refresh=\"3\""),
        "a running rollout refreshes itself"
    );
    assert!(
        page.contains("s-running") && page.contains("s-scheduled"),
        "the groups: {page}"
    );
    assert!(page.contains("1 running, 1 scheduled"), "{page}");
    let (_, overview) = ui_get(f, &session, "/ui");
    assert!(
        overview.contains(&format!("href=\"/ui/rollouts/{id}\"")),
        "running rollouts on the overview"
    );

    assert_eq!(act("pause").0, 303);
    assert_eq!(rollout_status(f, id), "paused");
    assert!(page_of().contains(">Resume</button>"));
    let (s, _, page) = act("pause");
    assert_eq!(s, 400);
    assert!(
        page.contains("role=\"alert\"") && page.contains("cannot be paused"),
        "{page}"
    );
    assert_eq!(act("resume").0, 303);
    assert_eq!(rollout_status(f, id), "running");
    assert_eq!(act("no-such-op").0, 404);

    assert_eq!(act("delete").0, 303);
    let (_, list) = ui_get(f, &session, "/ui/rollouts");
    assert!(!list.contains(">spring<"), "deleted: {list}");
}

fn rollout_controls_need_their_permissions(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"firmware");
    let id = api_rollout(f, "plain", ds, "name==dev1");
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": "watcher", "password": "watcher-password", "permissions": ["READ_ROLLOUT", "READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{b}");
    let session = ui_login_as(f, "watcher", "watcher-password");
    let (s, page) = ui_get(f, &session, &format!("/ui/rollouts/{id}"));
    assert_eq!(s, 200);
    assert!(page.contains("<h1>Rollout plain</h1>"), "{page}");
    for control in [">Start</button>", ">Delete rollout<", "New rollout"] {
        assert!(!page.contains(control), "{control} shown without its permission");
    }
    assert!(!ui_get(f, &session, "/ui/rollouts").1.contains("New rollout"));
    let (s, page) = post(
        f,
        &session,
        &format!("/ui/rollouts/{id}/start"),
        Some(&f.srv.url),
        &[],
    );
    assert_eq!(s, 403);
    assert!(page.contains("HANDLE_ROLLOUT"), "{page}");
    let (s, _) = post(
        f,
        &session,
        &format!("/ui/rollouts/{id}/delete"),
        Some(&f.srv.url),
        &[],
    );
    assert_eq!(s, 403);
    assert_eq!(rollout_status(f, id), "ready", "nothing changed");
    assert_eq!(ui_get(f, &session, "/ui/rollouts/new").0, 403);
    assert_eq!(ui_get(f, &session, "/ui/rollouts/preview?q=name%3D%3D*").0, 403);
    // Without READ_ROLLOUT there is no Rollouts page at all.
    let viewer = f.post(
        "/rest/v1/users",
        json!({ "username": "viewer", "password": "viewer-password", "permissions": ["READ_TARGET"] }),
    );
    assert_eq!(viewer.0, 201);
    let session = ui_login_as(f, "viewer", "viewer-password");
    let (_, overview) = ui_get(f, &session, "/ui");
    assert!(!overview.contains("/ui/rollouts"), "{overview}");
    assert_eq!(ui_get(f, &session, &format!("/ui/rollouts/{id}")).0, 403);
}

fn rollout_names_are_escaped(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"firmware");
    let id = api_rollout(f, "<script>alert(1)</script>", ds, "name==dev1");
    assert_eq!(f.post(&format!("/rest/v1/rollouts/{id}/start"), json!({})).0, 204);
    let session = admin(f);
    for path in [
        "/ui/rollouts".to_owned(),
        format!("/ui/rollouts/{id}"),
        "/ui".to_owned(),
    ] {
        let (_, page) = ui_get(f, &session, &path);
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {page}"
        );
        assert!(!page.contains("<script>alert"), "{path}");
    }
}

/// With approval on, a planner's rollout waits; the planner sees no Approve, an approver decides
/// with a remark through the form.
fn rollouts_are_approved_through_the_form(f: &Fixture) {
    add_target(f, "dev1", "dev1");
    let (_, ds) = f.distribution_set("fw", "fw.bin", b"firmware");
    f.set_config("rollout.approval.enabled", json!(true));
    let (s, b) = f.post(
        "/rest/v1/users",
        json!({ "username": "planner", "password": "planner-password",
                "permissions": ["CREATE_ROLLOUT", "READ_ROLLOUT", "HANDLE_ROLLOUT", "READ_DISTRIBUTION_SET", "READ_TARGET"] }),
    );
    assert_eq!(s, 201, "{b}");
    let planner = ui_login_as(f, "planner", "planner-password");
    let ds = ds.to_string();
    let form = [
        ("name", "needs a yes"),
        ("ds", ds.as_str()),
        ("q", "name==dev1"),
        ("groups", "1"),
        ("success", "100"),
        ("error", "0"),
        ("action_type", "forced"),
    ];
    let (s, location, _) = ui_form(f, &planner, "/ui/rollouts", &form);
    assert_eq!(s, 303);
    let id = rollout_id_of(&location);
    assert_eq!(rollout_status(f, id), "waiting_for_approval");
    let (_, page) = ui_get(f, &planner, &format!("/ui/rollouts/{id}"));
    assert!(
        !page.contains(">Approve</button>") && !page.contains(">Start</button>"),
        "{page}"
    );
    assert_eq!(
        post(
            f,
            &planner,
            &format!("/ui/rollouts/{id}/approve"),
            Some(&f.srv.url),
            &[]
        )
        .0,
        403
    );
    let session = admin(f);
    let (_, page) = ui_get(f, &session, &format!("/ui/rollouts/{id}"));
    assert!(
        page.contains(">Approve</button>") && page.contains(">Deny</button>"),
        "{page}"
    );
    let (s, _, _) = ui_form(
        f,
        &session,
        &format!("/ui/rollouts/{id}/approve"),
        &[("remark", "looks good")],
    );
    assert_eq!(s, 303);
    let (_, r) = f.get(&format!("/rest/v1/rollouts/{id}"));
    assert_eq!(
        (&r["status"], &r["approvalRemark"]),
        (&json!("ready"), &json!("looks good")),
        "{r}"
    );
    let (_, page) = ui_get(f, &planner, &format!("/ui/rollouts/{id}"));
    assert!(
        page.contains(">Start</button>") && page.contains("looks good"),
        "{page}"
    );
}

backend_tests!(
    rollouts_are_approved_through_the_form,
    rollouts_are_created_and_driven_through_forms,
    rollout_controls_need_their_permissions,
    rollout_names_are_escaped,
    sessions_expire_after_twelve_hours,
    users_see_only_their_tenant,
    ddi_paths_of_a_tenant_named_ui_reach_ddi,
    forms_work_without_javascript,
    pages_need_a_login,
    session_cookie_is_httponly_strict_and_scoped,
    cross_site_posts_are_refused,
    limited_user_sees_no_controls_and_is_refused,
    rsql_errors_show_in_the_list,
    device_list_pages,
    names_are_escaped,
    errors_are_pages,
    assets_are_versioned_and_cached,
);
