//! Capability URLs: the Management API signs a time-limited link to one artifact, and anyone
//! holding it downloads that artifact (whole, one range or hundreds) without credentials, as
//! SWUpdate's delta downloader fetches the `.zck` named in `sw-description`. Expired, altered,
//! revoked and foreign links are refused with hawkBit's 403 body; a deleted artifact is 404.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, read};

backend_tests!(
    a_link_downloads_without_credentials_whole_and_in_ranges,
    a_link_expires_by_the_servers_clock,
    altered_and_foreign_links_are_refused,
    rotating_the_key_revokes_every_link,
    a_deleted_artifact_answers_404,
    minting_checks_lifetime_permission_and_tenant,
);

fn content() -> Vec<u8> {
    (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// A module with `file` and the id of that artifact.
fn artifact(f: &Fixture, name: &str, file: &str, bytes: &[u8]) -> (i64, i64) {
    let (sm, _) = f.distribution_set(name, file, bytes);
    let (_, arts) = f.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    (sm, arts[0]["id"].as_i64().unwrap())
}

fn mint(f: &Fixture, sm: i64, aid: i64, body: Option<Value>) -> (u16, Value) {
    let req = f.mgmt(
        Method::POST,
        &format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}/downloadlink"),
    );
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    read(req.send().unwrap())
}

fn link(f: &Fixture, sm: i64, aid: i64) -> String {
    let (s, v) = mint(f, sm, aid, None);
    assert_eq!(s, 200, "{v}");
    v["url"].as_str().unwrap().to_owned()
}

/// A GET of `url` with no credentials at all, optionally for `range`.
fn fetch(f: &Fixture, url: &str, range: Option<&str>) -> reqwest::blocking::Response {
    let mut req = f.http.get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().unwrap()
}

fn assert_refused(r: reqwest::blocking::Response, why: &str) {
    assert_eq!(r.status(), 403, "{why}");
    let body: Value = r.json().unwrap();
    assert_eq!(
        body["errorCode"], "hawkbit.server.error.insufficientPermission",
        "{why}: {body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("download link"),
        "{why}: {body}"
    );
}

/// The parts of a `multipart/byteranges` body: (Content-Range, bytes).
fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let at = find(rest, delimiter.as_bytes()).expect("a boundary");
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            return out;
        }
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: bytes "))
            .unwrap()
            .to_owned();
        let (span, _) = range.split_once('/').unwrap();
        let (a, b) = span.split_once('-').unwrap();
        let len = b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1;
        let data = &rest[head_end + 4..head_end + 4 + len];
        out.push((range, data.to_vec()));
        rest = &rest[head_end + 4 + len..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn a_link_downloads_without_credentials_whole_and_in_ranges(f: &Fixture) {
    let bytes = content();
    let (sm, aid) = artifact(f, "delta", "rootfs.ext4.zck", &bytes);
    let (s, v) = mint(f, sm, aid, Some(json!({ "expiresInSeconds": 3600 })));
    assert_eq!(s, 200, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/DEFAULT/download/{aid}/rootfs.ext4.zck?expires=",
            f.srv.url
        )),
        "{url}"
    );
    assert_eq!(v["artifactId"], aid);
    assert_eq!(v["filename"], "rootfs.ext4.zck");
    let expires_at = v["expiresAt"].as_i64().unwrap();
    let now = f.srv.state.now();
    assert!(
        (now + 3_590_000..=now + 3_600_000).contains(&expires_at),
        "{expires_at} vs {now}"
    );

    let whole = fetch(f, url, None);
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["cache-control"], "private, no-store");
    assert_eq!(whole.bytes().unwrap().as_ref(), &bytes[..]);

    let one = fetch(f, url, Some("bytes=1000-1999"));
    assert_eq!(one.status(), 206);
    assert_eq!(one.headers()["content-range"], "bytes 1000-1999/1000000");
    assert_eq!(one.bytes().unwrap().as_ref(), &bytes[1000..2000]);

    // SWUpdate's delta handler: many zchunk chunks per request, near and far apart.
    let ranges: Vec<(usize, usize)> = (0..400)
        .map(|i| (i * 2_400 + (i % 7) * 11, i * 2_400 + 1_000 + i))
        .collect();
    let spec = ranges
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(",");
    let many = fetch(f, url, Some(&format!("bytes={spec}")));
    assert_eq!(many.status(), 206);
    let ct = many.headers()["content-type"].to_str().unwrap().to_owned();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned();
    let declared: usize = many.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = many.bytes().unwrap();
    assert_eq!(body.len(), declared);
    let got = parts(&body, &boundary);
    assert_eq!(got.len(), ranges.len());
    for ((range, data), (a, b)) in got.iter().zip(&ranges) {
        assert_eq!(range, &format!("{a}-{b}/1000000"));
        assert_eq!(data[..], bytes[*a..=*b]);
    }

    // HEAD answers the size; an unsatisfiable range is 416 as on the device API.
    let head = f.http.head(url).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "1000000");
    assert_eq!(fetch(f, url, Some("bytes=1000000-")).status(), 416);
    // Nothing of this went through a device: no target exists.
    assert_eq!(f.get("/rest/v1/targets").1["total"], 0);
}

