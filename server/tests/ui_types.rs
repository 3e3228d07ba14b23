//! Tags, target types and distribution set types managed in the console (issue 19, item 6), over
//! HTTP against both databases: each is created, edited (colour picker, compatible set types as
//! checkboxes, mandatory and optional module types) and deleted after a confirmation page through
//! the same store calls as the Management API, which then answers with what the forms wrote; a
//! refused form comes back with the Management API's message next to its field; tag colours show on
//! the device list, the device page and the set page; a device gets its type from its page; and a
//! rollout whose devices match but whose target types refuse the set says exactly that, in the
//! Management API (hawkBit's 400 and error code) and in the console's rollout form.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::{Value, json};
use support::{Fixture, ui_form, ui_login, ui_login_as, ui_page};

backend_tests!(
    device_and_set_tags_are_managed_and_shown_with_their_colour,
    a_refused_tag_form_says_why_next_to_the_field,
    target_types_and_set_types_are_managed_and_a_device_gets_its_type,
    a_rollout_refused_by_target_types_says_which_and_what_to_do,
);

/// The markup of the element that starts with `start` (up to its closing `end`).
fn part<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("no {start} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find(end).map_or(rest.len(), |e| e + end.len())]
}

/// The id of the entity named `name` on the Management API list at `path`.
fn id_named(f: &Fixture, path: &str, name: &str) -> i64 {
    let (s, v) = f.get(&format!("{path}?q=name=={name}"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    v["content"][0]["id"].as_i64().unwrap()
}

fn see_other(r: &(u16, String, String), to: &str) {
    assert_eq!(r.0, 303, "{}", r.2);
    assert!(r.1.starts_with(to), "{} does not lead to {to}", r.1);
}

fn device_and_set_tags_are_managed_and_shown_with_their_colour(f: &Fixture) {
    let cookie = ui_login(f);
    let r = ui_form(
        f,
        &cookie,
        "/ui/tags/devices",
        &[
            ("name", "lab"),
            ("description", "bench devices"),
            ("colour", "#c80050"),
        ],
    );
    see_other(&r, "/ui/tags?notice=");
    let id = id_named(f, "/rest/v1/targettags", "lab");
    let (_, tag) = f.get(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(
        (tag["colour"].as_str(), tag["description"].as_str()),
        (Some("#c80050"), Some("bench devices"))
    );

    let page = ui_page(f, &cookie, "/ui/tags");
    let section = part(&page, "<section class=\"card\" id=\"devices-tags\"", "</section>");
    assert!(section.contains("fill=\"#c80050\""), "{section}");
    assert!(section.contains("bench devices"), "{section}");

    // Edit: a new name and colour; then an edit that leaves the picker alone keeps a colour the
    // Management API wrote as rgb(...).
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/tags/devices/{id}"),
        &[
            ("name", "lab-2"),
            ("description", ""),
            ("colour", "#1a7f37"),
            ("colour_was", "#c80050"),
        ],
    );
    see_other(&r, "/ui/tags");
    let (_, tag) = f.get(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(
        (tag["name"].as_str(), tag["colour"].as_str()),
        (Some("lab-2"), Some("#1a7f37")),
        "{tag}"
    );
    assert_eq!(
        f.put(
            &format!("/rest/v1/targettags/{id}"),
            json!({ "colour": "rgb(200,0,80)" })
        )
        .0,
        200
    );
    let edit = ui_page(f, &cookie, &format!("/ui/tags/devices/{id}"));
    assert!(
        edit.contains("value=\"#c80050\""),
        "the picker shows rgb(200,0,80) as hex: {edit}"
    );
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/tags/devices/{id}"),
        &[
            ("name", "lab-2"),
            ("description", "kept colour"),
            ("colour", "#c80050"),
            ("colour_was", "#c80050"),
        ],
    );
    see_other(&r, "/ui/tags");
    let (_, tag) = f.get(&format!("/rest/v1/targettags/{id}"));
    assert_eq!(
        (tag["colour"].as_str(), tag["description"].as_str()),
        (Some("rgb(200,0,80)"), Some("kept colour"))
    );

    // The colour shows where the tag does: the device list's tag column and the device page.
    f.create_target("tagged-1");
    let (s, v) = f.post(
        &format!("/rest/v1/targettags/{id}/assigned"),
        json!([{ "controllerId": "tagged-1" }]),
    );
    assert!(matches!(s, 200 | 201 | 204), "{s} {v}");
    let list = ui_page(f, &cookie, "/ui/devices?cols=1&col=tag");
    let row = part(&list, "tagged-1</a>", "</tr>");
    assert!(row.contains("fill=\"#c80050\"") && row.contains("lab-2"), "{row}");
    let device = ui_page(f, &cookie, "/ui/devices/tagged-1");
    let tags = part(&device, "<ul class=\"tags\"", "</ul>");
    assert!(
        tags.contains("fill=\"#c80050\"") && tags.contains("lab-2"),
        "{tags}"
    );

    // Delete: a confirmation page that says who loses the tag, then the delete.
    let confirm = ui_page(f, &cookie, &format!("/ui/tags/devices/{id}/delete"));
    assert!(
        part(&confirm, "<p id=\"tag-carriers\"", "</p>").contains("1 device carries this tag"),
        "{confirm}"
    );
    see_other(
        &ui_form(f, &cookie, &format!("/ui/tags/devices/{id}/delete"), &[]),
        "/ui/tags",
    );
    assert_eq!(f.get(&format!("/rest/v1/targettags/{id}")).0, 404);
    assert_eq!(
        f.get("/rest/v1/targets/tagged-1/tags").1.as_array().map(Vec::len),
        Some(0)
    );

    // Set tags: created on the tags page, put on a set from its page, shown there with the colour.
    let ds = f.distribution_set("tagged-set", "fw.bin", b"fw").1;
    see_other(
        &ui_form(
            f,
            &cookie,
            "/ui/tags/sets",
            &[("name", "stable"), ("colour", "#0b5cad")],
        ),
        "/ui/tags",
    );
    let stable = id_named(f, "/rest/v1/distributionsettags", "stable");
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/distributions/{ds}/tags"),
        &[("tag", &stable.to_string()), ("new_tag", "")],
    );
    see_other(&r, &format!("/ui/distributions/{ds}"));
    // And a new tag named on the set's page is created and put on it in one step.
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/distributions/{ds}/tags"),
        &[("tag", ""), ("new_tag", "lts")],
    );
    see_other(&r, &format!("/ui/distributions/{ds}"));
    let (_, on) = f.get(&format!("/rest/v1/distributionsettags/{stable}/assigned"));
    assert_eq!(on["content"][0]["id"], ds, "{on}");
    let set_page = ui_page(f, &cookie, &format!("/ui/distributions/{ds}"));
    let section = part(&set_page, "<section class=\"card\" id=\"set-tags\"", "</section>");
    assert!(
        section.contains("fill=\"#0b5cad\"") && section.contains("stable") && section.contains("lts"),
        "{section}"
    );
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/distributions/{ds}/tags/{stable}/remove"),
        &[],
    );
    see_other(&r, &format!("/ui/distributions/{ds}"));
    let (_, on) = f.get(&format!("/rest/v1/distributionsettags/{stable}/assigned"));
    assert_eq!(on["total"], 0, "{on}");

    // A user who may only read devices sees their tags but no form, and a crafted post is refused.
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "reader", "password": "reader-password", "permissions": ["READ_TARGET"] }),
    );
    assert!(s == 200 || s == 201, "{v}");
    let reader = ui_login_as(f, "reader", "reader-password");
    let page = ui_page(f, &reader, "/ui/tags");
    assert!(
        !page.contains("New device tag") && !page.contains("set-tags"),
        "{page}"
    );
    assert_eq!(
        ui_form(f, &reader, "/ui/tags/devices", &[("name", "nope")]).0,
        403
    );
    // READ_TARGET reads target types too (hawkBit's permission hierarchy), but changes none.
    let types = ui_page(f, &reader, "/ui/types");
    assert!(
        types.contains("id=\"target-types\"") && !types.contains("New target type"),
        "{types}"
    );
    assert_eq!(
        ui_form(f, &reader, "/ui/types/targets", &[("name", "nope")]).0,
        403
    );
}

