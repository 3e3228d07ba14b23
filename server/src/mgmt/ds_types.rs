//! `/rest/v1/distributionsettypes`: the kinds of distribution sets and which software module types
//! they must (mandatory) or may (optional) hold.
//!
//! Once a distribution set has the type its module lists are frozen (hawkBit's `EntityReadOnly`), and
//! deleting it only marks it `deleted`.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sm_types::{
    MgmtSoftwareModuleType, TypeUpdate, duplicate_type, find_sm_type, sm_type_json, validate_new_type,
};
use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::{DsType, SmType};
use crate::store::schema::{
    distribution_sets, ds_type_sm_types as dtsm, ds_types, sm_types, target_type_ds_types,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    const ONE: &str = "/distributionsettypes/{distributionSetTypeId}";
    const MANDATORY: &str = "/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes";
    const MANDATORY_ONE: &str =
        "/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}";
    const OPTIONAL: &str = "/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes";
    const OPTIONAL_ONE: &str =
        "/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}";
    cfg.route("/distributionsettypes", web::get().to(list))
        .route("/distributionsettypes", web::post().to(create))
        .route(ONE, web::get().to(get_one))
        .route(ONE, web::put().to(update))
        .route(ONE, web::delete().to(delete))
        .route(MANDATORY, web::get().to(list_mandatory))
        .route(MANDATORY, web::post().to(add_mandatory))
        .route(MANDATORY_ONE, web::get().to(get_mandatory))
        .route(MANDATORY_ONE, web::delete().to(remove_mandatory))
        .route(OPTIONAL, web::get().to(list_optional))
        .route(OPTIONAL, web::post().to(add_optional))
        .route(OPTIONAL_ONE, web::get().to(get_optional))
        .route(OPTIONAL_ONE, web::delete().to(remove_optional));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        list_mandatory,
        add_mandatory,
        get_mandatory,
        remove_mandatory,
        list_optional,
        add_optional,
        get_optional,
        remove_optional
    ),
    components(schemas(MgmtDistributionSetType, DsTypeCreate, TypeUpdate, IdRef))
)]
pub struct Api;

/// hawkBit's `MgmtDistributionSetType`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtDistributionSetType {
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
    /// `self`, `mandatorymodules` and `optionalmodules`.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_distribution_set_type_links)]
    pub links: Value,
}

pub(super) fn ds_type_json(base: &str, t: DsType) -> MgmtDistributionSetType {
    let href = format!("{base}/distributionsettypes/{}", t.id);
    MgmtDistributionSetType {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        links: json!({
            "self": { "href": href },
            "mandatorymodules": { "href": format!("{href}/mandatorymoduletypes") },
            "optionalmodules": { "href": format!("{href}/optionalmoduletypes") },
        }),
        id: t.id,
        name: t.name,
        key: t.type_key,
        description: t.description,
        colour: t.colour,
        deleted: t.deleted,
    }
}

/// `{"id": ...}`: hawkBit's `MgmtId` and its `*TypeAssignment`s.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct IdRef {
    #[schema(example = 1)]
    pub id: i64,
}

/// hawkBit's `MgmtDistributionSetTypeRequestBodyPost`.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct DsTypeCreate {
    #[schema(example = "OS with apps")]
    name: Option<String>,
    #[schema(example = "os_app")]
    key: Option<String>,
    #[schema(example = "Operating system and optional applications")]
    description: Option<String>,
    #[schema(example = "rgb(0,128,255)")]
    colour: Option<String>,
    /// Software module types a set of this type must hold.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 1}]))]
    mandatorymodules: Vec<IdRef>,
    /// Software module types a set of this type may hold.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 2}]))]
    optionalmodules: Vec<IdRef>,
}

