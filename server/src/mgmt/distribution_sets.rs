//! `/rest/v1/distributionsets` (and their types): create, read, update, delete, assign to targets,
//! their software modules, the targets and filters that use them, statistics and invalidation.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::soft_deleted::SoftDeleted;
use super::software_modules::sm_json;
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::{self, AssignmentRequest};
use crate::store::distribution_sets::{lock_ds, missing_mandatory};
use crate::store::models::{Action, ActionStatus, ActionType, DistributionSet, DsType, Target};
use crate::store::schema::{
    actions as actions_t, distribution_sets, ds_modules, ds_type_sm_types, ds_types, sm_types,
    software_modules, target_filter_queries, targets,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributionsets", web::get().to(list))
        .route("/distributionsets", web::post().to(create))
        .route("/distributionsets/{id}", web::get().to(get_one))
        .route("/distributionsets/{id}", web::put().to(update))
        .route("/distributionsets/{id}", web::delete().to(delete))
        .route(
            "/distributionsets/{id}/assignedTargets",
            web::get().to(assigned_targets),
        )
        .route("/distributionsets/{id}/assignedTargets", web::post().to(assign))
        .route(
            "/distributionsets/{id}/installedTargets",
            web::get().to(installed_targets),
        )
        .route(
            "/distributionsets/{id}/autoAssignTargetFilters",
            web::get().to(auto_assign_filters),
        )
        .route(
            "/distributionsets/{id}/assignedSM",
            web::get().to(assigned_modules),
        )
        .route("/distributionsets/{id}/assignedSM", web::post().to(add_modules))
        .route(
            "/distributionsets/{id}/assignedSM/{smId}",
            web::delete().to(remove_module),
        )
        .route("/distributionsets/{id}/statistics", web::get().to(statistics))
        .route(
            "/distributionsets/{id}/statistics/actions",
            web::get().to(statistics_actions),
        )
        .route(
            "/distributionsets/{id}/statistics/rollouts",
            web::get().to(statistics_rollouts),
        )
        .route(
            "/distributionsets/{id}/statistics/autoassignments",
            web::get().to(statistics_auto_assignments),
        )
        .route("/distributionsets/{id}/invalidate", web::post().to(invalidate));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        assign,
        assigned_targets,
        installed_targets,
        auto_assign_filters,
        assigned_modules,
        add_modules,
        remove_module,
        statistics,
        statistics_actions,
        statistics_rollouts,
        statistics_auto_assignments,
        invalidate
    ),
    components(schemas(
        json::MgmtDistributionSet,
        json::MgmtSoftwareModule,
        MgmtTargetFilterQuery,
        MgmtDistributionSetStatistics,
        DsRequest,
        DsUpdate,
        ModuleRef,
        AssignmentBody,
        MaintenanceWindowBody,
        AssignmentResponse,
        InvalidateRequest,
        CancelationType
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
fn find_ds(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<DistributionSet> {
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
fn find_live_ds(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<DistributionSet> {
    let ds = find_ds(c, tenant, id)?;
    if ds.deleted {
        return Err(ApiError::not_found("DistributionSet", id));
    }
    Ok(ds)
}

fn locked_error(id: i64) -> ApiError {
    ApiError::locked(format!(
        "Distribution set {id} is locked: its software modules cannot change."
    ))
}

/// Adds software module `sm_id` to the set, checking that the set's type accepts the module's type
/// and that the type's `maxAssignments` per set is not exceeded.
fn add_module(c: &mut AnyConnection, tenant: &str, ds: &DistributionSet, sm_id: i64) -> ApiResult<()> {
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

fn touch(c: &mut AnyConnection, ds_id: i64, now: i64, by: &str) -> ApiResult<()> {
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
fn assert_not_assigned(c: &mut AnyConnection, id: i64) -> ApiResult<()> {
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

/// A maintenance window: cron `schedule`, `duration` (`HH:mm:ss`) and `timezone` (`+01:00`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct MaintenanceWindowBody {
    #[schema(example = "0 0 3 ? * *")]
    schedule: String,
    #[schema(example = "02:00:00")]
    duration: String,
    #[schema(example = "+00:00")]
    timezone: String,
}

/// One element of `POST /distributionsets/{id}/assignedTargets`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentBody {
    /// The target's controller id.
    #[serde(deserialize_with = "super::lenient::string")]
    #[schema(example = "device-01")]
    id: String,
    #[serde(rename = "type", default)]
    /// `soft`, `forced` (default), `timeforced` (with `forcetime`) or `downloadonly`.
    #[schema(value_type = Option<String>, example = "soft")]
    action_type: Option<ActionType>,
    #[serde(rename = "forcetime", default, deserialize_with = "super::lenient::opt_int")]
    #[schema(example = 1_691_065_930_359_i64)]
    force_time: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::opt_int32")]
    #[schema(example = 600)]
    weight: Option<i32>,
    #[serde(default)]
    maintenance_window: Option<MaintenanceWindowBody>,
    #[serde(default, deserialize_with = "super::lenient::opt_bool")]
    #[schema(example = false)]
    confirmation_required: Option<bool>,
}

/// A link to one created action.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignedAction {
    #[schema(example = 7)]
    id: i64,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::assigned_action_links)]
    links: Value,
}

/// hawkBit's `MgmtTargetAssignmentResponseBody`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentResponse {
    #[schema(example = 1)]
    assigned: usize,
    #[schema(example = 0)]
    already_assigned: usize,
    #[schema(example = 1)]
    total: usize,
    #[schema(example = json!([{"id": 7, "_links": {"self": {"href": "https://updraft.example.com/rest/v1/targets/device-01/actions/7"}}}]))]
    assigned_actions: Vec<AssignedAction>,
}

/// Assigns the set to targets.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets/{distributionSetId}/assignedTargets",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = Vec<AssignmentBody>,
    responses(
        (status = 200, description = "What was assigned", body = AssignmentResponse),
        (status = 400, description = "Bad body, or the set is incomplete or invalid", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or target", body = ExceptionInfo),
        (status = 429, description = "A quota was exceeded", body = ExceptionInfo),
    )
)]
async fn assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let requests: Vec<AssignmentBody> = body_list(&req, payload, &state).await?;
    assign_and_respond(&req, &user, &state, path.into_inner(), requests).await
}

