#![no_main]
//! Any inbound DMF message: headers, properties and body through `dmf::wire::parse`, which answers
//! a message or `Malformed` (dead-lettered) and never panics; what it accepts carries the headers
//! hawkBit requires.
//!
//! The input is text-like so seeds read as messages: `key: value` lines, a blank line, then the
//! body's raw bytes. `content-type`, `reply-to` and `correlation-id` lines set the AMQP properties;
//! every other line is an application header (`type`, `topic`, `tenant`, `thingId`, ...), the last
//! one of a key winning.

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/dmf/wire.rs"]
mod wire;

fn envelope(head: &[u8]) -> wire::Envelope {
    let mut env = wire::Envelope::default();
    for line in String::from_utf8_lossy(head).split('\n') {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match key {
            "content-type" => env.content_type = Some(value),
            "reply-to" => env.reply_to = Some(value),
            "correlation-id" => env.correlation_id = Some(value),
            _ => {
                env.headers.insert(key.to_owned(), value);
            }
        }
    }
    env
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let env = envelope(head);
    let parsed = wire::parse(&env, body);
    assert_eq!(parsed, wire::parse(&env, body), "parsing is not deterministic");
    let message = match parsed {
        Ok(m) => m,
        Err(wire::Malformed(why)) => {
            assert!(!why.is_empty(), "a rejection without a reason");
            return;
        }
    };
    let header = |k: &str| env.headers.get(k).map(String::as_str);
    assert!(
        header(wire::TENANT).is_some_and(|t| !t.trim().is_empty()),
        "accepted without a tenant"
    );
    assert_eq!(wire::tenant(&env).ok(), header(wire::TENANT));
    let json = env.content_type.as_deref().is_some_and(|c| c.contains("json"));
    let kind = header(wire::TYPE);
    let topic = header(wire::TOPIC);
    match &message {
        wire::Inbound::ThingCreated {
            thing_id,
            reply_to,
            body: created,
        } => {
            assert_eq!(kind, Some("THING_CREATED"));
            assert_eq!(Some(thing_id.as_str()), header(wire::THING_ID));
            assert!(!reply_to.is_empty() && env.reply_to.as_ref() == Some(reply_to));
            assert!(
                created.is_none() || json,
                "a body read without a JSON content type"
            );
        }
        wire::Inbound::ThingRemoved { thing_id } => {
            assert_eq!(kind, Some("THING_REMOVED"));
            assert_eq!(Some(thing_id.as_str()), header(wire::THING_ID));
        }
        wire::Inbound::Ping => assert_eq!(kind, Some("PING")),
        wire::Inbound::UpdateAttributes { thing_id, .. } => {
            assert_eq!((kind, topic), (Some("EVENT"), Some("UPDATE_ATTRIBUTES")));
            assert_eq!(Some(thing_id.as_str()), header(wire::THING_ID));
            assert!(json);
        }
        wire::Inbound::UpdateActionStatus { .. } => {
            assert_eq!((kind, topic), (Some("EVENT"), Some("UPDATE_ACTION_STATUS")));
            assert!(json);
        }
        wire::Inbound::UpdateAutoConfirm { thing_id, .. } => {
            assert_eq!((kind, topic), (Some("EVENT"), Some("UPDATE_AUTO_CONFIRM")));
            assert_eq!(Some(thing_id.as_str()), header(wire::THING_ID));
            assert!(json);
        }
    }
});
