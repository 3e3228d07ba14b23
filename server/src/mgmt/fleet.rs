//! `/rest/v1/fleet/...`: the fleet-health figures (an Updraft extension; hawkBit has no such
//! resource). Every figure carries the RSQL query that lists its devices at `/rest/v1/targets?q=`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{PagedList, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::fleet_health::{self as health, Count, SetKey};

super::routes::api! {
    paths: [fleet_health, fleet_rollbacks],
    schemas: [FleetHealth, FleetSet, FleetInstalled, FleetSlotState, FleetRollbacks, FleetReason, FleetSilent, FleetRollback],
}

const TAG: &str = "Fleet health (Updraft extension)";

/// A distribution set of a figure.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FleetSet {
    #[schema(example = 4)]
    id: i64,
    #[schema(example = "gateway-os")]
    name: String,
    #[schema(example = "2.0")]
    version: String,
}

fn set(s: Option<SetKey>) -> Option<FleetSet> {
    s.map(|s| FleetSet {
        id: s.id,
        name: s.name,
        version: s.version,
    })
}

/// Devices per installed (running) set; `distributionSet` absent: nothing installed yet.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetInstalled {
    #[serde(skip_serializing_if = "Option::is_none")]
    distribution_set: Option<FleetSet>,
    #[schema(example = 40)]
    devices: i64,
    /// RSQL listing these devices.
    #[schema(example = "installedDS.name==\"gateway-os\";installedDS.version==\"2.0\"")]
    query: String,
}

/// Devices per slot state: `updraft.slot.booted` × `updraft.trial` (absent: not sent).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetSlotState {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "b")]
    booted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "none")]
    trial: Option<String>,
    #[schema(example = 12)]
    devices: i64,
    /// RSQL listing these devices (empty when no attribute is sent: RSQL cannot ask for absence).
    #[schema(example = "attribute.updraft.slot.booted==\"b\";attribute.updraft.trial==\"none\"")]
    query: String,
}

/// Devices that rolled back, by their current `updraft.rollback_reason` (absent: none sent).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetReason {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "watchdog")]
    reason: Option<String>,
    #[schema(example = 3)]
    devices: i64,
    #[schema(example = "attribute.updraft.rollback_reason==\"watchdog\"")]
    query: String,
}

/// Devices that rolled back within a window (distinct devices), by the set they rolled back from
/// and by reason. The queries list the devices currently in that state, whenever they rolled back;
/// `GET /rest/v1/fleet/rollbacks?since=` lists the window's rollbacks exactly.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetRollbacks {
    #[schema(example = 86_400_000)]
    window_ms: i64,
    #[schema(example = 3)]
    devices: i64,
    #[schema(example = "attribute.updraft.rollback_reason==*")]
    query: String,
    by_distribution_set: Vec<FleetInstalled>,
    by_reason: Vec<FleetReason>,
}

/// Devices silent after an update: an action of theirs finished within `windowMs`, and they have
/// not polled for `silenceMs` (3 × the tenant's longest polling interval, as a soak counts it).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetSilent {
    #[schema(example = 604_800_000)]
    window_ms: i64,
    #[schema(example = 900_000)]
    silence_ms: i64,
    #[schema(example = 2)]
    devices: i64,
    #[schema(example = "lastControllerRequestAt=lt=1765000000000;updateStatus==in_sync")]
    query: String,
    by_distribution_set: Vec<FleetInstalled>,
}

/// The fleet's health (Updraft extension), from the `updraft.*` device attributes.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetHealth {
    #[schema(example = 60)]
    devices: i64,
    installed: Vec<FleetInstalled>,
    slots: Vec<FleetSlotState>,
    rolled_back_last_24h: FleetRollbacks,
    rolled_back_last_7d: FleetRollbacks,
    silent_after_update: FleetSilent,
}

fn installed(rows: Vec<(Option<SetKey>, Count)>) -> Vec<FleetInstalled> {
    rows.into_iter()
        .map(|(s, c)| FleetInstalled {
            distribution_set: set(s),
            devices: c.devices,
            query: c.query,
        })
        .collect()
}

fn rollbacks(r: health::Rollbacks) -> FleetRollbacks {
    FleetRollbacks {
        window_ms: r.window_ms,
        devices: r.total.devices,
        query: r.total.query,
        by_distribution_set: installed(r.by_set),
        by_reason: r
            .by_reason
            .into_iter()
            .map(|(reason, c)| FleetReason {
                reason,
                devices: c.devices,
                query: c.query,
            })
            .collect(),
    }
}