pub async fn assign_and_respond(
    req: &HttpRequest,
    user: &User,
    state: &AppState,
    ds_id: i64,
    bodies: Vec<AssignmentBody>,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_of(user);
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let mut requests: Vec<AssignmentRequest> = Vec::new();
    for b in bodies {
        if requests.iter().any(|r| r.controller_id == b.id) {
            continue;
        }
        let action_type = b.action_type.unwrap_or(ActionType::Forced);
        if action_type == ActionType::TimeForced && b.force_time.is_none() {
            return Err(ApiError::constraint_violation(
                "A timeforced assignment needs forcetime.",
            ));
        }
        requests.push(AssignmentRequest {
            controller_id: b.id,
            action_type,
            forced_time: b.force_time.unwrap_or(0),
            weight: b.weight,
            maintenance: b.maintenance_window.map(|m| (m.schedule, m.duration, m.timezone)),
            confirmation_required: b.confirmation_required,
        });
    }
    let by = user.username.clone();
    let now = state.now();
    let t = tenant.clone();
    let total = requests.len();
    let result = state
        .db
        .tx(move |c| Ok(actions::assign(c, &settings, &t, ds_id, &requests, &by, now)?))
        .await?;
    let base = rest_base(req, state);
    state.apply(Changes::devices(
        &tenant,
        result.assigned.iter().map(|(cid, _)| cid),
    ));
    let assigned_actions: Vec<AssignedAction> = result
        .assigned
        .iter()
        .map(|(cid, aid)| AssignedAction {
            id: *aid,
            links: json!({ "self": { "href": format!("{base}/targets/{}/actions/{aid}", crate::links::encode_segment(cid)) } }),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AssignmentResponse {
        assigned: result.assigned.len(),
        already_assigned: result.already_assigned,
        total,
        assigned_actions,
    }))
}

