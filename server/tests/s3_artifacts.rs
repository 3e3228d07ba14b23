//! Artifacts in an S3 bucket end to end: redirect mode sends devices to a presigned URL they can
//! resume with `Range`, and `updraft-server storage migrate --to s3` moves a filesystem store into
//! the bucket, resumably and verified, after which a server on S3 serves the same artifacts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use reqwest::Method;
use serde_json::json;
use support::Fixture;
use support::s3::{Kind, S3Server};

fn content(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(7919) >> 3) as u8)
        .collect()
}

#[test]
fn redirect_mode_sends_devices_to_a_presigned_url_they_can_resume() {
    let Some(s3) = S3Server::start(Kind::S3sFs) else {
        return;
    };
    let f = Fixture::with(None, |c| {
        s3.configure(c);
        c.s3.redirect = true;
        c.s3.redirect_expiry_secs = 120;
    });
    let data = content(300_000);
    let (sm, ds) = f.distribution_set("redir", "fw.bin", &data);
    f.poll("rd1");
    f.assign(ds, "rd1", json!({}));
    let path = format!("/softwaremodules/{sm}/artifacts/fw.bin");

    // The answer itself: 302 to the bucket, not cached.
    let no_follow = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow
        .get(f.url(&format!("/DEFAULT/controller/v1/rd1{path}")))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&s3.endpoint), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert!(location.contains("X-Amz-Expires=120"), "{location}");

    // A device that follows it gets the bytes from the bucket, whole or resumed with Range.
    let full = f.ddi(Method::GET, "rd1", &path).send().unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.bytes().unwrap().as_ref(), &data[..]);
    let resumed = f.ddi_range("rd1", &path, "bytes=123456-");
    assert_eq!(resumed.status(), 206);
    assert_eq!(resumed.headers()["content-range"], "bytes 123456-299999/300000");
    assert_eq!(resumed.bytes().unwrap().as_ref(), &data[123_456..]);
    // HEAD is answered here (a presigned GET does not sign HEAD), and so are the .MD5SUM files.
    let head = f.ddi(Method::HEAD, "rd1", &path).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "300000");
    let md5 = f
        .ddi(Method::GET, "rd1", &format!("{path}.MD5SUM"))
        .send()
        .unwrap();
    assert_eq!(md5.status(), 200);
    assert!(md5.text().unwrap().ends_with("  fw.bin"));
    // The download is still logged in the action's history.
    f.assert_download_logged("rd1");
}

fn migrate(data_dir: &std::path::Path, env: &[(&'static str, String)]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args(["storage", "migrate", "--to", "s3"])
        .env("UPDRAFT_DATA_DIR", data_dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("UPDRAFT_STORAGE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_moves_the_filesystem_store_into_the_bucket_resumably() {
    let Some(s3) = S3Server::start(Kind::S3sFs) else {
        return;
    };
    // A server on the filesystem store with two artifacts, one large enough for multipart.
    let fs = Fixture::sqlite();
    let small = content(5000);
    let large = content(9 << 20);
    let (sm1, ds1) = fs.distribution_set("small", "small.bin", &small);
    let (sm2, ds2) = fs.distribution_set("large", "large.bin", &large);
    let settings = s3.bucket();
    let env = S3Server::env(&settings);

    let (ok, out, err) = migrate(&fs.srv.data_dir, &env);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("2 artifacts (9.0 MiB)"), "{out}");
    assert!(out.contains("2 copied, 0 already there, 0 failed"), "{out}");
    assert!(out.contains("[2/2]"), "{out}");
    assert!(out.contains("Set storage = \"s3\""), "{out}");
    assert_eq!(support::s3::object_keys(&settings).len(), 2);

    // Interrupted runs are resumed: what is in the bucket is skipped.
    let keys = support::s3::object_keys(&settings);
    std::fs::remove_file(s3.object_file(&settings, &keys[0])).unwrap();
    let (ok, out, err) = migrate(&fs.srv.data_dir, &env);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 copied, 1 already there, 0 failed"), "{out}");

    // A damaged file is reported in a sentence, not copied, and fails the run.
    let bogus = "ab".to_owned() + &"0".repeat(62);
    let dir = fs.srv.data_dir.join("artifacts/ab");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&bogus), b"not what the name says").unwrap();
    let (ok, out, err) = migrate(&fs.srv.data_dir, &env);
    assert!(!ok);
    assert!(out.contains("the file is damaged"), "{out}");
    assert!(
        err.contains("1 artifacts could not be copied (see above); run the command again"),
        "{err}"
    );
    assert_eq!(
        support::s3::object_keys(&settings).len(),
        2,
        "nothing of the damaged file stays"
    );
    std::fs::remove_file(dir.join(&bogus)).unwrap();

    // An unreachable bucket is said so.
    let mut wrong = env.clone();
    wrong.retain(|(k, _)| *k != "UPDRAFT_S3_BUCKET");
    wrong.push(("UPDRAFT_S3_BUCKET", "no-such-bucket".into()));
    let (ok, _, err) = migrate(&fs.srv.data_dir, &wrong);
    assert!(!ok);
    assert!(
        err.contains("the bucket \"no-such-bucket\" cannot be used"),
        "{err}"
    );

    // A server on the same database with S3 storage serves the migrated artifacts.
    let db = fs.srv.state.config.database_url();
    let mut srv = updraft_server::testing::TestServer::start_with(Some(db), |c| {
        c.storage = updraft_server::storage::StorageKind::S3;
        c.s3 = settings.clone();
    });
    srv.admin_password = fs.srv.admin_password.clone();
    let on_s3 = Fixture::around(srv);
    for (sm, ds, cid, name, data) in [
        (sm1, ds1, "mig1", "small.bin", &small),
        (sm2, ds2, "mig2", "large.bin", &large),
    ] {
        on_s3.poll(cid);
        on_s3.assign(ds, cid, json!({}));
        let path = format!("/softwaremodules/{sm}/artifacts/{name}");
        let r = on_s3.ddi(Method::GET, cid, &path).send().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().unwrap().as_ref(), &data[..]);
        let r = on_s3.ddi_range(cid, &path, "bytes=1000-1999");
        assert_eq!(r.bytes().unwrap().as_ref(), &data[1000..2000]);
    }
}
