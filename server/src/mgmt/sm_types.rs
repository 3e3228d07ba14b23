//! `/rest/v1/softwaremoduletypes`: the kinds of software modules (`os`, `application`, ...).
//!
//! A type that software modules or distribution set types still use is only marked `deleted` (hidden
//! from the list, still readable by id), as hawkBit keeps it for their history.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::SmType;
use crate::store::schema::{ds_type_sm_types, sm_types, software_modules};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/softwaremoduletypes", web::get().to(list))
        .route("/softwaremoduletypes", web::post().to(create))
        .route(
            "/softwaremoduletypes/{softwareModuleTypeId}",
            web::get().to(get_one),
        )
        .route(
            "/softwaremoduletypes/{softwareModuleTypeId}",
            web::put().to(update),
        )
        .route(
            "/softwaremoduletypes/{softwareModuleTypeId}",
            web::delete().to(delete),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get_one, update, delete),
    components(schemas(MgmtSoftwareModuleType, SmTypeCreate, TypeUpdate))
)]
pub struct Api;

/// hawkBit's longest type key, name, description and colour (`Type`, `NamedEntity`).
pub(super) const KEY_MAX: usize = 64;
pub(super) const NAME_MAX: usize = 64;
pub(super) const DESCRIPTION_MAX: usize = 512;
pub(super) const COLOUR_MAX: usize = 16;

/// hawkBit's `MgmtSoftwareModuleType`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtSoftwareModuleType {
    #[serde(flatten)]
    pub audit: json::Audit,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "OS")]
    pub name: String,
    #[schema(example = "os")]
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Operating system image")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "rgb(0,128,255)")]
    pub colour: Option<String>,
    #[schema(example = false)]
    pub deleted: bool,
    /// How many modules of this type one distribution set may hold.
    #[schema(example = 1)]
    pub max_assignments: i32,
    /// How many artifacts a module of this type needs to be complete.
    #[schema(example = 1)]
    pub min_artifacts: i32,
    /// `self`.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_software_module_type_links)]
    pub links: Value,
}

pub(super) fn sm_type_json(base: &str, t: SmType) -> MgmtSoftwareModuleType {
    MgmtSoftwareModuleType {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        links: json!({ "self": { "href": format!("{base}/softwaremoduletypes/{}", t.id) } }),
        id: t.id,
        name: t.name,
        key: t.type_key,
        description: t.description,
        colour: t.colour,
        deleted: t.deleted,
        max_assignments: t.max_assignments,
        min_artifacts: t.min_artifacts,
    }
}

/// hawkBit's `MgmtSoftwareModuleTypeRequestBodyPost`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SmTypeCreate {
    #[schema(example = "Firmware")]
    name: Option<String>,
    #[schema(example = "firmware")]
    key: Option<String>,
    #[schema(example = "Board firmware blob")]
    description: Option<String>,
    #[schema(example = "rgb(255,128,0)")]
    colour: Option<String>,
    /// At least 1; default 1.
    #[schema(example = 1)]
    max_assignments: Option<i32>,
    /// At least 0; default 0.
    #[schema(example = 1)]
    min_artifacts: Option<i32>,
}

/// The changeable fields of a software module or distribution set type (hawkBit's
/// `Mgmt*TypeRequestBodyPut`).
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct TypeUpdate {
    #[schema(example = "Operating system image, signed")]
    pub description: Option<String>,
    #[schema(example = "rgb(0,128,255)")]
    pub colour: Option<String>,
}

impl TypeUpdate {
    pub(super) fn validate(&self) -> ApiResult<()> {
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        Ok(check_len(
            "colour",
            self.colour.as_deref().unwrap_or(""),
            COLOUR_MAX,
        )?)
    }
}

/// Checks a new type's required `name` and `key` and the lengths of all its texts.
pub(super) fn validate_new_type(
    name: Option<&str>,
    key: Option<&str>,
    description: Option<&str>,
    colour: Option<&str>,
) -> ApiResult<()> {
    for (field, value, max) in [("name", name, NAME_MAX), ("key", key, KEY_MAX)] {
        match value {
            Some(v) if !v.trim().is_empty() => check_len(field, v, max)?,
            _ => return Err(ApiError::constraint_violation(format!("{field} is required."))),
        }
    }
    check_len("description", description.unwrap_or(""), DESCRIPTION_MAX)?;
    Ok(check_len("colour", colour.unwrap_or(""), COLOUR_MAX)?)
}

/// A unique violation on insert as hawkBit's 409 naming the type.
pub(super) fn duplicate_type(e: diesel::result::Error, key: &str, name: &str) -> ApiError {
    match ApiError::from(e) {
        e if e.status == actix_web::http::StatusCode::CONFLICT => {
            ApiError::already_exists(format!("A type with key {key} or name {name} already exists."))
        }
        e => e,
    }
}