fn a_refused_tag_form_says_why_next_to_the_field(f: &Fixture) {
    let cookie = ui_login(f);
    // Empty name: hawkBit's rule, next to the name field, the typed description kept.
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/tags/devices",
        &[("name", "  "), ("description", "typed"), ("colour", "#c80050")],
    );
    assert_eq!(s, 400, "{page}");
    let field = part(&page, "<input id=\"devices-new-name\"", ">");
    assert!(
        field.contains("aria-invalid=\"true\"")
            && field.contains("aria-describedby=\"devices-new-name-error\""),
        "{field}"
    );
    assert!(
        part(&page, "<p class=\"error\" id=\"devices-new-name-error\"", "</p>")
            .contains("Name must not be empty."),
        "{page}"
    );
    assert!(
        page.contains("value=\"typed\""),
        "the form keeps what was typed: {page}"
    );

    // A taken name: the Management API's 409 and its sentence, at the name.
    see_other(
        &ui_form(
            f,
            &cookie,
            "/ui/tags/devices",
            &[("name", "lab"), ("colour", "#000000")],
        ),
        "/ui/tags",
    );
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/tags/devices",
        &[("name", "lab"), ("colour", "#000000")],
    );
    assert_eq!(s, 409, "{page}");
    assert!(
        part(&page, "id=\"devices-new-name-error\"", "</p>").contains("A tag named lab already exists."),
        "{page}"
    );
    let (s, v) = f.post("/rest/v1/targettags", json!([{ "name": "lab" }]));
    assert_eq!(s, 409, "the Management API refuses the same way: {v}");

    // Too long a description, at the description; nothing is created.
    let long = "d".repeat(513);
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/tags/sets",
        &[("name", "long"), ("description", &long), ("colour", "#000000")],
    );
    assert_eq!(s, 400, "{page}");
    assert!(
        part(&page, "id=\"sets-new-description-error\"", "</p>")
            .contains("Description must be at most 512 characters."),
        "{page}"
    );
    assert_eq!(f.get("/rest/v1/distributionsettags?q=name==long").1["total"], 0);

    // An edit that empties the name comes back on the edit page, the tag unchanged.
    let id = id_named(f, "/rest/v1/targettags", "lab");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        &format!("/ui/tags/devices/{id}"),
        &[("name", ""), ("colour", "#000000"), ("colour_was", "#000000")],
    );
    assert_eq!(s, 400, "{page}");
    assert!(
        part(&page, "id=\"devices-edit-name-error\"", "</p>").contains("Name must not be empty."),
        "{page}"
    );
    assert_eq!(f.get(&format!("/rest/v1/targettags/{id}")).1["name"], "lab");
}

