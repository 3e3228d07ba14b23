//! `/rest/v1/distributionsets`: create, read, update, delete, and their software modules. Assignments,
//! statistics and invalidation are in `ds_assignments`, `ds_statistics` and `ds_invalidate`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::soft_deleted::SoftDeleted;
use super::software_modules::sm_json;
use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::distribution_sets::{self as sets, NewSet, SetUpdate};

super::routes::api! {
    paths: [list, create, get_one, update, delete, assigned_modules, add_modules, remove_module],
    schemas: [json::MgmtDistributionSet, json::MgmtSoftwareModule, DsRequest, DsUpdate, ModuleRef],
}

/// A distribution set with its modules, as hawkBit renders it.
pub fn ds_view(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<json::MgmtDistributionSet> {
    let v = sets::view(c, id)?;
    let modules = v
        .module_ids
        .iter()
        .map(|sm| sm_json(c, *sm, base))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(json::distribution_set(
        &v.ds,
        &v.ds_type.type_key,
        &v.ds_type.name,
        modules,
        v.complete,
        base,
    ))
}

/// [`ds_view`] as a JSON value, for callers that embed it.
pub fn ds_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<Value> {
    serde_json::to_value(ds_view(c, id, base)?).map_err(ApiError::internal)
}

/// Lists the distribution sets of the tenant; soft-deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets",
    tag = "Distribution Sets",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of distribution sets", body = PagedList<json::MgmtDistributionSet>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let list = q.list(&query::DISTRIBUTION_SETS)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let page = sets::list(c, &tenant, &deleted, &list)?;
            let content = page
                .rows
                .iter()
                .map(|id| ds_json(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, page.total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `{"id": <softwareModuleId>}`: a module to put into a set.
#[derive(Deserialize, utoipa::ToSchema)]

pub(crate) struct ModuleRef {
    #[serde(deserialize_with = "super::lenient::int")]
    #[schema(example = 1)]
    pub(crate) id: i64,
}

/// One distribution set to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DsRequest {
    #[schema(example = "gateway")]
    pub(crate) name: String,
    #[schema(example = "1.0.0")]
    pub(crate) version: String,
    #[schema(example = "Gateway firmware")]
    pub(crate) description: Option<String>,
    /// The distribution set type's key (default `os_app`).
    #[serde(rename = "type")]
    #[schema(example = "os")]
    pub(crate) type_key: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 1}]))]
    pub(crate) modules: Vec<ModuleRef>,
    #[serde(default, deserialize_with = "super::lenient::opt_bool")]
    #[schema(value_type = bool, example = false)]
    pub(crate) required_migration_step: Option<bool>,
    /// Accepted and ignored on create, as in hawkBit; lock a set with `PUT` afterwards.
    #[serde(default, deserialize_with = "super::lenient::opt_bool")]
    #[schema(example = false)]
    #[allow(dead_code)] // Parsed so that it is accepted; hawkBit's mapper never reads it either.
    pub(crate) locked: Option<bool>,
    /// hawkBit ≤ 0.9 named a set's modules by role; their ids join `modules`.
    #[serde(default)]
    #[schema(ignore)]
    pub(crate) os: Option<ModuleRef>,
    #[serde(default)]
    #[schema(ignore)]
    pub(crate) runtime: Option<ModuleRef>,
    #[serde(default)]
    #[schema(ignore)]
    pub(crate) application: Option<ModuleRef>,
}

impl DsRequest {
    /// `modules` and the ≤ 0.9 role fields together.
    fn module_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.modules
            .iter()
            .chain(self.os.iter())
            .chain(self.runtime.iter())
            .chain(self.application.iter())
            .map(|m| m.id)
    }

    /// The set to create, checked.
    fn to_new(&self) -> ApiResult<NewSet> {
        let set = NewSet {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            type_key: self.type_key.clone(),
            modules: self.module_ids().collect(),
            required_migration_step: self.required_migration_step.unwrap_or(false),
        };
        set.validate()?;
        Ok(set)
    }
}

