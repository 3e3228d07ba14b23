//! A software module's artifacts in the web UI over HTTP (issue 19 item 8): the page shows each
//! file's full SHA-256 with a download link and a delete button; the download streams the stored
//! bytes (ranges too) to a logged-in user who may read artifacts; the delete removes the artifact
//! as the Management API's delete does and refuses it while the module is locked. Anonymous
//! requests go to the login page, users without the permission are refused, and another
//! tenant's artifacts are 404 to both routes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::json;
use sha2::{Digest, Sha256};
use support::{Fixture, browser, ui_form, ui_get, ui_login, ui_login_as, ui_page};

backend_tests!(
    the_module_page_downloads_and_deletes_artifacts,
    artifact_routes_need_a_session_and_their_permissions,
    another_tenants_artifacts_are_not_found,
);

/// A module `name` of type `os` with the artifacts `files`; returns its id and the artifact ids.
fn module_with(f: &Fixture, name: &str, files: &[(&str, &[u8])]) -> (i64, Vec<i64>) {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": name, "version": "1.0", "type": "os" }]),
    );
    assert_eq!(s, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let ids = files
        .iter()
        .map(|(file, content)| {
            let (s, v) = f.upload(sm, file, content.to_vec());
            assert_eq!(s, 201, "{v}");
            v["id"].as_i64().unwrap()
        })
        .collect();
    (sm, ids)
}

fn hex_sha256(bytes: &[u8]) -> String {
    updraft_server::auth::hex(&Sha256::digest(bytes))
}

/// A GET as the holder of `cookie` (empty: none), with extra headers: status, headers and body.
fn get_bytes(
    f: &Fixture,
    cookie: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = browser().get(f.url(path));
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.bytes().unwrap().to_vec())
}

fn artifact_names(f: &Fixture, sm: i64) -> Vec<String> {
    let (s, v) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    assert_eq!(s, 200, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["providedFilename"].as_str().unwrap().to_owned())
        .collect()
}

