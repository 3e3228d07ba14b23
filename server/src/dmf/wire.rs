//! DMF's wire format, as hawkBit 1.1 and its SDK speak it: the headers and JSON bodies of inbound
//! messages parsed into [`Inbound`], and the bodies and headers of outbound ones. No broker types
//! here, so the parser can be fuzzed and unit-tested on plain values.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Header keys (`MessageHeaderKey`).
pub const TYPE: &str = "type";
pub const TOPIC: &str = "topic";
pub const TENANT: &str = "tenant";
pub const THING_ID: &str = "thingId";
pub const CONTENT_TYPE: &str = "content-type";
/// Spring's Jackson type header; Java clients with the default type mapper need it.
pub const TYPE_ID: &str = "__TypeId__";
pub const JSON: &str = "application/json";

/// What an inbound message carries besides its body, in plain strings.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    pub headers: HashMap<String, String>,
    pub content_type: Option<String>,
    pub reply_to: Option<String>,
    pub correlation_id: Option<String>,
}

/// An inbound message, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    ThingCreated {
        thing_id: String,
        reply_to: String,
        body: Option<ThingCreated>,
    },
    ThingRemoved {
        thing_id: String,
    },
    UpdateAttributes {
        thing_id: String,
        body: AttributeUpdate,
    },
    UpdateActionStatus {
        body: ActionStatusUpdate,
    },
    UpdateAutoConfirm {
        thing_id: String,
        body: AutoConfirm,
    },
    Ping,
}

/// `THING_CREATED`'s optional body (`DmfCreateThing`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingCreated {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub attribute_update: Option<AttributeUpdate>,
}

/// `UPDATE_ATTRIBUTES` (`DmfAttributeUpdate`): a JSON `null` value removes its key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AttributeUpdate {
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<String>>,
    pub mode: Option<UpdateMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum UpdateMode {
    Merge,
    Replace,
    Remove,
}

/// `UPDATE_ACTION_STATUS` (`DmfActionUpdateStatus`); `softwareModuleId` and `timestamp` are read
/// and ignored, as hawkBit does (the server stamps its own time).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatusUpdate {
    pub action_id: i64,
    pub action_status: DmfStatus,
    #[serde(default)]
    pub message: Vec<String>,
    pub code: Option<i32>,
    pub software_module_id: Option<i64>,
    pub timestamp: Option<i64>,
}

/// `DmfActionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DmfStatus {
    Download,
    Retrieved,
    Running,
    Finished,
    Error,
    Warning,
    Canceled,
    CancelRejected,
    Downloaded,
    Confirmed,
    Denied,
}

/// `UPDATE_AUTO_CONFIRM` (`DmfAutoConfirmation`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AutoConfirm {
    pub enabled: bool,
    pub initiator: Option<String>,
    pub remark: Option<String>,
}

/// Why a message goes to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

fn malformed<T>(why: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(why.into()))
}

/// The tenant header, required on every inbound message.
pub fn tenant(env: &Envelope) -> Result<&str, Malformed> {
    match env.headers.get(TENANT).map(String::as_str) {
        Some(t) if !t.trim().is_empty() => Ok(t),
        _ => malformed("the tenant header is missing"),
    }
}

/// No payload: zero bytes, or the JSON empty string `""` (`isOptionalMessageBodyEmpty`).
fn is_empty_body(body: &[u8]) -> bool {
    body.is_empty() || body == b"\"\""
}

fn json<T: for<'de> Deserialize<'de>>(env: &Envelope, body: &[u8]) -> Result<T, Malformed> {
    if !env.content_type.as_deref().is_some_and(|c| c.contains("json")) {
        return malformed("the content type must be JSON");
    }
    serde_json::from_slice(body).map_err(|e| Malformed(format!("the body is not valid: {e}")))
}

fn thing_id(env: &Envelope) -> Result<String, Malformed> {
    match env.headers.get(THING_ID) {
        Some(t) => Ok(t.clone()),
        None => malformed("the thingId header is missing"),
    }
}

/// Reads an inbound message as hawkBit's `AmqpMessageHandlerService` does (§3 and §6 of the
/// reference): anything it would reject is `Malformed`.
pub fn parse(env: &Envelope, body: &[u8]) -> Result<Inbound, Malformed> {
    tenant(env)?;
    let kind = env.headers.get(TYPE).map(String::as_str).unwrap_or_default();
    match kind {
        "THING_CREATED" => {
            let thing_id = thing_id(env)?;
            let reply_to = match env.reply_to.as_deref() {
                Some(r) if !r.is_empty() => r.to_owned(),
                _ => return malformed("THING_CREATED needs a reply_to property"),
            };
            let body = if is_empty_body(body) {
                None
            } else {
                Some(json(env, body)?)
            };
            Ok(Inbound::ThingCreated {
                thing_id,
                reply_to,
                body,
            })
        }
        "THING_REMOVED" => Ok(Inbound::ThingRemoved {
            thing_id: thing_id(env)?,
        }),
        "PING" => Ok(Inbound::Ping),
        "EVENT" => match env.headers.get(TOPIC).map(String::as_str).unwrap_or_default() {
            "UPDATE_ATTRIBUTES" => Ok(Inbound::UpdateAttributes {
                thing_id: thing_id(env)?,
                body: json(env, body)?,
            }),
            "UPDATE_ACTION_STATUS" => Ok(Inbound::UpdateActionStatus {
                body: json(env, body)?,
            }),
            "UPDATE_AUTO_CONFIRM" => Ok(Inbound::UpdateAutoConfirm {
                thing_id: thing_id(env)?,
                body: json(env, body)?,
            }),
            "" => malformed("an EVENT needs a topic header"),
            other => malformed(format!("no inbound topic {other:?}")),
        },
        "" => malformed("the type header is missing"),
        other => malformed(format!("no inbound message type {other:?}")),
    }
}

