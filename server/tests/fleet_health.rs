//! Fleet health over real HTTP (docs/fleet-health.md): devices report their `updraft.*` slot
//! attributes through DDI, and `/rest/v1/fleet/health`, `/rest/v1/fleet/rollbacks`, the fleet page
//! and the device page show exactly what they did. Every figure's RSQL query, asked of
//! `/rest/v1/targets`, lists as many devices as the figure counts. Time moves by the server's
//! shiftable clock, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::{Value, json};
use support::{Fixture, ui_login, ui_page};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

backend_tests!(
    fleet_health_counts_what_devices_did,
    fleet_pages_show_the_figures_and_link_to_devices,
);

fn config_data(f: &Fixture, cid: &str, data: &[(&str, &str)]) {
    let data: serde_json::Map<String, Value> =
        data.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let (s, v) = support::read(
        f.ddi(reqwest::Method::PUT, cid, "/configData")
            .json(&json!({ "mode": "merge", "data": data }))
            .send()
            .unwrap(),
    );
    assert_eq!(s, 200, "{v}");
}

fn percent(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How many devices `/rest/v1/targets?q=` lists for `q`.
fn listed(f: &Fixture, q: &str) -> i64 {
    let (s, v) = f.get(&format!("/rest/v1/targets?limit=1&q={}", percent(q)));
    assert_eq!(s, 200, "{q}: {v}");
    v["total"].as_i64().unwrap()
}

/// Polls of every device but `silent`, persisted (poll times are buffered in memory).
fn poll_all_but(f: &Fixture, silent: &str) {
    for i in 0..6 {
        let cid = format!("fh-{i}");
        if cid != silent {
            f.poll(&cid);
        }
    }
    f.srv.state.polls.flush(&f.srv.state.db).unwrap();
}

/// Six devices: fh-0 and fh-1 update and commit slot b, fh-2 rolls back (watchdog) and fh-3 too
/// (health), fh-4 reports success on slot b while still trying it and then goes silent; fh-5
/// never gets an update and sends nothing.
fn fleet(f: &Fixture) -> i64 {
    f.set_config("pollingTime", json!("00:01:00"));
    for i in 0..6 {
        f.create_target(&format!("fh-{i}"));
    }
    let ds = f.distribution_set("gw-os", "os.bin", &[7u8; 1024]).1;
    for i in 0..5 {
        let cid = format!("fh-{i}");
        let action = f.assign(ds, &cid, json!({ "type": "forced" }));
        f.poll(&cid);
        config_data(
            f,
            &cid,
            &[
                ("updraft.slot.booted", "b"),
                ("updraft.trial", "running"),
                ("updraft.slot.b.version", "1.0"),
            ],
        );
        let (s, v) = f.feedback(&cid, action, "closed", "success");
        assert_eq!(s, 200, "{v}");
    }
    for cid in ["fh-0", "fh-1"] {
        config_data(
            f,
            cid,
            &[
                ("updraft.trial", "none"),
                ("updraft.trial.outcome", "committed"),
                ("updraft.slot.committed", "b"),
                ("updraft.health", "ok"),
            ],
        );
    }
    for (cid, reason) in [("fh-2", "watchdog"), ("fh-3", "health")] {
        config_data(
            f,
            cid,
            &[
                ("updraft.slot.booted", "a"),
                ("updraft.trial", "none"),
                ("updraft.trial.outcome", "rolled_back"),
                ("updraft.rollback_reason", reason),
            ],
        );
    }
    poll_all_but(f, "");
    // Four minutes later everybody but fh-4 polled: 3 × the one-minute polling time is over.
    f.srv.state.clock.advance(4 * MINUTE);
    poll_all_but(f, "fh-4");
    ds
}

fn health(f: &Fixture, query: &str) -> Value {
    let (s, v) = f.get(&format!("/rest/v1/fleet/health{query}"));
    assert_eq!(s, 200, "{v}");
    v
}

/// (key, devices) of a figure list, with each figure's query checked against the target list.
fn figures(f: &Fixture, list: &Value, key: impl Fn(&Value) -> String) -> Vec<(String, i64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = e["devices"].as_i64().unwrap();
            let q = e["query"].as_str().unwrap();
            if !q.is_empty() {
                assert_eq!(listed(f, q), n, "{q} lists as many devices as {e} counts");
            }
            (key(e), n)
        })
        .collect()
}

fn set_name(e: &Value) -> String {
    e["distributionSet"]["name"].as_str().unwrap_or("-").to_owned()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
}