/// The tenant's targets whose installed (or assigned) set is `id`.
fn targets_of_ds(
    tenant: &str,
    id: i64,
    installed: bool,
) -> targets::BoxedQuery<'_, <AnyConnection as diesel::Connection>::Backend> {
    let query = targets::table.filter(targets::tenant.eq(tenant)).into_boxed();
    if installed {
        query.filter(targets::installed_ds_id.eq(Some(id)))
    } else {
        query.filter(targets::assigned_ds_id.eq(Some(id)))
    }
}

/// Targets whose assigned (or installed) set is `id`, one page, filtered and sorted like `/targets`.
async fn targets_of(
    req: HttpRequest,
    user: User,
    id: i64,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
    installed: bool,
) -> ApiResult<HttpResponse> {
    let spec = q.spec(&query::TARGETS)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            find_ds(c, &tenant, id)?;
            let total: i64 = targets_of_ds(&tenant, id, installed)
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<Target> = targets_of_ds(&tenant, id, installed)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Target::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let mut content = Vec::with_capacity(rows.len());
    for t in &rows {
        content.push(super::targets::to_json(&req, &state, &user, t, false).await?);
    }
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// The targets the set is assigned to.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/assignedTargets",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn assigned_targets(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    targets_of(req, user, path.into_inner(), q, state, false).await
}

/// The targets that have the set installed.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/installedTargets",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn installed_targets(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    targets_of(req, user, path.into_inner(), q, state, true).await
}

/// hawkBit's `MgmtTargetFilterQuery` (the `/targetfilters` resource renders the same shape).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtTargetFilterQuery {
    #[serde(flatten)]
    audit: json::Audit,
    #[schema(example = 2)]
    id: i64,
    #[schema(example = "lab devices")]
    name: String,
    #[schema(example = "name==Device*")]
    query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    auto_assign_distribution_set: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "forced")]
    auto_assign_action_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 600)]
    auto_assign_weight: Option<i32>,
    #[schema(example = false)]
    confirmation_required: bool,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_filter_query_links)]
    links: Value,
}

type FilterRow = (
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i32>,
    bool,
    (String, i64, String, i64),
);

fn filter_json(r: FilterRow, base: &str) -> MgmtTargetFilterQuery {
    let (id, name, query, ds, action_type, weight, confirmation_required, audit) = r;
    let self_href = format!("{base}/targetfilters/{id}");
    MgmtTargetFilterQuery {
        audit: json::Audit {
            created_by: audit.0,
            created_at: audit.1,
            last_modified_by: audit.2,
            last_modified_at: audit.3,
        },
        id,
        name,
        query,
        auto_assign_distribution_set: ds,
        auto_assign_action_type: action_type,
        auto_assign_weight: weight,
        confirmation_required,
        links: json!({
            "self": { "href": self_href },
            "autoAssignDS": { "href": format!("{self_href}/autoAssignDS") },
        }),
    }
}

/// The target filters that auto-assign the set.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/autoAssignTargetFilters",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
    responses(
        (status = 200, description = "One page of target filters", body = PagedList<MgmtTargetFilterQuery>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn auto_assign_filters(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let spec = q.spec(&query::TARGET_FILTER_QUERIES)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            find_ds(c, &tenant, id)?;
            let mine = target_filter_queries::tenant
                .eq(tenant.clone())
                .and(target_filter_queries::auto_assign_ds_id.eq(Some(id)));
            let total: i64 = target_filter_queries::table
                .filter(mine.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<FilterRow> = target_filter_queries::table
                .filter(mine)
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select((
                    target_filter_queries::id,
                    target_filter_queries::name,
                    target_filter_queries::query,
                    target_filter_queries::auto_assign_ds_id,
                    target_filter_queries::auto_assign_action_type,
                    target_filter_queries::auto_assign_weight,
                    target_filter_queries::confirmation_required,
                    (
                        target_filter_queries::created_by,
                        target_filter_queries::created_at,
                        target_filter_queries::last_modified_by,
                        target_filter_queries::last_modified_at,
                    ),
                ))
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTargetFilterQuery> = rows.into_iter().map(|r| filter_json(r, &base)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
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

/// hawkBit's `MgmtDistributionSetStatistics`: action counts per status (with `total`), rollout
/// counts per status, and the number of auto-assigning target filters; empty maps are left out.
#[derive(Serialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtDistributionSetStatistics {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"RUNNING": 2, "FINISHED": 10, "total": 12}))]
    actions: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"total": 0}))]
    rollouts: Option<BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    total_auto_assignments: Option<i64>,
}