fn to_json(h: health::FleetHealth) -> FleetHealth {
    FleetHealth {
        devices: h.devices,
        installed: installed(h.by_installed),
        slots: h
            .by_slot
            .into_iter()
            .map(|(booted, trial, c)| FleetSlotState {
                booted,
                trial,
                devices: c.devices,
                query: c.query,
            })
            .collect(),
        rolled_back_last_24h: rollbacks(h.rolled_back_day),
        rolled_back_last_7d: rollbacks(h.rolled_back_week),
        silent_after_update: FleetSilent {
            window_ms: h.silent.window_ms,
            silence_ms: h.silent.silence_ms,
            devices: h.silent.total.devices,
            query: h.silent.total.query,
            by_distribution_set: installed(h.silent.by_set.into_iter().map(|(s, c)| (Some(s), c)).collect()),
        },
    }
}

/// `window` of the fleet summary.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// How far back an update may have finished for its device to count as silent after it:
    /// a number with `s`, `m`, `h` or `d` (default `7d`, at most `366d`).
    #[serde(default)]
    window: Option<String>,
}

/// The fleet's health: devices per installed set and per slot state, rollbacks in the last 24 hours
/// and 7 days (by set and reason), devices silent after an update. An Updraft extension.
#[utoipa::path(
    get,
    path = "/rest/v1/fleet/health",
    tag = TAG,
    params(WindowQuery),
    responses(
        (status = 200, description = "The fleet's health figures, each with the RSQL query listing its devices", body = FleetHealth),
        (status = 400, description = "`window` is not a time window", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn fleet_health(
    user: User,
    q: web::Query<WindowQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let window = health::parse_window(q.window.as_deref().unwrap_or("7d"))?;
    let tenant = tenant_of(&user);
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let now = state.now();
    let h = state
        .db
        .read(move |c| health::summary(c, &tenant, &settings, now, window))
        .await?;
    Ok(HttpResponse::Ok().json(to_json(h)))
}

/// One rollback a device reported.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetRollback {
    #[schema(example = "gw-0042")]
    controller_id: String,
    /// Server time of the report, milliseconds since 1970.
    #[schema(example = 1_765_000_000_000_i64)]
    at: i64,
    /// The new `updraft.rollback_reason`; absent when only `updraft.trial.outcome` said so.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "watchdog")]
    reason: Option<String>,
    /// The set installed when it rolled back: the one it rolled back from.
    #[serde(skip_serializing_if = "Option::is_none")]
    distribution_set: Option<FleetSet>,
}

/// `since`, `offset` and `limit` of the rollback list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RollbacksQuery {
    /// The window: a number with `s`, `m`, `h` or `d` (default `24h`, at most `366d`).
    #[serde(default)]
    since: Option<String>,
    /// The paging offset (default 0).
    #[serde(default)]
    offset: Option<i64>,
    /// The maximum number of entries in a page (default 50, at most 500).
    #[serde(default)]
    limit: Option<i64>,
}

/// The rollbacks devices reported within a window, newest first: a new `updraft.rollback_reason`,
/// or `updraft.trial.outcome` becoming `rolled_back`. An Updraft extension.
#[utoipa::path(
    get,
    path = "/rest/v1/fleet/rollbacks",
    tag = TAG,
    params(RollbacksQuery),
    responses(
        (status = 200, description = "One page of rollbacks", body = PagedList<FleetRollback>),
        (status = 400, description = "`since` is not a time window", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn fleet_rollbacks(
    user: User,
    q: web::Query<RollbacksQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let window = health::parse_window(q.since.as_deref().unwrap_or("24h"))?;
    let offset = q.offset.unwrap_or(0).max(0);
    let limit = match q.limit.unwrap_or(50) {
        l if l < 1 => 50,
        l => l.min(500),
    };
    let tenant = tenant_of(&user);
    let since = state.now() - window;
    let (rows, total) = state
        .db
        .read(move |c| health::rollbacks(c, &tenant, since, offset, limit))
        .await?;
    let content = rows
        .into_iter()
        .map(|r| FleetRollback {
            controller_id: r.controller_id,
            at: r.at,
            reason: r.reason,
            distribution_set: set(r.installed),
        })
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}
