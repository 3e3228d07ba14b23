//! A distribution set's assignments: assigning it to targets, and the targets and auto-assigning
//! filters that use it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::Representation;
use super::target_filters::{MgmtTargetFilterQuery, to_json};
use super::{PagedList, Paging, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::Changes;
use crate::store::actions::{self, AssignmentRequest};
use crate::store::distribution_sets as sets;
use crate::store::models::ActionType;

super::routes::api! {
    paths: [assign, assigned_targets, installed_targets, auto_assign_filters],
    schemas: [MgmtTargetFilterQuery, AssignmentBody, MaintenanceWindowBody, AssignmentResponse],
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

/// Targets whose assigned (or installed) set is `id`, one page, filtered and sorted like `/targets`.
async fn targets_of(
    req: HttpRequest,
    user: User,
    id: i64,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
    installed: bool,
) -> ApiResult<HttpResponse> {
    let list = q.list(&query::TARGETS)?;
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| sets::targets_with(c, &tenant, id, installed, &list))
        .await?;
    super::targets::page_json(&req, &state, &user, page).await
}

/// A page of the targets the set is assigned to (`installed`: installed on), as `GET /targets`
/// renders them; one handler per path, each with its own OpenAPI entry.
macro_rules! targets_of_set {
    ($name:ident, $path:literal, $summary:literal, $installed:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            get,
            path = $path,
            tag = "Distribution Sets",
            params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
            responses(
                (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
                (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
                (status = 403, description = "Lacks READ_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
                (status = 404, description = "No such distribution set", body = ExceptionInfo),
            )
        )]
        async fn $name(
            req: HttpRequest,
            user: User,
            path: web::Path<i64>,
            q: web::Query<Paging>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            user.require(Permission::ReadTarget)?;
            user.require(Permission::ReadDistributionSet)?;
            targets_of(req, user, path.into_inner(), q, state, $installed).await
        }
    };
}

targets_of_set!(
    assigned_targets,
    "/rest/v1/distributionsets/{distributionSetId}/assignedTargets",
    "The targets the set is assigned to.",
    false
);
targets_of_set!(
    installed_targets,
    "/rest/v1/distributionsets/{distributionSetId}/installedTargets",
    "The targets that have the set installed.",
    true
);

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
    let list = q.list(&query::TARGET_FILTER_QUERIES)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let page = state
        .db
        .read(move |c| sets::auto_assign_filters(c, &tenant, id, &list))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |r| {
        to_json(r, &base, Representation::Full)
    })))
}