/// Action counts per status (hawkBit's enum names) plus `total`; `None` when the set has no actions.
fn action_counts(c: &mut AnyConnection, id: i64) -> ApiResult<Option<BTreeMap<String, i64>>> {
    let counts: Vec<(String, i64)> = actions_t::table
        .filter(actions_t::ds_id.eq(id))
        .group_by(actions_t::status)
        .select((actions_t::status, diesel::dsl::count_star()))
        .load(c)?;
    Ok(java_counts(counts, |s| {
        ActionStatus::parse(s).map_or_else(|| s.to_ascii_uppercase(), ActionStatus::java_name)
    }))
}

/// The set's rollouts per status (`RUNNING`, `FINISHED`, …) with `total`.
fn rollout_counts(c: &mut AnyConnection, id: i64) -> ApiResult<Option<BTreeMap<String, i64>>> {
    use crate::store::schema::rollouts;
    let counts: Vec<(String, i64)> = rollouts::table
        .filter(rollouts::ds_id.eq(id).and(rollouts::deleted.eq(false)))
        .group_by(rollouts::status)
        .select((rollouts::status, diesel::dsl::count_star()))
        .load(c)?;
    Ok(java_counts(counts, str::to_ascii_uppercase))
}

/// hawkBit's statistics map: upper-case status names and `total`; None when there is nothing.
fn java_counts(counts: Vec<(String, i64)>, name: impl Fn(&str) -> String) -> Option<BTreeMap<String, i64>> {
    if counts.is_empty() {
        return None;
    }
    let mut map = BTreeMap::new();
    let mut total = 0;
    for (s, n) in counts {
        *map.entry(name(&s)).or_insert(0) += n;
        total += n;
    }
    map.insert("total".to_owned(), total);
    Some(map)
}

fn auto_assignment_count(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<i64> {
    Ok(target_filter_queries::table
        .filter(target_filter_queries::tenant.eq(tenant))
        .filter(target_filter_queries::auto_assign_ds_id.eq(Some(id)))
        .count()
        .get_result(c)?)
}

#[derive(Clone, Copy)]
enum StatisticsPart {
    All,
    Actions,
    Rollouts,
    AutoAssignments,
}

async fn statistics_of(
    user: User,
    id: i64,
    state: web::Data<AppState>,
    part: StatisticsPart,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let tenant = tenant_of(&user);
    let stats = state
        .db
        .run(move |c| {
            find_ds(c, &tenant, id)?;
            let mut s = MgmtDistributionSetStatistics::default();
            if matches!(part, StatisticsPart::All | StatisticsPart::Actions) {
                s.actions = action_counts(c, id)?;
            }
            if matches!(part, StatisticsPart::All | StatisticsPart::AutoAssignments) {
                s.total_auto_assignments = Some(auto_assignment_count(c, &tenant, id)?);
            }
            if matches!(part, StatisticsPart::All | StatisticsPart::Rollouts) {
                s.rollouts = rollout_counts(c, id)?;
            }
            Ok(s)
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// All statistics of the set.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/statistics",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 200, description = "The statistics", body = MgmtDistributionSetStatistics),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn statistics(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    statistics_of(user, path.into_inner(), state, StatisticsPart::All).await
}

/// The set's action counts per status.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/statistics/actions",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 200, description = "The action statistics", body = MgmtDistributionSetStatistics),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn statistics_actions(
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    statistics_of(user, path.into_inner(), state, StatisticsPart::Actions).await
}

/// The set's rollout counts per status.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/statistics/rollouts",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 200, description = "The rollout statistics", body = MgmtDistributionSetStatistics),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn statistics_rollouts(
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    statistics_of(user, path.into_inner(), state, StatisticsPart::Rollouts).await
}

/// The number of target filters that auto-assign the set.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/statistics/autoassignments",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    responses(
        (status = 200, description = "The auto-assignment statistics", body = MgmtDistributionSetStatistics),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn statistics_auto_assignments(
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    statistics_of(user, path.into_inner(), state, StatisticsPart::AutoAssignments).await
}

/// What happens to the open actions of an invalidated set.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum CancelationType {
    /// Cancel them; devices see `cancelAction`.
    Soft,
    /// Cancel and force-quit them at once.
    Force,
    /// Leave them running.
    None,
}