/// The id of the tenant's set type or module type `key`.
fn type_id(f: &Fixture, path: &str, key: &str) -> i64 {
    let (s, v) = f.get(&format!("{path}?q=key=={key}"));
    assert_eq!(s, 200, "{v}");
    v["content"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no {key}: {v}"))
}

fn ids(v: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn target_types_and_set_types_are_managed_and_a_device_gets_its_type(f: &Fixture) {
    let cookie = ui_login(f);
    let os_sm = type_id(f, "/rest/v1/softwaremoduletypes", "os");
    let app_sm = type_id(f, "/rest/v1/softwaremoduletypes", "application");
    let os = type_id(f, "/rest/v1/distributionsettypes", "os");

    // A set type: key required (at the key field), then created with mandatory and optional modules.
    let mandatory = format!("sm-{os_sm}");
    let optional = format!("sm-{app_sm}");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/types/sets",
        &[("name", "Firmware"), ("key", ""), ("colour", "#1a7f37")],
    );
    assert_eq!(s, 400, "{page}");
    assert!(
        part(&page, "id=\"dst-new-key-error\"", "</p>").contains("Key is required."),
        "{page}"
    );
    let r = ui_form(
        f,
        &cookie,
        "/ui/types/sets",
        &[
            ("name", "Firmware"),
            ("key", "fw"),
            ("colour", "#1a7f37"),
            (&mandatory, "mandatory"),
            (&optional, "optional"),
        ],
    );
    see_other(&r, "/ui/types");
    let fw = type_id(f, "/rest/v1/distributionsettypes", "fw");
    let (_, m) = f.get(&format!(
        "/rest/v1/distributionsettypes/{fw}/mandatorymoduletypes"
    ));
    assert_eq!(ids(&m), vec![os_sm], "{m}");
    let (_, o) = f.get(&format!("/rest/v1/distributionsettypes/{fw}/optionalmoduletypes"));
    assert_eq!(ids(&o), vec![app_sm], "{o}");
    let (_, t) = f.get(&format!("/rest/v1/distributionsettypes/{fw}"));
    assert_eq!(t["colour"], "#1a7f37", "{t}");

    // A target type taking both set types; a taken key comes back at the key field.
    let r = ui_form(
        f,
        &cookie,
        "/ui/types/targets",
        &[
            ("name", "gateway"),
            ("key", ""),
            ("colour", "#c80050"),
            ("ds_type", &os.to_string()),
            ("ds_type", &fw.to_string()),
        ],
    );
    see_other(&r, "/ui/types");
    let gw = id_named(f, "/rest/v1/targettypes", "gateway");
    let (_, gt) = f.get(&format!("/rest/v1/targettypes/{gw}"));
    assert_eq!(
        (gt["key"].as_str(), gt["colour"].as_str()),
        (Some("gateway"), Some("#c80050")),
        "key defaults to the name: {gt}"
    );
    let (_, c) = f.get(&format!(
        "/rest/v1/targettypes/{gw}/compatibledistributionsettypes"
    ));
    let mut both = vec![os, fw];
    both.sort_unstable();
    assert_eq!(ids(&c), both, "{c}");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/types/targets",
        &[("name", "gateway"), ("colour", "#000000")],
    );
    assert_eq!(s, 409, "{page}");
    assert!(
        part(&page, "id=\"tt-new-key-error\"", "</p>").contains("already exists"),
        "{page}"
    );
    let types = ui_page(f, &cookie, "/ui/types");
    let row = part(
        part(&types, "id=\"target-types\"", "</section>"),
        "gateway",
        "</tr>",
    );
    assert!(row.contains("Firmware") && row.contains("OS only"), "{row}");

    // Edit: renamed, no longer taking OS only, in one save.
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/types/targets/{gw}"),
        &[
            ("name", "edge gateway"),
            ("description", "at the edge"),
            ("colour", "#c80050"),
            ("colour_was", "#c80050"),
            ("ds_type", &fw.to_string()),
        ],
    );
    see_other(&r, "/ui/types");
    let (_, gt) = f.get(&format!("/rest/v1/targettypes/{gw}"));
    assert_eq!(
        (gt["name"].as_str(), gt["description"].as_str()),
        (Some("edge gateway"), Some("at the edge"))
    );
    let (_, c) = f.get(&format!(
        "/rest/v1/targettypes/{gw}/compatibledistributionsettypes"
    ));
    assert_eq!(ids(&c), vec![fw], "{c}");

    // A device gets the type from its page, which then says what it takes.
    f.create_target("gw-1");
    let r = ui_form(f, &cookie, "/ui/devices/gw-1/type", &[("type", &gw.to_string())]);
    see_other(&r, "/ui/devices/gw%2D1");
    let (_, t) = f.get("/rest/v1/targets/gw-1");
    assert_eq!(t["targetType"], gw, "{t}");
    let device = ui_page(f, &cookie, "/ui/devices/gw-1");
    let panel = part(
        &device,
        "<section class=\"card\" id=\"device-type\"",
        "</section>",
    );
    assert!(
        panel.contains("edge gateway")
            && panel.contains("takes distribution sets of type")
            && panel.contains("Firmware"),
        "{panel}"
    );

    // A type a device has cannot go: the store's 409 and sentence, shown as the page.
    let confirm = ui_page(f, &cookie, &format!("/ui/types/targets/{gw}/delete"));
    assert!(
        confirm.contains("Delete the target type edge gateway"),
        "{confirm}"
    );
    let (s, _, page) = ui_form(f, &cookie, &format!("/ui/types/targets/{gw}/delete"), &[]);
    assert_eq!(s, 409, "{page}");
    assert!(
        page.contains("is assigned to 1 target(s) and cannot be deleted"),
        "{page}"
    );
    see_other(
        &ui_form(f, &cookie, "/ui/devices/gw-1/type", &[("type", "")]),
        "/ui/devices/gw%2D1",
    );
    assert_eq!(f.get("/rest/v1/targets/gw-1").1["targetType"], Value::Null);
    see_other(
        &ui_form(f, &cookie, &format!("/ui/types/targets/{gw}/delete"), &[]),
        "/ui/types",
    );
    assert_eq!(f.get(&format!("/rest/v1/targettypes/{gw}")).0, 404);

    // A set type that sets use keeps its modules: its page says so, a crafted change is refused
    // with the Management API's sentence, and its texts still change.
    f.distribution_set("uses-os", "os.bin", b"os");
    let edit = ui_page(f, &cookie, &format!("/ui/types/sets/{os}"));
    assert!(edit.contains("can no longer change"), "{edit}");
    let (s, _, page) = ui_form(
        f,
        &cookie,
        &format!("/ui/types/sets/{os}"),
        &[
            ("name", "OS only"),
            ("colour", "#000000"),
            ("colour_was", "#000000"),
            (&mandatory, "mandatory"),
            (&optional, "optional"),
        ],
    );
    assert_eq!(s, 403, "hawkBit's EntityReadOnly: {page}");
    assert!(
        page.contains("is already assigned to distribution sets and cannot be changed"),
        "{page}"
    );
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/types/sets/{os}"),
        &[
            ("name", "OS only"),
            ("description", "one image"),
            ("colour", "#000000"),
            ("colour_was", "#000000"),
        ],
    );
    see_other(&r, "/ui/types");
    assert_eq!(
        f.get(&format!("/rest/v1/distributionsettypes/{os}")).1["description"],
        "one image"
    );

    // Deleting a used set type only marks it deleted (the confirmation says so); an unused one goes.
    let confirm = ui_page(f, &cookie, &format!("/ui/types/sets/{os}/delete"));
    assert!(confirm.contains("only marked deleted"), "{confirm}");
    see_other(
        &ui_form(f, &cookie, &format!("/ui/types/sets/{fw}/delete"), &[]),
        "/ui/types",
    );
    assert_eq!(f.get(&format!("/rest/v1/distributionsettypes/{fw}")).0, 404);
}

