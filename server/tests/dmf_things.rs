//! DMF conformance, things and envelopes: hawkBit's `AmqpMessageHandlerServiceIntegrationTest`
//! items 1-12, 25-28 and 31 of the reference's checklist (§7), against a real RabbitMQ, on SQLite
//! and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod dmf_support;
mod support;

use dmf_support::{Dmf, Msg, REPLY_EXCHANGE};
use serde_json::{Value, json};

dmf_tests!(
    ping_is_answered_with_the_server_time,
    thing_created_registers_once_and_updates_after,
    thing_created_takes_the_name_and_renames,
    thing_created_stores_and_merges_attributes,
    thing_created_with_name_and_attributes,
    invalid_controller_ids_are_dead_lettered,
    too_long_controller_id_is_dead_lettered,
    missing_or_empty_reply_to_is_dead_lettered,
    missing_thing_id_is_dead_lettered,
    missing_or_empty_tenant_is_dead_lettered,
    missing_or_unknown_type_is_dead_lettered,
    missing_unknown_or_outbound_topic_is_dead_lettered,
    attribute_update_modes,
    attribute_update_without_thing_id_is_dead_lettered,
    attribute_update_with_wrong_body_is_dead_lettered,
    attribute_update_with_invalid_values_is_dead_lettered,
    unknown_tenant_is_dead_lettered_not_requeued,
    thing_removed_deletes_the_target_and_says_so,
    auto_confirm_is_switched_on_and_off,
);

fn attributes(d: &Dmf, cid: &str) -> Value {
    let (s, v) = d.f.get(&format!("/rest/v1/targets/{cid}/attributes"));
    match s {
        204 => json!({}),
        200 => v,
        _ => panic!("{s} {v}"),
    }
}

/// Item 1: `pingDmfInterface`.
fn ping_is_answered_with_the_server_time(d: &Dmf) {
    let mut ping = Msg::new("PING");
    ping.content_type = Some("text/plain".into());
    ping.reply_to = Some(REPLY_EXCHANGE.into());
    ping.correlation_id = Some("ping-1".into());
    d.send(&ping);
    let r = d.reply();
    assert_eq!(r.correlation_id.as_deref(), Some("ping-1"));
    assert_eq!(r.header("type"), Some("PING_RESPONSE"));
    assert_eq!(r.header("tenant"), Some("DEFAULT"));
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    let t: i64 = String::from_utf8(r.body).unwrap().parse().unwrap();
    assert!(t <= d.f.srv.state.now());
    d.dead_letters(0);
}

/// Item 2: `registerTargets`.
fn thing_created_registers_once_and_updates_after(d: &Dmf) {
    d.thing_created("thing1", None);
    d.thing_created("thing2", None);
    d.settle();
    assert_eq!(d.targets_total(), 2);
    let t = d.target("thing1");
    assert_eq!(t["name"], "thing1");
    assert!(t["description"].as_str().unwrap().contains("Plug and Play"));
    assert!(t["description"].as_str().unwrap().contains("thing1"));
    assert_eq!(t["updateStatus"], "registered");
    assert_eq!(t["address"], format!("amqp://{}/{REPLY_EXCHANGE}", d.vhost.name));
    assert_eq!(attributes(d, "thing1"), json!({}));
    let before = t["lastModifiedAt"].as_i64().unwrap();
    d.f.srv.state.clock.advance(1000);
    d.thing_created("thing1", None);
    d.settle();
    assert_eq!(d.targets_total(), 2);
    assert!(d.target("thing1")["lastModifiedAt"].as_i64().unwrap() > before);
    d.dead_letters(0);
}

/// Item 3: `registerTargetWithName`.
fn thing_created_takes_the_name_and_renames(d: &Dmf) {
    d.thing_created("named", Some(&json!({"name": "Pump 17"})));
    d.settle();
    assert_eq!(d.target("named")["name"], "Pump 17");
    d.thing_created("named", Some(&json!({"name": "Pump 18"})));
    d.settle();
    assert_eq!(d.target("named")["name"], "Pump 18");
    d.thing_created("named", Some(&json!({"name": ""})));
    d.settle();
    assert_eq!(
        d.target("named")["name"],
        "Pump 18",
        "a blank name keeps the old one"
    );
}

/// Item 4: `registerTargetWithAttributes`.
fn thing_created_stores_and_merges_attributes(d: &Dmf) {
    let body = json!({"attributeUpdate": {"attributes": {"hwRevision": "1.1"}, "mode": "MERGE"}});
    d.thing_created("attr", Some(&body));
    d.settle();
    assert_eq!(attributes(d, "attr"), json!({"hwRevision": "1.1"}));
    d.thing_created(
        "attr",
        Some(&json!({"attributeUpdate": {"attributes": {"serial": "0042"}}})),
    );
    d.settle();
    assert_eq!(
        attributes(d, "attr"),
        json!({"hwRevision": "1.1", "serial": "0042"})
    );
}

