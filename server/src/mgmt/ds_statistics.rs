//! A distribution set's statistics: its actions per status, its rollouts per status, and the
//! filters that auto-assign it.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::tenant_of;
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::distribution_sets::{self as sets, statistics as stats};
use crate::store::models::ActionStatus;

super::routes::api! {
    paths: [statistics, statistics_actions, statistics_rollouts, statistics_auto_assignments],
    schemas: [MgmtDistributionSetStatistics],
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
        .read(move |c| {
            sets::get(c, &tenant, id)?;
            let mut s = MgmtDistributionSetStatistics::default();
            if matches!(part, StatisticsPart::All | StatisticsPart::Actions) {
                // hawkBit's enum names.
                s.actions = java_counts(stats::action_counts(c, id)?, |s| {
                    ActionStatus::parse(s).map_or_else(|| s.to_ascii_uppercase(), ActionStatus::java_name)
                });
            }
            if matches!(part, StatisticsPart::All | StatisticsPart::AutoAssignments) {
                s.total_auto_assignments = Some(stats::auto_assignment_count(c, &tenant, id)?);
            }
            if matches!(part, StatisticsPart::All | StatisticsPart::Rollouts) {
                s.rollouts = java_counts(stats::rollout_counts(c, id)?, str::to_ascii_uppercase);
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
