//! `/rest/v1/distributionsets`: create, read, update, delete, and their software modules. Assignments,
//! statistics and invalidation are in `ds_assignments`, `ds_statistics` and `ds_invalidate`.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::soft_deleted::SoftDeleted;
use super::software_modules::sm_json;
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::distribution_sets::{lock_ds, missing_mandatory};
use crate::store::models::{DistributionSet, DsType};
use crate::store::schema::{
    actions as actions_t, distribution_sets, ds_modules, ds_type_sm_types, ds_types, sm_types,
    software_modules, targets,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributionsets", web::get().to(list))
        .route("/distributionsets", web::post().to(create))
        .route("/distributionsets/{id}", web::get().to(get_one))
        .route("/distributionsets/{id}", web::put().to(update))
        .route("/distributionsets/{id}", web::delete().to(delete))
        .route(
            "/distributionsets/{id}/assignedSM",
            web::get().to(assigned_modules),
        )
        .route("/distributionsets/{id}/assignedSM", web::post().to(add_modules))
        .route(
            "/distributionsets/{id}/assignedSM/{smId}",
            web::delete().to(remove_module),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        assigned_modules,
        add_modules,
        remove_module
    ),
    components(schemas(
        json::MgmtDistributionSet,
        json::MgmtSoftwareModule,
        DsRequest,
        DsUpdate,
        ModuleRef,
    ))
)]
pub struct Api;

/// A distribution set with its modules, as hawkBit renders it.
pub fn ds_view(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<json::MgmtDistributionSet> {
    let (ds, ty): (DistributionSet, DsType) = distribution_sets::table
        .inner_join(ds_types::table)
        .filter(distribution_sets::id.eq(id))
        .select((DistributionSet::as_select(), DsType::as_select()))
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("DistributionSet", id))?;
    let sm_ids: Vec<i64> = ds_modules::table
        .filter(ds_modules::ds_id.eq(id))
        .order(ds_modules::sm_id.asc())
        .select(ds_modules::sm_id)
        .load(c)?;
    let modules = sm_ids
        .iter()
        .map(|sm| sm_json(c, *sm, base))
        .collect::<ApiResult<Vec<_>>>()?;
    let complete = missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty();
    Ok(json::distribution_set(
        &ds,
        &ty.type_key,
        &ty.name,
        modules,
        complete,
        base,
    ))
}

/// [`ds_view`] as a JSON value, for callers that embed it.
pub fn ds_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<Value> {
    serde_json::to_value(ds_view(c, id, base)?).map_err(ApiError::internal)
}

