//! How hawkBit's Jackson reads request bodies, for the fields scripts get "wrong": a single element
//! where a list is expected (`accept-single-value-as-array`, hawkBit ≥ 1.1), numbers and booleans
//! given as strings and the other way round (Jackson's scalar coercion), and the object forms old
//! clients send for id lists. Unknown fields are ignored everywhere, as Jackson is configured there.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A list, or one element alone, from a parsed body.
pub fn list<T: DeserializeOwned>(v: Value) -> ApiResult<Vec<T>> {
    let v = match v {
        Value::Array(_) => v,
        Value::Null => return Err(ApiError::body_not_readable()),
        one => Value::Array(vec![one]),
    };
    serde_json::from_value(v).map_err(|_| ApiError::body_not_readable())
}

/// An integer, also written as a string (`"5"`).
pub fn i64_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    N(i64),
    S(String),
}

/// `deserialize_with` for an `i64` that may come as a string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match NumberOrString::deserialize(d)? {
        NumberOrString::N(n) => Ok(n),
        NumberOrString::S(s) => s.trim().parse().map_err(|_| de::Error::custom("not a number")),
    }
}

/// `deserialize_with` for an `Option<i64>` that may come as a string (with `#[serde(default)]`).
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumberOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrString::N(n)) => Ok(Some(n)),
        Some(NumberOrString::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom("not a number")),
    }
}

/// `deserialize_with` for an `Option<i32>` that may come as a string.
pub fn opt_int32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    opt_int(d)?
        .map(i32::try_from)
        .transpose()
        .map_err(|_| de::Error::custom("number out of range"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    N(serde_json::Number),
    B(bool),
}

/// `deserialize_with` for a `String` that may come as a number or boolean (`"id": 12345`).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::S(s) => s,
        Scalar::N(n) => n.to_string(),
        Scalar::B(b) => b.to_string(),
    })
}

/// `deserialize_with` for a list field given as a list, one element alone, or `null` (empty), as
/// hawkBit ≥ 1.1 reads `modules`, `mandatorymodules`, `details` and the like. An array is always
/// the list itself (`[1]` is not one `{"id": 1}`).
pub fn one_or_many<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(opt_one_or_many(d)?.unwrap_or_default())
}

/// [`one_or_many`] for an optional list (`null` stays absent).
pub fn opt_one_or_many<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    let v = Value::deserialize(d)?;
    let list = match v {
        Value::Null => return Ok(None),
        Value::Array(_) => v,
        one => Value::Array(vec![one]),
    };
    serde_json::from_value(list).map(Some).map_err(de::Error::custom)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrString {
    B(bool),
    S(String),
}

/// `deserialize_with` for an `Option<bool>` that may come as `"true"`/`"false"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<BoolOrString>::deserialize(d)? {
        None => Ok(None),
        Some(BoolOrString::B(b)) => Ok(Some(b)),
        Some(BoolOrString::S(s)) => match s.trim() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(de::Error::custom("not a boolean")),
        },
    }
}

/// One entry of a tag assignment by controller id: `"dev1"` or, from hawkBit ≤ 0.6 clients,
/// `{"controllerId": "dev1"}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ControllerIdRef {
    Plain(String),
    Object {
        #[serde(rename = "controllerId")]
        controller_id: String,
    },
}

impl ControllerIdRef {
    pub fn into_id(self) -> String {
        match self {
            Self::Plain(s) | Self::Object { controller_id: s } => s,
        }
    }
}

/// One entry of an assignment by numeric id: `5`, `"5"` or, from hawkBit ≤ 0.6 clients, `{"id": 5}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum IdRef {
    Plain(#[serde(deserialize_with = "int")] i64),
    Object {
        #[serde(deserialize_with = "int")]
        id: i64,
    },
}

impl IdRef {
    pub fn id(&self) -> i64 {
        match self {
            Self::Plain(id) | Self::Object { id } => *id,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_element_stands_for_a_list() {
        let v: Vec<IdRef> = list(json!({ "id": "5" })).unwrap();
        assert_eq!(v.iter().map(IdRef::id).collect::<Vec<_>>(), [5]);
        let v: Vec<IdRef> = list(json!([1, "2", { "id": 3 }])).unwrap();
        assert_eq!(v.iter().map(IdRef::id).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(list::<IdRef>(json!(null)).is_err());
        assert!(list::<IdRef>(json!(["x"])).is_err());
        let v: Vec<ControllerIdRef> = list(json!([{ "controllerId": "a" }, "b"])).unwrap();
        assert_eq!(
            v.into_iter().map(ControllerIdRef::into_id).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
