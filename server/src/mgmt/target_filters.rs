//! `/rest/v1/targetfilters`: stored target queries and their auto-assignment settings.
//!
//! Only the settings are stored here; assigning the distribution set to matching targets is the
//! scheduler's job (`scheduler::auto_assign`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::{Representation, RepresentationQuery};
use super::distribution_sets::ds_json;
use super::{PagedList, Paging, body, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::ActionType;
use crate::store::target_filters::{self as filters, Audit, AutoAssign, Filter};

super::routes::api! {
    paths: [list, create, get_one, update, delete, get_auto_assign, set_auto_assign, delete_auto_assign],
    schemas: [MgmtTargetFilterQuery, FilterRequest, AutoAssignRequest],
}

/// hawkBit's `MgmtTargetFilterQuery`.
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
    /// The id of the distribution set auto-assigned to matching targets, if any.
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
    /// Updraft extension (absent in hawkBit): the auto-assignment's soak time in seconds; see
    /// `soakTime` of the autoAssignDS body.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 600)]
    auto_assign_soak_time: Option<i64>,
    /// Updraft extension: the auto-assignment's health gate (RSQL over targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "attribute.updraft.health==ok")]
    auto_assign_health_gate: Option<String>,
    /// Updraft extension: the percentage of failed soaks that pauses the auto-assignment (shown
    /// with a soak time; 20 when the body named none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 20)]
    auto_assign_soak_error_threshold: Option<i32>,
    /// Updraft extension: when the auto-assignment paused itself because too many of its devices
    /// failed their soak (epoch milliseconds). A paused auto-assignment assigns its set to no
    /// further device until it is set again (`POST …/autoAssignDS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_733_540_000_000_i64)]
    auto_assign_paused_at: Option<i64>,
    /// Updraft extension: why the auto-assignment paused itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "3 of 3 devices whose soak is decided failed it (rollback: 3), more than the threshold of 20 % (counted over at least 5 devices)."
    )]
    auto_assign_pause_reason: Option<String>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_filter_query_links)]
    links: Value,
}

pub(super) fn to_json(f: Filter, base: &str, representation: Representation) -> MgmtTargetFilterQuery {
    let self_href = format!("{base}/targetfilters/{}", f.id);
    let links = match representation {
        Representation::Compact => json!({ "self": { "href": self_href } }),
        Representation::Full => json!({
            "self": { "href": self_href },
            "autoAssignDS": { "href": format!("{self_href}/autoAssignDS") },
        }),
    };
    MgmtTargetFilterQuery {
        audit: json::Audit {
            created_by: f.created_by,
            created_at: f.created_at,
            last_modified_by: f.last_modified_by,
            last_modified_at: f.last_modified_at,
        },
        id: f.id,
        name: f.name,
        query: f.query,
        auto_assign_distribution_set: f.auto_assign_ds_id,
        auto_assign_action_type: f.auto_assign_action_type,
        auto_assign_weight: f.auto_assign_weight,
        confirmation_required: f.confirmation_required,
        auto_assign_soak_error_threshold: f.soak_time.map(|_| {
            f.soak_error_threshold
                .unwrap_or(crate::store::auto_assign_soak::DEFAULT_ERROR_THRESHOLD)
        }),
        auto_assign_soak_time: f.soak_time,
        auto_assign_health_gate: f.health_gate,
        auto_assign_paused_at: f.paused_at,
        auto_assign_pause_reason: f.pause_reason,
        links,
    }
}

/// Lists the target filter queries of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters",
    tag = "Target Filter Queries",
    params(Paging, RepresentationQuery),
    responses(
        (status = 200, description = "One page of filters", body = PagedList<MgmtTargetFilterQuery>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    r: web::Query<RepresentationQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let representation = r.representation()?;
    let list = q.list(&query::TARGET_FILTER_QUERIES)?;
    let tenant = tenant_of(&user);
    let page = state.db.read(move |c| filters::list(c, &tenant, &list)).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |f| to_json(f, &base, representation))))
}

/// A filter to create (both fields required) or the fields to change.
#[derive(Deserialize, utoipa::ToSchema)]

pub struct FilterRequest {
    #[schema(example = "europe")]
    name: Option<String>,
    #[schema(example = "name==*eu*")]
    query: Option<String>,
}

/// Creates a target filter query.
#[utoipa::path(
    post,
    path = "/rest/v1/targetfilters",
    tag = "Target Filter Queries",
    request_body = FilterRequest,
    responses(
        (status = 201, description = "The new filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "Missing, too long or invalid name or query", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET", body = ExceptionInfo),
        (status = 409, description = "The name is taken", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTarget)?;
    let r: FilterRequest = body(&req, payload, &state).await?;
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let f = state
        .db
        .write(move |c| {
            let audit = Audit { by: &by, now };
            filters::create(c, &tenant, r.name.as_deref(), r.query.as_deref(), audit)
        })
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Created().json(to_json(f, &base, Representation::Full)))
}

