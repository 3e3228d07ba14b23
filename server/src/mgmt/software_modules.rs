//! `/rest/v1/softwaremodules` (and their types): modules, metadata, artifact upload and download.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;

use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, check_len, json, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::{SmType, SoftwareModule};
use crate::store::schema::{artifacts, ds_modules, sm_types, software_modules};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/softwaremodules", web::get().to(list))
        .route("/softwaremodules", web::post().to(create))
        .route("/softwaremodules/{id}", web::get().to(get_one))
        .route("/softwaremodules/{id}", web::put().to(update))
        .route("/softwaremodules/{id}", web::delete().to(delete));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get_one, update, delete),
    components(schemas(json::MgmtSoftwareModule, SmRequest, SmUpdate))
)]
pub struct Api;

pub(super) const SM_ID: &str = "The software module's id";

pub(super) fn find_sm(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<SoftwareModule> {
    software_modules::table
        .filter(
            software_modules::id
                .eq(id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .select(SoftwareModule::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModule", id))
}

pub fn sm_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<json::MgmtSoftwareModule> {
    let (sm, ty): (SoftwareModule, SmType) = software_modules::table
        .inner_join(sm_types::table)
        .filter(software_modules::id.eq(id))
        .select((SoftwareModule::as_select(), SmType::as_select()))
        .first(c)?;
    let count: i64 = artifacts::table
        .filter(artifacts::sm_id.eq(id))
        .count()
        .get_result(c)?;
    Ok(json::software_module(
        &sm,
        &ty.type_key,
        &ty.name,
        count >= i64::from(ty.min_artifacts),
        base,
    ))
}

/// Lists the software modules of the tenant; soft-deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules",
    tag = "Software Modules",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of software modules", body = PagedList<json::MgmtSoftwareModule>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let spec = q.spec(&crate::store::query::SOFTWARE_MODULES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let (offset, limit) = (q.offset(), q.limit());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let filter = software_modules::tenant
                .eq(tenant.clone())
                .and(software_modules::deleted.eq_any(deleted.clone()));
            let total: i64 = software_modules::table
                .filter(filter.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let ids: Vec<i64> = software_modules::table
                .filter(filter)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .select(software_modules::id)
                .offset(offset)
                .limit(limit)
                .load(c)?;
            let content = ids
                .iter()
                .map(|id| sm_json(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One software module to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SmRequest {
    #[schema(example = "rootfs")]
    pub(crate) name: String,
    #[schema(example = "1.0.0")]
    pub(crate) version: String,
    /// The software module type's key.
    #[serde(rename = "type")]
    #[schema(example = "os")]
    pub(crate) type_key: String,
    #[schema(example = "Root file system of the gateway image")]
    pub(crate) description: Option<String>,
    #[schema(example = "Updraft Ltd.")]
    pub(crate) vendor: Option<String>,
    #[serde(default)]
    #[schema(example = false)]
    pub(crate) encrypted: bool,
}

/// Creates software modules.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules",
    tag = "Software Modules",
    request_body = Vec<SmRequest>,
    responses(
        (status = 201, description = "The created modules", body = Vec<json::MgmtSoftwareModule>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module type", body = ExceptionInfo),
        (status = 409, description = "Name, version and type taken", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateSoftwareModule)?;
    let requests: Vec<SmRequest> = body_list(&req, payload, &state).await?;
    for r in &requests {
        validate_sm_request(r)?;
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let created = state
        .db
        .tx(move |c| create_modules(c, &tenant, &by, now, &base, &requests))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Checks one module to create: lengths, non-empty name and version, no encryption.
pub(crate) fn validate_sm_request(r: &SmRequest) -> ApiResult<()> {
    check_len("name", &r.name, 128)?;
    check_len("version", &r.version, 64)?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    check_len("vendor", r.vendor.as_deref().unwrap_or(""), 256)?;
    if r.name.trim().is_empty() || r.version.trim().is_empty() {
        return Err(ApiError::constraint_violation(
            "name and version must not be empty.",
        ));
    }
    if r.encrypted {
        return Err(ApiError::upload_failed("Artifact encryption is not supported."));
    }
    Ok(())
}

/// Creates software modules of `tenant` (the Management API's and the web UI's create).
pub(crate) fn create_modules(
    c: &mut AnyConnection,
    tenant: &str,
    by: &str,
    now: i64,
    base: &str,
    requests: &[SmRequest],
) -> ApiResult<Vec<json::MgmtSoftwareModule>> {
    let mut out = Vec::new();
    for r in requests {
        let sm_type: i64 = sm_types::table
            .filter(
                sm_types::tenant
                    .eq(tenant)
                    .and(sm_types::type_key.eq(&r.type_key)),
            )
            .select(sm_types::id)
            .first(c)
            .optional()?
            .ok_or_else(|| ApiError::not_found("SoftwareModuleType", &r.type_key))?;
        let id: i64 = diesel::insert_into(software_modules::table)
            .values((
                software_modules::tenant.eq(tenant),
                software_modules::sm_type_id.eq(sm_type),
                software_modules::name.eq(&r.name),
                software_modules::version.eq(&r.version),
                software_modules::vendor.eq(&r.vendor),
                software_modules::description.eq(&r.description),
                software_modules::encrypted.eq(false),
                software_modules::locked.eq(false),
                software_modules::deleted.eq(false),
                software_modules::created_at.eq(now),
                software_modules::created_by.eq(by),
                software_modules::last_modified_at.eq(now),
                software_modules::last_modified_by.eq(by),
            ))
            .returning(software_modules::id)
            .get_result(c)
            .map_err(|e| match ApiError::from(e) {
                e if e.status == actix_web::http::StatusCode::CONFLICT => ApiError::already_exists(format!(
                    "Software module {}:{} of type {} already exists.",
                    r.name, r.version, r.type_key
                )),
                e => e,
            })?;
        out.push(sm_json(c, id, base)?);
    }
    Ok(out)
}

/// One software module.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    responses(
        (status = 200, description = "The software module", body = json::MgmtSoftwareModule),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let v = state
        .db
        .run(move |c| {
            find_sm(c, &tenant, id)?;
            sm_json(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `PUT /softwaremodules/{id}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SmUpdate {
    #[schema(example = "Root file system, signed")]
    description: Option<String>,
    #[schema(example = "Updraft Ltd.")]
    vendor: Option<String>,
    /// `true` locks the module (its artifacts can no longer change), `false` unlocks it.
    #[schema(example = true)]
    locked: Option<bool>,
}

/// Updates description, vendor and the lock of a module.
#[utoipa::path(
    put,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    request_body = SmUpdate,
    responses(
        (status = 200, description = "The updated software module", body = json::MgmtSoftwareModule),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let r: SmUpdate = body(&req, payload, &state).await?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    check_len("vendor", r.vendor.as_deref().unwrap_or(""), 256)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let v = state
        .db
        .tx(move |c| {
            let sm = find_sm(c, &tenant, id)?;
            if sm.deleted {
                return Err(ApiError::not_found("SoftwareModule", id));
            }
            diesel::update(software_modules::table.find(id))
                .set((
                    software_modules::description.eq(r.description.clone().or(sm.description)),
                    software_modules::vendor.eq(r.vendor.clone().or(sm.vendor)),
                    software_modules::locked.eq(r.locked.unwrap_or(sm.locked)),
                    software_modules::last_modified_at.eq(now),
                    software_modules::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            sm_json(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Removes blobs that no artifact refers to any more (content addressing shares them).
pub(super) async fn release_blobs(state: &AppState, digests: Vec<String>) {
    for sha in digests {
        let s = sha.clone();
        let used = state
            .db
            .run(move |c| {
                Ok(diesel::select(diesel::dsl::exists(
                    artifacts::table.filter(artifacts::sha256.eq(s.clone())),
                ))
                .get_result::<bool>(c)?)
            })
            .await;
        if matches!(used, Ok(false))
            && let Err(e) = state.store.delete(&sha).await
        {
            tracing::warn!(error = %e, sha256 = %sha, "could not remove an unused artifact blob");
        }
    }
}

/// Deletes a module; one that a distribution set contains is only marked deleted, as hawkBit does.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremodules/{softwareModuleId}",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    responses(
        (status = 204, description = "Deleted (or marked deleted when in a distribution set)"),
        (status = 403, description = "Lacks DELETE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteSoftwareModule)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let digests = state
        .db
        .tx(move |c| {
            find_sm(c, &tenant, id)?;
            let in_ds: bool = diesel::select(diesel::dsl::exists(
                ds_modules::table.filter(ds_modules::sm_id.eq(id)),
            ))
            .get_result(c)?;
            if in_ds {
                // hawkBit keeps modules that distribution sets refer to, marked deleted.
                diesel::update(software_modules::table.find(id))
                    .set(software_modules::deleted.eq(true))
                    .execute(c)?;
                return Ok(Vec::new());
            }
            let digests: Vec<String> = artifacts::table
                .filter(artifacts::sm_id.eq(id))
                .select(artifacts::sha256)
                .load(c)?;
            diesel::delete(software_modules::table.find(id)).execute(c)?;
            Ok(digests)
        })
        .await?;
    release_blobs(&state, digests).await;
    Ok(HttpResponse::NoContent().finish())
}