/// The exchange an `amqp:` target address names: its path (hawkBit sends to
/// `sendTo.getPath().substring(1)` on its own connection's vhost).
pub fn exchange_of(address: &str) -> Option<&str> {
    let rest = address.strip_prefix("amqp:")?;
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => &authority_and_path[authority_and_path.find('/')?..],
        None => rest,
    };
    let name = path.strip_prefix('/').unwrap_or(path);
    (!name.is_empty()).then_some(name)
}

/// The address stored for a thing that announced `reply_to` on `vhost` (`IpUtil.createAmqpUri`:
/// Java renders the default vhost `/` as `amqp:/<reply_to>`).
pub fn address(vhost: &str, reply_to: &str) -> String {
    if vhost.is_empty() || vhost == "/" {
        format!("amqp:/{reply_to}")
    } else {
        format!("amqp://{vhost}/{reply_to}")
    }
}

/// `DmfDownloadAndUpdateRequest` (and `DmfConfirmRequest`, the same shape).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadRequest {
    pub action_id: i64,
    pub target_security_token: String,
    pub software_modules: Vec<Module>,
}

/// `DmfBatchDownloadAndUpdateRequest`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub timestamp: i64,
    pub targets: Vec<BatchTarget>,
    pub software_modules: Vec<Module>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchTarget {
    pub action_id: i64,
    pub controller_id: String,
    pub target_security_token: String,
}

/// `DmfSoftwareModule`: `encrypted` only when true, `metadata` only when there is some.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub module_id: i64,
    pub module_type: String,
    pub module_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    pub artifacts: Vec<Artifact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<Metadata>>,
}

/// `DmfArtifact`: DMF carries sha1 and md5 only.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub filename: String,
    pub hashes: Hashes,
    pub size: i64,
    pub last_modified: i64,
    pub urls: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hashes {
    pub sha1: String,
    pub md5: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub key: String,
    pub value: String,
}

/// `DmfActionRequest` (CANCEL_DOWNLOAD).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequest {
    pub action_id: i64,
}

/// The Java class name Spring puts in `__TypeId__` for each outbound topic's body.
pub fn java_type(topic: &str) -> Option<&'static str> {
    Some(match topic {
        "DOWNLOAD_AND_INSTALL" | "DOWNLOAD" => {
            "org.eclipse.hawkbit.dmf.json.model.DmfDownloadAndUpdateRequest"
        }
        "CONFIRM" => "org.eclipse.hawkbit.dmf.json.model.DmfConfirmRequest",
        "CANCEL_DOWNLOAD" => "org.eclipse.hawkbit.dmf.json.model.DmfActionRequest",
        "BATCH_DOWNLOAD_AND_INSTALL" | "BATCH_DOWNLOAD" => {
            "org.eclipse.hawkbit.dmf.json.model.DmfBatchDownloadAndUpdateRequest"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(headers: &[(&str, &str)]) -> Envelope {
        Envelope {
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            content_type: Some(JSON.into()),
            reply_to: Some("reply.queue".into()),
            correlation_id: None,
        }
    }

    #[test]
    fn addresses_round_trip_to_their_exchange() {
        assert_eq!(address("vHost", "MyTest"), "amqp://vHost/MyTest");
        assert_eq!(address("/", "simulator.replyTo"), "amqp:/simulator.replyTo");
        assert_eq!(exchange_of("amqp://vHost/MyTest"), Some("MyTest"));
        assert_eq!(exchange_of("amqp:/simulator.replyTo"), Some("simulator.replyTo"));
        assert_eq!(exchange_of("http://10.0.0.1"), None);
        assert_eq!(exchange_of("amqp://vhost"), None);
    }

    #[test]
    fn status_updates_parse_and_bad_ones_do_not() {
        let e = env(&[
            (TYPE, "EVENT"),
            (TENANT, "DEFAULT"),
            (TOPIC, "UPDATE_ACTION_STATUS"),
        ]);
        let m = parse(
            &e,
            br#"{"actionId":7,"actionStatus":"CANCEL_REJECTED","code":3,"extra":1}"#,
        )
        .unwrap();
        let Inbound::UpdateActionStatus { body } = m else {
            panic!("{m:?}")
        };
        assert_eq!(body.action_status, DmfStatus::CancelRejected);
        assert_eq!(body.code, Some(3));
        for bad in [
            &b""[..],
            b"\"\"",
            b"Invalid Content",
            br#"{"actionId":7}"#,
            br#"{"actionId":7,"actionStatus":"NOPE"}"#,
        ] {
            assert!(parse(&e, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn headers_hawkbit_requires_are_required() {
        let ok = env(&[(TYPE, "THING_CREATED"), (TENANT, "DEFAULT"), (THING_ID, "a")]);
        assert!(parse(&ok, b"").is_ok());
        assert!(parse(&env(&[(TYPE, "THING_CREATED"), (THING_ID, "a")]), b"").is_err());
        assert!(parse(&env(&[(TYPE, "THING_CREATED"), (TENANT, "DEFAULT")]), b"").is_err());
        assert!(parse(&env(&[(TYPE, "NotExist"), (TENANT, "DEFAULT")]), b"").is_err());
        assert!(
            parse(
                &env(&[(TYPE, "EVENT"), (TENANT, "DEFAULT"), (TOPIC, "CANCEL_DOWNLOAD")]),
                b"{}"
            )
            .is_err()
        );
        let mut no_reply = ok.clone();
        no_reply.reply_to = Some(String::new());
        assert!(parse(&no_reply, b"").is_err());
    }
}
