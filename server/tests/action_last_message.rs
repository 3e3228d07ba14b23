//! `actions.last_message`, the message of an action's last status kept on the action so the failures
//! page groups failed devices without reading status histories, stays what the history says after
//! each way an action gets a status: Management API assignment and cancel (with force quit), DDI
//! feedback (intermediate, failed, without details, split over 512 characters), a device's cancel
//! feedback, the console's retry, and a rollout's group start with and without the confirmation
//! flow. Checked on SQLite and PostgreSQL against the history itself, read from the database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, ui_form, ui_login};
use updraft_server::config::Config;
use updraft_server::store::{self, AnyConnection};

fn fast_scheduler(c: &mut Config) {
    c.scheduler_interval_ms = 100;
}

backend_tests!(
    @tweak super::fast_scheduler;
    last_message_follows_every_write_path,
);

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Message {
    #[diesel(sql_type = Text)]
    m: String,
}

/// The message of the last status of action `actions`, as the migration's backfill derives it.
const FROM_HISTORY: &str = "COALESCE((SELECT trim(m.message) FROM action_status_messages m \
     WHERE m.action_status_id = (SELECT max(s.id) FROM action_statuses s WHERE s.action_id = actions.id) \
     ORDER BY m.id DESC LIMIT 1), '')";

fn count(f: &Fixture, sql: &str) -> i64 {
    let sql = sql.to_owned();
    f.srv
        .state
        .db
        .read_blocking(move |c: &mut AnyConnection| -> store::Result<i64> {
            Ok(diesel::sql_query(sql.clone()).get_result::<Count>(c)?.n)
        })
        .unwrap()
}

/// Actions whose stored last message differs from their history's.
fn mismatches(f: &Fixture) -> i64 {
    count(
        f,
        &format!("SELECT COUNT(*) AS n FROM actions WHERE last_message <> {FROM_HISTORY}"),
    )
}

fn stored(f: &Fixture, action: i64) -> String {
    f.srv
        .state
        .db
        .read_blocking(move |c: &mut AnyConnection| -> store::Result<String> {
            Ok(diesel::sql_query(format!(
                "SELECT last_message AS m FROM actions WHERE id = {action}"
            ))
            .get_result::<Message>(c)?
            .m)
        })
        .unwrap()
}

/// The device's feedback on `action` with `details`.
fn feedback(f: &Fixture, cid: &str, action: i64, execution: &str, finished: &str, details: &[&str]) {
    let body = json!({ "status": { "execution": execution, "result": { "finished": finished },
        "details": details } });
    let res = f
        .ddi(Method::POST, cid, &format!("/deploymentBase/{action}/feedback"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{}", res.text().unwrap());
}

fn cancel(f: &Fixture, cid: &str, action: i64, force: bool) {
    let q = if force { "?force=true" } else { "" };
    let res = f
        .mgmt(
            Method::DELETE,
            &format!("/rest/v1/targets/{cid}/actions/{action}{q}"),
        )
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 204, "{}", res.text().unwrap());
}

fn last_message_follows_every_write_path(f: &Fixture) {
    let cids = ["lm-0", "lm-1", "lm-2", "lm-3", "lm-4", "lm-5"];
    let body: Vec<Value> = cids.iter().map(|c| json!({ "controllerId": c })).collect();
    let (s, v) = f.post("/rest/v1/targets", Value::Array(body));
    assert_eq!(s, 201, "{v}");
    let (_, ds1) = f.distribution_set("lm-os", "os.bin", b"image");
    let (_, ds2) = f.distribution_set("lm-app", "app.bin", b"app");

    // Management API assignment, then intermediate and failed feedback; a detail longer than 512
    // characters is stored in pieces, and the last piece (trimmed) is the action's message.
    let a0 = f.assign(ds1, "lm-0", json!({}));
    assert_eq!(mismatches(f), 0);
    feedback(
        f,
        "lm-0",
        a0,
        "proceeding",
        "none",
        &["downloading", "  step two  "],
    );
    assert_eq!(stored(f, a0), "step two");
    let long = format!("{} disk full ", "x".repeat(512));
    feedback(f, "lm-0", a0, "closed", "failure", &["flashing", &long]);
    assert_eq!(stored(f, a0), "disk full");
    // Failed without details.
    let a1 = f.assign(ds1, "lm-1", json!({}));
    feedback(f, "lm-1", a1, "closed", "failure", &[]);
    assert_eq!(mismatches(f), 0);
    // Canceled by the operator, confirmed by the device; canceled and force-quit.
    let a2 = f.assign(ds2, "lm-2", json!({}));
    cancel(f, "lm-2", a2, false);
    assert_eq!(mismatches(f), 0);
    let res = f
        .ddi(Method::POST, "lm-2", &format!("/cancelAction/{a2}/feedback"))
        .json(
            &json!({ "status": { "execution": "closed", "result": { "finished": "success" },
            "details": ["canceled here"] } }),
        )
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{}", res.text().unwrap());
    assert_eq!(mismatches(f), 0);
    let a3 = f.assign(ds2, "lm-3", json!({}));
    cancel(f, "lm-3", a3, false);
    cancel(f, "lm-3", a3, true);
    assert_eq!(mismatches(f), 0);

    // The console's retry assigns the failed set again (lm-0 and lm-1).
    let session = ui_login(f);
    let (s, _, page) = ui_form(
        f,
        &session,
        "/ui/failures/retry",
        &[("by", "set"), ("key", &ds1.to_string())],
    );
    assert_eq!(s, 303, "{page}");
    assert_eq!(
        count(f, "SELECT COUNT(*) AS n FROM actions WHERE active"),
        2,
        "the retry made two new actions"
    );
    assert_eq!(mismatches(f), 0);

    // Rollouts: the engine starts a group in bulk SQL, with and without the confirmation flow.
    f.set_config("user.confirmation.flow.enabled", json!(true));
    for (cid, confirm) in [("lm-4", true), ("lm-5", false)] {
        let (s, r) = f.post(
            "/rest/v1/rollouts",
            json!({ "name": format!("r-{cid}"), "distributionSetId": ds2,
                "targetFilterQuery": format!("controllerId=={cid}"), "amountGroups": 1,
                "confirmationRequired": confirm }),
        );
        assert_eq!(s, 201, "{r}");
        support::eventually("the rollout is ready", || {
            f.get(&format!("/rest/v1/rollouts/{}", r["id"])).1["status"] == "ready"
        });
        let (s, v) = f.post(&format!("/rest/v1/rollouts/{}/start", r["id"]), json!({}));
        assert!(s < 300, "{v}");
    }
    support::eventually("both rollouts' actions are open", || {
        count(
            f,
            "SELECT COUNT(*) AS n FROM actions WHERE active AND rollout_id IS NOT NULL",
        ) == 2
    });
    assert_eq!(mismatches(f), 0);
    let waiting = count(
        f,
        "SELECT COUNT(*) AS n FROM actions WHERE status = 'wait_for_confirmation' AND last_message = \
         'Waiting for the confirmation by the device before processing with the deployment'",
    );
    assert_eq!(waiting, 1);
    let initiated = count(
        f,
        "SELECT COUNT(*) AS n FROM actions WHERE status = 'running' AND rollout_id IS NOT NULL \
         AND last_message LIKE 'Initiated by Rollout Group%'",
    );
    assert_eq!(initiated, 1);
    assert!(count(f, "SELECT COUNT(*) AS n FROM actions") >= 8);
}