/// Creates distribution sets, each with its modules.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets",
    tag = "Distribution Sets",
    request_body = Vec<DsRequest>,
    responses(
        (status = 201, description = "The created sets", body = Vec<json::MgmtDistributionSet>),
        (status = 400, description = "Bad body or unsupported module", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such type or module", body = ExceptionInfo),
        (status = 409, description = "Name and version taken", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateDistributionSet)?;
    let requests: Vec<DsRequest> = body_list(&req, payload, &state).await?;
    let new = requests
        .iter()
        .map(DsRequest::to_new)
        .collect::<ApiResult<Vec<_>>>()?;
    let (tenant, by, now) = (tenant_of(&user), user.username.clone(), state.now());
    let base = rest_base(&req, &state);
    let created = state
        .db
        .tx(move |c| {
            let ids = sets::create(c, &tenant, &by, now, &new)?;
            ids.iter()
                .map(|id| ds_view(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// One distribution set with its modules.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 200, description = "The distribution set", body = json::MgmtDistributionSet),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let v = state
        .db
        .run(move |c| {
            sets::get(c, &tenant, id)?;
            ds_view(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `PUT /distributionsets/{id}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DsUpdate {
    #[schema(example = "gateway")]
    name: Option<String>,
    #[schema(example = "1.0.1")]
    version: Option<String>,
    #[schema(example = "Gateway firmware, hotfix")]
    description: Option<String>,
    /// `true` locks the set and its modules (the set must be complete); `false` unlocks the set.
    #[schema(example = true)]
    locked: Option<bool>,
    #[schema(example = false)]
    required_migration_step: Option<bool>,
}

/// Updates name, version, description, the lock and the migration-step flag of a set.
#[utoipa::path(
    put,
    path = "/rest/v1/distributionsets/{distributionSetId}",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = DsUpdate,
    responses(
        (status = 200, description = "The updated distribution set", body = json::MgmtDistributionSet),
        (status = 400, description = "Bad body, or locking an incomplete set", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET, or requiredMigrationStep of an assigned set", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
        (status = 409, description = "Name and version taken", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSet)?;
    let r: DsUpdate = body(&req, payload, &state).await?;
    let change = SetUpdate {
        name: r.name,
        version: r.version,
        description: r.description,
        locked: r.locked,
        required_migration_step: r.required_migration_step,
    };
    change.validate()?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    let base = rest_base(&req, &state);
    let v = state
        .db
        .tx(move |c| {
            sets::update(c, &tenant, id, &change, &by, now)?;
            ds_view(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Deletes a set; one that actions refer to is only marked deleted, as hawkBit does.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsets/{distributionSetId}",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 204, description = "Deleted (or marked deleted when in use)"),
        (status = 403, description = "Lacks DELETE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteDistributionSet)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state.db.write(move |c| sets::delete(c, &tenant, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The set's software modules.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/assignedSM",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
    responses(
        (status = 200, description = "One page of software modules", body = PagedList<json::MgmtSoftwareModule>),
        (status = 400, description = "Bad paging or sort", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn assigned_modules(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let list = q.list(&query::SOFTWARE_MODULES)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let page = sets::modules_page(c, &tenant, id, &list)?;
            let content = page
                .rows
                .iter()
                .map(|sm| sm_json(c, *sm, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, page.total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Adds software modules to an unlocked set.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets/{distributionSetId}/assignedSM",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = Vec<ModuleRef>,
    responses(
        (status = 204, description = "The modules are in the set"),
        (status = 400, description = "Bad body, or a module the set's type does not accept", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or software module", body = ExceptionInfo),
        (status = 423, description = "The set is locked", body = ExceptionInfo),
    )
)]
async fn add_modules(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSet)?;
    let modules: Vec<i64> = body_list::<ModuleRef>(&req, payload, &state)
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    state
        .db
        .write(move |c| sets::add_modules(c, &tenant, id, &modules, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes one software module from an unlocked set.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsets/{distributionSetId}/assignedSM/{softwareModuleId}",
    tag = "Distribution Sets",
    params(
        ("distributionSetId" = i64, Path, description = "The distribution set's id"),
        ("softwareModuleId" = i64, Path, description = "The software module's id"),
    ),
    responses(
        (status = 204, description = "The module is no longer in the set"),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set, or the module is not in it", body = ExceptionInfo),
        (status = 423, description = "The set is locked", body = ExceptionInfo),
    )
)]
async fn remove_module(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSet)?;
    let (id, sm) = path.into_inner();
    let (tenant, by, now) = (tenant_of(&user), user.username.clone(), state.now());
    state
        .db
        .write(move |c| sets::remove_module(c, &tenant, id, sm, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