/// hawkBit's `MgmtInvalidateDistributionSetRequestBody`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct InvalidateRequest {
    action_cancelation_type: CancelationType,
    /// Accepted for compatibility; the set's rollouts are always stopped (as in hawkBit ≥ 0.4).
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(example = false)]
    cancel_rollouts: Option<bool>,
}

/// Cancels (and with `force` force-quits) one open action of an invalidated set.
fn cancel_for_invalidation(
    c: &mut AnyConnection,
    action: &Action,
    force: bool,
    now: i64,
    by: &str,
) -> ApiResult<()> {
    if action.status() != ActionStatus::Canceling {
        actions::request_cancel(c, action, now, by)?;
    }
    if force {
        let target: Target = targets::table
            .find(action.target_id)
            .select(Target::as_select())
            .first(c)?;
        let action: Action = actions_t::table
            .find(action.id)
            .select(Action::as_select())
            .first(c)?;
        actions::force_quit(c, &target, &action, now, by)?;
    }
    Ok(())
}

/// Invalidates a complete set: it can no longer be assigned, auto-assignments drop it, and its open
/// actions are canceled as requested, all in one transaction.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets/{distributionSetId}/invalidate",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = InvalidateRequest,
    responses(
        (status = 204, description = "The set is invalid"),
        (status = 400, description = "Bad body, or the set is incomplete", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET (or UPDATE_TARGET to cancel actions)", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn invalidate(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSet)?;
    let r: InvalidateRequest = body(&req, payload, &state).await?;
    if r.action_cancelation_type != CancelationType::None {
        user.require(Permission::UpdateTarget)?;
    }
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let kind = r.action_cancelation_type;
    let t = tenant.clone();
    let touched: Vec<String> = state
        .db
        .tx(move |c| {
            let ds = find_live_ds(c, &t, id)?;
            if !missing_mandatory(c, ds.ds_type_id, ds.id)?.is_empty() {
                return Err(ApiError::ds_incomplete(format!(
                    "Distribution set {id} is incomplete and cannot be invalidated."
                )));
            }
            diesel::update(distribution_sets::table.find(id))
                .set((
                    distribution_sets::valid.eq(false),
                    distribution_sets::last_modified_at.eq(now),
                    distribution_sets::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            diesel::update(
                target_filter_queries::table.filter(
                    target_filter_queries::tenant
                        .eq(&t)
                        .and(target_filter_queries::auto_assign_ds_id.eq(Some(id))),
                ),
            )
            .set((
                target_filter_queries::auto_assign_ds_id.eq(None::<i64>),
                target_filter_queries::auto_assign_action_type.eq(None::<String>),
                target_filter_queries::auto_assign_weight.eq(None::<i32>),
            ))
            .execute(c)?;
            if kind == CancelationType::None {
                return Ok(Vec::new());
            }
            crate::store::rollouts::engine::stop_rollouts_of_ds(c, id, &by, now)?;
            let open: Vec<(Action, String)> = actions_t::table
                .inner_join(targets::table)
                .filter(actions_t::ds_id.eq(id).and(actions_t::active.eq(true)))
                .select((Action::as_select(), targets::controller_id))
                .load(c)?;
            for (a, _) in &open {
                cancel_for_invalidation(c, a, kind == CancelationType::Force, now, &by)?;
            }
            Ok(open.into_iter().map(|(_, cid)| cid).collect())
        })
        .await?;
    state.apply(Changes::devices(&tenant, &touched));
    Ok(HttpResponse::NoContent().finish())
}
