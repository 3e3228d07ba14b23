//! `/rest/v1/rollouts`: hawkBit's `MgmtRolloutRestApi`, over the state machine in `rollouts`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::{Representation, RepresentationQuery};
use super::{PagedList, Paging, body, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::ActionType;
use crate::store::rollouts::engine;
use crate::store::rollouts::plan::{self, GroupPlan, NewGroup, NewRollout};
use crate::store::rollouts::{
    Condition, ConditionAction, Conditions, DynamicTemplate, Group, Rollout, totals_per_status,
};
use crate::store::schema::{distribution_sets, rollout_groups, rollouts};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rollouts", web::get().to(list))
        .route("/rollouts", web::post().to(create))
        .route("/rollouts/{id}", web::get().to(get_one))
        .route("/rollouts/{id}", web::put().to(update));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get_one, update),
    components(schemas(
        MgmtRolloutResponseBody,
        MgmtRolloutGroupResponseBody,
        RolloutCreate,
        RolloutGroupCreate,
        RolloutUpdate,
        Condition,
        ConditionAction,
        DynamicTemplate
    ))
)]
pub struct Api;

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

/// What a rollout's rendering needs beyond its row.
pub(crate) struct Extra {
    pub(crate) totals: Option<BTreeMap<&'static str, i64>>,
    pub(crate) groups: Option<i64>,
    /// `name:version` of the distribution set.
    pub(crate) ds_label: String,
}

pub(crate) fn extra(c: &mut AnyConnection, r: &Rollout, full: bool) -> ApiResult<Extra> {
    let mut x = with_extras(c, vec![r.clone()], full)?;
    x.pop()
        .map(|(_, x)| x)
        .ok_or_else(|| ApiError::not_found("Rollout", r.id))
}

