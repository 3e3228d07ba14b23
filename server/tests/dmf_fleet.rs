//! DMF at fleet scale, against a real RabbitMQ: several server nodes sharing the queue and the
//! outbox (one killed mid-rollout), and a rollout over 1,000 DMF targets with every result counted
//! once, timed, with the rate of status updates handled.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod dmf_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use dmf_support::{Dmf, Msg};
use serde_json::{Value, json};

dmf_tests!(
    @tweak super::dmf_support::fast;
    several_nodes_send_each_message_once_and_survive_losing_one,
    a_rollout_over_1000_dmf_targets_counts_every_result_once,
    updraft_sim_drives_a_rollout_over_dmf,
    stopping_a_transport_mid_dispatch_is_orderly,
);

/// Three nodes on one PostgreSQL database consume `dmf_receiver` together and share the outbox;
/// one is stopped after the first group started. Every target hears its update exactly once.
fn several_nodes_send_each_message_once_and_survive_losing_one(d: &Dmf) {
    if !d.postgres() {
        eprintln!("several nodes share one PostgreSQL database; nothing to test on SQLite");
        return;
    }
    let second = d.node();
    let third = d.node();
    d.wait_for_consumers(3);
    let ids: Vec<String> = (0..30).map(|i| format!("mn-{i:02}")).collect();
    for c in &ids {
        d.thing_created(c, None);
    }
    dmf_support::eventually("every thing registered", || d.targets_total() == 30);
    d.settle();
    let (_, ds) = d.f.distribution_set("mn", "mn.bin", b"payload");
    let id = d.rollout("nodes", ds, "controllerId==mn-*", 3);
    let mut told: BTreeMap<String, usize> = BTreeMap::new();
    let mut second = Some(second);
    while told.len() < ids.len() {
        let r = d.reply_with("DOWNLOAD_AND_INSTALL");
        *told.entry(r.header("thingId").unwrap().to_owned()).or_default() += 1;
        if told.len() == 10 {
            // One node goes away mid-rollout; the others carry on.
            drop(second.take());
        }
        d.status(r.json()["actionId"].as_i64().unwrap(), "FINISHED", &[]);
    }
    d.wait_rollout_finished(id);
    for r in d.replies() {
        if r.topic() == "DOWNLOAD_AND_INSTALL" {
            *told.entry(r.header("thingId").unwrap().to_owned()).or_default() += 1;
        }
    }
    assert!(told.values().all(|n| *n == 1), "told more than once: {told:?}");
    assert_eq!(
        d.rollout_finished(id).unwrap()["totalTargetsPerStatus"]["finished"],
        30
    );
    drop(third);
}

