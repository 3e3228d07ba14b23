//! `/rest/v1/targettypes`: kinds of targets and the distribution set types they accept, and
//! `/targets/{id}/targettype` to give a target its type.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ds_types::{IdRef, MgmtDistributionSetType, ds_type_json};
use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::TargetType;
use crate::store::types::{NewType, TypeChange, target};

super::routes::api! {
    paths: [list, create, get_one, update, delete, compatible, add_compatible, remove_compatible, assign_type, unassign_type],
    schemas: [MgmtTargetType, TargetTypeCreate, TargetTypeUpdate],
}

/// hawkBit's `MgmtTargetType`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtTargetType {
    #[serde(flatten)]
    pub audit: json::Audit,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "Raspberry Pi 4")]
    pub name: String,
    #[schema(example = "pi4")]
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Raspberry Pi 4 gateways")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "rgb(200,0,80)")]
    pub colour: Option<String>,
    /// Always false: target types are deleted for good.
    #[schema(example = false)]
    pub deleted: bool,
    /// `self` and `compatibledistributionsettypes`.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_type_links)]
    pub links: Value,
}

fn to_mgmt(base: &str, t: TargetType) -> MgmtTargetType {
    let href = format!("{base}/targettypes/{}", t.id);
    MgmtTargetType {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        links: json!({
            "self": { "href": href },
            "compatibledistributionsettypes": { "href": format!("{href}/compatibledistributionsettypes") },
        }),
        id: t.id,
        name: t.name,
        key: t.type_key,
        description: t.description,
        colour: t.colour,
        deleted: false,
    }
}

/// hawkBit's `MgmtTargetTypeRequestBodyPost`: `key` defaults to `name` and `name` to `key`.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct TargetTypeCreate {
    #[schema(example = "Raspberry Pi 4")]
    name: Option<String>,
    #[schema(example = "pi4")]
    key: Option<String>,
    #[schema(example = "Raspberry Pi 4 gateways")]
    description: Option<String>,
    #[schema(example = "rgb(200,0,80)")]
    colour: Option<String>,
    /// Distribution set types targets of this type accept.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 1}]))]
    compatibledistributionsettypes: Vec<IdRef>,
}

/// hawkBit's `MgmtTargetTypeRequestBodyPut` (absent fields stay).
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct TargetTypeUpdate {
    #[schema(example = "Raspberry Pi 4")]
    name: Option<String>,
    #[schema(example = "Raspberry Pi 4 gateways, 4 GB")]
    description: Option<String>,
    #[schema(example = "rgb(200,0,80)")]
    colour: Option<String>,
}

impl TargetTypeCreate {
    fn into_new(self) -> target::NewTargetType {
        target::NewTargetType {
            fields: NewType {
                key: self.key,
                name: self.name,
                description: self.description,
                colour: self.colour,
            },
            compatible: self.compatibledistributionsettypes.iter().map(|d| d.id).collect(),
        }
    }
}

/// Lists the target types of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes",
    tag = "Target Types",
    params(Paging),
    responses(
        (status = 200, description = "One page of types", body = PagedList<MgmtTargetType>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    let list = q.list(&query::TARGET_TYPES)?;
    let tenant = tenant_of(&user);
    let page = state.db.read(move |c| target::list(c, &tenant, &list)).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |t| to_mgmt(&base, t))))
}

/// Creates target types with their compatible distribution set types.
#[utoipa::path(
    post,
    path = "/rest/v1/targettypes",
    tag = "Target Types",
    request_body = Vec<TargetTypeCreate>,
    responses(
        (status = 201, description = "The created types", body = Vec<MgmtTargetType>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "A distribution set type does not exist", body = ExceptionInfo),
        (status = 409, description = "A type with that key or name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTargetType)?;
    let requests: Vec<TargetTypeCreate> = body_list(&req, payload, &state).await?;
    let types: Vec<target::NewTargetType> = requests.into_iter().map(TargetTypeCreate::into_new).collect();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .write(move |c| target::create(c, &tenant, &types, &by, now))
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTargetType> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// One target type.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The type", body = MgmtTargetType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state.db.read(move |c| target::find(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Changes the given name, description and colour of a target type.
#[utoipa::path(
    put,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    request_body = TargetTypeUpdate,
    responses(
        (status = 200, description = "The updated type", body = MgmtTargetType),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
        (status = 409, description = "Another type has that name", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    let r: TargetTypeUpdate = body(&req, payload, &state).await?;
    let change = TypeChange {
        name: r.name,
        description: r.description,
        colour: r.colour,
    };
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .write(move |c| target::update(c, &tenant, id, &change, &by, now))
        .await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Deletes a target type that no target has.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
        (status = 409, description = "Targets have the type", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTargetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state.db.write(move |c| target::delete(c, &tenant, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The distribution set types targets of this type accept.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The compatible distribution set types", body = Vec<MgmtDistributionSetType>),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn compatible(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let rows = state.db.read(move |c| target::compatible(c, &tenant, id)).await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtDistributionSetType> = rows.into_iter().map(|t| ds_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}

/// Makes distribution set types compatible with this target type.
#[utoipa::path(
    post,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    request_body(content = Vec<IdRef>, description = "Distribution set type ids"),
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such target or distribution set type", body = ExceptionInfo),
    )
)]
async fn add_compatible(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let ids: Vec<i64> = body_list::<IdRef>(&req, payload, &state)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    state
        .db
        .write(move |c| target::add_compatible(c, &tenant, id, &ids, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes a distribution set type no longer compatible with this target type.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes/{distributionSetTypeId}",
    tag = "Target Types",
    params(
        ("targetTypeId" = i64, Path, description = "The type's id"),
        ("distributionSetTypeId" = i64, Path, description = "The distribution set type's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such target or distribution set type", body = ExceptionInfo),
    )
)]
async fn remove_compatible(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let tenant = tenant_of(&user);
    let (id, ds) = path.into_inner();
    let (by, now) = (user.username.clone(), state.now());
    state
        .db
        .write(move |c| target::remove_compatible(c, &tenant, id, ds, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets (`Some`) or clears a target's type.
async fn set_type(
    user: User,
    cid: String,
    ty: Option<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let tenant = tenant_of(&user);
    let (by, now) = (user.username.clone(), state.now());
    let changes = state
        .db
        .write(move |c| target::set_target_type(c, &tenant, &cid, ty, &by, now))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::NoContent().finish())
}

/// Gives a target a type.
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/targettype",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body(content = IdRef, description = "The target type's id"),
    responses(
        (status = 204, description = "Assigned"),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or target type", body = ExceptionInfo),
    )
)]
async fn assign_type(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: IdRef = body(&req, payload, &state).await?;
    set_type(user, path.into_inner(), Some(r.id), state).await
}

/// Takes a target's type away.
#[utoipa::path(
    delete,
    path = "/rest/v1/targets/{targetId}/targettype",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 204, description = "Unassigned"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn unassign_type(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_type(user, path.into_inner(), None, state).await
}
