//! `/rest/v1/softwaremodules` (and their types): modules, metadata, artifact upload and download.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, json, rest_base, tenant_of};
use crate::artifact_upload::release_blobs;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::software_modules::{self as modules, ModuleChange, ModuleView, NewModule};

super::routes::api! {
    paths: [list, create, get_one, update, delete],
    schemas: [json::MgmtSoftwareModule, SmRequest, SmUpdate],
}

pub(super) const SM_ID: &str = "The software module's id";

/// The module `id` (found already) as hawkBit's `MgmtSoftwareModule`.
pub fn sm_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<json::MgmtSoftwareModule> {
    Ok(to_mgmt(&modules::module_view(c, id)?, base))
}

fn to_mgmt(v: &ModuleView, base: &str) -> json::MgmtSoftwareModule {
    json::software_module(&v.module, &v.type_key, &v.type_name, v.complete, base)
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
    let list = q.list(&crate::store::query::SOFTWARE_MODULES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let base = rest_base(&req, &state);
    let page = state
        .db
        .read(move |c| modules::list_modules(c, &tenant, &deleted, &list))
        .await?;
    let content = page.rows.iter().map(|v| to_mgmt(v, &base)).collect();
    let page = PagedList::new(content, page.total);
    Ok(HttpResponse::Ok().json(page))
}

/// One software module to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SmRequest {
    #[schema(example = "rootfs")]
    name: String,
    #[schema(example = "1.0.0")]
    version: String,
    /// The software module type's key.
    #[serde(rename = "type")]
    #[schema(example = "os")]
    type_key: String,
    #[schema(example = "Root file system of the gateway image")]
    description: Option<String>,
    #[schema(example = "Updraft Ltd.")]
    vendor: Option<String>,
    #[serde(default)]
    #[schema(example = false)]
    encrypted: bool,
}

impl SmRequest {
    fn into_new(self) -> NewModule {
        NewModule {
            name: self.name,
            version: self.version,
            type_key: self.type_key,
            description: self.description,
            vendor: self.vendor,
            encrypted: self.encrypted,
        }
    }
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
    let new: Vec<NewModule> = requests.into_iter().map(SmRequest::into_new).collect();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let created = state
        .db
        .write(move |c| modules::create_modules(c, &tenant, &new, &by, now))
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<_> = created.iter().map(|v| to_mgmt(v, &base)).collect();
    Ok(HttpResponse::Created().json(content))
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
        .read(move |c| {
            modules::find_module(c, &tenant, id)?;
            modules::module_view(c, id)
        })
        .await?;
    let v = to_mgmt(&v, &base);
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
    let change = ModuleChange {
        description: r.description,
        vendor: r.vendor,
        locked: r.locked,
    };
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let v = state
        .db
        .write(move |c| modules::update_module(c, &tenant, id, &change, &by, now))
        .await?;
    let v = to_mgmt(&v, &base);
    Ok(HttpResponse::Ok().json(v))
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
        .write(move |c| modules::delete_module(c, &tenant, id))
        .await?;
    release_blobs(&state, digests).await;
    Ok(HttpResponse::NoContent().finish())
}
