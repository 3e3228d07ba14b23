//! A software module's metadata in the Management API (with `targetVisible`, which devices see in
//! their deployment).

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::software_modules::{SM_ID, find_sm};
use super::{PagedList, Paging, body, body_list, check_len, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::schema::sm_metadata;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/softwaremodules/{id}/metadata", web::get().to(list_metadata))
        .route("/softwaremodules/{id}/metadata", web::post().to(create_metadata))
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::get().to(get_metadata),
        )
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::put().to(update_metadata),
        )
        .route(
            "/softwaremodules/{id}/metadata/{key}",
            web::delete().to(delete_metadata),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_metadata,
        create_metadata,
        get_metadata,
        update_metadata,
        delete_metadata
    ),
    components(schemas(MetadataRequest, MetadataUpdate, MgmtSoftwareModuleMetadata))
)]
pub struct Api;

/// One metadata entry to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MetadataRequest {
    #[schema(example = "hw.revision")]
    key: String,
    #[schema(example = "2")]
    value: String,
    #[serde(default)]
    #[schema(example = true)]
    target_visible: bool,
}

/// Creates metadata entries of a module.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID)),
    request_body = Vec<MetadataRequest>,
    responses(
        (status = 201, description = "Created"),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
        (status = 409, description = "A key exists already", body = ExceptionInfo),
    )
)]
async fn create_metadata(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let sm = path.into_inner();
    let entries: Vec<MetadataRequest> = body_list(&req, payload, &state).await?;
    let entries: Vec<(String, String, bool)> = entries
        .into_iter()
        .map(|e| (e.key, e.value, e.target_visible))
        .collect();
    let tenant = tenant_of(&user);
    state
        .db
        .tx(move |c| add_metadata(c, &tenant, sm, &entries))
        .await?;
    Ok(HttpResponse::Created().finish())
}

/// Adds `(key, value, targetVisible)` entries to a module's metadata (the web UI's form too).
pub(crate) fn add_metadata(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    entries: &[(String, String, bool)],
) -> ApiResult<()> {
    for (key, value, _) in entries {
        check_len("key", key, 128)?;
        check_len("value", value, 4000)?;
    }
    find_sm(c, tenant, sm)?;
    for (key, value, visible) in entries {
        diesel::insert_into(sm_metadata::table)
            .values((
                sm_metadata::sm_id.eq(sm),
                sm_metadata::meta_key.eq(key),
                sm_metadata::meta_value.eq(value),
                sm_metadata::target_visible.eq(visible),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// The metadata of a module: `q` and `sort` on `key`, `value` and `targetVisible` (default
/// `key:ASC`), paged.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata",
    tag = "Software Modules",
    params(("softwareModuleId" = i64, Path, description = SM_ID), Paging),
    responses(
        (status = 200, description = "One page of metadata", body = PagedList<MgmtSoftwareModuleMetadata>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module", body = ExceptionInfo),
    )
)]
async fn list_metadata(
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let spec = q.spec(&crate::store::query::SM_METADATA)?;
    let sm = path.into_inner();
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            find_sm(c, &tenant, sm)?;
            let mine = sm_metadata::sm_id.eq(sm);
            let total: i64 = sm_metadata::table
                .filter(mine)
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<(String, String, bool)> = sm_metadata::table
                .filter(mine)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select((
                    sm_metadata::meta_key,
                    sm_metadata::meta_value,
                    sm_metadata::target_visible,
                ))
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let content: Vec<MgmtSoftwareModuleMetadata> = rows
        .into_iter()
        .map(|(key, value, target_visible)| MgmtSoftwareModuleMetadata {
            key,
            value,
            target_visible,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// hawkBit's `MgmtSoftwareModuleMetadata`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MgmtSoftwareModuleMetadata {
    #[schema(example = "hw.revision")]
    key: String,
    #[schema(example = "2")]
    value: String,
    #[schema(example = true)]
    target_visible: bool,
}

fn find_metadata(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    key: &str,
) -> ApiResult<MgmtSoftwareModuleMetadata> {
    find_sm(c, tenant, sm)?;
    let (value, target_visible): (String, bool) = sm_metadata::table
        .filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(key)))
        .select((sm_metadata::meta_value, sm_metadata::target_visible))
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModuleMetadata", key))?;
    Ok(MgmtSoftwareModuleMetadata {
        key: key.to_owned(),
        value,
        target_visible,
    })
}

/// One metadata entry of a module.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    responses(
        (status = 200, description = "The entry", body = MgmtSoftwareModuleMetadata),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn get_metadata(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModule)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    let m = state.db.run(move |c| find_metadata(c, &tenant, sm, &key)).await?;
    Ok(HttpResponse::Ok().json(m))
}

/// `PUT /softwaremodules/{id}/metadata/{key}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct MetadataUpdate {
    #[schema(example = "3")]
    value: Option<String>,
    #[schema(example = false)]
    target_visible: Option<bool>,
}

/// Changes the value or visibility of one metadata entry.
#[utoipa::path(
    put,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    request_body = MetadataUpdate,
    responses(
        (status = 200, description = "The updated entry", body = MgmtSoftwareModuleMetadata),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn update_metadata(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let r: MetadataUpdate = body(&req, payload, &state).await?;
    check_len("value", r.value.as_deref().unwrap_or(""), 4000)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    let m = state
        .db
        .tx(move |c| {
            let old = find_metadata(c, &tenant, sm, &key)?;
            diesel::update(
                sm_metadata::table.filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(&key))),
            )
            .set((
                sm_metadata::meta_value.eq(r.value.clone().unwrap_or(old.value)),
                sm_metadata::target_visible.eq(r.target_visible.unwrap_or(old.target_visible)),
            ))
            .execute(c)?;
            find_metadata(c, &tenant, sm, &key)
        })
        .await?;
    Ok(HttpResponse::Ok().json(m))
}

/// Deletes one metadata entry.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}",
    tag = "Software Modules",
    params(
        ("softwareModuleId" = i64, Path, description = SM_ID),
        ("metadataKey" = String, Path, description = "The metadata key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE", body = ExceptionInfo),
        (status = 404, description = "No such software module or key", body = ExceptionInfo),
    )
)]
async fn delete_metadata(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModule)?;
    let (sm, key) = path.into_inner();
    let tenant = tenant_of(&user);
    state
        .db
        .tx(move |c| {
            find_metadata(c, &tenant, sm, &key)?;
            diesel::delete(
                sm_metadata::table.filter(sm_metadata::sm_id.eq(sm).and(sm_metadata::meta_key.eq(&key))),
            )
            .execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