fn a_rollout_refused_by_target_types_says_which_and_what_to_do(f: &Fixture) {
    let cookie = ui_login(f);
    let os_app = type_id(f, "/rest/v1/distributionsettypes", "os_app");
    let os = type_id(f, "/rest/v1/distributionsettypes", "os");
    let (s, v) = f.post(
        "/rest/v1/targettypes",
        json!([{ "name": "sensor", "compatibledistributionsettypes": [{ "id": os_app }] }]),
    );
    assert_eq!(s, 201, "{v}");
    let sensor = v[0]["id"].as_i64().unwrap();
    for i in 0..3 {
        let cid = format!("sensor-{i}");
        f.create_target(&cid);
        assert_eq!(
            f.post(
                &format!("/rest/v1/targets/{cid}/targettype"),
                json!({ "id": sensor })
            )
            .0,
            204
        );
    }
    let ds = f.distribution_set("firmware", "fw.bin", b"fw").1;
    let expected = "3 devices match the filter, but none of them can take 'firmware 1.0' (type OS only): \
                    their target type (sensor) does not list OS only as compatible. Add OS only to that \
                    target type or pick another set.";

    // The Management API: hawkBit's status and error code, a sentence that says why.
    let body =
        json!({ "name": "r1", "distributionSetId": ds, "targetFilterQuery": "controllerId==sensor-*" });
    let (s, v) = f.post("/rest/v1/rollouts", body.clone());
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["errorCode"], "hawkbit.server.error.repo.constraintViolation",
        "{v}"
    );
    assert_eq!(v["message"], expected, "{v}");
    // A filter that matches nothing keeps hawkBit's own sentence.
    let (s, v) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "r0", "distributionSetId": ds, "targetFilterQuery": "controllerId==nobody" }),
    );
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Rollout does not match any existing targets.")),
        "{v}"
    );

    // The console's rollout form shows the same sentence.
    let (s, _, page) = ui_form(
        f,
        &cookie,
        "/ui/rollouts",
        &[
            ("name", "r1"),
            ("ds", &ds.to_string()),
            ("q", "controllerId==sensor-*"),
            ("groups", "1"),
            ("success", "50"),
            ("error", "50"),
        ],
    );
    assert_eq!(s, 400, "{page}");
    let shown = part(&page, "id=\"form-error\"", "</p>");
    assert!(
        shown.contains("3 devices match the filter, but none of them can take"),
        "{shown}"
    );
    assert!(
        shown.contains("Add OS only to that target type or pick another set."),
        "{shown}"
    );

    // Doing what it says, from the target type's edit page, lets the rollout be created.
    let r = ui_form(
        f,
        &cookie,
        &format!("/ui/types/targets/{sensor}"),
        &[
            ("name", "sensor"),
            ("colour", "#000000"),
            ("colour_was", "#000000"),
            ("ds_type", &os_app.to_string()),
            ("ds_type", &os.to_string()),
        ],
    );
    see_other(&r, "/ui/types");
    let (s, v) = f.post("/rest/v1/rollouts", body);
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["totalTargets"], 3, "{v}");
}

