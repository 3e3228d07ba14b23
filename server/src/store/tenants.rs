//! Tenants and their settings: hawkBit's configuration keys (`TenantConfigurationKey`), their
//! defaults and validation, and the parsed per-tenant settings the device path reads on every request
//! (cached in memory by `crate::tenant_config`).

use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use crate::config::Config;
use crate::polling::{PollingConfig, PollingTime, parse_hms};
use crate::store::schema::tenant_configs;
use crate::store::{AnyConnection, Error, Result, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Bool,
    Text,
    Int,
    Long,
    Polling,
    Duration,
}

pub struct KeyDef {
    pub key: &'static str,
    pub value_type: ValueType,
    pub default: &'static str,
}

/// Every key hawkBit 1.x accepts. Updraft differs in one default: target-token auth is on, so a new
/// install answers devices that the operator created instead of a wall of 401s.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        key: "authentication.header.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "authentication.header.authority",
        value_type: ValueType::Text,
        default: "",
    },
    KeyDef {
        key: "authentication.targettoken.enabled",
        value_type: ValueType::Bool,
        default: "true",
    },
    KeyDef {
        key: "authentication.gatewaytoken.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "authentication.gatewaytoken.key",
        value_type: ValueType::Text,
        default: "",
    },
    KeyDef {
        key: "pollingTime",
        value_type: ValueType::Polling,
        default: "00:05:00",
    },
    KeyDef {
        key: "pollingOverdueTime",
        value_type: ValueType::Duration,
        default: "00:05:00",
    },
    KeyDef {
        key: "maintenanceWindowPollCount",
        value_type: ValueType::Int,
        default: "3",
    },
    KeyDef {
        key: "rollout.approval.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "auto.assignment.approval.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "repository.actions.autoclose.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "action.cleanup.auto.expiry",
        value_type: ValueType::Long,
        default: "-1",
    },
    KeyDef {
        key: "action.cleanup.auto.status",
        value_type: ValueType::Text,
        default: "CANCELED,ERROR",
    },
    KeyDef {
        key: "action.cleanup.onQuotaHit.percent",
        value_type: ValueType::Int,
        default: "0",
    },
    KeyDef {
        key: "action.delete.allowed.statuses",
        value_type: ValueType::Text,
        default: "CANCELED,ERROR,FINISHED",
    },
    KeyDef {
        key: "batch.assignments.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "user.confirmation.flow.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
    KeyDef {
        key: "implicit.lock.enabled",
        value_type: ValueType::Bool,
        default: "true",
    },
    KeyDef {
        key: "multi.assignments.enabled",
        value_type: ValueType::Bool,
        default: "false",
    },
];

pub fn key_def(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.key == key)
}

/// Checks a JSON value for `key` and returns its stored text form.
pub fn validate(config: &Config, key: &str, value: &Value) -> Result<String> {
    let def = key_def(key).ok_or_else(|| {
        Error::refused(
            Rule::ConfigKey,
            format!("The given configuration key {key} does not exist."),
        )
    })?;
    let bad = || {
        Error::refused(
            Rule::ConfigValue,
            format!("The value {value} is not valid for key {key}."),
        )
    };
    let text = match (def.value_type, value) {
        (ValueType::Bool, Value::Bool(b)) => b.to_string(),
        // hawkBit converts with Spring's conversion service, which takes these spellings in any case.
        (ValueType::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => "true".to_owned(),
            "false" | "off" | "no" | "0" => "false".to_owned(),
            _ => return Err(bad()),
        },
        (ValueType::Int | ValueType::Long, Value::Number(n)) if n.is_i64() => n.to_string(),
        (ValueType::Int | ValueType::Long, Value::String(s)) if s.parse::<i64>().is_ok() => s.clone(),
        (ValueType::Text, Value::String(s)) if s.len() <= 32_768 => s.clone(),
        (ValueType::Text, Value::Number(_) | Value::Bool(_)) => value.to_string(),
        (ValueType::Polling, Value::String(s)) => {
            let p = PollingConfig::parse(s).map_err(|e| {
                Error::refused(
                    Rule::ConfigValue,
                    format!("The value {value} is not valid for key {key}: {e}."),
                )
            })?;
            if p.intervals()
                .any(|i| i < config.min_polling() || i > config.max_polling())
            {
                return Err(Error::refused(
                    Rule::ConfigValue,
                    format!(
                        "pollingTime {s} is outside [{}, {}].",
                        config.min_polling_time, config.max_polling_time
                    ),
                ));
            }
            s.clone()
        }
        (ValueType::Duration, Value::String(s)) if parse_hms(s).is_some() => s.clone(),
        _ => return Err(bad()),
    };
    if key == "multi.assignments.enabled" && text == "true" {
        // Multi-assignment was removed in hawkBit 0.10; we never offered it.
        return Err(Error::refused(
            Rule::ConfigValue,
            "Multi-assignment is not supported.",
        ));
    }
    Ok(text)
}

