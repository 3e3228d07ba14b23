//! `/metrics`: the exposition passes `promtool check metrics`, counts what devices and operators
//! did under route templates (never raw paths), honours `metrics_token`, and a real Prometheus
//! scrapes it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.
#![allow(clippy::float_cmp)] // Sample values are whole counts, exact in an f64.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Fixture;
use support::process::Process;

const TOKEN: &str = "scrape-secret";

fn with_token(c: &mut updraft_server::config::Config) {
    c.metrics_token = Some(TOKEN.into());
}

/// A tool from Debian's `prometheus` package, or None (with a printed reason) outside CI.
fn tool(name: &str) -> Option<String> {
    match Command::new(name).arg("--version").output() {
        Ok(o) if o.status.success() => Some(name.to_owned()),
        other if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{name} required under CI (Debian package prometheus): {other:?}")
        }
        other => {
            eprintln!("skipping: {name} is not installed (apt-get install prometheus): {other:?}");
            None
        }
    }
}

fn scrape(f: &Fixture) -> String {
    let r = f.http.get(f.url("/metrics")).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().unwrap()
}

/// The value of the sample line that starts with `series` (name and labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn counts_polls_feedback_downloads_and_gauges(f: &Fixture) {
    let (_, ds) = f.distribution_set("m", "fw.bin", &[7u8; 1000]);
    f.poll("dev-1"); // registers the device
    let action = f.assign(ds, "dev-1", json!({}));
    let root = f.poll("dev-1");
    assert!(support::link(&root, "deploymentBase").is_some(), "{root}");
    let (_, base) = support::read(
        f.ddi(
            reqwest::Method::GET,
            "dev-1",
            &format!("/deploymentBase/{action}"),
        )
        .send()
        .unwrap(),
    );
    let download = base["deployment"]["chunks"][0]["artifacts"][0]["_links"]["download-http"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &download[download.find("/DEFAULT/").unwrap()..];
    let bytes = f
        .http
        .get(f.url(path))
        .header("authorization", format!("GatewayToken {}", support::GW))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(bytes.len(), 1000);
    assert_eq!(f.feedback("dev-1", action, "proceeding", "none").0, 200);

    let text = scrape(f);
    assert_eq!(sample(&text, "updraft_ddi_polls_total"), Some(2.0), "{text}");
    assert_eq!(
        sample(&text, "updraft_ddi_registrations_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "updraft_ddi_feedback_total{kind=\"deployment\",execution=\"proceeding\",result=\"none\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "updraft_artifact_served_bytes_total"),
        Some(1000.0),
        "{text}"
    );
    let open: f64 = text
        .lines()
        .filter(|l| l.starts_with("updraft_actions_active{tenant=\"DEFAULT\",status="))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(open, 1.0, "one open action: {text}");
    assert!(
        sample(&text, "updraft_device_cache_hits_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "updraft_device_cache_misses_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "updraft_db_pool_max_connections").unwrap() >= 1.0,
        "{text}"
    );
    assert!(text.contains("updraft_build_info{version=\""), "{text}");
    // Route templates, never the device's own path.
    let poll = "updraft_http_requests_total{method=\"GET\",route=\"/{tenant}/controller/v1/{controllerId}\",status=\"200\"}";
    assert_eq!(sample(&text, poll), Some(2.0), "{text}");
    assert!(
        text.contains("route=\"/rest/v1/distributionsets/{distributionSetId}/assignedTargets\""),
        "{text}"
    );
    assert!(!text.contains("dev-1"), "a raw path leaked into a label: {text}");
    assert!(
        text.contains(
            "updraft_http_request_duration_seconds_count{method=\"GET\",route=\"/{tenant}/controller/v1/{controllerId}\"} 2"
        ),
        "{text}"
    );

    // A rollout shows up by state.
    let (s, v) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "r", "distributionSetId": ds, "targetFilterQuery": "controllerId==dev-*", "amountGroups": 1 }),
    );
    assert_eq!(s, 201, "{v}");
    let text = scrape(f);
    assert_eq!(
        sample(&text, "updraft_rollouts{tenant=\"DEFAULT\",state=\"ready\"}"),
        Some(1.0),
        "{text}"
    );

    let Some(promtool) = tool("promtool") else {
        return;
    };
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn a_scrape_without_the_token_is_refused(f: &Fixture) {
    let r = f.http.get(f.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = f.http.get(f.url("/metrics")).bearer_auth("wrong").send().unwrap();
    assert_eq!(r.status(), 401);
    let r = f
        .http
        .get(f.url("/metrics"))
        .basic_auth(&f.srv.admin_user, Some(&f.srv.admin_password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "a Management API login is not the scrape token");
    scrape(f);
}

backend_tests!(@tweak super::with_token;
    counts_polls_feedback_downloads_and_gauges,
    a_scrape_without_the_token_is_refused,
);

/// A Prometheus server on 127.0.0.1 (a port it picks itself) with its files in `dir`, scraping
/// `target` with the token; killed on drop.
fn start_prometheus(binary: &str, target: &str, dir: &std::path::Path) -> Process {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: updraft\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
             \x20   authorization:\n      credentials: {TOKEN}\n\
             \x20   static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    support::process::prometheus(
        binary,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
        ],
    )
}

/// The first sample's value of an instant query, if Prometheus answers one.
fn query(http: &reqwest::blocking::Client, prom: &Process, q: &str) -> Option<f64> {
    let v: Value = http
        .get(format!("{}/api/v1/query", prom.url))
        .query(&[("query", q)])
        .send()
        .ok()?
        .json()
        .ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_real_prometheus_scrapes_the_server() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let f = Fixture::with(None, with_token);
    f.poll("scraped-device");
    let target = f.srv.url.trim_start_matches("http://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(&binary, &target, dir.path());
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut up, mut polls) = (None, None);
    while Instant::now() < deadline {
        up = query(&f.http, &prom, "up{job=\"updraft\"}");
        polls = query(&f.http, &prom, "updraft_ddi_polls_total{job=\"updraft\"}");
        if up == Some(1.0) && polls == Some(1.0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("Prometheus did not record a successful scrape: up={up:?}, polls={polls:?}");
}
