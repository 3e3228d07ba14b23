//! `/rest/v1/userinfo` (hawkBit's), and Updraft's own user and tenant administration:
//! `/rest/v1/users` and `/rest/v1/tenants`, which need `SYSTEM_ADMIN`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::body;
use crate::auth::permissions::{Permission, Permissions};
use crate::auth::users::{self, User};
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::tenants::{self, tenant_name};
use crate::store::users::{self as user_store, validate_new_user};

super::routes::api! {
    paths: [userinfo, list_users, create_user, delete_user, list_tenants, create_tenant],
    schemas: [UserInfo, UserRequest, TenantRequest, TenantInfo],
}

/// hawkBit's `MgmtUserInfo`, and the shape of a listed user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// The user's tenant.
    #[schema(example = "DEFAULT")]
    pub tenant: String,
    #[schema(example = "admin")]
    pub username: String,
    /// Every permission the user holds, roles expanded.
    #[schema(example = json!(["READ_TARGET", "UPDATE_TARGET"]))]
    pub permissions: Vec<String>,
}

fn names(p: Permissions) -> Vec<String> {
    p.iter().map(|p| p.name().to_owned()).collect()
}

/// Who the credentials belong to and what they may do.
#[utoipa::path(
    get,
    path = "/rest/v1/userinfo",
    tag = "User info",
    responses(
        (status = 200, description = "The authenticated user", body = UserInfo),
    )
)]
async fn userinfo(user: User) -> HttpResponse {
    HttpResponse::Ok().json(UserInfo {
        tenant: user.tenant,
        username: user.username,
        permissions: names(user.permissions),
    })
}

/// Lists all users of all tenants.
#[utoipa::path(
    get,
    path = "/rest/v1/users",
    tag = "Users and tenants",
    responses(
        (status = 200, description = "All users", body = Vec<UserInfo>),
        (status = 403, description = "Lacks SYSTEM_ADMIN", body = ExceptionInfo),
    )
)]
async fn list_users(user: User, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::SystemAdmin)?;
    let rows = state.db.read(user_store::list).await?;
    let list: Vec<UserInfo> = rows
        .into_iter()
        .map(|u| UserInfo {
            tenant: u.tenant,
            username: u.username,
            permissions: names(Permissions::parse(&u.permissions).unwrap_or_default()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// A user to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    #[schema(example = "ci-bot", pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// At least 12 characters.
    #[schema(example = "a long random secret", min_length = 12)]
    pub password: String,
    /// The tenant (default `DEFAULT`); it must exist.
    #[serde(default)]
    #[schema(example = "DEFAULT")]
    pub tenant: Option<String>,
    /// hawkBit permission or role names, e.g. `READ_TARGET`, `TENANT_ADMIN`, `READ_REPOSITORY`.
    #[schema(example = json!(["READ_TARGET", "READ_REPOSITORY"]))]
    pub permissions: Vec<String>,
}

/// Creates a user.
#[utoipa::path(
    post,
    path = "/rest/v1/users",
    tag = "Users and tenants",
    request_body = UserRequest,
    responses(
        (status = 201, description = "Created", body = UserInfo),
        (status = 400, description = "Bad name, short password, unknown permission or tenant", body = ExceptionInfo),
        (status = 403, description = "Lacks SYSTEM_ADMIN", body = ExceptionInfo),
        (status = 409, description = "The username is taken", body = ExceptionInfo),
    )
)]
async fn create_user(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::SystemAdmin)?;
    let r: UserRequest = body(&req, payload, &state).await?;
    let tenant = r
        .tenant
        .as_deref()
        .unwrap_or(users::DEFAULT_TENANT)
        .to_ascii_uppercase();
    let perms = r.permissions.join(",");
    validate_new_user(&r.username, &r.password, &perms)?;
    let now = state.now();
    let (st, name, t, p) = (state.clone(), r.username.clone(), tenant.clone(), perms.clone());
    web::block(move || users::add_user(&st.db, &t, &name, &r.password, &p, now))
        .await
        .map_err(ApiError::internal)??;
    Ok(HttpResponse::Created().json(UserInfo {
        tenant,
        username: r.username,
        permissions: names(Permissions::parse(&perms).unwrap_or_default()),
    }))
}

/// Deletes a user; its credentials stop working at once.
#[utoipa::path(
    delete,
    path = "/rest/v1/users/{username}",
    tag = "Users and tenants",
    params(("username" = String, Path, description = "The user to delete")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks SYSTEM_ADMIN", body = ExceptionInfo),
        (status = 404, description = "No such user", body = ExceptionInfo),
        (status = 409, description = "The caller itself, or the last SYSTEM_ADMIN", body = ExceptionInfo),
    )
)]
async fn delete_user(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::SystemAdmin)?;
    let name = path.into_inner();
    if name == user.username {
        return Err(ApiError::user_not_deletable(
            "You cannot delete the user you are logged in as; another SYSTEM_ADMIN can.",
        ));
    }
    let n = name.clone();
    state.db.tx(move |c| users::delete_user(c, &n)).await?;
    state.credentials.forget_all();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    #[schema(example = "DEFAULT")]
    pub name: String,
    #[schema(example = 1_691_065_905_897_i64)]
    pub created_at: i64,
}

/// Lists the tenants.
#[utoipa::path(
    get,
    path = "/rest/v1/tenants",
    tag = "Users and tenants",
    responses(
        (status = 200, description = "All tenants", body = Vec<TenantInfo>),
        (status = 403, description = "Lacks SYSTEM_ADMIN", body = ExceptionInfo),
    )
)]
async fn list_tenants(user: User, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::SystemAdmin)?;
    let rows = state.db.read(tenants::list).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|t| TenantInfo {
                name: t.name,
                created_at: t.created_at,
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantRequest {
    /// Letters, digits, `-` and `_`; stored upper-cased, as hawkBit treats tenants.
    #[schema(example = "ACME", pattern = r"^[A-Za-z0-9_-]{1,40}$")]
    pub name: String,
}

/// Creates a tenant with hawkBit's default software module and distribution set types.
#[utoipa::path(
    post,
    path = "/rest/v1/tenants",
    tag = "Users and tenants",
    request_body = TenantRequest,
    responses(
        (status = 201, description = "Created", body = TenantInfo),
        (status = 400, description = "Bad name", body = ExceptionInfo),
        (status = 403, description = "Lacks SYSTEM_ADMIN", body = ExceptionInfo),
        (status = 409, description = "The tenant exists", body = ExceptionInfo),
    )
)]
async fn create_tenant(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::SystemAdmin)?;
    let r: TenantRequest = body(&req, payload, &state).await?;
    let name = tenant_name(&r.name)?;
    let now = state.now();
    let n = name.clone();
    state
        .db
        .tx(move |c| {
            tenants::ensure_new(c, &n)?;
            crate::bootstrap::ensure_tenant(c, &n, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(TenantInfo {
        name,
        created_at: now,
    }))
}