/// Item 5: `registerTargetWithNameAndAttributes`.
fn thing_created_with_name_and_attributes(d: &Dmf) {
    let body = json!({"name": "Gate", "attributeUpdate": {"attributes": {"a": "1"}}});
    d.thing_created("both", Some(&body));
    d.settle();
    assert_eq!(d.target("both")["name"], "Gate");
    assert_eq!(attributes(d, "both"), json!({"a": "1"}));
}

fn created(cid: Option<&str>) -> Msg {
    let mut m = Msg::new("THING_CREATED");
    if let Some(c) = cid {
        m = m.header("thingId", c);
    }
    m.reply_to = Some(REPLY_EXCHANGE.into());
    m
}

/// Item 6: `shouldNotRegisterTargetsWithInvalidControllerIds`.
fn invalid_controller_ids_are_dead_lettered(d: &Dmf) {
    for cid in [Some(""), Some("Invalid Invalid"), None] {
        d.send(&created(cid));
        d.dead_letters(1);
    }
    assert_eq!(d.targets_total(), 0);
}

/// Item 7: `registerInvalidTargetWithTooLongControllerId`.
fn too_long_controller_id_is_dead_lettered(d: &Dmf) {
    d.send(&created(Some(&"x".repeat(257))));
    d.dead_letters(1);
    assert_eq!(d.targets_total(), 0);
}

/// Item 8: `missingReplyToProperty`, `emptyReplyToProperty`.
fn missing_or_empty_reply_to_is_dead_lettered(d: &Dmf) {
    for reply_to in [None, Some(String::new())] {
        let mut m = created(Some("noreply"));
        m.reply_to = reply_to;
        d.send(&m);
        d.dead_letters(1);
    }
    assert_eq!(d.targets_total(), 0);
}

/// Item 9: `missingThingIdProperty`, `nullThingIdProperty` (a Java null header is left out).
fn missing_thing_id_is_dead_lettered(d: &Dmf) {
    d.send(&created(None));
    d.send(&Msg::new("THING_REMOVED"));
    d.dead_letters(2);
}

/// Item 10: `missingTenantHeader`, `nullTenantHeader`, `emptyTenantHeader`.
fn missing_or_empty_tenant_is_dead_lettered(d: &Dmf) {
    d.send(&created(Some("t1")).without("tenant"));
    d.send(&created(Some("t1")).header("tenant", ""));
    let mut ping = Msg::new("PING").without("tenant");
    ping.correlation_id = Some("x".into());
    ping.reply_to = Some(REPLY_EXCHANGE.into());
    d.send(&ping);
    d.dead_letters(3);
    assert_eq!(d.targets_total(), 0);
}

/// Item 11: `missingTypeHeader`, `shouldNotCreateTargetsWithInvalidTypeInHeader`.
fn missing_or_unknown_type_is_dead_lettered(d: &Dmf) {
    d.send(&created(Some("t1")).without("type"));
    d.send(&created(Some("t1")).header("type", ""));
    d.send(&created(Some("t1")).header("type", "NotExist"));
    // Outbound-only types are not handled inbound either.
    d.send(&created(Some("t1")).header("type", "THING_DELETED"));
    d.dead_letters(4);
    assert_eq!(d.targets_total(), 0);
}

/// Item 12: `shouldNotSendMessagesWithInvalidTopic`, `missingTopicHeader`.
fn missing_unknown_or_outbound_topic_is_dead_lettered(d: &Dmf) {
    d.thing_created("topics", None);
    d.settle();
    let body = json!({"attributes": {"a": "b"}});
    let m = Msg::event("UPDATE_ATTRIBUTES", Some("topics"), &body);
    d.send(&m.clone().header("topic", ""));
    d.send(&m.clone().header("topic", "NotExist"));
    d.send(&m.clone().without("topic"));
    d.send(&m.header("topic", "CANCEL_DOWNLOAD"));
    d.dead_letters(4);
    assert_eq!(attributes(d, "topics"), json!({}));
}

fn update(d: &Dmf, cid: &str, body: &Value) {
    d.send(&Msg::event("UPDATE_ATTRIBUTES", Some(cid), body));
}

