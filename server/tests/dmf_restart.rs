//! DMF across a broker restart (`rabbitmqctl stop_app` / `start_app`) mid-rollout: what the server
//! owed while the broker was away is sent once it is back, once. One test in a binary of its own,
//! SQLite then PostgreSQL, since restarting the broker disturbs every connection to it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod dmf_support;
mod support;

use std::collections::BTreeMap;

use dmf_support::{Dmf, Msg, rabbitmqctl};
use serde_json::json;

#[test]
fn a_broker_restart_mid_rollout_delays_messages_and_loses_none() {
    for postgres in [false, true] {
        if let Some(d) = Dmf::start(postgres, |c| c.scheduler_interval_ms = 100) {
            restart_mid_rollout(&d);
        }
    }
}

fn restart_mid_rollout(d: &Dmf) {
    let exchange = "gw.durable";
    let queue = d.durable_reply(exchange);
    let ids: Vec<String> = (0..10).map(|i| format!("rs-{i}")).collect();
    for c in &ids {
        let mut m = Msg::new("THING_CREATED").header("thingId", c);
        m.reply_to = Some(exchange.into());
        d.send(&m);
    }
    d.settle();
    let (_, ds) = d.f.distribution_set("rs", "rs.bin", b"payload");
    let (s, r) = d.f.post(
        "/rest/v1/rollouts",
        json!({"name": "restart", "distributionSetId": ds, "targetFilterQuery": "controllerId==rs-*",
               "amountGroups": 2, "successCondition": {"condition": "THRESHOLD", "expression": "100"}}),
    );
    assert_eq!(s, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    d.f.post(&format!("/rest/v1/rollouts/{id}/start"), json!({}));
    let mut told: BTreeMap<String, usize> = BTreeMap::new();
    let read = |d: &Dmf, told: &mut BTreeMap<String, usize>, want: usize| {
        dmf_support::eventually("updates arrive", || {
            while let Some(r) = d.get(&queue) {
                if r.topic() == "DOWNLOAD_AND_INSTALL" {
                    *told.entry(r.header("thingId").unwrap().to_owned()).or_default() += 1;
                }
            }
            told.len() >= want
        });
    };
    read(d, &mut told, 5);
    // The broker goes away; the next group starts meanwhile.
    rabbitmqctl(&["stop_app"]).unwrap();
    let (s, v) =
        d.f.post(&format!("/rest/v1/rollouts/{id}/triggerNextGroup"), json!({}));
    assert!(s == 200 || s == 204, "{s} {v}");
    rabbitmqctl(&["start_app"]).unwrap();
    d.reconnect();
    read(d, &mut told, 10);
    d.wait_outbox_empty();
    while let Some(r) = d.get(&queue) {
        if r.topic() == "DOWNLOAD_AND_INSTALL" {
            *told.entry(r.header("thingId").unwrap().to_owned()).or_default() += 1;
        }
    }
    assert_eq!(told.len(), 10);
    assert!(told.values().all(|n| *n == 1), "{told:?}");
}