/// A page of rollouts with what their rendering needs, in a fixed number of queries whatever the
/// page size (set labels; with `full`, action counts per status and group counts).
pub(crate) fn with_extras(
    c: &mut AnyConnection,
    rows: Vec<Rollout>,
    full: bool,
) -> ApiResult<Vec<(Rollout, Extra)>> {
    use std::collections::HashMap;
    let ds_ids: Vec<i64> = rows.iter().map(|r| r.ds_id).collect();
    let labels: HashMap<i64, String> = distribution_sets::table
        .filter(distribution_sets::id.eq_any(&ds_ids))
        .select((
            distribution_sets::id,
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(|(id, n, v)| (id, format!("{n}:{v}")))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let mut groups: HashMap<i64, i64> = HashMap::new();
    if full {
        let per_status: Vec<(Option<i64>, String, i64)> = crate::store::schema::actions::table
            .filter(crate::store::schema::actions::rollout_id.eq_any(&ids))
            .group_by((
                crate::store::schema::actions::rollout_id,
                crate::store::schema::actions::status,
            ))
            .select((
                crate::store::schema::actions::rollout_id,
                crate::store::schema::actions::status,
                diesel::dsl::count_star(),
            ))
            .load(c)?;
        for (r, status, n) in per_status {
            counts.entry(r.unwrap_or_default()).or_default().push((status, n));
        }
        groups = rollout_groups::table
            .filter(rollout_groups::rollout_id.eq_any(&ids))
            .group_by(rollout_groups::rollout_id)
            .select((rollout_groups::rollout_id, diesel::dsl::count_star()))
            .load::<(i64, i64)>(c)?
            .into_iter()
            .collect();
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let x = Extra {
                totals: full.then(|| {
                    totals_per_status(
                        counts.get(&r.id).map_or(&[][..], Vec::as_slice),
                        r.total_targets,
                        r.action_type == ActionType::DownloadOnly,
                    )
                }),
                groups: full.then(|| groups.get(&r.id).copied().unwrap_or(0)),
                ds_label: labels.get(&r.ds_id).cloned().unwrap_or_default(),
            };
            (r, x)
        })
        .collect())
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

pub(crate) fn find(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<Rollout> {
    rollouts::table
        .find(id)
        .filter(rollouts::tenant.eq(tenant))
        .select(Rollout::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("Rollout", id))
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
    let spec = q.spec(&query::ROLLOUTS)?;
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
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let mut count = rollouts::table
                .filter(rollouts::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .into_boxed();
            let mut page = rollouts::table
                .filter(rollouts::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .into_boxed();
            if let Some(d) = deleted {
                count = count.filter(rollouts::deleted.eq(d));
                page = page.filter(rollouts::deleted.eq(d));
            }
            let total: i64 = count.count().get_result(c)?;
            let rows: Vec<Rollout> = page
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Rollout::as_select())
                .load(c)?;
            Ok((with_extras(c, rows, full)?, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|(r, x)| to_json(r, x, &base)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
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
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutCreate {
    #[schema(example = "spring campaign")]
    pub(crate) name: Option<String>,
    #[schema(example = "Firmware 2.0 to everyone")]
    pub(crate) description: Option<String>,
    #[schema(example = 1)]
    pub(crate) distribution_set_id: Option<i64>,
    #[schema(example = "name==device-*")]
    pub(crate) target_filter_query: Option<String>,
    /// forced (default), soft, timeforced or downloadonly.
    #[schema(example = "forced")]
    pub(crate) r#type: Option<String>,
    #[schema(example = 1_691_065_906_407_i64)]
    pub(crate) forcetime: Option<i64>,
    /// Start automatically at this time (ms since the epoch); needs HANDLE_ROLLOUT.
    #[schema(example = 1_691_065_906_407_i64)]
    pub(crate) start_at: Option<i64>,
    #[schema(example = 1000)]
    pub(crate) weight: Option<i32>,
    #[schema(example = false)]
    pub(crate) confirmation_required: Option<bool>,
    /// Split the targets into this many equal groups (default 1); not with `groups`.
    #[schema(example = 2)]
    pub(crate) amount_groups: Option<i64>,
    pub(crate) success_condition: Option<Condition>,
    pub(crate) success_action: Option<ConditionAction>,
    pub(crate) error_condition: Option<Condition>,
    pub(crate) error_action: Option<ConditionAction>,
    #[schema(example = false)]
    pub(crate) dynamic: Option<bool>,
    pub(crate) dynamic_group_template: Option<DynamicTemplate>,
    #[serde(default, deserialize_with = "super::lenient::opt_one_or_many")]
    pub(crate) groups: Option<Vec<RolloutGroupCreate>>,
}

fn conditions(
    base: &Conditions,
    sc: Option<Condition>,
    sa: Option<ConditionAction>,
    ec: Option<Condition>,
    ea: Option<ConditionAction>,
) -> Conditions {
    Conditions {
        success_condition: sc.unwrap_or_else(|| base.success_condition.clone()),
        success_action: action_or(sa, &base.success_action),
        error_condition: ec.unwrap_or_else(|| base.error_condition.clone()),
        error_action: action_or(ea, &base.error_action),
    }
}

/// `given`, with `base`'s action where it names none: hawkBit's action classes default to
/// NEXTGROUP and PAUSE when only an expression is given.
fn action_or(given: Option<ConditionAction>, base: &ConditionAction) -> ConditionAction {
    match given {
        None => base.clone(),
        Some(a) if a.action.is_empty() => ConditionAction {
            action: base.action.clone(),
            expression: a.expression,
        },
        Some(a) => a,
    }
}

fn new_rollout(user: &User, b: RolloutCreate, needs_approval: bool) -> ApiResult<NewRollout> {
    let name = b
        .name
        .ok_or_else(|| ApiError::constraint_violation("name is required."))?;
    let ds_id = b
        .distribution_set_id
        .ok_or_else(|| ApiError::constraint_violation("distributionSetId is required."))?;
    let target_filter = b
        .target_filter_query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::rsql_syntax("targetFilterQuery is required."))?;
    let action_type = match b.r#type.as_deref() {
        None => ActionType::Forced,
        Some(t) => ActionType::parse(t).ok_or_else(|| {
            ApiError::constraint_violation(format!(
                "type must be forced, soft, timeforced or downloadonly, not {t}."
            ))
        })?,
    };
    if b.start_at.is_some() {
        user.require(Permission::HandleRollout)?;
    }
    let rollout_conditions = conditions(
        &Conditions::default(),
        b.success_condition,
        b.success_action,
        b.error_condition,
        b.error_action,
    );
    let dynamic = b.dynamic.unwrap_or(false);
    if b.dynamic_group_template.is_some() && !dynamic {
        return Err(ApiError::constraint_violation(
            "dynamicGroupTemplate is only allowed with dynamic: true.",
        ));
    }
    let template = if dynamic {
        let t = b.dynamic_group_template.unwrap_or(DynamicTemplate {
            name_suffix: String::new(),
            target_count: 100,
        });
        if t.target_count < 1 || t.target_count > plan::MAX_TARGETS_PER_GROUP {
            return Err(ApiError::constraint_violation(format!(
                "dynamicGroupTemplate.targetCount must be between 1 and {}.",
                plan::MAX_TARGETS_PER_GROUP
            )));
        }
        Some(t)
    } else {
        None
    };
    let confirmation_required = b.confirmation_required.unwrap_or(false);
    let groups = match (b.groups, b.amount_groups) {
        (Some(_), Some(_)) => {
            return Err(ApiError::constraint_violation(
                "Give either amountGroups or groups, not both.",
            ));
        }
        (Some(gs), None) => GroupPlan::Explicit(
            gs.into_iter()
                .map(|g| NewGroup {
                    name: g.name,
                    description: g.description,
                    target_filter: g.target_filter_query,
                    target_percentage: g.target_percentage.unwrap_or(100.0),
                    confirmation_required: g.confirmation_required.unwrap_or(confirmation_required),
                    conditions: conditions(
                        &rollout_conditions,
                        g.success_condition,
                        g.success_action,
                        g.error_condition,
                        g.error_action,
                    ),
                })
                .collect(),
        ),
        (None, n) => {
            let n = n.unwrap_or(1);
            if n == 0 && template.is_none() {
                return Err(ApiError::constraint_violation(
                    "amountGroups 0 needs a dynamic rollout with a dynamicGroupTemplate.",
                ));
            }
            GroupPlan::Count(n)
        }
    };
    Ok(NewRollout {
        name,
        description: b.description,
        target_filter,
        ds_id,
        action_type,
        forced_time: b.forcetime.unwrap_or(0),
        weight: b.weight.unwrap_or(1000),
        start_at: b.start_at,
        confirmation_required,
        conditions: rollout_conditions,
        groups,
        dynamic: template,
        needs_approval,
    })
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
    let (r, x) = create_rollout(&state, &user, b).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Created().json(to_json(r, x, &base)))
}

/// Creates a rollout for `user` in one transaction: the Management API's and the UI's one path.
pub(crate) async fn create_rollout(
    state: &AppState,
    user: &User,
    b: RolloutCreate,
) -> ApiResult<(Rollout, Extra)> {
    user.require(Permission::CreateRollout)?;
    user.require(Permission::ReadDistributionSet)?;
    let tenant = tenant_of(user);
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let needs_approval = settings.rollout_approval && !user.permissions.has(Permission::ApproveRollout);
    let new = new_rollout(user, b, needs_approval)?;
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let id = plan::create(c, &tenant, &new, &by, now)?;
            let r = find(c, &tenant, id)?;
            let x = extra(c, &r, true)?;
            Ok((r, x))
        })
        .await
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
    let (r, x) = state
        .db
        .run(move |c| {
            let r = find(c, &tenant, id)?;
            let x = extra(c, &r, true)?;
            Ok((r, x))
        })
        .await?;
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
    if let Some(n) = &b.name {
        if n.trim().is_empty() {
            return Err(ApiError::constraint_violation("name must not be empty."));
        }
        super::check_len("name", n, 128)?;
    }
    if let Some(d) = &b.description {
        super::check_len("description", d, 512)?;
    }
    let (tenant, id, by, now) = (
        tenant_of(&user),
        path.into_inner(),
        user.username.clone(),
        state.now(),
    );
    let (r, x) = state
        .db
        .tx(move |c| {
            let r = engine::lock_of_tenant(c, &tenant, id)?;
            if let Some(n) = &b.name {
                plan::name_is_free(c, &tenant, n, Some(id))?;
            }
            diesel::update(rollouts::table.find(r.id))
                .set((
                    rollouts::name.eq(b.name.clone().unwrap_or(r.name.clone())),
                    rollouts::description.eq(b.description.clone().or(r.description.clone())),
                    rollouts::last_modified_at.eq(now),
                    rollouts::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            let r = find(c, &tenant, id)?;
            let x = extra(c, &r, true)?;
            Ok((r, x))
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_json(r, x, &rest_base(&req, &state))))
}