fn a_link_expires_by_the_servers_clock(f: &Fixture) {
    let (sm, aid) = artifact(f, "expiry", "a.zck", b"zck bytes");
    let (s, v) = mint(f, sm, aid, Some(json!({ "expiresInSeconds": 60 })));
    assert_eq!(s, 200, "{v}");
    let url = v["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(f, &url, None).status(), 200);
    f.srv.state.clock.advance(59_000);
    assert_eq!(fetch(f, &url, Some("bytes=0-2")).status(), 206);
    f.srv.state.clock.advance(2_000);
    let r = fetch(f, &url, None);
    assert_refused(fetch(f, &url, Some("bytes=0-2")), "expired");
    let body: Value = r.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
    // A fresh link works again.
    assert_eq!(fetch(f, &link(f, sm, aid), None).status(), 200);
}

/// `url` with the value of query parameter `key` replaced by `value`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == key => format!("{k}={value}"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn altered_and_foreign_links_are_refused(f: &Fixture) {
    let (sm, aid) = artifact(f, "tamper", "one.zck", b"first artifact");
    let (sm2, aid2) = artifact(f, "tamper2", "two.zck", b"second artifact");
    let url = link(f, sm, aid);
    let sig = url.split("sig=").nth(1).unwrap().to_owned();
    let expires: i64 = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    assert_refused(
        fetch(f, &with_param(&url, "sig", &flipped), None),
        "flipped signature",
    );
    assert_refused(fetch(f, &with_param(&url, "sig", ""), None), "empty signature");
    assert_refused(
        fetch(
            f,
            &with_param(&url, "expires", &(expires + 3600).to_string()),
            None,
        ),
        "extended expiry",
    );
    assert_refused(fetch(f, url.split('?').next().unwrap(), None), "no query");
    // The same signature on the other artifact, or under its name.
    let other = url.replace(
        &format!("/download/{aid}/one.zck"),
        &format!("/download/{aid2}/two.zck"),
    );
    assert_refused(fetch(f, &other, None), "other artifact");
    let renamed = url.replace("/one.zck?", "/two.zck?");
    assert_refused(fetch(f, &renamed, None), "other file name");
    assert_refused(
        fetch(f, &url.replace("/DEFAULT/", "/OTHER/"), None),
        "other tenant",
    );
    assert_refused(
        fetch(
            f,
            &url.replace(&format!("/download/{aid}/"), "/download/x/"),
            None,
        ),
        "bad id",
    );
    // Tenants are case-insensitive, as on the device API; the genuine links work.
    assert_eq!(
        fetch(f, &url.replace("/DEFAULT/", "/default/"), None).status(),
        200
    );
    assert_eq!(
        fetch(f, &link(f, sm2, aid2), None).bytes().unwrap().as_ref(),
        b"second artifact"
    );

    // Tenant BETA's links do not open DEFAULT's artifacts and the other way round.
    let (s, v) = f.post("/rest/v1/tenants", json!({ "name": "BETA" }));
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "beta", "password": "beta-password-123", "tenant": "BETA", "permissions": ["TENANT_ADMIN"] }),
    );
    assert_eq!(s, 201, "{v}");
    let beta = |method: Method, path: &str| {
        f.http
            .request(method, f.url(path))
            .basic_auth("beta", Some("beta-password-123"))
    };
    let (s, _) = read(
        beta(
            Method::POST,
            &format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}/downloadlink"),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(s, 404, "BETA cannot mint a link to DEFAULT's artifact");
    let (s, v) = read(
        beta(Method::POST, "/rest/v1/softwaremodules")
            .json(&json!([{ "name": "b", "version": "1", "type": "os" }]))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 201, "{v}");
    let bsm = v[0]["id"].as_i64().unwrap();
    let part = reqwest::blocking::multipart::Part::bytes(b"beta bytes".to_vec()).file_name("b.zck");
    let (s, v) = read(
        beta(Method::POST, &format!("/rest/v1/softwaremodules/{bsm}/artifacts"))
            .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 201, "{v}");
    let baid = v["id"].as_i64().unwrap();
    let (s, v) = read(
        beta(
            Method::POST,
            &format!("/rest/v1/softwaremodules/{bsm}/artifacts/{baid}/downloadlink"),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(s, 200, "{v}");
    let beta_url = v["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(f, &beta_url, None).bytes().unwrap().as_ref(), b"beta bytes");
    assert_refused(
        fetch(f, &beta_url.replace("/BETA/", "/DEFAULT/"), None),
        "BETA's link under DEFAULT",
    );
}

fn rotating_the_key_revokes_every_link(f: &Fixture) {
    let (sm, aid) = artifact(f, "rotate", "r.zck", b"rotate me");
    let (old_a, old_b) = (link(f, sm, aid), link(f, sm, aid));
    assert_eq!(fetch(f, &old_a, Some("bytes=0-0")).status(), 206);
    let (s, v) = read(
        f.mgmt(Method::POST, "/rest/v1/system/downloadkey/rotate")
            .send()
            .unwrap(),
    );
    assert_eq!(s, 204, "{v}");
    assert_refused(fetch(f, &old_a, None), "revoked");
    assert_refused(fetch(f, &old_b, Some("bytes=0-0")), "revoked");
    let new = link(f, sm, aid);
    assert_eq!(fetch(f, &new, None).bytes().unwrap().as_ref(), b"rotate me");
}

fn a_deleted_artifact_answers_404(f: &Fixture) {
    let (s, v) = f.post(
        "/rest/v1/softwaremodules",
        json!([{ "name": "gone", "version": "1.0", "type": "os" }]),
    );
    assert_eq!(s, 201, "{v}");
    let sm = v[0]["id"].as_i64().unwrap();
    let (s, v) = f.upload(sm, "gone.zck", b"soon gone".to_vec());
    assert_eq!(s, 201, "{v}");
    let aid = v["id"].as_i64().unwrap();
    let url = link(f, sm, aid);
    assert_eq!(fetch(f, &url, None).status(), 200);
    let (s, v) = f.delete(&format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}"));
    assert_eq!(s, 204, "{v}");
    let r = fetch(f, &url, Some("bytes=0-3"));
    assert_eq!(r.status(), 404);
    let body: Value = r.json().unwrap();
    assert_eq!(
        body["errorCode"], "hawkbit.server.error.repo.entityNotFound",
        "{body}"
    );
    // A forged link for the deleted id learns nothing: 403, not 404.
    assert_refused(
        fetch(f, &with_param(&url, "sig", "00"), None),
        "forged link to a deleted artifact",
    );
}

fn minting_checks_lifetime_permission_and_tenant(f: &Fixture) {
    let (sm, aid) = artifact(f, "mint", "m.zck", b"m");
    for bad in [
        json!({ "expiresInSeconds": 59 }),
        json!({ "expiresInSeconds": 40_000_000 }),
    ] {
        let (s, v) = mint(f, sm, aid, Some(bad));
        assert_eq!(s, 400, "{v}");
        assert!(v["message"].as_str().unwrap().contains("expiresInSeconds"), "{v}");
    }
    let (s, _) = mint(f, sm, aid, Some(json!({ "expiresIn": 60 })));
    assert_eq!(s, 400, "unknown fields are refused");
    let (s, v) = mint(f, sm, aid, None);
    assert_eq!(s, 200, "{v}");
    let week = 7 * 24 * 3600 * 1000;
    let now = f.srv.state.now();
    assert!(
        (now + week - 10_000..=now + week).contains(&v["expiresAt"].as_i64().unwrap()),
        "{v}"
    );
    let (s, _) = mint(f, sm, aid + 1000, None);
    assert_eq!(s, 404);
    // Minting needs READ_SOFTWARE_MODULE_ARTIFACT; rotating needs UPDATE_TENANT_CONFIGURATION.
    let (s, v) = f.post(
        "/rest/v1/users",
        json!({ "username": "reader", "password": "reader-password-123", "permissions": ["READ_SOFTWARE_MODULE"] }),
    );
    assert_eq!(s, 201, "{v}");
    let as_reader = |path: &str| {
        f.http
            .post(f.url(path))
            .basic_auth("reader", Some("reader-password-123"))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(
        as_reader(&format!(
            "/rest/v1/softwaremodules/{sm}/artifacts/{aid}/downloadlink"
        )),
        403
    );
    assert_eq!(as_reader("/rest/v1/system/downloadkey/rotate"), 403);
    // Links carry the configured public address, as `_links` do (here: what the request reached).
    let (_, v) = read(
        f.mgmt(
            Method::POST,
            &format!("/rest/v1/softwaremodules/{sm}/artifacts/{aid}/downloadlink"),
        )
        .header("host", "ota.example.com")
        .send()
        .unwrap(),
    );
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with("http://ota.example.com/DEFAULT/download/"),
        "{v}"
    );
}
