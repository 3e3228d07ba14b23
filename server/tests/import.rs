//! `updraft-server import`: a seeded Updraft stands in for hawkBit (its Management API is hawkBit's)
//! and is imported into a fresh server over real HTTP; a tiny server replays hawkBit's own published
//! examples (`fixtures/hawkbit-examples.json`) for the fields Updraft does not produce.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Fixture, read};
use updraft_server::import::{self, ImportError, Options, Report};

backend_tests!(
    a_seeded_server_moves_into_a_fresh_one,
    an_interrupted_import_continues_where_it_stopped,
);

const BIG: usize = 50 * 1024 * 1024;
const TARGETS: usize = 10_000;

/// Deterministic incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn created(f: &Fixture, path: &str, body: Value) -> Value {
    let (s, v) = f.post(path, body);
    assert_eq!(s, 201, "POST {path}: {v}");
    v
}

fn options(src: &Fixture) -> Options {
    Options {
        from: src.srv.url.clone(),
        user: src.srv.admin_user.clone(),
        password: src.srv.admin_password.clone(),
        tenant: "DEFAULT".into(),
        max_targets: None,
        parallel: 4,
    }
}

fn total(f: &Fixture, path: &str) -> u64 {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (s, v) = f.get(&format!("{path}{sep}limit=1"));
    assert_eq!(s, 200, "{v}");
    v["total"].as_u64().unwrap()
}

/// Creates `n` targets `{prefix}{i:05}` a thousand per request, the first ten of type `target_type`.
fn targets(f: &Fixture, prefix: &str, n: usize, target_type: Option<i64>) {
    for start in (0..n).step_by(1000) {
        let batch: Vec<Value> = (start..n.min(start + 1000))
            .map(|i| match target_type {
                Some(t) if i < 10 => json!({ "controllerId": format!("{prefix}{i:05}"), "targetType": t }),
                _ => json!({ "controllerId": format!("{prefix}{i:05}") }),
            })
            .collect();
        created(f, "/rest/v1/targets", Value::Array(batch));
    }
}

/// What the seeded source holds that the checks look at.
struct Seeded {
    big_sha256: String,
    installed_action: i64,
}

