//! `/rest/v1/distributionsets` (and their types): create, read, delete, assign to targets.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::software_modules::sm_json;
use super::{PagedList, Paging, body, check_len, json, rest_base, tenant_of};
use crate::actions::{self, AssignmentRequest};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::db::AnyConnection;
use crate::db::models::{ActionType, DistributionSet, DsType};
use crate::db::schema::{
    actions as actions_t, distribution_sets, ds_modules, ds_type_sm_types, ds_types, software_modules,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributionsets", web::get().to(list))
        .route("/distributionsets", web::post().to(create))
        .route("/distributionsets/{id}", web::get().to(get_one))
        .route("/distributionsets/{id}", web::delete().to(delete))
        .route("/distributionsets/{id}/assignedTargets", web::post().to(assign));
}

/// A distribution set with its modules, as hawkBit renders it.
pub fn ds_json(c: &mut AnyConnection, id: i64, base: &str) -> ApiResult<Value> {
    let (ds, ty): (DistributionSet, DsType) = distribution_sets::table
        .inner_join(ds_types::table)
        .filter(distribution_sets::id.eq(id))
        .select((DistributionSet::as_select(), DsType::as_select()))
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("DistributionSet", id))?;
    let sm_ids: Vec<i64> = ds_modules::table
        .filter(ds_modules::ds_id.eq(id))
        .select(ds_modules::sm_id)
        .load(c)?;
    let modules = sm_ids
        .iter()
        .map(|sm| sm_json(c, *sm, base))
        .collect::<ApiResult<Vec<_>>>()?;
    let complete = actions::assignable_ds(c, &ds.tenant, id).is_ok() || !ds.valid;
    Ok(json::distribution_set(
        &ds,
        &ty.type_key,
        &ty.name,
        modules,
        complete,
        base,
    ))
}

