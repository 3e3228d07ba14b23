//! Per-source patches (issue 18, item 2): an uploaded `.swu` is read for the image it installs
//! (and a patch bundle for the image it applies to); deploymentBase lists a patch only to an
//! Updraft agent (`updraft.delta` lists `patch`) whose installed set's bundle is the patch's
//! source, and never to other clients; the set page counts who would take which download.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, action_id_of, link, read, ui_login, ui_page};
use updraft_server::store::distribution_sets::delta_forecast::{self, Group};
use updraft_server::store::{self, AnyConnection};
use updraft_swu::cpio::CpioWriter;

backend_tests!(
    each_device_is_offered_the_patch_from_what_it_runs,
    the_set_page_counts_who_takes_which_download,
    the_delta_counts_follow_every_write,
    a_malformed_swu_is_stored_as_an_opaque_artifact,
);

const X: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const Y: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const Z: &str = "3333333333333333333333333333333333333333333333333333333333333333";

/// A `.swu` whose sw-description has one image entry of `handler` with `properties`, then an
/// (unchecked) signature entry and `payload` bytes of image.
fn swu(handler: &str, properties: &str, payload: usize) -> Vec<u8> {
    let description = format!(
        "software = {{ version = \"1\"; hardware-compatibility = [ \"1.0\" ]; images: ( {{ \
         filename = \"rootfs\"; type = \"{handler}\"; device = \"/dev/mmcblk0p2\"; \
         properties: {{ {properties} }}; }} ); }};"
    );
    let mut w = CpioWriter::new(Vec::new());
    w.append_bytes("sw-description", description.as_bytes()).unwrap();
    w.append_bytes("sw-description.sig", b"not checked by the server")
        .unwrap();
    w.append_bytes("rootfs", &vec![7u8; payload]).unwrap();
    w.finish().unwrap()
}

fn full(image: &str, payload: usize) -> Vec<u8> {
    swu("raw", &format!("image-sha256 = \"{image}\";"), payload)
}

fn patch(source: &str, image: &str, payload: usize) -> Vec<u8> {
    swu(
        "patch",
        &format!(
            "format = \"zstd\"; source-sha256 = \"{source}\"; source-size = \"4096\"; \
             image-sha256 = \"{image}\"; image-size = \"4096\"; chain = \"raw\";"
        ),
        payload,
    )
}

/// A set `name` of one `os` module holding `files`; the set's id.
fn set(f: &Fixture, name: &str, files: &[(&str, Vec<u8>)]) -> i64 {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": name, "version": "1.0", "type": "os" }]),
    );
    assert_eq!(s, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    for (file, bytes) in files {
        let (s, v) = f.upload(sm, file, bytes.clone());
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": name, "version": "1.0", "type": "os", "modules": [{ "id": sm }] }]),
    );
    assert_eq!(s, 201, "{v}");
    v[0]["id"].as_i64().unwrap()
}

/// A device `cid` (an Updraft agent when `agent`) that runs the set `ds` (when given).
fn device(f: &Fixture, cid: &str, agent: bool, ds: Option<i64>) {
    f.create_target(cid);
    if agent {
        config(f, cid, json!({ "data": { "updraft.delta": "chunk,patch" } }));
    }
    if let Some(ds) = ds {
        let action = f.assign(ds, cid, json!({}));
        let (s, v) = f.feedback(cid, action, "closed", "success");
        assert_eq!(s, 200, "{v}");
        let (_, installed) = f.get(&format!("/rest/v1/targets/{cid}/installedDS"));
        assert_eq!(installed["id"], ds, "{cid} runs {ds}");
    }
}