fn fleet_health_counts_what_devices_did(f: &Fixture) {
    fleet(f);
    let h = health(f, "");
    assert_eq!(h["devices"], 6, "{h}");
    assert_eq!(
        figures(f, &h["installed"], set_name),
        vec![("gw-os".into(), 5), ("-".into(), 1)]
    );
    let slots = figures(f, &h["slots"], |e| {
        format!("{}/{}", text(&e["booted"]), text(&e["trial"]))
    });
    let mut sorted = slots.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("-/-".into(), 1),
            ("a/none".into(), 2),
            ("b/none".into(), 2),
            ("b/running".into(), 1)
        ]
    );
    for window in ["rolledBackLast24h", "rolledBackLast7d"] {
        let r = &h[window];
        assert_eq!(r["devices"], 2, "{window}: {r}");
        assert_eq!(listed(f, r["query"].as_str().unwrap()), 2);
        assert_eq!(
            figures(f, &r["byDistributionSet"], set_name),
            vec![("gw-os".into(), 2)]
        );
        let mut reasons = figures(f, &r["byReason"], |e| text(&e["reason"]));
        reasons.sort();
        assert_eq!(reasons, vec![("health".into(), 1), ("watchdog".into(), 1)]);
    }
    let s = &h["silentAfterUpdate"];
    assert_eq!(s["silenceMs"], 3 * MINUTE, "{s}");
    assert_eq!(s["devices"], 1, "{s}");
    assert_eq!(listed(f, s["query"].as_str().unwrap()), 1, "{s}");
    assert_eq!(
        figures(f, &s["byDistributionSet"], set_name),
        vec![("gw-os".into(), 1)]
    );

    // The rollbacks themselves, newest first, within the window.
    let (st, v) = f.get("/rest/v1/fleet/rollbacks?since=24h");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    let mut got: Vec<(String, String, String)> = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (text(&r["controllerId"]), text(&r["reason"]), set_name(r)))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("fh-2".into(), "watchdog".into(), "gw-os".into()),
            ("fh-3".into(), "health".into(), "gw-os".into())
        ]
    );
    // Each device reported its reason and its trial outcome together: one rollback each.
    let (_, v) = f.get("/rest/v1/fleet/rollbacks?since=24h&limit=1");
    assert_eq!(
        (v["total"].as_i64(), v["size"].as_i64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let (_, v) = f.get("/rest/v1/fleet/rollbacks?since=3m");
    assert_eq!(v["total"], 0, "the rollbacks were four minutes ago: {v}");
    let (st, v) = f.get("/rest/v1/fleet/rollbacks?since=yesterday");
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("24h"), "{v}");
    let (st, _) = f.get("/rest/v1/fleet/health?window=0d");
    assert_eq!(st, 400);

    // Two days on: out of the 24-hour window, still in the 7-day one; the silent device's update is
    // two days old, so with a one-day window it no longer counts.
    f.srv.state.clock.advance(48 * HOUR);
    let h = health(f, "?window=1d");
    assert_eq!(h["rolledBackLast24h"]["devices"], 0, "{h}");
    assert_eq!(h["rolledBackLast7d"]["devices"], 2, "{h}");
    assert_eq!(h["silentAfterUpdate"]["devices"], 0, "{h}");
    assert_eq!(
        health(f, "?window=7d")["silentAfterUpdate"]["devices"],
        6 - 1,
        "everyone is silent now but fh-5, which never updated"
    );

    // The events are kept 400 days (`health_event_retention_days`), then deleted.
    let recorded = health_events(f);
    assert!(
        recorded >= 4,
        "two rollbacks, each with reason and outcome: {recorded}"
    );
    f.srv.state.clock.advance(397 * 24 * HOUR);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(health_events(f), recorded, "399 days old: kept");
    // A run that deleted rows (here the year-old audit-log entries) runs again at the next sweep;
    // one that deleted nothing waits an hour (server time) before taking the write lock again.
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    let runs = || f.srv.state.metrics.job_runs.get(&"health_event_retention");
    let before = runs();
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(runs(), before, "nothing to delete: not run again within the hour");
    f.srv.state.clock.advance(HOUR);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(runs(), before + 1, "an hour later it looks again");
    f.srv.state.clock.advance(2 * 24 * HOUR);
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
    assert_eq!(health_events(f), 0, "401 days old: deleted");
}

/// How many fleet-health events the database holds.
fn health_events(f: &Fixture) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    f.srv
        .state
        .db
        .read_blocking(|c| -> updraft_server::store::Result<Vec<Count>> {
            Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM target_health_events").load(c)?)
        })
        .unwrap()[0]
        .n
}

fn fleet_pages_show_the_figures_and_link_to_devices(f: &Fixture) {
    fleet(f);
    let cookie = ui_login(f);
    let overview = ui_page(f, &cookie, "/ui");
    assert!(
        overview.contains(r#"href="/ui/fleet""#),
        "the navigation links the fleet page"
    );
    let html = ui_page(f, &cookie, "/ui/fleet");
    assert!(html.contains("<h1>Fleet health</h1>"), "{html}");
    // The reason "watchdog" links to the device list filtered by its RSQL, which lists fh-2 alone.
    let q = r#"attribute.updraft.rollback_reason=="watchdog""#;
    let link = format!("/ui/devices?q={}", percent(q));
    assert!(html.contains(&link), "{link} in {html}");
    let list = ui_page(f, &cookie, &link);
    assert!(
        list.contains(&format!("/ui/devices/{}\"", percent("fh-2"))),
        "{list}"
    );
    for other in ["fh-0", "fh-1", "fh-3", "fh-4", "fh-5"] {
        assert!(
            !list.contains(&format!("/ui/devices/{}\"", percent(other))),
            "{other} in {list}"
        );
    }
    // fh-2's slot panel: slot a booted, b holding 1.0, its trial history newest first.
    let device = ui_page(f, &cookie, "/ui/devices/fh-2");
    assert!(device.contains("<h2>Slots</h2>"), "{device}");
    assert!(
        device.contains(r#"<dd id="rollback-reason">watchdog</dd>"#),
        "{device}"
    );
    assert!(
        device.contains(r#"<dd id="trial-outcome">rolled_back</dd>"#),
        "{device}"
    );
    let history = &device[device.find("trial-history").unwrap()..];
    let rollback = history.find("(none) → watchdog").unwrap();
    let booted_b = history.find("(none) → b").unwrap();
    assert!(rollback < booted_b, "newest first: {history}");
    assert!(history.contains("b → a"), "{history}");
    // A device that sends nothing has no panel.
    assert!(!ui_page(f, &cookie, "/ui/devices/fh-5").contains("<h2>Slots</h2>"));
}
