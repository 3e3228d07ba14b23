//! DMF across a broker restart (`rabbitmqctl stop_app` / `start_app`) mid-rollout, at fleet scale:
//! 1,000 DMF targets in a rollout of five groups. The broker goes away while results are being
//! counted (some counted, some waiting in `dmf_receiver`, some in the server's hands and not yet
//! acknowledged), and the next group is started while it is away, so the server owes messages it
//! cannot send. Once the broker is back, the owed messages go out, the rest of the rollout runs,
//! and every target's result is counted exactly once: rollout and group totals, the targets' state
//! and each action's history agree. One test in a binary of its own, SQLite then PostgreSQL, since
//! restarting the broker disturbs every connection to it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod dmf_support;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dmf_support::{Dmf, Msg, rabbitmqctl};
use serde_json::{Value, json};

const N: usize = 1000;
const GROUPS: usize = 5;
const EXCHANGE: &str = "gw.durable";

#[test]
fn a_broker_restart_mid_rollout_over_1000_targets_counts_every_result_once() {
    for postgres in [false, true] {
        if let Some(d) = Dmf::start(postgres, dmf_support::fast) {
            restart_mid_rollout(&d);
        }
    }
}

/// The results the server counted for the rollout.
fn counted(d: &Dmf, id: i64) -> i64 {
    let (_, r) = d.f.get(&format!("/rest/v1/rollouts/{id}"));
    r["totalTargetsPerStatus"]["finished"].as_i64().unwrap_or(0)
}