pub(super) fn find_ds_type(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<DsType> {
    ds_types::table
        .filter(ds_types::tenant.eq(tenant).and(ds_types::id.eq(id)))
        .select(DsType::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("DistributionSetType", id))
}

/// Lists the distribution set types of the tenant; deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes",
    tag = "Distribution Set Types",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of types", body = PagedList<MgmtDistributionSetType>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let spec = q.spec(&query::DS_TYPES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let live = ds_types::tenant
                .eq(tenant.clone())
                .and(ds_types::deleted.eq_any(deleted.clone()));
            let total: i64 = ds_types::table
                .filter(live.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = ds_types::table
                .filter(live)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(DsType::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|t| ds_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// Creates distribution set types with their module types.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettypes",
    tag = "Distribution Set Types",
    request_body = Vec<DsTypeCreate>,
    responses(
        (status = 201, description = "The created types", body = Vec<MgmtDistributionSetType>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "A software module type does not exist", body = ExceptionInfo),
        (status = 409, description = "A type with that key or name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateDistributionSetType)?;
    let requests: Vec<DsTypeCreate> = body_list(&req, payload, &state).await?;
    for r in &requests {
        validate_new_type(
            r.name.as_deref(),
            r.key.as_deref(),
            r.description.as_deref(),
            r.colour.as_deref(),
        )?;
        if r.mandatorymodules
            .iter()
            .any(|m| r.optionalmodules.iter().any(|o| o.id == m.id))
        {
            return Err(ApiError::constraint_violation(
                "A software module type cannot be both mandatory and optional.",
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
                let id: i64 = diesel::insert_into(ds_types::table)
                    .values((
                        ds_types::tenant.eq(&tenant),
                        ds_types::type_key.eq(key),
                        ds_types::name.eq(name),
                        ds_types::description.eq(r.description.as_deref()),
                        ds_types::colour.eq(r.colour.as_deref()),
                        ds_types::deleted.eq(false),
                        ds_types::created_at.eq(now),
                        ds_types::created_by.eq(&by),
                        ds_types::last_modified_at.eq(now),
                        ds_types::last_modified_by.eq(&by),
                    ))
                    .returning(ds_types::id)
                    .get_result(c)
                    .map_err(|e| duplicate_type(e, key, name))?;
                for (list, mandatory) in [(&r.mandatorymodules, true), (&r.optionalmodules, false)] {
                    for m in list {
                        find_sm_type(c, &tenant, m.id)?;
                        put_module(c, id, m.id, mandatory)?;
                    }
                }
                out.push(find_ds_type(c, &tenant, id)?);
            }
            Ok(out)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtDistributionSetType> = rows.into_iter().map(|t| ds_type_json(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// Makes `sm_type` a mandatory or optional module type of `ds_type` (moving it if listed already).
fn put_module(c: &mut AnyConnection, ds_type: i64, sm_type: i64, mandatory: bool) -> ApiResult<()> {
    diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(ds_type).and(dtsm::sm_type_id.eq(sm_type))))
        .execute(c)?;
    diesel::insert_into(dtsm::table)
        .values((
            dtsm::ds_type_id.eq(ds_type),
            dtsm::sm_type_id.eq(sm_type),
            dtsm::mandatory.eq(mandatory),
        ))
        .execute(c)?;
    Ok(())
}

/// One distribution set type, deleted or not.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The type", body = MgmtDistributionSetType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| find_ds_type(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(ds_type_json(&rest_base(&req, &state), t)))
}

/// Changes the description and colour of a distribution set type.
#[utoipa::path(
    put,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    request_body = TypeUpdate,
    responses(
        (status = 200, description = "The updated type", body = MgmtDistributionSetType),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
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
    user.require(Permission::UpdateDistributionSetType)?;
    let r: TypeUpdate = body(&req, payload, &state).await?;
    r.validate()?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .tx(move |c| {
            let t = find_ds_type(c, &tenant, id)?;
            diesel::update(ds_types::table.find(t.id))
                .set((
                    ds_types::description.eq(r.description.as_deref().or(t.description.as_deref())),
                    ds_types::colour.eq(r.colour.as_deref().or(t.colour.as_deref())),
                    ds_types::last_modified_at.eq(now),
                    ds_types::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            find_ds_type(c, &tenant, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ds_type_json(&rest_base(&req, &state), t)))
}

fn sets_of_type(c: &mut AnyConnection, ds_type: i64) -> ApiResult<i64> {
    Ok(distribution_sets::table
        .filter(distribution_sets::ds_type_id.eq(ds_type))
        .count()
        .get_result(c)?)
}

/// Deletes a distribution set type: only marks it deleted while distribution sets use it. Target
/// types stop listing it as compatible either way.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let t = find_ds_type(c, &tenant, id)?;
            diesel::delete(target_type_ds_types::table.filter(target_type_ds_types::ds_type_id.eq(t.id)))
                .execute(c)?;
            if sets_of_type(c, t.id)? > 0 {
                diesel::update(ds_types::table.find(t.id))
                    .set((
                        ds_types::deleted.eq(true),
                        ds_types::last_modified_at.eq(now),
                        ds_types::last_modified_by.eq(&by),
                    ))
                    .execute(c)?;
            } else {
                diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(t.id))).execute(c)?;
                diesel::delete(ds_types::table.find(t.id)).execute(c)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The mandatory or optional module types of a distribution set type.
async fn modules(user: User, id: i64, state: &AppState, mandatory: bool) -> ApiResult<Vec<SmType>> {
    user.require(Permission::ReadDistributionSetType)?;
    let tenant = tenant_of(&user);
    state
        .db
        .run(move |c| {
            let t = find_ds_type(c, &tenant, id)?;
            let ids = dtsm::table
                .filter(dtsm::ds_type_id.eq(t.id).and(dtsm::mandatory.eq(mandatory)))
                .select(dtsm::sm_type_id);
            Ok(sm_types::table
                .filter(sm_types::tenant.eq(&tenant))
                .filter(sm_types::id.eq_any(ids))
                .order(sm_types::id.asc())
                .select(SmType::as_select())
                .load(c)?)
        })
        .await
}

async fn list_modules(
    req: HttpRequest,
    user: User,
    id: i64,
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    let rows = modules(user, id, &state, mandatory).await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtSoftwareModuleType> = rows.into_iter().map(|t| sm_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}

async fn get_module(
    req: HttpRequest,
    user: User,
    (id, sm): (i64, i64),
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    let rows = modules(user, id, &state, mandatory).await?;
    let t = rows
        .into_iter()
        .find(|t| t.id == sm)
        .ok_or_else(|| ApiError::not_found("SoftwareModuleType", sm))?;
    Ok(HttpResponse::Ok().json(sm_type_json(&rest_base(&req, &state), t)))
}

/// Adds (`add`) or removes a module type, refused once distribution sets have the type.
async fn change_module(
    user: User,
    id: i64,
    sm: i64,
    state: web::Data<AppState>,
    add: Option<bool>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSetType)?;
    user.require(Permission::ReadSoftwareModuleType)?;
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let t = find_ds_type(c, &tenant, id)?;
            find_sm_type(c, &tenant, sm)?;
            if sets_of_type(c, t.id)? > 0 {
                return Err(ApiError::entity_read_only(format!(
                    "Distribution set type {id} is already assigned to distribution sets and cannot be changed!"
                )));
            }
            match add {
                Some(mandatory) => put_module(c, t.id, sm, mandatory)?,
                None => {
                    diesel::delete(dtsm::table.filter(dtsm::ds_type_id.eq(t.id).and(dtsm::sm_type_id.eq(sm))))
                        .execute(c)?;
                }
            }
            diesel::update(ds_types::table.find(t.id))
                .set((ds_types::last_modified_at.eq(now), ds_types::last_modified_by.eq(&by)))
                .execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn add_module(
    req: HttpRequest,
    user: User,
    id: i64,
    payload: web::Payload,
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    // Permission first: a caller without it learns nothing, not even that the body was wrong.
    user.require(Permission::UpdateDistributionSetType)?;
    user.require(Permission::ReadSoftwareModuleType)?;
    let r: IdRef = body(&req, payload, &state).await?;
    change_module(user, id, r.id, state, Some(mandatory)).await
}

/// The software module types a distribution set of this type must hold.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The mandatory module types", body = Vec<MgmtSoftwareModuleType>),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn list_mandatory(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    list_modules(req, user, path.into_inner(), state, true).await
}

/// Makes a software module type mandatory for this distribution set type.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    request_body = IdRef,
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
    )
)]
async fn add_mandatory(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    add_module(req, user, path.into_inner(), payload, state, true).await
}

/// One mandatory software module type of this distribution set type.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}",
    tag = "Distribution Set Types",
    params(
        ("distributionSetTypeId" = i64, Path, description = "The type's id"),
        ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
    ),
    responses(
        (status = 200, description = "The module type", body = MgmtSoftwareModuleType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type, or not a mandatory one", body = ExceptionInfo),
    )
)]
async fn get_mandatory(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    get_module(req, user, path.into_inner(), state, true).await
}

/// Removes a software module type from this distribution set type.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}",
    tag = "Distribution Set Types",
    params(
        ("distributionSetTypeId" = i64, Path, description = "The type's id"),
        ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
    )
)]
async fn remove_mandatory(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (id, sm) = path.into_inner();
    change_module(user, id, sm, state, None).await
}

/// The software module types a distribution set of this type may hold.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The optional module types", body = Vec<MgmtSoftwareModuleType>),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn list_optional(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    list_modules(req, user, path.into_inner(), state, false).await
}

/// Makes a software module type optional for this distribution set type.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    request_body = IdRef,
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
    )
)]
async fn add_optional(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    add_module(req, user, path.into_inner(), payload, state, false).await
}

/// One optional software module type of this distribution set type.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}",
    tag = "Distribution Set Types",
    params(
        ("distributionSetTypeId" = i64, Path, description = "The type's id"),
        ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
    ),
    responses(
        (status = 200, description = "The module type", body = MgmtSoftwareModuleType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type, or not an optional one", body = ExceptionInfo),
    )
)]
async fn get_optional(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    get_module(req, user, path.into_inner(), state, false).await
}

/// Removes a software module type from this distribution set type.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}",
    tag = "Distribution Set Types",
    params(
        ("distributionSetTypeId" = i64, Path, description = "The type's id"),
        ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
    )
)]
async fn remove_optional(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (id, sm) = path.into_inner();
    change_module(user, id, sm, state, None).await
}
