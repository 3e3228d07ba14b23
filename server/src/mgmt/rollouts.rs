//! `/rest/v1/rollouts`: hawkBit's `MgmtRolloutRestApi`, over the state machine in `rollouts`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::{Representation, RepresentationQuery};
use super::{PagedList, Paging, body, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::ActionType;
use crate::store::rollouts::create::{GroupRequest, RolloutRequest};
use crate::store::rollouts::{
    Condition, ConditionAction, DynamicTemplate, Extra, Group, Rollout, create as creating, lifecycle,
    queries,
};

super::routes::api! {
    paths: [list, create, get_one, update],
    schemas: [MgmtRolloutResponseBody, MgmtRolloutGroupResponseBody, RolloutCreate, RolloutGroupCreate, RolloutUpdate, Condition, ConditionAction, DynamicTemplate],
}

/// hawkBit's `MgmtRolloutResponseBody`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtRolloutResponseBody {
    #[serde(flatten)]
    audit: json::Audit,
    #[schema(example = 3)]
    id: i64,
    #[schema(example = "spring campaign")]
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Firmware 2.0 to the lab, then everyone")]
    description: Option<String>,
    #[schema(example = "name==device-*")]
    target_filter_query: String,
    #[schema(example = 1)]
    distribution_set_id: i64,
    /// creating, ready, waiting_for_approval, approval_denied, starting, running, paused, stopping,
    /// stopped, finished, deleting or deleted.
    #[schema(example = "running")]
    status: String,
    #[schema(example = 20)]
    total_targets: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = super::examples::total_targets_per_status)]
    total_targets_per_status: Option<BTreeMap<&'static str, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 2)]
    total_groups: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_906_407_i64)]
    start_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_691_065_906_407_i64)]
    forcetime: Option<i64>,
    #[schema(example = false)]
    deleted: bool,
    #[schema(example = "forced")]
    r#type: String,
    #[schema(example = 1000)]
    weight: i32,
    #[schema(example = false)]
    dynamic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Looks good")]
    approval_remark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "admin")]
    approve_decided_by: Option<String>,
    /// Updraft extension (absent in hawkBit): seconds a device must stay healthy after reporting
    /// success before it counts toward its group's success; see `soakTime` of the create body.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 600)]
    soak_time: Option<i64>,
    /// Updraft extension (absent in hawkBit): the RSQL query over targets a soaking device must
    /// keep matching; see `healthGate` of the create body.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "attribute.updraft.health==ok")]
    health_gate: Option<String>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_rollout_links)]
    links: Value,
}

/// hawkBit's `MgmtRolloutGroupResponseBody`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtRolloutGroupResponseBody {
    #[serde(flatten)]
    audit: json::Audit,
    #[schema(example = 7)]
    id: i64,
    #[schema(example = "group-1")]
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "The lab")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "attribute.site==lab")]
    target_filter_query: Option<String>,
    #[schema(example = 50.0)]
    target_percentage: f64,
    #[schema(example = false)]
    confirmation_required: bool,
    success_condition: Condition,
    success_action: ConditionAction,
    error_condition: Condition,
    error_action: ConditionAction,
    #[schema(example = false)]
    dynamic: bool,
    /// creating, ready, scheduled, running, finished or error.
    #[schema(example = "running")]
    status: String,
    #[schema(example = 10)]
    total_targets: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = super::examples::total_targets_per_status)]
    total_targets_per_status: Option<BTreeMap<&'static str, i64>>,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_rollout_group_links)]
    links: Value,
}

fn audit(created_by: &str, created_at: i64, modified_by: &str, modified_at: i64) -> json::Audit {
    json::Audit {
        created_by: created_by.to_owned(),
        created_at,
        last_modified_by: modified_by.to_owned(),
        last_modified_at: modified_at,
    }
}