/// One target filter query.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 200, description = "The filter", body = MgmtTargetFilterQuery),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let f = state.db.read(move |c| filters::find(c, &tenant, id)).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Changes a filter's name and/or query.
#[utoipa::path(
    put,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    request_body = FilterRequest,
    responses(
        (status = 200, description = "The updated filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "Too long or invalid name or query", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
        (status = 409, description = "The name is taken", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: FilterRequest = body(&req, payload, &state).await?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let f = state
        .db
        .write(move |c| {
            let audit = Audit { by: &by, now };
            filters::update(c, &tenant, id, r.name.as_deref(), r.query.as_deref(), audit)
        })
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Deletes a target filter query.
#[utoipa::path(
    delete,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks DELETE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state.db.write(move |c| filters::delete(c, &tenant, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The distribution set the filter auto-assigns; 204 when none.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 200, description = "The auto-assigned distribution set (hawkBit's MgmtDistributionSet)", body = Object,
            example = super::examples::distribution_set),
        (status = 204, description = "The filter auto-assigns nothing"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn get_auto_assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let ds = state
        .db
        .run(move |c| match filters::find(c, &tenant, id)?.auto_assign_ds_id {
            Some(ds) => ds_json(c, ds, &base).map(Some),
            None => Ok(None),
        })
        .await?;
    Ok(match ds {
        Some(v) => HttpResponse::Ok().json(v),
        None => HttpResponse::NoContent().finish(),
    })
}

/// hawkBit's `MgmtDistributionSetAutoAssignment`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoAssignRequest {
    /// The distribution set to assign.
    #[schema(example = 1)]
    id: Option<i64>,
    /// `forced` (default), `soft` or `downloadonly`; `timeforced` is refused.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, example = "forced")]
    action_type: Option<ActionType>,
    /// 0 to 1000.
    #[schema(example = 600)]
    weight: Option<i32>,
    /// Default: whether the tenant's user-consent flow is on.
    #[schema(example = false)]
    confirmation_required: Option<bool>,
    /// Updraft extension (hawkBit has no such field): seconds, 1 to 2592000, each device this
    /// auto-assignment assigns to must stay healthy after its success, as in a rollout with a
    /// `soakTime`: keep polling, report no rollback and no failed health, keep matching
    /// `healthGate`. When too many soaks fail (`soakErrorThreshold`), the auto-assignment pauses
    /// itself and assigns its set to no further device until it is set again. Not with type
    /// downloadonly. Left out: hawkBit's behaviour.
    #[schema(example = 600)]
    soak_time: Option<i64>,
    /// Updraft extension, only with `soakTime`: RSQL over targets (as a target filter query) a
    /// soaking device must keep matching, e.g. `attribute.updraft.health==ok`.
    #[schema(example = "attribute.updraft.health==ok")]
    health_gate: Option<String>,
    /// Updraft extension, only with `soakTime`: 0 to 100 (default 20). The auto-assignment
    /// pauses when failed soaks × 100 > this × the number of decided soaks (passed or failed),
    /// that number counted as at least 5.
    #[schema(example = 20)]
    soak_error_threshold: Option<i32>,
}

/// Sets the distribution set (and action type, weight, consent) the filter auto-assigns.
#[utoipa::path(
    post,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    request_body = AutoAssignRequest,
    responses(
        (status = 200, description = "The updated filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "No id, timeforced, bad weight, incomplete or invalidated set", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such filter or distribution set", body = ExceptionInfo),
    )
)]
async fn set_auto_assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let r: AutoAssignRequest = body(&req, payload, &state).await?;
    let settings = AutoAssign {
        ds_id: r.id,
        action_type: r.action_type,
        weight: r.weight,
        confirmation_required: r.confirmation_required,
        soak_time: r.soak_time,
        health_gate: r.health_gate,
        soak_error_threshold: r.soak_error_threshold,
    };
    settings.check()?;
    let tenant = tenant_of(&user);
    // The tenant's consent flow decides when the request leaves it open.
    let default_confirmation = match settings.confirmation_required {
        Some(c) => c,
        None => state.tenants.get(&state.db, &tenant).await?.confirmation_flow,
    };
    let by = user.username.clone();
    let now = state.now();
    let id = path.into_inner();
    let (f, changes) = state
        .db
        .write(move |c| {
            let audit = Audit { by: &by, now };
            filters::set_auto_assign(c, &tenant, id, &settings, default_confirmation, audit)
        })
        .await?;
    state.apply(changes);
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Stops the filter's auto-assignment.
#[utoipa::path(
    delete,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 204, description = "Auto-assignment removed"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn delete_auto_assign(
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .write(move |c| filters::clear_auto_assign(c, &tenant, id, Audit { by: &by, now }))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