/// 1,000 DMF targets register, a rollout of five groups reaches each once, each FINISHED counts
/// once, and the rollout finishes; then 1,000 status updates are timed.
fn a_rollout_over_1000_dmf_targets_counts_every_result_once(d: &Dmf) {
    const N: usize = 1000;
    let backend = if d.postgres() { "PostgreSQL" } else { "SQLite" };
    let ids: Vec<String> = (0..N).map(|i| format!("fleet-{i:04}")).collect();
    let started = Instant::now();
    for c in &ids {
        d.thing_created(c, None);
    }
    d.settle();
    let registered = started.elapsed();
    assert_eq!(d.targets_total(), N as i64);
    let (_, ds) = d.f.distribution_set("fleet", "fleet.bin", b"payload");
    let started = Instant::now();
    let id = d.rollout("fleet", ds, "controllerId==fleet-*", 5);
    let mut told: BTreeMap<String, i64> = BTreeMap::new();
    while told.len() < N {
        let r = d.reply_with("DOWNLOAD_AND_INSTALL");
        let action = r.json()["actionId"].as_i64().unwrap();
        assert!(
            told.insert(r.header("thingId").unwrap().to_owned(), action)
                .is_none(),
            "told twice"
        );
        d.status(action, "FINISHED", &["done"]);
    }
    let r = d.wait_rollout_finished(id);
    let rollout_time = started.elapsed();
    assert_eq!(r["totalTargetsPerStatus"]["finished"], N as i64, "{r}");
    assert!(
        d.topics().iter().all(|t| t != "DOWNLOAD_AND_INSTALL"),
        "no update sent twice"
    );

    // Status updates per second: one RUNNING for each target's new action.
    let (_, ds2) = d.f.distribution_set("fleet-2", "fleet2.bin", b"payload 2");
    let body: Value = ids.iter().map(|c| json!({"id": c, "type": "forced"})).collect();
    let (s, v) =
        d.f.post(&format!("/rest/v1/distributionsets/{ds2}/assignedTargets"), body);
    assert_eq!(s, 200, "{v}");
    let actions: Vec<i64> = v["assignedActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    d.settle();
    let started = Instant::now();
    for a in &actions {
        let body = json!({"actionId": a, "actionStatus": "RUNNING", "message": ["installing"]});
        d.send(&Msg::event("UPDATE_ACTION_STATUS", None, &body));
    }
    d.settle();
    let per_second = actions.len() as f64 / started.elapsed().as_secs_f64();
    d.dead_letters(0);
    eprintln!(
        "DMF {backend}: {N} things registered in {:.1} s; rollout over {N} targets (5 groups) in {:.1} s; \
         {per_second:.0} status updates/s",
        registered.as_secs_f64(),
        rollout_time.as_secs_f64()
    );
}

/// `updraft-sim --api dmf`: the simulated gateway registers its devices, downloads and checks the
/// artifacts with the tokens the messages carry, and reports; the rollout finishes.
fn updraft_sim_drives_a_rollout_over_dmf(d: &Dmf) {
    let config = updraft_sim::FleetConfig {
        server: d.f.srv.url.clone(),
        devices: 20,
        id_prefix: "simdmf-".into(),
        fail_ids: Some(["simdmf-00003".to_owned()].into()),
        ..updraft_sim::FleetConfig::default()
    };
    let url = d.vhost.url();
    let sim = std::thread::spawn(move || {
        let stop = updraft_sim::StopWhen::ActionsDone {
            per_device: 1,
            timeout: std::time::Duration::from_secs(120),
        };
        updraft_sim::dmf::run_blocking(config, &url, stop)
    });
    dmf_support::eventually("the simulated devices register", || d.targets_total() == 20);
    d.f.set_config("authentication.targettoken.enabled", json!(true));
    let (_, ds) = d.f.distribution_set("simdmf", "sim.bin", b"simulated payload");
    let (s, r) = d.f.post(
        "/rest/v1/rollouts",
        json!({"name": "sim", "distributionSetId": ds, "targetFilterQuery": "controllerId==simdmf-*",
               "amountGroups": 2, "successCondition": {"condition": "THRESHOLD", "expression": "50"},
               "errorCondition": {"condition": "THRESHOLD", "expression": "50"}}),
    );
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let (s, _) = d.f.post(&format!("/rest/v1/rollouts/{id}/start"), json!({}));
    assert!(s == 204 || s == 200);
    let report = sim.join().unwrap();
    assert!(!report.timed_out, "{report}");
    assert_eq!((report.succeeded, report.failed), (19, 1), "{report}");
    assert_eq!((report.http_errors, report.hash_mismatches), (0, 0), "{report}");
    assert_eq!(report.bytes_downloaded, 20 * 17, "{report}");
    d.wait_rollout_finished(id);
}

/// Stopping a DMF transport while the outbox is being pushed is orderly: the batch in hand is
/// published and committed before the transport's runtime goes (publishing on a runtime being shut
/// down panicked on its threads), and the node's other transport sends the rest. Every target hears
/// its update once.
fn stopping_a_transport_mid_dispatch_is_orderly(d: &Dmf) {
    let panics = dmf_support::dmf_thread_panics();
    let ids: Vec<String> = (0..300).map(|i| format!("st-{i:03}")).collect();
    for c in &ids {
        d.thing_created(c, None);
    }
    d.settle();
    // A second transport in the same node: it shares the outbox (and the broker queue) with the
    // first, as a second node would.
    let second = updraft_server::dmf::start(Arc::clone(&d.f.srv.state)).unwrap();
    d.wait_for_consumers(2);
    let (_, ds) = d.f.distribution_set("st", "st.bin", b"payload");
    let body: Value = ids.iter().map(|c| json!({"id": c, "type": "forced"})).collect();
    let (s, v) =
        d.f.post(&format!("/rest/v1/distributionsets/{ds}/assignedTargets"), body);
    assert_eq!(s, 200, "{v}");
    // Stopped while 300 messages are owed: whether it holds a batch now or not, it stops cleanly.
    second.stop();
    let mut told: BTreeMap<String, usize> = BTreeMap::new();
    for r in d.replies() {
        if r.topic() == "DOWNLOAD_AND_INSTALL" {
            *told.entry(r.header("thingId").unwrap().to_owned()).or_default() += 1;
        }
    }
    assert_eq!(told.len(), ids.len(), "every target told");
    assert!(told.values().all(|n| *n == 1), "told more than once: {told:?}");
    assert_eq!(dmf_support::dmf_thread_panics(), panics, "a DMF thread panicked");
}
