//! `/rest/v1/system/configs`: tenant configuration.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;

use super::{body, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::tenants::{self, StoredValue};
use crate::tenant_config::{KEYS, key_def, to_json};

super::routes::api! {
    paths: [list, get_one, put_one, put_many, delete_one],
    schemas: [ConfigValue, ValueBody],
}

/// One tenant configuration value (hawkBit's `MgmtSystemTenantConfigurationValue`); `global` means
/// the server default is in effect, and then the audit fields are absent.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ConfigValue {
    /// A boolean, string or number, depending on the key.
    #[schema(schema_with = super::examples::config_value_value)]
    value: Value,
    #[schema(example = false)]
    global: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_905_897_i64)]
    created_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "admin")]
    created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_906_407_i64)]
    last_modified_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "admin")]
    last_modified_by: Option<String>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::config_value_links)]
    links: Value,
}

async fn rows(state: &AppState, tenant: String) -> ApiResult<Vec<StoredValue>> {
    Ok(state.db.read(move |c| tenants::stored(c, &tenant)).await?)
}

fn value_of(key: &str, rows: &[StoredValue], base: &str) -> ConfigValue {
    let links = serde_json::json!({ "self": { "href": format!("{base}/system/configs/{key}") } });
    match rows.iter().find(|r| r.key == key) {
        Some(r) => ConfigValue {
            value: to_json(key, &r.value),
            global: false,
            created_at: Some(r.created_at),
            created_by: Some(r.created_by.clone()),
            last_modified_at: Some(r.last_modified_at),
            last_modified_by: Some(r.last_modified_by.clone()),
            links,
        },
        None => ConfigValue {
            value: to_json(key, key_def(key).map_or("", |d| d.default)),
            global: true,
            created_at: None,
            created_by: None,
            last_modified_at: None,
            last_modified_by: None,
            links,
        },
    }
}

/// Every configuration key of the tenant with its value.
#[utoipa::path(
    get,
    path = "/rest/v1/system/configs",
    tag = "System Configuration",
    responses(
        (status = 200, description = "A map from key to value", body = std::collections::BTreeMap<String, ConfigValue>),
        (status = 403, description = "Lacks READ_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn list(req: HttpRequest, user: User, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTenantConfiguration)?;
    let rows = rows(&state, tenant_of(&user)).await?;
    let base = rest_base(&req, &state);
    let map: BTreeMap<&str, ConfigValue> = KEYS
        .iter()
        .map(|k| (k.key, value_of(k.key, &rows, &base)))
        .collect();
    Ok(HttpResponse::Ok().json(map))
}

/// One configuration value.
#[utoipa::path(
    get,
    path = "/rest/v1/system/configs/{keyName}",
    tag = "System Configuration",
    params(("keyName" = String, Path, description = "The configuration key, e.g. `pollingTime`")),
    responses(
        (status = 200, description = "The value", body = ConfigValue),
        (status = 400, description = "Unknown key", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTenantConfiguration)?;
    let key = path.into_inner();
    tenants::check_key(&key)?;
    let rows = rows(&state, tenant_of(&user)).await?;
    Ok(HttpResponse::Ok().json(value_of(&key, &rows, &rest_base(&req, &state))))
}

/// The body of a single-value update.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct ValueBody {
    /// A boolean, string or number, depending on the key.
    #[schema(schema_with = super::examples::value_body_value)]
    value: Value,
}

/// Validates and stores several values in one transaction, then drops the cached settings.
async fn save(state: &web::Data<AppState>, user: &User, values: Vec<(String, Value)>) -> ApiResult<()> {
    let (st, tenant, by, now) = (state.clone(), tenant_of(user), user.username.clone(), state.now());
    let changes = state
        .db
        .write(move |c| tenants::set_values(c, &st.config, &tenant, &values, &by, now))
        .await?;
    state.apply(changes);
    Ok(())
}

/// Sets one configuration value.
#[utoipa::path(
    put,
    path = "/rest/v1/system/configs/{keyName}",
    tag = "System Configuration",
    params(("keyName" = String, Path, description = "The configuration key, e.g. `pollingTime`")),
    request_body = ValueBody,
    responses(
        (status = 200, description = "The stored value", body = ConfigValue),
        (status = 400, description = "Unknown key, unreadable body or invalid value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn put_one(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTenantConfiguration)?;
    let key = path.into_inner();
    let v: ValueBody = body(&req, payload, &state).await?;
    save(&state, &user, vec![(key.clone(), v.value)]).await?;
    let rows = rows(&state, tenant_of(&user)).await?;
    Ok(HttpResponse::Ok().json(value_of(&key, &rows, &rest_base(&req, &state))))
}

/// Sets several configuration values at once (all or none).
#[utoipa::path(
    put,
    path = "/rest/v1/system/configs",
    tag = "System Configuration",
    request_body(
        content = std::collections::BTreeMap<String, Value>,
        description = "Configuration keys and their new values",
        example = json!({"pollingTime": "00:05:00", "pollingOverdueTime": "00:10:00"})
    ),
    responses(
        (status = 200, description = "The stored values, in request order", body = Vec<ConfigValue>),
        (status = 400, description = "Unknown key, unreadable body or invalid value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn put_many(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTenantConfiguration)?;
    let values: BTreeMap<String, Value> = body(&req, payload, &state).await?;
    let keys: Vec<String> = values.keys().cloned().collect();
    save(&state, &user, values.into_iter().collect()).await?;
    crate::audit_trail::note(&req, keys.join(", "));
    let rows = rows(&state, tenant_of(&user)).await?;
    let base = rest_base(&req, &state);
    let out: Vec<ConfigValue> = keys.iter().map(|k| value_of(k, &rows, &base)).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Resets a key to the server default.
#[utoipa::path(
    delete,
    path = "/rest/v1/system/configs/{keyName}",
    tag = "System Configuration",
    params(("keyName" = String, Path, description = "The configuration key, e.g. `pollingTime`")),
    responses(
        (status = 204, description = "Reset"),
        (status = 400, description = "Unknown key", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn delete_one(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTenantConfiguration)?;
    let key = path.into_inner();
    let tenant = tenant_of(&user);
    let changes = state
        .db
        .write(move |c| tenants::reset_value(c, &tenant, &key))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::NoContent().finish())
}