pub(super) fn to_json(r: Rollout, x: Extra, base: &str) -> MgmtRolloutResponseBody {
    let me = format!("{base}/rollouts/{}", r.id);
    let links = json!({
        "self": { "href": me },
        "start": { "href": format!("{me}/start") },
        "pause": { "href": format!("{me}/pause") },
        "resume": { "href": format!("{me}/resume") },
        "triggerNextGroup": { "href": format!("{me}/triggerNextGroup") },
        "approve": { "href": format!("{me}/approve") },
        "deny": { "href": format!("{me}/deny") },
        "groups": { "href": format!("{me}/deploygroups?offset=0&limit=50") },
        "distributionset": { "href": format!("{base}/distributionsets/{}", r.ds_id), "name": x.ds_label },
    });
    MgmtRolloutResponseBody {
        audit: audit(
            &r.created_by,
            r.created_at,
            &r.last_modified_by,
            r.last_modified_at,
        ),
        id: r.id,
        description: r.description,
        target_filter_query: r.target_filter,
        distribution_set_id: r.ds_id,
        status: r.status.as_str().to_owned(),
        total_targets: r.total_targets,
        total_targets_per_status: x.totals,
        total_groups: x.groups,
        start_at: r.start_at,
        forcetime: (r.action_type == ActionType::TimeForced).then_some(r.forced_time),
        deleted: r.deleted,
        r#type: r.action_type.as_str().to_owned(),
        weight: r.weight,
        dynamic: r.is_dynamic,
        approval_remark: r.approval_remark,
        approve_decided_by: r.approve_decided_by,
        soak_time: r.soak_time,
        health_gate: r.health_gate,
        name: r.name,
        links,
    }
}

pub(super) fn group_json(
    g: Group,
    totals: Option<BTreeMap<&'static str, i64>>,
    base: &str,
) -> MgmtRolloutGroupResponseBody {
    let c = g.conditions();
    MgmtRolloutGroupResponseBody {
        audit: audit(
            &g.created_by,
            g.created_at,
            &g.last_modified_by,
            g.last_modified_at,
        ),
        links: json!({ "self": { "href": format!("{base}/rollouts/{}/deploygroups/{}", g.rollout_id, g.id) } }),
        id: g.id,
        name: g.name,
        description: g.description,
        target_filter_query: g.target_filter,
        target_percentage: g.target_percentage,
        confirmation_required: g.confirmation_required,
        success_condition: c.success_condition,
        success_action: c.success_action,
        error_condition: c.error_condition,
        error_action: c.error_action,
        dynamic: g.is_dynamic,
        status: g.status.as_str().to_owned(),
        total_targets: g.total_targets,
        total_targets_per_status: totals,
    }
}

/// `soft_deleted_mode` of hawkBit's rollout list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoftDeletedQuery {
    /// EXCLUDE_SOFT_DELETED (default), INCLUDE_SOFT_DELETED or ONLY_SOFT_DELETED.
    #[serde(default)]
    soft_deleted_mode: Option<String>,
}

/// Lists the tenant's rollouts.
#[utoipa::path(
    get,
    path = "/rest/v1/rollouts",
    tag = "Rollouts",
    params(Paging, RepresentationQuery, SoftDeletedQuery),
    responses(
        (status = 200, description = "One page of rollouts", body = PagedList<MgmtRolloutResponseBody>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_ROLLOUT", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    r: web::Query<RepresentationQuery>,
    sd: web::Query<SoftDeletedQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadRollout)?;
    let full = r.representation()? == Representation::Full;
    let list = q.list(&query::ROLLOUTS)?;
    let deleted: Option<bool> = match sd
        .soft_deleted_mode
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("EXCLUDE_SOFT_DELETED") => Some(false),
        Some("INCLUDE_SOFT_DELETED") => None,
        Some("ONLY_SOFT_DELETED") => Some(true),
        Some(other) => {
            return Err(ApiError::constraint_violation(format!(
                "soft_deleted_mode must be EXCLUDE_SOFT_DELETED, INCLUDE_SOFT_DELETED or ONLY_SOFT_DELETED, not {other}."
            )));
        }
    };
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| queries::list(c, &tenant, deleted, &list, full))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |(r, x)| to_json(r, x, &base))))
}