fn the_module_page_downloads_and_deletes_artifacts(f: &Fixture) {
    let firmware = b"firmware image bytes".repeat(1000);
    let (sm, ids) = module_with(f, "fw", &[("fw.bin", &firmware), ("notes.txt", b"notes")]);
    let cookie = ui_login(f);
    let base = format!("/ui/software/{sm}/artifacts");

    let page = ui_page(f, &cookie, &format!("/ui/software/{sm}"));
    let sha = hex_sha256(&firmware);
    assert!(
        page.contains(&format!(r#"<code class="hash" id="sha-{}">{sha}</code>"#, ids[0])),
        "the page shows the full SHA-256: {page}"
    );
    assert!(
        page.contains(&format!(r#"href="{base}/{}/download""#, ids[0])),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"action="{base}/{}/delete""#, ids[1])),
        "{page}"
    );
    assert!(
        page.contains("data-confirm=\"Delete notes.txt?"),
        "delete asks first: {page}"
    );

    let (status, headers, body) = get_bytes(f, &cookie, &format!("{base}/{}/download", ids[0]), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, firmware, "the download is the stored file");
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("fw.bin"),
        "{headers:?}"
    );
    let (status, _, body) = get_bytes(
        f,
        &cookie,
        &format!("{base}/{}/download", ids[0]),
        &[("range", "bytes=0-7")],
    );
    assert_eq!(
        (status, body.as_slice()),
        (206, &firmware[..8]),
        "ranges work as in the API"
    );

    let (status, location, body) = ui_form(f, &cookie, &format!("{base}/{}/delete", ids[1]), &[]);
    assert_eq!(status, 303, "{body}");
    assert!(
        location.starts_with(&format!("/ui/software/{sm}?notice=Deleted")),
        "{location}"
    );
    assert_eq!(artifact_names(f, sm), ["fw.bin"], "only notes.txt is gone");
    let (status, _) = ui_get(f, &cookie, &format!("{base}/{}/download", ids[1]));
    assert_eq!(status, 404, "a deleted artifact downloads no more");
    let (status, _, _) = ui_form(f, &cookie, &format!("{base}/{}/delete", ids[1]), &[]);
    assert_eq!(status, 404, "deleting twice finds nothing");

    // Once the module is in a distribution set that is assigned, it is locked: no delete button,
    // and the POST is refused as the Management API refuses it.
    let (s, v) = f.post(
        "/rest/v1/distributionsets",
        json!([{ "name": "fw", "version": "1.0", "type": "os", "modules": [{ "id": sm }] }]),
    );
    assert_eq!(s, 201, "{v}");
    f.create_target("locker");
    f.assign(v[0]["id"].as_i64().unwrap(), "locker", json!({}));
    let page = ui_page(f, &cookie, &format!("/ui/software/{sm}"));
    assert!(
        !page.contains("/delete\""),
        "a locked module offers no delete: {page}"
    );
    let (status, _, body) = ui_form(f, &cookie, &format!("{base}/{}/delete", ids[0]), &[]);
    assert_eq!(status, 423, "{body}");
    assert_eq!(artifact_names(f, sm), ["fw.bin"]);
}

fn artifact_routes_need_a_session_and_their_permissions(f: &Fixture) {
    let (sm, ids) = module_with(f, "fw", &[("fw.bin", b"firmware")]);
    let download = format!("/ui/software/{sm}/artifacts/{}/download", ids[0]);
    let delete = format!("/ui/software/{sm}/artifacts/{}/delete", ids[0]);

    let (status, headers, _) = get_bytes(f, "", &download, &[]);
    assert_eq!(status, 303, "no session: to the login page");
    assert!(
        headers["location"].to_str().unwrap().starts_with("/ui/login"),
        "{headers:?}"
    );
    let (status, _, _) = ui_form(f, "", &delete, &[]);
    assert_eq!(status, 303, "no session: to the login page");

    // Cross-site: a delete posted from another origin is refused even with the session.
    let cookie = ui_login(f);
    let res = browser()
        .post(f.url(&delete))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);

    // May see the module, not download or delete its files.
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "reader", "password": "reader-password", "permissions": ["READ_SOFTWARE_MODULE"] }),
    );
    assert_eq!(s, 201, "{v}");
    let reader = ui_login_as(f, "reader", "reader-password");
    let page = ui_page(f, &reader, &format!("/ui/software/{sm}"));
    assert!(
        page.contains(&hex_sha256(b"firmware")),
        "the reader sees the SHA-256"
    );
    assert!(
        !page.contains("/download\"") && !page.contains("/delete\""),
        "{page}"
    );
    let (status, body) = ui_get(f, &reader, &download);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("READ_SOFTWARE_MODULE_ARTIFACT"), "{body}");
    let (status, _, body) = ui_form(f, &reader, &delete, &[]);
    assert_eq!(status, 403, "{body}");
    assert_eq!(artifact_names(f, sm), ["fw.bin"], "nothing was deleted");
}

fn another_tenants_artifacts_are_not_found(f: &Fixture) {
    let (sm, ids) = module_with(f, "fw", &[("fw.bin", b"tenant DEFAULT's firmware")]);
    let (s, v) = f.post("/rest/v1/tenants", json!({ "name": "BETA" }));
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "beta-admin", "password": "beta-password", "tenant": "BETA", "permissions": ["TENANT_ADMIN"] }),
    );
    assert_eq!(s, 201, "{v}");
    let beta = ui_login_as(f, "beta-admin", "beta-password");

    let (status, body) = ui_get(f, &beta, &format!("/ui/software/{sm}"));
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = get_bytes(
        f,
        &beta,
        &format!("/ui/software/{sm}/artifacts/{}/download", ids[0]),
        &[],
    );
    assert_eq!(status, 404);
    assert!(
        !String::from_utf8_lossy(&body).contains("firmware"),
        "nothing of the file leaks"
    );
    let (status, _, _) = ui_form(
        f,
        &beta,
        &format!("/ui/software/{sm}/artifacts/{}/delete", ids[0]),
        &[],
    );
    assert_eq!(status, 404);
    assert_eq!(
        artifact_names(f, sm),
        ["fw.bin"],
        "tenant DEFAULT keeps its artifact"
    );
}