/// The same pages in headless Chromium (`ui-tests/types.mjs`): a coloured tag and a refused name,
/// a target type made with its checkbox, a device given the type from its page, the rollout form's
/// sentence; desktop and phone screenshots.
#[test]
fn browser_manages_tags_and_types_and_explains_a_refused_rollout() {
    if !support::browser::available() {
        return;
    }
    let f = Fixture::sqlite();
    f.create_target("browser-sensor");
    let ds = f.distribution_set("blocked-os", "os.bin", b"os").1;
    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-types-screenshots"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&shots);
    support::browser::run(
        "types.mjs",
        &[
            ("UPDRAFT_URL", &f.srv.url),
            ("ADMIN_USER", &f.srv.admin_user),
            ("ADMIN_PASSWORD", &f.srv.admin_password),
            ("DEVICE_ID", "browser-sensor"),
            ("SET_LABEL", "blocked-os:1.0"),
            ("SCREENSHOT_DIR", shots.to_str().unwrap()),
        ],
    );
    for name in ["tags", "types", "device-type", "rollout-incompatible"] {
        support::browser::assert_screenshot(&shots, name);
    }
    for name in ["tags-phone", "types-phone"] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        let (w, h) = support::browser::png_size(&png);
        assert!(
            w == 390 && h >= 300 && png.len() > 8_000,
            "{name}: {w}x{h}, {} bytes",
            png.len()
        );
    }
    // What the pages did, as the Management API sees it.
    let (_, tags) = f.get("/rest/v1/targettags?q=name==lab");
    assert_eq!(tags["content"][0]["colour"], "#c80050", "{tags}");
    let sensor = id_named(&f, "/rest/v1/targettypes", "sensor");
    assert_eq!(f.get("/rest/v1/targets/browser-sensor").1["targetType"], sensor);
    let (_, rollouts) = f.get("/rest/v1/rollouts?q=name==blocked");
    assert_eq!(rollouts["total"], 0, "{rollouts} (set {ds})");
}