/// Converts a stored text value back to its JSON form for the Management API.
pub fn to_json(key: &str, text: &str) -> Value {
    match key_def(key).map(|d| d.value_type) {
        Some(ValueType::Bool) => Value::Bool(text == "true"),
        Some(ValueType::Int | ValueType::Long) => text.parse::<i64>().map_or(Value::Null, Value::from),
        _ => Value::String(text.to_owned()),
    }
}

static SETTINGS_VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The settings the request paths need, parsed once per change.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// Unique per load, never reused: answers cached for one version of the settings name it.
    pub version: u64,
    pub header_auth: bool,
    pub header_authorities: Vec<String>,
    pub target_token_auth: bool,
    pub gateway_token_auth: bool,
    pub gateway_token: String,
    pub polling_time: PollingConfig,
    pub polling_overdue: Duration,
    pub maintenance_window_poll_count: u32,
    pub autoclose: bool,
    pub confirmation_flow: bool,
    pub implicit_lock: bool,
    pub rollout_approval: bool,
}

impl TenantSettings {
    fn from_lookup(get: impl Fn(&str) -> String) -> Self {
        let flag = |k: &str| get(k) == "true";
        Self {
            version: SETTINGS_VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            header_auth: flag("authentication.header.enabled"),
            header_authorities: get("authentication.header.authority")
                .split([';', ','])
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            target_token_auth: flag("authentication.targettoken.enabled"),
            gateway_token_auth: flag("authentication.gatewaytoken.enabled"),
            gateway_token: get("authentication.gatewaytoken.key"),
            polling_time: PollingConfig::parse(&get("pollingTime")).unwrap_or(PollingConfig {
                default: PollingTime {
                    interval: Duration::from_secs(300),
                    deviation_percent: 0,
                },
                overrides: Vec::new(),
            }),
            polling_overdue: parse_hms(&get("pollingOverdueTime")).unwrap_or(Duration::from_secs(300)),
            maintenance_window_poll_count: get("maintenanceWindowPollCount").parse().unwrap_or(3),
            autoclose: flag("repository.actions.autoclose.enabled"),
            confirmation_flow: flag("user.confirmation.flow.enabled"),
            implicit_lock: flag("implicit.lock.enabled"),
            rollout_approval: flag("rollout.approval.enabled"),
        }
    }
}

/// Loads the stored values of a tenant (defaults for the rest).
pub fn load(conn: &mut AnyConnection, tenant: &str) -> Result<TenantSettings> {
    use crate::store::schema::tenants;
    let exists: bool = diesel::select(diesel::dsl::exists(
        tenants::table.filter(tenants::name.eq(tenant)),
    ))
    .get_result(conn)?;
    if !exists {
        return Err(Error::refused(
            Rule::TenantUnknown,
            format!("Tenant {tenant} does not exist."),
        ));
    }
    let stored: Vec<(String, String)> = tenant_configs::table
        .filter(tenant_configs::tenant.eq(tenant))
        .select((tenant_configs::conf_key, tenant_configs::conf_value))
        .load(conn)?;
    Ok(TenantSettings::from_lookup(|k| {
        stored
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .or_else(|| key_def(k).map(|d| d.default.to_owned()))
            .unwrap_or_default()
    }))
}
