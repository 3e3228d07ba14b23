//! The console's answers to "is my rollout stuck, and why?" and "what is my fleet running?" over
//! HTTP (issue 19, items 1 and 2): a real rollout whose first group waits on offline devices shows
//! per group its devices by stage (not polled since assigned, downloading, installing, offline),
//! when it last moved and what would unblock it, and canceling the offline devices' updates from
//! the page lets it move on; paused rollouts say who or which threshold paused them; the overview
//! and a set's page count the devices that have each set installed and assigned, with links to
//! exactly those devices. Time is the server's shiftable clock; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use serde_json::{Value, json};
use support::{Fixture, browser, controller_ids, ui_login, ui_page};
use updraft_server::store::{self, AnyConnection};

backend_tests!(
    a_stuck_group_shows_what_it_waits_for_and_moves_on_when_stragglers_are_canceled,
    paused_rollouts_say_who_or_which_threshold_paused_them,
    the_overview_and_a_set_page_count_installed_and_assigned_devices,
);

const MINUTE: i64 = 60_000;

/// The markup of the element that starts with `start` (up to its closing `end`).
fn part<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("no {start} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find(end).map_or(rest.len(), |e| e + end.len())]
}

/// Writes the polls the server batches (`last_poll`), then runs one scheduler round.
fn sweep(f: &Fixture) {
    f.srv.state.polls.flush(&f.srv.state.db).unwrap();
    updraft_server::scheduler::run_once(&f.srv.state, true).unwrap();
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(f: &Fixture, sql: String) -> i64 {
    f.srv
        .state
        .db
        .read_blocking(move |c: &mut AnyConnection| -> store::Result<i64> {
            Ok(diesel::sql_query(sql.clone()).get_result::<Count>(c)?.n)
        })
        .unwrap()
}

/// The page reads each open action's copies of its device's last poll and controller id
/// (migration `rollout_open_poll`); checks them against the devices themselves, and group
/// `group`'s devices not polled since assigned counted from the devices, which it returns.
fn not_polled_from_devices(f: &Fixture, group: i64) -> i64 {
    let stale = count(
        f,
        "SELECT COUNT(*) AS n FROM actions a JOIN targets t ON t.id = a.target_id WHERE a.active \
         AND (COALESCE(a.target_last_poll, -1) <> COALESCE(t.last_poll, -1) \
              OR COALESCE(a.target_controller_id, '') <> t.controller_id)"
            .to_owned(),
    );
    assert_eq!(stale, 0, "open actions whose copies differ from their devices");
    count(
        f,
        format!(
            "SELECT COUNT(*) AS n FROM actions a JOIN targets t ON t.id = a.target_id \
             WHERE a.active AND a.rollout_group_id = {group} AND a.status = 'running' \
             AND a.last_modified_by <> t.controller_id \
             AND (t.last_poll IS NULL OR t.last_poll < a.last_modified_at)"
        ),
    )
}

fn targets(f: &Fixture, ids: &[String]) {
    let body: Vec<Value> = ids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
}

/// A started rollout of a new set over `filter`, in `groups` groups; returns (id, group ids).
fn started_rollout(f: &Fixture, name: &str, filter: &str, groups: usize, extra: Value) -> (i64, Vec<i64>) {
    let ds = f.distribution_set(name, "fw.bin", b"firmware").1;
    let mut body = json!({
        "name": name, "distributionSetId": ds, "targetFilterQuery": filter, "amountGroups": groups,
        "successCondition": { "condition": "THRESHOLD", "expression": "100" },
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, r) = f.post("/rest/v1/rollouts", body);
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let (s, v) = f.post(&format!("/rest/v1/rollouts/{id}/start"), json!({}));
    assert!(s == 200 || s == 204, "{s} {v}");
    let (s, g) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups?limit=50"));
    assert_eq!(s, 200, "{g}");
    let ids = g["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    (id, ids)
}

fn group_devices(f: &Fixture, rollout: i64, group: i64) -> Vec<String> {
    let (s, v) = f.get(&format!(
        "/rest/v1/rollouts/{rollout}/deploygroups/{group}/targets?limit=100"
    ));
    assert_eq!(s, 200, "{v}");
    let mut ids = controller_ids(&v);
    ids.sort();
    ids
}

/// The open action a device's poll offers it.
fn offered_action(f: &Fixture, cid: &str) -> i64 {
    let poll = f.poll(cid);
    let href = poll["_links"]["deploymentBase"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("{cid} has no deployment: {poll}"));
    support::action_id_of(href)
}

/// The devices the UI's device list shows for RSQL `q`.
fn listed(f: &Fixture, cookie: &str, q_encoded: &str) -> Vec<String> {
    let html = ui_page(f, cookie, &format!("/ui/devices?q={q_encoded}"));
    let mut ids: Vec<String> = html
        .split("href=\"/ui/devices/")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].replace("%2D", "-"))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn a_stuck_group_shows_what_it_waits_for_and_moves_on_when_stragglers_are_canceled(f: &Fixture) {
    // Online means a poll within polling time (1 min) plus overdue time (5 min, hawkBit's default).
    f.set_config("pollingTime", json!("00:01:00"));
    let ids: Vec<String> = (0..10).map(|i| format!("stuck-{i:02}")).collect();
    targets(f, &ids);
    for cid in &ids {
        f.poll(cid);
    }
    let (id, groups) = started_rollout(f, "stuck", "controllerId==stuck-*", 2, json!({}));
    let (first, second) = (groups[0], groups[1]);
    let members = group_devices(f, id, first);
    assert_eq!(members.len(), 5);
    let cookie = ui_login(f);

    // Right after the start, every device of the first group has yet to poll.
    sweep(f);
    let html = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
    let row = part(&html, &format!("<tr data-group=\"{first}\""), "</tr>");
    assert!(
        row.contains("<li data-stage=\"not-polled\">5 not polled since assigned</li>"),
        "{row}"
    );
    assert!(!row.contains("offline"), "{row}");
    assert_eq!(not_polled_from_devices(f, first), 5);

    // Ten minutes later: one device finished, one is downloading, one installing, two never came
    // back (offline, and not polled since the update was assigned).
    f.srv.state.clock.advance(10 * MINUTE);
    let [done, fetching, installing, gone @ ..] = members.as_slice() else {
        unreachable!()
    };
    let a = offered_action(f, done);
    assert_eq!(f.feedback(done, a, "closed", "success").0, 200);
    let a = offered_action(f, fetching);
    let (s, v) = f
        .ddi(reqwest::Method::GET, fetching, &format!("/deploymentBase/{a}"))
        .send()
        .map(support::read)
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let a = offered_action(f, installing);
    assert_eq!(f.feedback(installing, a, "downloaded", "none").0, 200);
    // Some more time passes without a word from anyone.
    f.srv.state.clock.advance(3 * MINUTE);
    sweep(f);

    let html = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
    assert!(
        part(&html, "<p id=\"rollout-status\"", "</p>").contains("badge s-running"),
        "{html}"
    );
    let row = part(&html, &format!("<tr data-group=\"{first}\""), "</tr>");
    for stage in [
        "<li data-stage=\"not-polled\">2 not polled since assigned</li>",
        "<li data-stage=\"downloading\">1 downloading</li>",
        "<li data-stage=\"installing\">1 installing</li>",
        ">2 offline</a>",
        "badge s-running",
        "3 min ago",
    ] {
        assert!(row.contains(stage), "{stage} missing in {row}");
    }
    assert_eq!(not_polled_from_devices(f, first), 2);
    let second_row = part(&html, &format!("<tr data-group=\"{second}\""), "</tr>");
    assert!(second_row.contains("badge s-scheduled"), "{second_row}");
    assert!(
        second_row.contains("<span class=\"muted\">none</span>"),
        "{second_row}"
    );

    // What would unblock it: 4 more must finish; wait, start the next group, or cancel the two.
    let unblock = part(&html, "<section class=\"card unblock\"", "</section>");
    assert!(unblock.contains("waits for 4 devices"), "{unblock}");
    assert!(
        unblock.contains("4 more must finish to reach its success threshold of 100 %"),
        "{unblock}"
    );
    assert!(unblock.contains("2 of them are offline"), "{unblock}");
    assert!(
        unblock.contains(&format!("action=\"/ui/rollouts/{id}/next-group\"")),
        "{unblock}"
    );
    let cancel = format!("/ui/rollouts/{id}/groups/{first}/cancel-offline");
    assert!(unblock.contains(&cancel), "{unblock}");
    assert!(unblock.contains("Lower the threshold"), "{unblock}");

    // The group's name links to its devices, the offline count to the two that are gone.
    let group_q = format!("rolloutGroup%2Eid%3D%3D{first}");
    assert!(
        row.contains(&format!("href=\"/ui/devices?q={group_q}\"")),
        "{row}"
    );
    assert_eq!(listed(f, &cookie, &group_q), members);
    let offline_href = row.split("<li class=\"offline\"").nth(1).unwrap();
    let offline_q = offline_href
        .split("?q=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(listed(f, &cookie, offline_q), gone.to_vec());

    // Canceling the stragglers closes their actions; once the two online devices finish, the first
    // group is done and the second one starts.
    let res = browser()
        .post(f.url(&cancel))
        .header("cookie", &cookie)
        .header("origin", &f.srv.url)
        .form(&[("x", "")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("Canceled%20the%20updates%20of%202%20offline%20devices"),
        "{location}"
    );
    for cid in gone {
        let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/actions"));
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["content"][0]["status"], "canceled", "{v}");
        assert_eq!(v["content"][0]["active"], false, "{v}");
    }
    for cid in [fetching, installing] {
        let (s, v) = f.get(&format!("/rest/v1/targets/{cid}/actions"));
        assert_eq!(s, 200, "{v}");
        let a = v["content"][0]["id"].as_i64().unwrap();
        assert_eq!(f.feedback(cid, a, "closed", "success").0, 200);
    }
    // The reports wake the scheduler, which may hold the rollout while this sweep skips it: wait
    // for the evaluation rather than assume which one ran it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let html = loop {
        sweep(f);
        let html = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
        let row = part(&html, &format!("<tr data-group=\"{first}\""), "</tr>").to_owned();
        if row.contains("badge s-finished") {
            break html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first group did not finish: {row}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let second_row = part(&html, &format!("<tr data-group=\"{second}\""), "</tr>");
    assert!(second_row.contains("badge s-running"), "{second_row}");
    assert!(second_row.contains("5 not polled since assigned"), "{second_row}");
    assert_eq!(not_polled_from_devices(f, second), 5);
}

fn paused_rollouts_say_who_or_which_threshold_paused_them(f: &Fixture) {
    let cookie = ui_login(f);
    let ids: Vec<String> = (0..4).map(|i| format!("pause-{i}")).collect();
    targets(f, &ids);

    // A ready rollout has its own badge.
    let ds = f.distribution_set("ready", "r.bin", b"ready").1;
    let (s, r) = f.post(
        "/rest/v1/rollouts",
        json!({ "name": "ready", "distributionSetId": ds, "targetFilterQuery": "controllerId==pause-0", "amountGroups": 1 }),
    );
    assert_eq!(s, 201, "{r}");
    let html = ui_page(f, &cookie, &format!("/ui/rollouts/{}", r["id"]));
    assert!(
        part(&html, "<p id=\"rollout-status\"", "</p>").contains("badge s-ready"),
        "{html}"
    );

    // Paused by hand: the page names who.
    let (by_hand, _) = started_rollout(f, "by-hand", "controllerId==pause-1", 1, json!({}));
    let (s, v) = f.post(&format!("/rest/v1/rollouts/{by_hand}/pause"), json!({}));
    assert!(s == 200 || s == 204, "{s} {v}");
    let html = ui_page(f, &cookie, &format!("/ui/rollouts/{by_hand}"));
    assert!(
        part(&html, "<p id=\"rollout-status\"", "</p>").contains("badge s-paused"),
        "{html}"
    );
    let hold = part(&html, "<p id=\"hold\"", "</p>");
    assert!(
        hold.contains(&format!("Paused by <strong>{}</strong>", f.srv.admin_user)),
        "{hold}"
    );

    // Paused by the error threshold: one of two devices fails, above the 10 % allowed.
    let (id, groups) = started_rollout(
        f,
        "errors",
        "controllerId==pause-2,controllerId==pause-3",
        1,
        json!({ "errorCondition": { "condition": "THRESHOLD", "expression": "10" } }),
    );
    let a = offered_action(f, "pause-2");
    assert_eq!(f.feedback("pause-2", a, "closed", "failure").0, 200);
    // The report wakes the scheduler; wait for whichever evaluation pauses the rollout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let html = loop {
        sweep(f);
        let html = ui_page(f, &cookie, &format!("/ui/rollouts/{id}"));
        if html.contains("<p id=\"hold\"") {
            break html;
        }
        assert!(std::time::Instant::now() < deadline, "not paused: {html}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        part(&html, "<p id=\"rollout-status\"", "</p>").contains("badge s-paused"),
        "{html}"
    );
    let hold = part(&html, "<p id=\"hold\"", "</p>");
    assert!(
        hold.contains(
            "Paused by the error threshold of <strong>group-1</strong>: 1 of 2 devices failed, more than 10 %"
        ),
        "{hold}"
    );
    let row = part(&html, &format!("<tr data-group=\"{}\"", groups[0]), "</tr>");
    assert!(row.contains("badge s-error"), "{row}");
    assert!(
        row.contains("<li data-stage=\"not-polled\">1 not polled since assigned</li>"),
        "{row}"
    );
    // A paused rollout offers Resume, not "start next group" (the engine refuses it while paused).
    assert!(
        html.contains(&format!("action=\"/ui/rollouts/{id}/resume\"")),
        "{html}"
    );
    assert!(
        !html.contains(&format!("action=\"/ui/rollouts/{id}/next-group\"")),
        "{html}"
    );
}

fn the_overview_and_a_set_page_count_installed_and_assigned_devices(f: &Fixture) {
    let cookie = ui_login(f);
    let ids: Vec<String> = (0..3).map(|i| format!("runs-{i}")).collect();
    targets(f, &ids);
    let old = f.distribution_set("old", "o.bin", b"old").1;
    let new = f.distribution_set("new", "n.bin", b"new").1;
    // All three run `old`; two of them are then assigned `new`, one of which installs it.
    for cid in &ids {
        let a = f.assign(old, cid, json!({}));
        assert_eq!(f.feedback(cid, a, "closed", "success").0, 200);
    }
    let a = f.assign(new, "runs-0", json!({}));
    f.assign(new, "runs-1", json!({}));
    assert_eq!(f.feedback("runs-0", a, "closed", "success").0, 200);

    let html = ui_page(f, &cookie, "/ui");
    let runs = part(&html, "<section class=\"card\" id=\"fleet-runs\"", "</section>");
    let old_row = part(runs, &format!("<tr data-set=\"{old}\""), "</tr>");
    let new_row = part(runs, &format!("<tr data-set=\"{new}\""), "</tr>");
    // `old`: installed on two, assigned to one; `new`: installed on one, assigned to two.
    let count = |row: &str, class: &str| -> (i64, String) {
        let cell = part(row, &format!("<td class=\"{class}\">"), "</td>");
        let href = cell.split("href=\"/ui/devices?q=").nth(1).unwrap();
        let q = href[..href.find('"').unwrap()].to_owned();
        let n = href[href.find("\">").unwrap() + 2..href.find("</a>").unwrap()]
            .parse()
            .unwrap();
        (n, q)
    };
    let (n, q) = count(old_row, "installed");
    assert_eq!(n, 2);
    assert_eq!(listed(f, &cookie, &q), vec!["runs-1", "runs-2"]);
    let (n, q) = count(old_row, "assigned");
    assert_eq!(n, 1);
    assert_eq!(listed(f, &cookie, &q), vec!["runs-2"]);
    let (n, q) = count(new_row, "installed");
    assert_eq!(n, 1);
    assert_eq!(listed(f, &cookie, &q), vec!["runs-0"]);
    let (n, q) = count(new_row, "assigned");
    assert_eq!(n, 2);
    assert_eq!(listed(f, &cookie, &q), vec!["runs-0", "runs-1"]);
    assert!(
        runs.find(&format!("data-set=\"{old}\"")) < runs.find(&format!("data-set=\"{new}\"")),
        "most installed first"
    );

    // The set's own page has the same two figures.
    let html = ui_page(f, &cookie, &format!("/ui/distributions/{new}"));
    let installed = part(&html, "<div id=\"installed-count\"", "</div>");
    assert!(installed.contains("<span class=\"stat\">1</span>"), "{installed}");
    let assigned = part(&html, "<div id=\"assigned-count\"", "</div>");
    assert!(assigned.contains("<span class=\"stat\">2</span>"), "{assigned}");

    // The counts are kept by the database on every write (store::target_counts): a deleted
    // device leaves them, and folding PostgreSQL's appended rows changes no figure.
    assert_eq!(f.delete("/rest/v1/targets/runs-2").0, 204);
    let figures = || {
        let html = ui_page(f, &cookie, "/ui");
        let runs = part(&html, "<section class=\"card\" id=\"fleet-runs\"", "</section>").to_owned();
        let old_row = part(&runs, &format!("<tr data-set=\"{old}\""), "</tr>").to_owned();
        let fleet = part(
            &html,
            "<section class=\"grid\" aria-label=\"Fleet\"",
            "</section>",
        )
        .to_owned();
        (
            count(&old_row, "installed").0,
            count(&old_row, "assigned").0,
            fleet,
        )
    };
    let (installed, assigned, fleet) = figures();
    assert_eq!((installed, assigned), (1, 0));
    assert!(fleet.contains("<span class=\"stat\">2</span>devices"), "{fleet}");
    f.srv
        .state
        .db
        .write_blocking(|c| updraft_server::store::target_counts::merge(c, 0))
        .unwrap();
    assert_eq!(figures(), (installed, assigned, fleet));
}

/// The stuck rollout in headless Chromium (`ui-tests/rollouts.mjs`): the overview's set counts,
/// the rollout page's figures, and the cancel that unblocks it; desktop screenshots of the
/// overview and the rollout page (README's come from here).
#[test]
fn browser_shows_a_stuck_rollout_and_unblocks_it() {
    if !support::browser::available() {
        return;
    }
    let f = Fixture::sqlite();
    f.set_config("pollingTime", json!("00:01:00"));
    let ids: Vec<String> = (0..4).map(|i| format!("browser-{i}")).collect();
    targets(&f, &ids);
    for cid in &ids {
        f.poll(cid);
    }
    let (id, groups) = started_rollout(&f, "stuck", "controllerId==browser-*", 2, json!({}));
    let members = group_devices(&f, id, groups[0]);
    // Ten minutes on, one device of the first group updates; the other never comes back.
    f.srv.state.clock.advance(10 * MINUTE);
    let a = offered_action(&f, &members[0]);
    assert_eq!(f.feedback(&members[0], a, "closed", "success").0, 200);
    sweep(&f);

    let shots = std::env::var_os("UI_SCREENSHOT_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-rollouts-screenshots"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&shots);
    let (rollout, first, second) = (id.to_string(), groups[0].to_string(), groups[1].to_string());
    support::browser::run(
        "rollouts.mjs",
        &[
            ("UPDRAFT_URL", &f.srv.url),
            ("ADMIN_USER", &f.srv.admin_user),
            ("ADMIN_PASSWORD", &f.srv.admin_password),
            ("ROLLOUT_ID", &rollout),
            ("FIRST_GROUP", &first),
            ("SECOND_GROUP", &second),
            ("SCREENSHOT_DIR", shots.to_str().unwrap()),
        ],
    );
    for name in ["overview", "rollout-stuck", "rollout-moved-on"] {
        support::browser::assert_screenshot(&shots, name);
    }
    // The straggler's update was canceled through the page, and the second group runs.
    let (s, v) = f.get(&format!("/rest/v1/targets/{}/actions", members[1]));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["content"][0]["status"], "canceled", "{v}");
    let (s, g) = f.get(&format!("/rest/v1/rollouts/{id}/deploygroups/{}", groups[1]));
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["status"], "running", "{g}");
}
