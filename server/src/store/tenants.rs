//! Tenants and their settings: hawkBit's configuration keys (`TenantConfigurationKey`), their
//! defaults and validation, and the parsed per-tenant settings the device path reads on every request
//! (cached in memory by `crate::tenant_config`).

use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use crate::config::Config;
use crate::polling::{PollingConfig, PollingTime, parse_hms};
use crate::store::schema::{tenant_configs, tenants};
use crate::store::{AnyConnection, Changes, Error, Result, Rule};

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

/// The definition of `key`; refused when hawkBit defines no such key.
pub fn check_key(key: &str) -> Result<&'static KeyDef> {
    key_def(key).ok_or_else(|| {
        Error::refused(
            Rule::ConfigKey,
            format!("The given configuration key {key} does not exist."),
        )
    })
}

/// Checks a JSON value for `key` and returns its stored text form.
pub fn validate(config: &Config, key: &str, value: &Value) -> Result<String> {
    let def = check_key(key)?;
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
    /// `batch.assignments.enabled`: DMF pushes one BATCH_* message per assignment.
    pub batch_assignments: bool,
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
            batch_assignments: flag("batch.assignments.enabled"),
        }
    }
}

/// Whether `tenant` exists.
pub fn exists(c: &mut AnyConnection, tenant: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        tenants::table.filter(tenants::name.eq(tenant)),
    ))
    .get_result(c)?)
}

/// Loads the stored values of a tenant (defaults for the rest).
pub fn load(conn: &mut AnyConnection, tenant: &str) -> Result<TenantSettings> {
    if !exists(conn, tenant)? {
        return Err(Error::refused(
            Rule::TenantUnknown,
            format!("Tenant {tenant} does not exist."),
        ));
    }
    let stored = stored(conn, tenant)?;
    Ok(TenantSettings::from_lookup(|k| {
        stored
            .iter()
            .find(|s| s.key == k)
            .map(|s| s.value.clone())
            .or_else(|| key_def(k).map(|d| d.default.to_owned()))
            .unwrap_or_default()
    }))
}

/// A tenant: its name (upper case) and when it was created.
#[derive(Debug, Clone, Queryable)]
pub struct TenantRow {
    pub name: String,
    pub created_at: i64,
}

/// Every tenant, by name.
pub fn list(c: &mut AnyConnection) -> Result<Vec<TenantRow>> {
    Ok(tenants::table
        .order(tenants::name.asc())
        .select((tenants::name, tenants::created_at))
        .load(c)?)
}

/// Checks a new tenant's name and returns it upper-cased, as hawkBit treats tenants.
pub fn tenant_name(name: &str) -> Result<String> {
    if name.is_empty()
        || name.len() > 40
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::refused(
            Rule::Constraint,
            "tenant name must be 1 to 40 characters of letters, digits, - and _",
        ));
    }
    Ok(name.to_ascii_uppercase())
}

/// Refuses to create `tenant` when it exists already.
pub fn ensure_new(c: &mut AnyConnection, tenant: &str) -> Result<()> {
    if exists(c, tenant)? {
        return Err(Error::refused(
            Rule::AlreadyExists,
            format!("Tenant {tenant} already exists."),
        ));
    }
    Ok(())
}

/// A value the tenant set, with who set it and when.
#[derive(Debug, Clone, Queryable)]
pub struct StoredValue {
    pub key: String,
    pub value: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

/// The values the tenant set (keys left at the server default are absent).
pub fn stored(c: &mut AnyConnection, tenant: &str) -> Result<Vec<StoredValue>> {
    Ok(tenant_configs::table
        .filter(tenant_configs::tenant.eq(tenant))
        .select((
            tenant_configs::conf_key,
            tenant_configs::conf_value,
            tenant_configs::created_at,
            tenant_configs::created_by,
            tenant_configs::last_modified_at,
            tenant_configs::last_modified_by,
        ))
        .load(c)?)
}

/// Validates and stores several values (JSON, as the Management API takes them): all of them, or
/// none when one is refused.
pub fn set_values(
    c: &mut AnyConnection,
    config: &Config,
    tenant: &str,
    values: &[(String, Value)],
    by: &str,
    now: i64,
) -> Result<Changes> {
    let mut checked = Vec::with_capacity(values.len());
    for (k, v) in values {
        checked.push((k, validate(config, k, v)?));
    }
    for (k, text) in &checked {
        let updated = diesel::update(
            tenant_configs::table.filter(
                tenant_configs::tenant
                    .eq(tenant)
                    .and(tenant_configs::conf_key.eq(k)),
            ),
        )
        .set((
            tenant_configs::conf_value.eq(text),
            tenant_configs::last_modified_at.eq(now),
            tenant_configs::last_modified_by.eq(by),
        ))
        .execute(c)?;
        if updated > 0 {
            continue;
        }
        diesel::insert_into(tenant_configs::table)
            .values((
                tenant_configs::tenant.eq(tenant),
                tenant_configs::conf_key.eq(k),
                tenant_configs::conf_value.eq(text),
                tenant_configs::created_at.eq(now),
                tenant_configs::created_by.eq(by),
                tenant_configs::last_modified_at.eq(now),
                tenant_configs::last_modified_by.eq(by),
            ))
            .execute(c)?;
    }
    Ok(Changes::tenant_settings(tenant))
}

/// Resets `key` to the server default.
pub fn reset_value(c: &mut AnyConnection, tenant: &str, key: &str) -> Result<Changes> {
    check_key(key)?;
    diesel::delete(
        tenant_configs::table.filter(
            tenant_configs::tenant
                .eq(tenant)
                .and(tenant_configs::conf_key.eq(key)),
        ),
    )
    .execute(c)?;
    Ok(Changes::tenant_settings(tenant))
}
