//! A distribution set's statistics: its actions per status, its rollouts per status, and the
//! filters that auto-assign it.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Serialize;

use super::distribution_sets::find_ds;
use super::tenant_of;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::ActionStatus;
use crate::store::schema::{actions as actions_t, target_filter_queries};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributionsets/{id}/statistics", web::get().to(statistics))
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
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        statistics,
        statistics_actions,
        statistics_rollouts,
        statistics_auto_assignments
    ),
    components(schemas(MgmtDistributionSetStatistics))
)]
pub struct Api;

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