/// A group of a rollout to create with explicit groups.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutGroupCreate {
    #[schema(example = "lab")]
    name: String,
    #[schema(example = "Devices in the lab")]
    description: Option<String>,
    /// Narrows the rollout's filter for this group.
    #[schema(example = "attribute.site==lab")]
    target_filter_query: Option<String>,
    /// Percentage of the targets this group's filter matches (default 100).
    #[schema(example = 100.0)]
    target_percentage: Option<f64>,
    #[schema(example = false)]
    confirmation_required: Option<bool>,
    success_condition: Option<Condition>,
    success_action: Option<ConditionAction>,
    error_condition: Option<Condition>,
    error_action: Option<ConditionAction>,
}

/// A rollout to create (hawkBit's `MgmtRolloutRestRequestBodyPost`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutCreate {
    #[schema(example = "spring campaign")]
    name: Option<String>,
    #[schema(example = "Firmware 2.0 to everyone")]
    description: Option<String>,
    #[schema(example = 1)]
    distribution_set_id: Option<i64>,
    #[schema(example = "name==device-*")]
    target_filter_query: Option<String>,
    /// forced (default), soft, timeforced or downloadonly.
    #[schema(example = "forced")]
    r#type: Option<String>,
    #[schema(example = 1_691_065_906_407_i64)]
    forcetime: Option<i64>,
    /// Start automatically at this time (ms since the epoch); needs HANDLE_ROLLOUT.
    #[schema(example = 1_691_065_906_407_i64)]
    start_at: Option<i64>,
    #[schema(example = 1000)]
    weight: Option<i32>,
    #[schema(example = false)]
    confirmation_required: Option<bool>,
    /// Split the targets into this many equal groups (default 1); not with `groups`.
    #[schema(example = 2)]
    amount_groups: Option<i64>,
    success_condition: Option<Condition>,
    success_action: Option<ConditionAction>,
    error_condition: Option<Condition>,
    error_action: Option<ConditionAction>,
    #[schema(example = false)]
    dynamic: Option<bool>,
    dynamic_group_template: Option<DynamicTemplate>,
    #[serde(default, deserialize_with = "super::lenient::opt_one_or_many")]
    groups: Option<Vec<RolloutGroupCreate>>,
    /// Updraft extension (hawkBit has no such field): a soak time in seconds, 1 to 2592000.
    /// A device counts toward its group's success only after it reported success and then stayed
    /// healthy this long: kept polling (no silence longer than 3 polling intervals), reported no
    /// rollback (`updraft.rollback_reason` set, or `updraft.slot.booted` changed) and no failed
    /// health (`updraft.health` other than `ok`), and kept matching `healthGate` if given. A
    /// device that does not counts as an error of its group, so the error threshold pauses the
    /// rollout. While a device soaks it counts as running. Not with type downloadonly. Left out:
    /// hawkBit's behaviour.
    #[schema(example = 600)]
    soak_time: Option<i64>,
    /// Updraft extension (hawkBit has no such field), only with `soakTime`: an RSQL query over
    /// targets, as a target filter query (e.g. `attribute.updraft.health==ok`). A device that
    /// stops matching it during its soak fails the soak (an error of its group, as a rollback
    /// does). An invalid query is refused with 400.
    #[schema(example = "attribute.updraft.health==ok")]
    health_gate: Option<String>,
}

impl From<RolloutGroupCreate> for GroupRequest {
    fn from(g: RolloutGroupCreate) -> Self {
        Self {
            name: g.name,
            description: g.description,
            target_filter_query: g.target_filter_query,
            target_percentage: g.target_percentage,
            confirmation_required: g.confirmation_required,
            success_condition: g.success_condition,
            success_action: g.success_action,
            error_condition: g.error_condition,
            error_action: g.error_action,
        }
    }
}