fn restart_mid_rollout(d: &Dmf) {
    let started = Instant::now();
    // Replies to a durable queue: what the server sent before the restart is still there after it.
    let queue = d.durable_reply(EXCHANGE);
    let ids: Vec<String> = (0..N).map(|i| format!("rs-{i:04}")).collect();
    for c in &ids {
        let mut m = Msg::new("THING_CREATED").header("thingId", c);
        m.reply_to = Some(EXCHANGE.into());
        d.send(&m);
    }
    d.settle();
    assert_eq!(d.targets_total(), N as i64);
    let (_, ds) = d.f.distribution_set("rs", "rs.bin", b"payload");
    let id = d.rollout("restart", ds, "controllerId==rs-*", GROUPS as u32);
    // The gateway publishes with confirms, so it knows what the broker holds when it goes away.
    d.confirm_select();
    // Every DOWNLOAD_AND_INSTALL the gateway got, by thing: the action ids, in order.
    let mut told: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let restart_at = 2 * N / GROUPS;
    let mut restarted = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        while let Some(r) = d.get(&queue) {
            if r.topic() != "DOWNLOAD_AND_INSTALL" {
                continue;
            }
            let action = r.json()["actionId"].as_i64().unwrap();
            let thing = r.header("thingId").unwrap().to_owned();
            told.entry(thing).or_default().push(action);
            // A gateway answers every message it gets, a repeated one too.
            d.status(action, "FINISHED", &["done"]);
            if restarted.is_none() && told.len() == restart_at {
                break;
            }
        }
        if restarted.is_none() && told.len() == restart_at {
            restarted = Some(restart(d, id));
            continue;
        }
        if d.rollout_finished(id).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout did not finish: {} of {N} targets told, {} results counted",
            told.len(),
            counted(d, id)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rollout_time = started.elapsed();
    let (counted_at_stop, owed_while_away) = restarted.unwrap();
    // Anything still arriving is a repeat; it is answered like the others.
    d.wait_outbox_empty();
    while let Some(r) = d.get(&queue) {
        if r.topic() == "DOWNLOAD_AND_INSTALL" {
            let action = r.json()["actionId"].as_i64().unwrap();
            told.entry(r.header("thingId").unwrap().to_owned())
                .or_default()
                .push(action);
            d.status(action, "FINISHED", &["done"]);
        }
    }
    d.settle();

    // Every target was told, and a repeat (at least once: sent, confirmed by the broker, but the
    // confirmation lost with the connection) names the same action, never a new one.
    assert_eq!(told.len(), N);
    for (thing, actions) in &told {
        assert!(
            actions.iter().all(|a| *a == actions[0]),
            "{thing} told of several actions: {actions:?}"
        );
    }
    let repeats: usize = told.values().map(|a| a.len() - 1).sum();

    // The rollout, its groups and the targets count each result once.
    let r = d.rollout_finished(id).unwrap();
    let totals = r["totalTargetsPerStatus"].as_object().unwrap();
    assert_eq!(totals["finished"], N as i64, "{r}");
    assert_eq!(
        totals.values().filter_map(Value::as_i64).sum::<i64>(),
        N as i64,
        "{r}"
    );
    let (s, groups) = d.f.get(&format!(
        "/rest/v1/rollouts/{id}/deploygroups?representation=full&limit=50"
    ));
    assert_eq!(s, 200, "{groups}");
    let groups = groups["content"].as_array().unwrap();
    assert_eq!(groups.len(), GROUPS);
    for g in groups {
        assert_eq!(g["status"], "finished", "{g}");
        assert_eq!(g["totalTargetsPerStatus"]["finished"], g["totalTargets"], "{g}");
    }
    let in_groups: i64 = groups.iter().map(|g| g["totalTargets"].as_i64().unwrap()).sum();
    assert_eq!(in_groups, N as i64);
    let (_, in_sync) = d.f.get("/rest/v1/targets?q=updateStatus==in_sync&limit=1");
    assert_eq!(in_sync["total"], N as i64, "{in_sync}");
    // Each action finished once: a FINISHED handled again (a repeat answered, or a message
    // redelivered because its acknowledgement was lost) finds the action closed.
    for (thing, actions) in &told {
        let history = d.history(thing, actions[0]);
        let finished = history.iter().filter(|h| *h == "finished").count();
        assert_eq!(finished, 1, "{thing}: {history:?}");
    }
    // ... and is dead-lettered, not counted: at least every repeat's answer is among them.
    let mut dead = 0;
    while let Some(m) = d.get("dmf_connector_deadletter_ttl") {
        assert_eq!(m.topic(), "UPDATE_ACTION_STATUS", "{m:?}");
        let action = m.json()["actionId"].as_i64().unwrap();
        assert!(told.values().any(|a| a[0] == action), "{m:?}");
        dead += 1;
    }
    assert!(
        dead >= repeats,
        "{dead} dead letters for {repeats} repeated answers"
    );
    let backend = if d.postgres() { "PostgreSQL" } else { "SQLite" };
    eprintln!(
        "DMF restart {backend}: {N} targets in {:.1} s; broker stopped at {counted_at_stop} results counted, \
         {owed_while_away} messages owed while it was away; {repeats} repeated, {dead} dead letters",
        rollout_time.as_secs_f64()
    );
}

/// Stops the broker once the gateway's answers are with it and the server is counting them, starts
/// the next group while it is away, and starts it again. Returns the results counted at the stop
/// and the messages owed while the broker was away.
fn restart(d: &Dmf, id: i64) -> (i64, i64) {
    d.wait_for_confirms();
    let some = (N / GROUPS * 3 / 2) as i64;
    dmf_support::eventually("results are counted", || counted(d, id) >= some);
    let counted_at_stop = counted(d, id);
    rabbitmqctl(&["stop_app"]).unwrap();
    let (s, v) =
        d.f.post(&format!("/rest/v1/rollouts/{id}/triggerNextGroup"), json!({}));
    assert!(s == 200 || s == 204, "{s} {v}");
    let owed = d.owed();
    assert!(owed > 0, "the next group started, yet nothing is owed");
    rabbitmqctl(&["start_app"]).unwrap();
    d.reconnect();
    d.confirm_select();
    (counted_at_stop, owed)
}