/// One of everything, 10,000 targets and a 50 MB artifact.
fn seed(f: &Fixture) -> Seeded {
    f.set_config("authentication.targettoken.enabled", json!(true));
    f.set_config("pollingTime", json!("00:02:00"));
    let smt = created(
        f,
        "/rest/v1/softwaremoduletypes",
        json!([{ "name": "Firmware", "key": "firmware", "maxAssignments": 1 }]),
    );
    let smt = smt[0]["id"].as_i64().unwrap();
    let dst = created(
        f,
        "/rest/v1/distributionsettypes",
        json!([{ "name": "Firmware set", "key": "fwset", "mandatorymodules": [{ "id": smt }] }]),
    );
    let dst = dst[0]["id"].as_i64().unwrap();
    let tt = created(
        f,
        "/rest/v1/targettypes",
        json!([{ "name": "Gateway", "key": "gateway", "compatibledistributionsettypes": [{ "id": dst }] }]),
    );
    let tt = tt[0]["id"].as_i64().unwrap();

    let modules = created(
        f,
        "/rest/v1/softwaremodules",
        json!([
            { "name": "fw", "version": "1.0", "type": "firmware", "vendor": "ACME" },
            { "name": "fw", "version": "2.0", "type": "firmware" },
        ]),
    );
    let (sm1, sm2) = (
        modules[0]["id"].as_i64().unwrap(),
        modules[1]["id"].as_i64().unwrap(),
    );
    created(
        f,
        &format!("/rest/v1/softwaremodules/{sm1}/metadata"),
        json!([{ "key": "channel", "value": "stable", "targetVisible": true }]),
    );
    let big = noise(BIG);
    let big_sha256 = format!("{:x}", Sha256::digest(&big));
    let (s, v) = f.upload(sm1, "firmware.img", big);
    assert_eq!(s, 201, "{v}");
    let (s, v) = f.upload(sm2, "firmware-2.img", b"second firmware".to_vec());
    assert_eq!(s, 201, "{v}");

    let sets = created(
        f,
        "/rest/v1/distributionsets",
        json!([
            { "name": "fw", "version": "1.0", "type": "fwset", "modules": [{ "id": sm1 }] },
            { "name": "fw", "version": "2.0", "type": "fwset", "modules": [{ "id": sm2 }] },
            { "name": "withdrawn", "version": "0.9", "type": "fwset", "modules": [{ "id": sm1 }] },
        ]),
    );
    let [fw, fw2, withdrawn] = [0, 1, 2].map(|i| sets[i]["id"].as_i64().unwrap());
    created(
        f,
        &format!("/rest/v1/distributionsets/{fw}/metadata"),
        json!([{ "key": "notes", "value": "first" }]),
    );
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsets/{withdrawn}/invalidate"),
        json!({ "actionCancelationType": "none" }),
    );
    assert!(s < 300, "{v}");

    let tag = created(
        f,
        "/rest/v1/targettags",
        json!([{ "name": "lab", "colour": "#ff0000" }]),
    );
    let ds_tag = created(f, "/rest/v1/distributionsettags", json!([{ "name": "stable" }]));
    targets(f, "dev-", TARGETS, Some(tt));
    let (s, v) = f.post(
        &format!("/rest/v1/targettags/{}/assigned", tag[0]["id"]),
        json!(["dev-00000", "dev-00001"]),
    );
    assert!(s < 300, "{v}");
    let (s, v) = f.post(
        &format!("/rest/v1/distributionsettags/{}/assigned", ds_tag[0]["id"]),
        json!([fw]),
    );
    assert!(s < 300, "{v}");

    // dev-00000 reports its attributes and installs fw 1.0; dev-00001 has fw 2.0 on its way.
    let (s, v) = read(
        f.ddi(Method::PUT, "dev-00000", "/configData")
            .json(&json!({ "data": { "hw": "rev2", "serial": "A1" }, "mode": "merge" }))
            .send()
            .unwrap(),
    );
    assert!(s < 300, "{v}");
    let installed_action = f.assign(fw, "dev-00000", json!({ "type": "forced" }));
    let (s, v) = f.feedback("dev-00000", installed_action, "closed", "success");
    assert_eq!(s, 200, "{v}");
    f.assign(fw2, "dev-00001", json!({ "type": "soft" }));

    let filter = created(
        f,
        "/rest/v1/targetfilters",
        json!({ "name": "never", "query": "controllerId==nobody*" }),
    );
    let (s, v) = f.post(
        &format!("/rest/v1/targetfilters/{}/autoAssignDS", filter["id"]),
        json!({ "id": fw2, "type": "soft" }),
    );
    assert_eq!(s, 200, "{v}");
    created(
        f,
        "/rest/v1/rollouts",
        json!({ "name": "wave", "distributionSetId": fw2, "targetFilterQuery": "controllerId==dev-0999*", "amountGroups": 1 }),
    );
    Seeded {
        big_sha256,
        installed_action,
    }
}

fn tally(report: &Report, label: &str) -> (u64, u64, u64, usize) {
    let t = report
        .get(label)
        .unwrap_or_else(|| panic!("no {label} in the report"));
    (t.added, t.updated, t.unchanged, t.skipped.len())
}