impl From<RolloutCreate> for RolloutRequest {
    fn from(b: RolloutCreate) -> Self {
        Self {
            name: b.name,
            description: b.description,
            distribution_set_id: b.distribution_set_id,
            target_filter_query: b.target_filter_query,
            action_type: b.r#type,
            forcetime: b.forcetime,
            start_at: b.start_at,
            weight: b.weight,
            confirmation_required: b.confirmation_required,
            amount_groups: b.amount_groups,
            success_condition: b.success_condition,
            success_action: b.success_action,
            error_condition: b.error_condition,
            error_action: b.error_action,
            dynamic: b.dynamic,
            dynamic_group_template: b.dynamic_group_template,
            groups: b
                .groups
                .map(|gs| gs.into_iter().map(GroupRequest::from).collect()),
            soak_time: b.soak_time,
            health_gate: b.health_gate,
        }
    }
}

/// Creates a rollout: the matching targets are split into groups at once (status `ready`, or
/// `waiting_for_approval` when approval is on and the creator may not approve).
#[utoipa::path(
    post,
    path = "/rest/v1/rollouts",
    tag = "Rollouts",
    request_body = RolloutCreate,
    responses(
        (status = 201, description = "The new rollout", body = MgmtRolloutResponseBody),
        (status = 400, description = "Invalid request, filter or conditions, or no matching targets", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_ROLLOUT (or HANDLE_ROLLOUT for startAt)", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
        (status = 409, description = "The name is taken", body = ExceptionInfo),
        (status = 429, description = "More targets per group than the quota allows", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let b: RolloutCreate = body(&req, payload, &state).await?;
    user.require(Permission::CreateRollout)?;
    user.require(Permission::ReadDistributionSet)?;
    if b.start_at.is_some() {
        user.require(Permission::HandleRollout)?;
    }
    let tenant = tenant_of(&user);
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let may_approve = user.permissions.has(Permission::ApproveRollout);
    let (request, by, now) = (RolloutRequest::from(b), user.username.clone(), state.now());
    let (r, x) = state
        .db
        .write(move |c| creating::create(c, &settings, &tenant, &request, may_approve, &by, now))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Created().json(to_json(r, x, &base)))
}

/// One rollout with its totals per status.
#[utoipa::path(
    get,
    path = "/rest/v1/rollouts/{rolloutId}",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id")),
    responses(
        (status = 200, description = "The rollout", body = MgmtRolloutResponseBody),
        (status = 403, description = "Lacks READ_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadRollout)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (r, x) = state.db.read(move |c| queries::get(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(to_json(r, x, &rest_base(&req, &state))))
}

/// The fields of a rollout that can change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutUpdate {
    #[schema(example = "spring campaign")]
    name: Option<String>,
    #[schema(example = "Now with the fix for the lab")]
    description: Option<String>,
}

/// Changes a rollout's name or description.
#[utoipa::path(
    put,
    path = "/rest/v1/rollouts/{rolloutId}",
    tag = "Rollouts",
    params(("rolloutId" = i64, Path, description = "The rollout's id")),
    request_body = RolloutUpdate,
    responses(
        (status = 200, description = "The rollout", body = MgmtRolloutResponseBody),
        (status = 400, description = "Too long or empty name or description", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_ROLLOUT", body = ExceptionInfo),
        (status = 404, description = "No such rollout", body = ExceptionInfo),
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
    user.require(Permission::UpdateRollout)?;
    let b: RolloutUpdate = body(&req, payload, &state).await?;
    let (tenant, id, by, now) = (
        tenant_of(&user),
        path.into_inner(),
        user.username.clone(),
        state.now(),
    );
    let (r, x) = state
        .db
        .write(move |c| {
            lifecycle::update(
                c,
                &tenant,
                id,
                b.name.as_deref(),
                b.description.as_deref(),
                &by,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_json(r, x, &rest_base(&req, &state))))
}