/// The file names `cid`'s deploymentBase lists for its current action.
fn offered(f: &Fixture, cid: &str) -> Vec<String> {
    let root = f.poll(cid);
    let href = link(&root, "deploymentBase").unwrap();
    let action = action_id_of(&href);
    let (s, v) = read(
        f.ddi(Method::GET, cid, &format!("/deploymentBase/{action}"))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{v}");
    let mut names: Vec<String> = v["deployment"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["artifacts"].as_array().unwrap().iter())
        .map(|a| a["filename"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Sets 0 (image Y) and 1 (image X), and set 2 (image Z) with patches from X and from Y.
fn fleet(f: &Fixture) -> (i64, i64, i64) {
    let v0 = set(f, "rootfs-0", &[("rootfs-0.swu", full(Y, 4096))]);
    let v1 = set(f, "rootfs-1", &[("rootfs-1.swu", full(X, 4096))]);
    let v2 = set(
        f,
        "rootfs-2",
        &[
            ("rootfs-2.swu", full(Z, 4096)),
            ("rootfs-2-from-1.patch.swu", patch(X, Z, 100)),
            ("rootfs-2-from-0.patch.swu", patch(Y, Z, 300)),
        ],
    );
    (v0, v1, v2)
}

fn each_device_is_offered_the_patch_from_what_it_runs(f: &Fixture) {
    let (v0, v1, v2) = fleet(f);
    device(f, "agent-on-1", true, Some(v1));
    device(f, "agent-on-0", true, Some(v0));
    device(f, "agent-new", true, None);
    device(f, "swupdate-on-1", false, Some(v1));
    for cid in ["agent-on-1", "agent-on-0", "agent-new", "swupdate-on-1"] {
        f.assign(v2, cid, json!({}));
    }
    assert_eq!(
        offered(f, "agent-on-1"),
        ["rootfs-2-from-1.patch.swu", "rootfs-2.swu"]
    );
    assert_eq!(
        offered(f, "agent-on-0"),
        ["rootfs-2-from-0.patch.swu", "rootfs-2.swu"]
    );
    assert_eq!(
        offered(f, "agent-new"),
        ["rootfs-2.swu"],
        "nothing installed: no source"
    );
    assert_eq!(
        offered(f, "swupdate-on-1"),
        ["rootfs-2.swu"],
        "other clients see no patch"
    );
    // A hidden patch is still the assigned set's artifact: hawkBit's download rule is unchanged.
    let (_, modules) = f.get(&format!("/rest/v1/distributionsets/{v2}/assignedSM"));
    let sm = modules["content"][0]["id"].as_i64().unwrap();
    let path = format!("/softwaremodules/{sm}/artifacts/rootfs-2-from-0.patch.swu");
    let res = f.ddi(Method::GET, "swupdate-on-1", &path).send().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().unwrap().to_vec(), patch(Y, Z, 300));
    // A device that has no action with the set may not read it (unchanged).
    device(f, "stranger", true, None);
    let res = f.ddi(Method::GET, "stranger", &path).send().unwrap();
    assert_eq!(res.status(), 404);
}

fn the_set_page_counts_who_takes_which_download(f: &Fixture) {
    let (v0, v1, v2) = fleet(f);
    device(f, "agent-on-1a", true, Some(v1));
    device(f, "agent-on-1b", true, Some(v1));
    device(f, "agent-on-0", true, Some(v0));
    device(f, "swupdate-on-1", false, Some(v1));
    let cookie = ui_login(f);
    // A set without patches or a .zck: everyone takes the full bundle, nothing is counted.
    let page = ui_page(f, &cookie, &format!("/ui/distributions/{v1}"));
    assert!(page.contains("id=\"delta-full-only\""), "{page}");
    assert!(!page.contains("id=\"delta-full\""), "{page}");
    // Nobody has set 2 assigned yet: every device not running it is counted.
    let page = ui_page(f, &cookie, &format!("/ui/distributions/{v2}"));
    assert!(page.contains("No device has this set assigned yet"), "{page}");
    assert_eq!(
        patch_rows(&page),
        [("rootfs-0:1.0".to_owned(), 1), ("rootfs-1:1.0".to_owned(), 2)]
    );
    assert_eq!(row_devices(&page, "delta-full"), 1);
    for cid in ["agent-on-1a", "agent-on-0", "swupdate-on-1"] {
        f.assign(v2, cid, json!({}));
    }
    let page = ui_page(f, &cookie, &format!("/ui/distributions/{v2}"));
    assert!(page.contains("with this set assigned will download"), "{page}");
    assert_eq!(
        patch_rows(&page),
        [("rootfs-0:1.0".to_owned(), 1), ("rootfs-1:1.0".to_owned(), 1)]
    );
    assert_eq!(row_devices(&page, "delta-chunk"), 0, "set 2 has no .zck");
    assert_eq!(row_devices(&page, "delta-full"), 1);
    // Saved: (full module bytes - patch) for each patch-taking device.
    let (_, arts) = f.get(&format!(
        "/rest/v1/softwaremodules/{}/artifacts",
        f.get(&format!("/rest/v1/distributionsets/{v2}/assignedSM")).1["content"][0]["id"]
    ));
    let size = |name: &str| {
        arts.as_array()
            .unwrap()
            .iter()
            .find(|a| a["providedFilename"] == name)
            .unwrap()["size"]
            .as_i64()
            .unwrap()
    };
    let saved =
        2 * size("rootfs-2.swu") - size("rootfs-2-from-1.patch.swu") - size("rootfs-2-from-0.patch.swu");
    let shown = page.split("id=\"delta-saved\"").nth(1).unwrap();
    let expected = if saved < 1024 {
        format!("{saved} B")
    } else {
        format!("{:.1} KiB", saved as f64 / 1024.0)
    };
    assert!(shown.contains(&expected), "saved {saved}: {shown}");
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = Nullable<BigInt>)]
    installed: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    forms: Option<String>,
    #[diesel(sql_type = BigInt)]
    devices: i64,
}

/// The Delta panel's devices per installed set and `updraft.delta` value, of those with `assigned`
/// assigned (None: of all), as the page reads them from the counts the database's triggers keep
/// (migration `delta_counts`); asserts they equal the devices counted one by one with their
/// attribute, and returns them sorted.
fn counts_match_devices(f: &Fixture, assigned: Option<i64>) -> Vec<Group> {
    let filter = assigned.map_or(String::new(), |ds| format!(" AND t.assigned_ds_id = {ds}"));
    let (mut kept, mut counted) = f
        .srv
        .state
        .db
        .read_blocking(move |c: &mut AnyConnection| -> store::Result<_> {
            let counts = store::target_counts::load(c, "DEFAULT")?;
            let kept = delta_forecast::devices_by_forms(c, "DEFAULT", &counts, assigned)?;
            let counted: Vec<Group> = diesel::sql_query(format!(
                "SELECT t.installed_ds_id AS installed, a.attr_value AS forms, COUNT(*) AS devices \
                 FROM targets t LEFT JOIN target_attributes a \
                 ON a.target_id = t.id AND a.attr_key = 'updraft.delta' \
                 WHERE t.tenant = 'DEFAULT'{filter} GROUP BY t.installed_ds_id, a.attr_value"
            ))
            .load::<Counted>(c)?
            .into_iter()
            .map(|r| (r.installed, r.forms, r.devices))
            .collect();
            Ok((kept, counted))
        })
        .unwrap();
    kept.sort();
    counted.sort();
    assert_eq!(
        kept, counted,
        "kept counts against the devices (assigned {assigned:?})"
    );
    kept
}

/// Devices on `installed` with `forms` (None: without the attribute) in `groups`.
fn devices(groups: &[Group], forms: Option<&str>, installed: i64) -> i64 {
    groups
        .iter()
        .filter(|(i, f, _)| *i == Some(installed) && f.as_deref() == forms)
        .map(|g| g.2)
        .sum()
}

/// `cid`'s configData PUT of `body`, accepted.
fn config(f: &Fixture, cid: &str, body: Value) {
    let (s, v) = read(f.ddi(Method::PUT, cid, "/configData").json(&body).send().unwrap());
    assert_eq!(s, 200, "{v}");
}

fn the_delta_counts_follow_every_write(f: &Fixture) {
    let (v0, v1, v2) = fleet(f);
    device(f, "agent-a", true, Some(v1));
    device(f, "agent-b", true, Some(v1));
    device(f, "agent-c", true, Some(v0));
    device(f, "plain", false, Some(v1));
    let all = counts_match_devices(f, None);
    assert_eq!(devices(&all, Some("chunk,patch"), v1), 2);
    assert_eq!(devices(&all, None, v1), 1);
    assert!(
        counts_match_devices(f, Some(v2)).is_empty(),
        "nobody has set 2 assigned"
    );

    // Other attributes leave the count; a merge changing the value moves the device; removing
    // the key or replacing the attributes without it counts the device as one without.
    config(f, "agent-a", json!({ "data": { "hw": "pi4" } }));
    config(f, "agent-b", json!({ "data": { "updraft.delta": "chunk" } }));
    config(
        f,
        "agent-c",
        json!({ "mode": "remove", "data": { "updraft.delta": "" } }),
    );
    config(
        f,
        "plain",
        json!({ "mode": "replace", "data": { "updraft.delta": "patch" } }),
    );
    let all = counts_match_devices(f, None);
    assert_eq!(
        devices(&all, Some("chunk,patch"), v1),
        1,
        "agent-a kept its forms"
    );
    assert_eq!(devices(&all, Some("chunk"), v1), 1);
    assert_eq!(devices(&all, Some("patch"), v1), 1);
    assert_eq!(devices(&all, None, v0), 1);
    config(f, "plain", json!({ "mode": "replace", "data": { "hw": "cm4" } }));
    assert_eq!(devices(&counts_match_devices(f, None), None, v1), 1);

    // Assignments and installs move devices between sets; a deleted device leaves the counts.
    for cid in ["agent-a", "agent-b"] {
        f.assign(v2, cid, json!({}));
    }
    let assigned = counts_match_devices(f, Some(v2));
    assert_eq!(devices(&assigned, Some("chunk,patch"), v1), 1);
    assert_eq!(devices(&assigned, Some("chunk"), v1), 1);
    assert_eq!(counts_match_devices(f, Some(v1)).len(), 1, "plain alone");
    let action = f.assign(v2, "agent-c", json!({}));
    let (s, v) = f.feedback("agent-c", action, "closed", "success");
    assert_eq!(s, 200, "{v}");
    assert_eq!(f.delete("/rest/v1/targets/agent-a").0, 204);
    let assigned = counts_match_devices(f, Some(v2));
    assert_eq!(devices(&assigned, None, v2), 1, "agent-c runs set 2");
    assert_eq!(devices(&assigned, Some("chunk,patch"), v1), 0, "agent-a is gone");
    let all = counts_match_devices(f, None);
    assert_eq!(all.iter().map(|g| g.2).sum::<i64>(), 3);

    // Folding PostgreSQL's appended rows changes no count.
    f.srv
        .state
        .db
        .write_blocking(|c| updraft_server::store::target_counts::merge(c, 0))
        .unwrap();
    assert_eq!(counts_match_devices(f, None), all);
    assert_eq!(counts_match_devices(f, Some(v2)), assigned);
}

/// The "Patch from …" rows of the Delta panel, by source set id: (source set, devices).
fn patch_rows(page: &str) -> Vec<(String, i64)> {
    page.split("<tr class=\"delta-patch\">")
        .skip(1)
        .map(|row| {
            let from = row
                .split("Patch from ")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            (from.to_owned(), cell_devices(row))
        })
        .collect()
}

fn row_devices(page: &str, id: &str) -> i64 {
    cell_devices(page.split(&format!("id=\"{id}\"")).nth(1).unwrap())
}

fn cell_devices(row: &str) -> i64 {
    row.split("class=\"devices\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn a_malformed_swu_is_stored_as_an_opaque_artifact(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "odd", "version": "1.0", "type": "os" }]),
    );
    assert_eq!(s, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let mut cut = full(X, 4096);
    cut.truncate(60);
    for (name, bytes) in [
        ("garbage.swu", b"this is no cpio archive".to_vec()),
        ("cut.swu", cut),
        ("bad-description.swu", swu("raw", "image-sha256 = ", 10)),
        ("empty.patch.swu", Vec::new()),
    ] {
        let (s, v): (u16, Value) = f.upload(sm, name, bytes.clone());
        assert_eq!(s, 201, "{name}: {v}");
        let (s, body) = {
            let res = f
                .mgmt(
                    Method::GET,
                    &format!("/rest/v1/softwaremodules/{sm}/artifacts/{}/download", v["id"]),
                )
                .send()
                .unwrap();
            (res.status().as_u16(), res.bytes().unwrap().to_vec())
        };
        assert_eq!((s, body), (200, bytes), "{name} is stored as it came");
    }
}