fn a_seeded_server_moves_into_a_fresh_one(dst: &Fixture) {
    let src = Fixture::sqlite();
    let seeded = seed(&src);
    let report = import::run(&dst.srv.state, &options(&src)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", report.render());

    for path in [
        "/rest/v1/targets",
        "/rest/v1/softwaremoduletypes",
        "/rest/v1/distributionsettypes",
        "/rest/v1/targettypes",
        "/rest/v1/softwaremodules",
        "/rest/v1/distributionsets",
        "/rest/v1/targettags",
        "/rest/v1/distributionsettags",
        "/rest/v1/targetfilters",
        "/rest/v1/actions",
    ] {
        assert_eq!(total(dst, path), total(&src, path), "{path}");
    }
    assert_eq!(report.rollouts.len(), 1, "the rollout is listed, not recreated");
    assert_eq!(total(dst, "/rest/v1/rollouts"), 0);

    // Devices keep their tokens, attributes, types and installed sets.
    for cid in ["dev-00000", "dev-00001", "dev-00005", "dev-09999"] {
        let (a, b) = (src.target(cid), dst.target(cid));
        for field in [
            "securityToken",
            "updateStatus",
            "name",
            "targetTypeName",
            "installedAt",
        ] {
            assert_eq!(a[field], b[field], "{cid} {field}");
        }
    }
    let (_, attrs) = dst.get("/rest/v1/targets/dev-00000/attributes");
    assert_eq!(attrs, json!({ "hw": "rev2", "serial": "A1" }));
    let (_, installed) = dst.get("/rest/v1/targets/dev-00000/installedDS");
    assert_eq!(
        (installed["name"].as_str(), installed["version"].as_str()),
        (Some("fw"), Some("1.0"))
    );
    assert_eq!(installed["locked"], true);
    let (_, assigned) = dst.get("/rest/v1/targets/dev-00001/assignedDS");
    assert_eq!(assigned["version"], "2.0");
    let (_, tags) = dst.get("/rest/v1/targets/dev-00001/tags");
    assert_eq!(tags[0]["name"], "lab");
    assert_eq!(
        dst.get("/rest/v1/system/configs/pollingTime").1["value"],
        "00:02:00"
    );

    // The repository: metadata, the invalidated set, the artifact's bytes.
    let (_, ds) = dst.get("/rest/v1/distributionsets?q=name==withdrawn");
    assert_eq!(ds["content"][0]["valid"], false);
    let ds_id = installed["id"].as_i64().unwrap();
    assert_eq!(
        dst.get(&format!("/rest/v1/distributionsets/{ds_id}/metadata/notes"))
            .1["value"],
        "first"
    );
    let (_, tagged) = dst.get("/rest/v1/distributionsettags?q=name==stable");
    let (_, tagged) = dst.get(&format!(
        "/rest/v1/distributionsettags/{}/assigned",
        tagged["content"][0]["id"]
    ));
    assert_eq!(tagged["content"][0]["id"], ds_id);
    let sm = installed["modules"][0]["id"].as_i64().unwrap();
    assert_eq!(
        dst.get(&format!("/rest/v1/softwaremodules/{sm}/metadata/channel"))
            .1["targetVisible"],
        true
    );
    let (_, arts) = dst.get(&format!("/rest/v1/softwaremodules/{sm}/artifacts"));
    assert_eq!(arts[0]["hashes"]["sha256"], seeded.big_sha256.as_str());
    let bytes = dst
        .mgmt(
            Method::GET,
            &format!(
                "/rest/v1/softwaremodules/{sm}/artifacts/{}/download",
                arts[0]["id"]
            ),
        )
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(&bytes)), seeded.big_sha256);
    let (_, filters) = dst.get("/rest/v1/targetfilters");
    let (_, fw2) = dst.get("/rest/v1/distributionsets?q=version==2.0");
    assert_eq!(
        filters["content"][0]["autoAssignDistributionSet"],
        fw2["content"][0]["id"]
    );
    let (_, tt) = dst.get("/rest/v1/targettypes?q=key==gateway");
    let (_, compatible) = dst.get(&format!(
        "/rest/v1/targettypes/{}/compatibledistributionsettypes",
        tt["content"][0]["id"]
    ));
    assert_eq!(compatible[0]["key"], "fwset");

    // The history, for audit: the finished action with its statuses.
    let (_, actions) = dst.get("/rest/v1/targets/dev-00000/actions");
    assert_eq!(actions["content"][0]["status"], "finished");
    let (_, history) = dst.get(&format!(
        "/rest/v1/targets/dev-00000/actions/{}/status",
        actions["content"][0]["id"]
    ));
    let (_, src_history) = src.get(&format!(
        "/rest/v1/targets/dev-00000/actions/{}/status",
        seeded.installed_action
    ));
    assert_eq!(history["total"], src_history["total"]);

    // A device that had installed its set polls the new server with its old token: nothing new.
    let poll = |cid: &str| {
        let token = src.target(cid)["securityToken"].as_str().unwrap().to_owned();
        let r = dst
            .http
            .get(dst.url(&format!("/DEFAULT/controller/v1/{cid}")))
            .header("authorization", format!("TargetToken {token}"))
            .send()
            .unwrap();
        let (s, v) = read(r);
        assert_eq!(s, 200, "{cid}: {v}");
        v
    };
    assert!(
        poll("dev-00000")["_links"]["deploymentBase"].is_null(),
        "nothing new for dev-00000"
    );
    assert!(
        poll("dev-00001")["_links"]["deploymentBase"]["href"].is_string(),
        "the open action stays open"
    );

    // A second run adds nothing.
    let again = import::run(&dst.srv.state, &options(&src)).unwrap_or_else(|e| panic!("{e}"));
    for (label, t) in &again.entities {
        assert_eq!(
            (t.added, t.updated),
            (0, 0),
            "{label} on the second run: {}",
            again.render()
        );
    }
    assert_eq!(again.artifact_bytes, 0);
    assert_eq!(tally(&again, "targets").2, TARGETS as u64);
}