/// The tenant's distribution set `id` (soft-deleted ones included, as hawkBit shows them).
pub(super) fn find_ds(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<DistributionSet> {
    distribution_sets::table
        .filter(
            distribution_sets::id
                .eq(id)
                .and(distribution_sets::tenant.eq(tenant)),
        )
        .select(DistributionSet::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("DistributionSet", id))
}

/// A set that may still change: not soft-deleted (404 otherwise).
pub(super) fn find_live_ds(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<DistributionSet> {
    let ds = find_ds(c, tenant, id)?;
    if ds.deleted {
        return Err(ApiError::not_found("DistributionSet", id));
    }
    Ok(ds)
}

pub(super) fn locked_error(id: i64) -> ApiError {
    ApiError::locked(format!(
        "Distribution set {id} is locked: its software modules cannot change."
    ))
}

/// Adds software module `sm_id` to the set, checking that the set's type accepts the module's type
/// and that the type's `maxAssignments` per set is not exceeded.
pub(super) fn add_module(
    c: &mut AnyConnection,
    tenant: &str,
    ds: &DistributionSet,
    sm_id: i64,
) -> ApiResult<()> {
    let sm_type: i64 = software_modules::table
        .filter(
            software_modules::id
                .eq(sm_id)
                .and(software_modules::tenant.eq(tenant)),
        )
        .filter(software_modules::deleted.eq(false))
        .select(software_modules::sm_type_id)
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("SoftwareModule", sm_id))?;
    let present: bool = diesel::select(diesel::dsl::exists(
        ds_modules::table.filter(ds_modules::ds_id.eq(ds.id).and(ds_modules::sm_id.eq(sm_id))),
    ))
    .get_result(c)?;
    if present {
        return Ok(());
    }
    let allowed: bool = diesel::select(diesel::dsl::exists(
        ds_type_sm_types::table.filter(
            ds_type_sm_types::ds_type_id
                .eq(ds.ds_type_id)
                .and(ds_type_sm_types::sm_type_id.eq(sm_type)),
        ),
    ))
    .get_result(c)?;
    if !allowed {
        return Err(ApiError::ds_module_unsupported(format!(
            "Software module {sm_id} has a type that the type of distribution set {} does not accept.",
            ds.id
        )));
    }
    let max: i32 = sm_types::table
        .find(sm_type)
        .select(sm_types::max_assignments)
        .first(c)?;
    let same_type: i64 = ds_modules::table
        .inner_join(software_modules::table)
        .filter(
            ds_modules::ds_id
                .eq(ds.id)
                .and(software_modules::sm_type_id.eq(sm_type)),
        )
        .count()
        .get_result(c)?;
    if max > 0 && same_type >= i64::from(max) {
        return Err(ApiError::ds_module_unsupported(format!(
            "Distribution set {} already has the maximum of {max} software modules of this type.",
            ds.id
        )));
    }
    diesel::insert_into(ds_modules::table)
        .values((ds_modules::ds_id.eq(ds.id), ds_modules::sm_id.eq(sm_id)))
        .execute(c)?;
    Ok(())
}

pub(super) fn touch(c: &mut AnyConnection, ds_id: i64, now: i64, by: &str) -> ApiResult<()> {
    diesel::update(distribution_sets::table.find(ds_id))
        .set((
            distribution_sets::last_modified_at.eq(now),
            distribution_sets::last_modified_by.eq(by),
        ))
        .execute(c)?;
    Ok(())
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
    let spec = q.spec(&crate::store::query::DISTRIBUTION_SETS)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let (offset, limit) = (q.offset(), q.limit());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let filter = distribution_sets::tenant
                .eq(tenant.clone())
                .and(distribution_sets::deleted.eq_any(deleted.clone()));
            let total: i64 = distribution_sets::table
                .filter(filter.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let ids: Vec<i64> = distribution_sets::table
                .filter(filter)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .select(distribution_sets::id)
                .offset(offset)
                .limit(limit)
                .load(c)?;
            let content = ids
                .iter()
                .map(|id| ds_json(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, total))
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
    pub(crate) fn module_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.modules
            .iter()
            .chain(self.os.iter())
            .chain(self.runtime.iter())
            .chain(self.application.iter())
            .map(|m| m.id)
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
    for r in &requests {
        validate_ds_request(r)?;
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let created = state
        .db
        .tx(move |c| create_sets(c, &tenant, &by, now, &base, &requests))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Checks one set to create: lengths and a non-empty name and version.
pub(crate) fn validate_ds_request(r: &DsRequest) -> ApiResult<()> {
    check_len("name", &r.name, 128)?;
    check_len("version", &r.version, 64)?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    if r.name.trim().is_empty() || r.version.trim().is_empty() {
        return Err(ApiError::constraint_violation(
            "name and version must not be empty.",
        ));
    }
    Ok(())
}

/// Creates distribution sets of `tenant` with their modules (the Management API's and the web UI's create).
pub(crate) fn create_sets(
    c: &mut AnyConnection,
    tenant: &str,
    by: &str,
    now: i64,
    base: &str,
    requests: &[DsRequest],
) -> ApiResult<Vec<json::MgmtDistributionSet>> {
    let mut out = Vec::new();
    for r in requests {
        let type_key = r.type_key.as_deref().unwrap_or("os_app");
        let ds_type: i64 = ds_types::table
            .filter(ds_types::tenant.eq(tenant).and(ds_types::type_key.eq(type_key)))
            .select(ds_types::id)
            .first(c)
            .optional()?
            .ok_or_else(|| ApiError::not_found("DistributionSetType", type_key))?;
        let id: i64 = diesel::insert_into(distribution_sets::table)
            .values((
                distribution_sets::tenant.eq(tenant),
                distribution_sets::ds_type_id.eq(ds_type),
                distribution_sets::name.eq(&r.name),
                distribution_sets::version.eq(&r.version),
                distribution_sets::description.eq(&r.description),
                distribution_sets::required_migration_step.eq(r.required_migration_step.unwrap_or(false)),
                distribution_sets::locked.eq(false),
                distribution_sets::deleted.eq(false),
                distribution_sets::valid.eq(true),
                distribution_sets::created_at.eq(now),
                distribution_sets::created_by.eq(by),
                distribution_sets::last_modified_at.eq(now),
                distribution_sets::last_modified_by.eq(by),
            ))
            .returning(distribution_sets::id)
            .get_result(c)
            .map_err(|e| name_taken(e, &r.name, &r.version))?;
        let ds = find_ds(c, tenant, id)?;
        for m in r.module_ids() {
            add_module(c, tenant, &ds, m)?;
        }
        out.push(ds_view(c, id, base)?);
    }
    Ok(out)
}

/// A unique violation on name and version as hawkBit's 409.
fn name_taken(e: diesel::result::Error, name: &str, version: &str) -> ApiError {
    match ApiError::from(e) {
        e if e.status == actix_web::http::StatusCode::CONFLICT => {
            ApiError::already_exists(format!("Distribution set {name}:{version} already exists."))
        }
        e => e,
    }
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
            find_ds(c, &tenant, id)?;
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

fn validate_update(r: &DsUpdate) -> ApiResult<()> {
    check_len("name", r.name.as_deref().unwrap_or(""), 128)?;
    check_len("version", r.version.as_deref().unwrap_or(""), 64)?;
    check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
    if [&r.name, &r.version]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| s.trim().is_empty()))
    {
        return Err(ApiError::constraint_violation(
            "name and version must not be empty.",
        ));
    }
    Ok(())
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
    validate_update(&r)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let v = state
        .db
        .tx(move |c| {
            let ds = find_live_ds(c, &tenant, id)?;
            if r.required_migration_step
                .is_some_and(|m| m != ds.required_migration_step)
            {
                assert_not_assigned(c, id)?;
            }
            let name = r.name.clone().unwrap_or(ds.name.clone());
            let version = r.version.clone().unwrap_or(ds.version.clone());
            diesel::update(distribution_sets::table.find(id))
                .set((
                    distribution_sets::name.eq(&name),
                    distribution_sets::version.eq(&version),
                    distribution_sets::description.eq(r.description.clone().or(ds.description.clone())),
                    distribution_sets::required_migration_step
                        .eq(r.required_migration_step.unwrap_or(ds.required_migration_step)),
                    distribution_sets::last_modified_at.eq(now),
                    distribution_sets::last_modified_by.eq(&by),
                ))
                .execute(c)
                .map_err(|e| name_taken(e, &name, &version))?;
            match r.locked {
                Some(true) if !ds.locked => {
                    if !missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty() {
                        return Err(ApiError::ds_incomplete(format!(
                            "Distribution set {id} lacks a mandatory software module and cannot be locked."
                        )));
                    }
                    lock_ds(c, id)?;
                }
                Some(false) => {
                    diesel::update(distribution_sets::table.find(id))
                        .set(distribution_sets::locked.eq(false))
                        .execute(c)?;
                }
                _ => {}
            }
            ds_view(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// hawkBit lets the migration-step flag change only while no target has the set assigned.
pub(super) fn assert_not_assigned(c: &mut AnyConnection, id: i64) -> ApiResult<()> {
    let assigned: bool = diesel::select(diesel::dsl::exists(
        actions_t::table.filter(actions_t::ds_id.eq(id)),
    ))
    .get_result(c)?;
    if assigned {
        return Err(ApiError::entity_read_only(format!(
            "Distribution set {id} is already assigned to targets and cannot be changed."
        )));
    }
    Ok(())
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
    state
        .db
        .tx(move |c| {
            find_ds(c, &tenant, id)?;
            let used: bool = diesel::select(diesel::dsl::exists(
                actions_t::table.filter(actions_t::ds_id.eq(id)),
            ))
            .get_result(c)?;
            let referenced: bool = diesel::select(diesel::dsl::exists(
                targets::table.filter(targets::assigned_ds_id.eq(id).or(targets::installed_ds_id.eq(id))),
            ))
            .get_result(c)?;
            if used || referenced {
                diesel::update(distribution_sets::table.find(id))
                    .set(distribution_sets::deleted.eq(true))
                    .execute(c)?;
            } else {
                diesel::delete(distribution_sets::table.find(id)).execute(c)?;
            }
            Ok(())
        })
        .await?;
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
    let spec = q.spec(&query::SOFTWARE_MODULES)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            find_ds(c, &tenant, id)?;
            let in_ds = software_modules::id.eq_any(
                ds_modules::table
                    .filter(ds_modules::ds_id.eq(id))
                    .select(ds_modules::sm_id),
            );
            let total: i64 = software_modules::table
                .filter(in_ds)
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let ids: Vec<i64> = software_modules::table
                .filter(
                    software_modules::id.eq_any(
                        ds_modules::table
                            .filter(ds_modules::ds_id.eq(id))
                            .select(ds_modules::sm_id),
                    ),
                )
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(software_modules::id)
                .load(c)?;
            let content = ids
                .iter()
                .map(|sm| sm_json(c, *sm, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, total))
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
    let modules: Vec<ModuleRef> = body_list(&req, payload, &state).await?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let ds = find_live_ds(c, &tenant, id)?;
            if ds.locked {
                return Err(locked_error(id));
            }
            for m in &modules {
                add_module(c, &tenant, &ds, m.id)?;
            }
            touch(c, id, now, &by)
        })
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
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            if find_live_ds(c, &tenant, id)?.locked {
                return Err(locked_error(id));
            }
            let removed = diesel::delete(
                ds_modules::table.filter(ds_modules::ds_id.eq(id).and(ds_modules::sm_id.eq(sm))),
            )
            .execute(c)?;
            if removed == 0 {
                return Err(ApiError::not_found("SoftwareModule", sm));
            }
            touch(c, id, now, &by)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
