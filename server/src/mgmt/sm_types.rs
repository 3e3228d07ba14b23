//! `/rest/v1/softwaremoduletypes`: the kinds of software modules (`os`, `application`, ...).
//!
//! A type that software modules or distribution set types still use is only marked `deleted` (hidden
//! from the list, still readable by id), as hawkBit keeps it for their history.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store;
use crate::store::models::SmType;
use crate::store::types::sm;

super::routes::api! {
    paths: [list, create, get_one, update, delete],
    schemas: [MgmtSoftwareModuleType, SmTypeCreate, TypeUpdate],
}

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
    /// The store's change: module and set types keep their name.
    pub(super) fn change(self) -> store::types::TypeChange {
        store::types::TypeChange {
            name: None,
            description: self.description,
            colour: self.colour,
        }
    }
}

impl SmTypeCreate {
    fn into_new(self) -> store::types::sm::NewSmType {
        store::types::sm::NewSmType {
            fields: store::types::NewType {
                key: self.key,
                name: self.name,
                description: self.description,
                colour: self.colour,
            },
            max_assignments: self.max_assignments,
            min_artifacts: self.min_artifacts,
        }
    }
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
    let list = q.list(&query::SM_TYPES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let page = state
        .db
        .read(move |c| sm::list(c, &tenant, &deleted, &list))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |t| sm_type_json(&base, t))))
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
    let types: Vec<sm::NewSmType> = requests.into_iter().map(SmTypeCreate::into_new).collect();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .write(move |c| sm::create(c, &tenant, &types, &by, now))
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
    let t = state.db.read(move |c| sm::find(c, &tenant, id)).await?;
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
    let change = body::<TypeUpdate>(&req, payload, &state).await?.change();
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .write(move |c| sm::update(c, &tenant, id, &change, &by, now))
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
        .write(move |c| sm::delete(c, &tenant, id, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