fn an_interrupted_import_continues_where_it_stopped(dst: &Fixture) {
    let src = Fixture::sqlite();
    let (_, ds) = src.distribution_set("small", "small.bin", b"small payload");
    targets(&src, "r-", 1200, None);
    src.assign(ds, "r-00700", json!({}));
    let first = import::run(
        &dst.srv.state,
        &Options {
            max_targets: Some(500),
            ..options(&src)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tally(&first, "targets").0, 500);
    assert_eq!(total(dst, "/rest/v1/targets"), 500);
    assert_eq!(
        tally(&first, "actions").3,
        1,
        "the action of a target not imported yet waits"
    );
    let rest = import::run(&dst.srv.state, &options(&src)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tally(&rest, "targets"), (700, 0, 500, 0));
    assert_eq!(tally(&rest, "actions").0, 1);
    assert_eq!(total(dst, "/rest/v1/targets"), 1200);
    assert_eq!(dst.get("/rest/v1/targets/r-00700/assignedDS").1["name"], "small");
}

#[test]
fn bad_sources_are_refused_in_sentences() {
    let src = Fixture::sqlite();
    let dst = Fixture::sqlite();
    let run = |o: Options| import::run(&dst.srv.state, &o).err().expect("the import fails");
    let e = run(Options {
        password: "wrong".into(),
        ..options(&src)
    });
    assert!(matches!(e, ImportError::Credentials(_)), "{e}");
    assert!(e.to_string().contains("refused the user name or password"), "{e}");
    assert_eq!(e.exit_code(), 3);
    let e = run(Options {
        from: "not a url".into(),
        ..options(&src)
    });
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("not a usable URL"), "{e}");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = run(Options {
        from: format!("http://127.0.0.1:{port}"),
        ..options(&src)
    });
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("cannot be reached"), "{e}");

    // The command itself: a sentence on stderr, no Debug output, the exit code.
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args([
            "import",
            "--from",
            &src.srv.url,
            "--user",
            "admin",
            "--password",
            "wrong",
        ])
        .env("UPDRAFT_DATA_DIR", data.path())
        .env("UPDRAFT_ADMIN_PASSWORD", "a-long-enough-password")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.starts_with("updraft-server import: "), "{stderr}");
    assert!(!stderr.contains("Credentials("), "{stderr}");

    // --dry-run counts what the source holds and writes nothing.
    src.create_target("dry-1");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft-server"))
        .args([
            "import",
            "--dry-run",
            "--from",
            &src.srv.url,
            "--user",
            "admin",
            "--password",
            &src.srv.admin_password,
        ])
        .env("UPDRAFT_DATA_DIR", data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("targets") && l.trim_end().ends_with(" 1")),
        "{stdout}"
    );
}