async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let spec = q.spec(&super::query::DISTRIBUTION_SETS)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let base = rest_base(&req, &state);
    let page = state
        .db
        .run(move |c| {
            let filter = distribution_sets::tenant
                .eq(tenant.clone())
                .and(distribution_sets::deleted.eq(false));
            let total: i64 = distribution_sets::table
                .filter(filter.clone())
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let ids: Vec<i64> = distribution_sets::table
                .filter(filter)
                .filter(spec.filter)
                .order_by(spec.order)
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

#[derive(Deserialize)]
struct ModuleRef {
    id: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DsRequest {
    name: String,
    version: String,
    description: Option<String>,
    #[serde(rename = "type")]
    type_key: Option<String>,
    #[serde(default)]
    modules: Vec<ModuleRef>,
    #[serde(default)]
    required_migration_step: bool,
}

async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateDistributionSet)?;
    let requests: Vec<DsRequest> = body(&req, payload, &state).await?;
    for r in &requests {
        check_len("name", &r.name, 128)?;
        check_len("version", &r.version, 64)?;
        check_len("description", r.description.as_deref().unwrap_or(""), 512)?;
        if r.name.trim().is_empty() || r.version.trim().is_empty() {
            return Err(ApiError::constraint_violation(
                "name and version must not be empty.",
            ));
        }
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let base = rest_base(&req, &state);
    let created = state
        .db
        .tx(move |c| {
            let mut out = Vec::new();
            for r in &requests {
                let type_key = r.type_key.as_deref().unwrap_or("os_app");
                let ds_type: i64 = ds_types::table
                    .filter(ds_types::tenant.eq(&tenant).and(ds_types::type_key.eq(type_key)))
                    .select(ds_types::id)
                    .first(c)
                    .optional()?
                    .ok_or_else(|| ApiError::not_found("DistributionSetType", type_key))?;
                let id: i64 = diesel::insert_into(distribution_sets::table)
                    .values((
                        distribution_sets::tenant.eq(&tenant),
                        distribution_sets::ds_type_id.eq(ds_type),
                        distribution_sets::name.eq(&r.name),
                        distribution_sets::version.eq(&r.version),
                        distribution_sets::description.eq(&r.description),
                        distribution_sets::required_migration_step.eq(r.required_migration_step),
                        distribution_sets::locked.eq(false),
                        distribution_sets::deleted.eq(false),
                        distribution_sets::valid.eq(true),
                        distribution_sets::created_at.eq(now),
                        distribution_sets::created_by.eq(&by),
                        distribution_sets::last_modified_at.eq(now),
                        distribution_sets::last_modified_by.eq(&by),
                    ))
                    .returning(distribution_sets::id)
                    .get_result(c)
                    .map_err(|e| match ApiError::from(e) {
                        e if e.status == actix_web::http::StatusCode::CONFLICT => ApiError::already_exists(format!(
                            "Distribution set {}:{} already exists.", r.name, r.version)),
                        e => e,
                    })?;
                for m in &r.modules {
                    let sm_type: i64 = software_modules::table
                        .filter(software_modules::id.eq(m.id).and(software_modules::tenant.eq(&tenant)))
                        .filter(software_modules::deleted.eq(false))
                        .select(software_modules::sm_type_id)
                        .first(c)
                        .optional()?
                        .ok_or_else(|| ApiError::not_found("SoftwareModule", m.id))?;
                    let allowed: bool = diesel::select(diesel::dsl::exists(
                        ds_type_sm_types::table.filter(ds_type_sm_types::ds_type_id.eq(ds_type).and(ds_type_sm_types::sm_type_id.eq(sm_type))),
                    ))
                    .get_result(c)?;
                    if !allowed {
                        return Err(ApiError::ds_module_unsupported(format!(
                            "Software module {} has a type that distribution set type {type_key} does not accept.", m.id)));
                    }
                    let present: bool = diesel::select(diesel::dsl::exists(
                        ds_modules::table.filter(ds_modules::ds_id.eq(id).and(ds_modules::sm_id.eq(m.id))),
                    ))
                    .get_result(c)?;
                    if !present {
                        diesel::insert_into(ds_modules::table)
                            .values((ds_modules::ds_id.eq(id), ds_modules::sm_id.eq(m.id)))
                            .execute(c)?;
                    }
                }
                out.push(ds_json(c, id, &base)?);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

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
            let owned: bool = diesel::select(diesel::dsl::exists(
                distribution_sets::table.filter(
                    distribution_sets::id
                        .eq(id)
                        .and(distribution_sets::tenant.eq(&tenant)),
                ),
            ))
            .get_result(c)?;
            if !owned {
                return Err(ApiError::not_found("DistributionSet", id));
            }
            ds_json(c, id, &base)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Deletes a set; one that actions refer to is only marked deleted, as hawkBit does.
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteDistributionSet)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state
        .db
        .tx(move |c| {
            let exists: bool = diesel::select(diesel::dsl::exists(
                distribution_sets::table.filter(
                    distribution_sets::id
                        .eq(id)
                        .and(distribution_sets::tenant.eq(&tenant)),
                ),
            ))
            .get_result(c)?;
            if !exists {
                return Err(ApiError::not_found("DistributionSet", id));
            }
            let used: bool = diesel::select(diesel::dsl::exists(
                actions_t::table.filter(actions_t::ds_id.eq(id)),
            ))
            .get_result(c)?;
            let referenced: bool = diesel::select(diesel::dsl::exists(
                crate::db::schema::targets::table.filter(
                    crate::db::schema::targets::assigned_ds_id
                        .eq(id)
                        .or(crate::db::schema::targets::installed_ds_id.eq(id)),
                ),
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

#[derive(Deserialize)]
pub struct MaintenanceWindowBody {
    schedule: String,
    duration: String,
    timezone: String,
}

/// One element of `POST /distributionsets/{id}/assignedTargets`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentBody {
    id: String,
    #[serde(rename = "type", default)]
    action_type: Option<ActionType>,
    #[serde(rename = "forcetime", default)]
    force_time: Option<i64>,
    #[serde(default)]
    weight: Option<i32>,
    #[serde(default)]
    maintenance_window: Option<MaintenanceWindowBody>,
    #[serde(default)]
    confirmation_required: Option<bool>,
}

async fn assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let requests: Vec<AssignmentBody> = body(&req, payload, &state).await?;
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
        .tx(move |c| actions::assign(c, &settings, &t, ds_id, &requests, &by, now))
        .await?;
    let base = rest_base(req, state);
    for (cid, _) in &result.assigned {
        state.devices.invalidate(&tenant, cid);
    }
    let assigned_actions: Vec<Value> = result
        .assigned
        .iter()
        .map(|(cid, aid)| json!({ "id": aid, "_links": { "self": { "href": format!("{base}/targets/{}/actions/{aid}", crate::links::encode_segment(cid)) } } }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "assigned": result.assigned.len(),
        "alreadyAssigned": result.already_assigned,
        "total": total,
        "assignedActions": assigned_actions,
    })))
}