pub(super) fn find_sm_type(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<SmType> {
    sm_types::table
        .filter(sm_types::tenant.eq(tenant).and(sm_types::id.eq(id)))
        .select(SmType::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModuleType", id))
}

/// Lists the software module types of the tenant; deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremoduletypes",
    tag = "Software Module Types",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of types", body = PagedList<MgmtSoftwareModuleType>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE_TYPE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModuleType)?;
    let spec = q.spec(&query::SM_TYPES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let live = sm_types::tenant
                .eq(tenant.clone())
                .and(sm_types::deleted.eq_any(deleted.clone()));
            let total: i64 = sm_types::table
                .filter(live.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = sm_types::table
                .filter(live)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(SmType::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|t| sm_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// Creates software module types.
#[utoipa::path(
    post,
    path = "/rest/v1/softwaremoduletypes",
    tag = "Software Module Types",
    request_body = Vec<SmTypeCreate>,
    responses(
        (status = 201, description = "The created types", body = Vec<MgmtSoftwareModuleType>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_SOFTWARE_MODULE_TYPE", body = ExceptionInfo),
        (status = 409, description = "A type with that key or name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateSoftwareModuleType)?;
    let requests: Vec<SmTypeCreate> = body_list(&req, payload, &state).await?;
    for r in &requests {
        validate_new_type(
            r.name.as_deref(),
            r.key.as_deref(),
            r.description.as_deref(),
            r.colour.as_deref(),
        )?;
        if r.max_assignments.is_some_and(|m| m < 1) {
            return Err(ApiError::constraint_violation(
                "maxAssignments must be at least 1.",
            ));
        }
        if r.min_artifacts.is_some_and(|m| m < 0) {
            return Err(ApiError::constraint_violation(
                "minArtifacts must not be negative.",
            ));
        }
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .tx(move |c| {
            let mut out = Vec::with_capacity(requests.len());
            for r in &requests {
                let (name, key) = (
                    r.name.as_deref().unwrap_or_default(),
                    r.key.as_deref().unwrap_or_default(),
                );
                let id: i64 = diesel::insert_into(sm_types::table)
                    .values((
                        sm_types::tenant.eq(&tenant),
                        sm_types::type_key.eq(key),
                        sm_types::name.eq(name),
                        sm_types::description.eq(r.description.as_deref()),
                        sm_types::colour.eq(r.colour.as_deref()),
                        sm_types::max_assignments.eq(r.max_assignments.unwrap_or(1)),
                        sm_types::min_artifacts.eq(r.min_artifacts.unwrap_or(0)),
                        sm_types::deleted.eq(false),
                        sm_types::created_at.eq(now),
                        sm_types::created_by.eq(&by),
                        sm_types::last_modified_at.eq(now),
                        sm_types::last_modified_by.eq(&by),
                    ))
                    .returning(sm_types::id)
                    .get_result(c)
                    .map_err(|e| duplicate_type(e, key, name))?;
                out.push(find_sm_type(c, &tenant, id)?);
            }
            Ok(out)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtSoftwareModuleType> = rows.into_iter().map(|t| sm_type_json(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// One software module type, deleted or not.
#[utoipa::path(
    get,
    path = "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}",
    tag = "Software Module Types",
    params(("softwareModuleTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The type", body = MgmtSoftwareModuleType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_SOFTWARE_MODULE_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadSoftwareModuleType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| find_sm_type(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(sm_type_json(&rest_base(&req, &state), t)))
}

/// Changes the description and colour of a software module type.
#[utoipa::path(
    put,
    path = "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}",
    tag = "Software Module Types",
    params(("softwareModuleTypeId" = i64, Path, description = "The type's id")),
    request_body = TypeUpdate,
    responses(
        (status = 200, description = "The updated type", body = MgmtSoftwareModuleType),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_SOFTWARE_MODULE_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateSoftwareModuleType)?;
    let r: TypeUpdate = body(&req, payload, &state).await?;
    r.validate()?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .tx(move |c| {
            let t = find_sm_type(c, &tenant, id)?;
            diesel::update(sm_types::table.find(t.id))
                .set((
                    sm_types::description.eq(r.description.as_deref().or(t.description.as_deref())),
                    sm_types::colour.eq(r.colour.as_deref().or(t.colour.as_deref())),
                    sm_types::last_modified_at.eq(now),
                    sm_types::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            find_sm_type(c, &tenant, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(sm_type_json(&rest_base(&req, &state), t)))
}

/// Deletes a software module type: only marks it deleted while modules or distribution set types
/// use it.
#[utoipa::path(
    delete,
    path = "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}",
    tag = "Software Module Types",
    params(("softwareModuleTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_SOFTWARE_MODULE_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteSoftwareModuleType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let t = find_sm_type(c, &tenant, id)?;
            let modules: i64 = software_modules::table
                .filter(software_modules::sm_type_id.eq(t.id))
                .count()
                .get_result(c)?;
            let ds_types: i64 = ds_type_sm_types::table
                .filter(ds_type_sm_types::sm_type_id.eq(t.id))
                .count()
                .get_result(c)?;
            if modules + ds_types > 0 {
                diesel::update(sm_types::table.find(t.id))
                    .set((
                        sm_types::deleted.eq(true),
                        sm_types::last_modified_at.eq(now),
                        sm_types::last_modified_by.eq(&by),
                    ))
                    .execute(c)?;
            } else {
                diesel::delete(sm_types::table.find(t.id)).execute(c)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