/// Item 25: `updateAttributesWithDifferentUpdateModes`.
fn attribute_update_modes(d: &Dmf) {
    d.thing_created("modes", None);
    update(d, "modes", &json!({"attributes": {"k0": "v0", "k1": "v1"}}));
    d.settle();
    assert_eq!(attributes(d, "modes"), json!({"k0": "v0", "k1": "v1"}));
    update(
        d,
        "modes",
        &json!({"attributes": {"k1": "v1", "k2": "v2", "k3": "v3"}, "mode": "REPLACE"}),
    );
    d.settle();
    assert_eq!(
        attributes(d, "modes"),
        json!({"k1": "v1", "k2": "v2", "k3": "v3"})
    );
    update(
        d,
        "modes",
        &json!({"attributes": {"k1": "new", "k4": "v4"}, "mode": "MERGE"}),
    );
    d.settle();
    assert_eq!(
        attributes(d, "modes"),
        json!({"k1": "new", "k2": "v2", "k3": "v3", "k4": "v4"})
    );
    update(
        d,
        "modes",
        &json!({"attributes": {"k1": "", "k3": ""}, "mode": "REMOVE"}),
    );
    d.settle();
    assert_eq!(attributes(d, "modes"), json!({"k2": "v2", "k4": "v4"}));
    d.dead_letters(0);
}

/// Item 26: `updateAttributesWithNoThingId`.
fn attribute_update_without_thing_id_is_dead_lettered(d: &Dmf) {
    d.thing_created("nothing", None);
    d.send(&Msg::event(
        "UPDATE_ATTRIBUTES",
        None,
        &json!({"attributes": {"a": "b"}}),
    ));
    d.dead_letters(1);
    assert_eq!(attributes(d, "nothing"), json!({}));
}

/// Item 27: `updateAttributesWithWrongBody`.
fn attribute_update_with_wrong_body_is_dead_lettered(d: &Dmf) {
    d.thing_created("wrong", None);
    let mut m = Msg::event("UPDATE_ATTRIBUTES", Some("wrong"), &json!({}));
    m.body = b"wrongbody".to_vec();
    d.send(&m);
    d.dead_letters(1);
}

/// Item 28: `updateAttributesWithInvalidValues`: key too long, value too long, both.
fn attribute_update_with_invalid_values_is_dead_lettered(d: &Dmf) {
    d.thing_created("invalid", None);
    let long = "x".repeat(129);
    update(d, "invalid", &json!({"attributes": {long.clone(): "v"}}));
    update(d, "invalid", &json!({"attributes": {"k": long.clone()}}));
    update(d, "invalid", &json!({"attributes": {long.clone(): long}}));
    d.dead_letters(3);
    assert_eq!(attributes(d, "invalid"), json!({}));
}

/// Item 31: `ignoredExceptionTypesShouldNotBeRequeued`: a registration that cannot succeed (here: a
/// tenant that does not exist) goes to the dead-letter queue once, not round and round.
fn unknown_tenant_is_dead_lettered_not_requeued(d: &Dmf) {
    d.send(&created(Some("ghost")).header("tenant", "NO_SUCH_TENANT"));
    d.dead_letters(1);
    assert_eq!(d.targets_total(), 0);
}

/// `THING_REMOVED` deletes the target; its deletion is announced with `THING_DELETED` (§3.2,
/// §4.6, checklist 38 `sendDeleteMessage`); an unknown thing is dead-lettered.
fn thing_removed_deletes_the_target_and_says_so(d: &Dmf) {
    d.thing_created("gone", None);
    d.settle();
    d.send(&Msg::new("THING_REMOVED").header("thingId", "gone"));
    let r = d.reply_with("THING_DELETED");
    assert_eq!(r.header("thingId"), Some("gone"));
    assert_eq!(r.header("tenant"), Some("DEFAULT"));
    assert!(r.body.is_empty());
    assert_eq!(d.targets_total(), 0);
    d.send(&Msg::new("THING_REMOVED").header("thingId", "gone"));
    d.dead_letters(1);
    // A DDI target's deletion is never sent over DMF.
    d.f.create_target("ddi-only");
    let (s, _) = d.f.delete("/rest/v1/targets/ddi-only");
    assert_eq!(s, 204);
    assert!(d.topics().is_empty());
}

/// `UPDATE_AUTO_CONFIRM` (§3.5): on with initiator and remark, off again; enabling twice is
/// acknowledged, not requeued.
fn auto_confirm_is_switched_on_and_off(d: &Dmf) {
    d.thing_created("auto", None);
    let on = json!({"enabled": true, "initiator": "gateway-7", "remark": "site operator"});
    d.send(&Msg::event("UPDATE_AUTO_CONFIRM", Some("auto"), &on));
    d.settle();
    let (s, v) = d.f.get("/rest/v1/targets/auto/autoConfirm");
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["active"].as_bool(), v["initiator"].as_str()),
        (Some(true), Some("gateway-7"))
    );
    d.send(&Msg::event("UPDATE_AUTO_CONFIRM", Some("auto"), &on));
    d.send(&Msg::event(
        "UPDATE_AUTO_CONFIRM",
        Some("auto"),
        &json!({"enabled": false}),
    ));
    d.settle();
    assert_eq!(d.f.get("/rest/v1/targets/auto/autoConfirm").1["active"], false);
    d.dead_letters(0);
}
