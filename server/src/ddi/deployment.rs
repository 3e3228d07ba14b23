//! deploymentBase, installedBase, cancelAction, their feedback, and configData.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use updraft_ddi::{
    ActionFeedback, ActionHistory, CancelAction, CancelActionBase, Chunk, ConfigData, ConfigDataMode,
    Deployment, DeploymentBase, HandlingType, Hashes, InstalledBaseReport, Link, MaintenanceWindowStatus,
    Metadata,
};

use super::{Device, Format, device, negotiate, parse_id, read_body, respond};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::actions::{self, SERVER_PREFIX};
use crate::store::models::{Action, ActionStatus, ActionType, Artifact, Target};
use crate::store::targets::AttributeUpdate;
use crate::store::{AnyConnection, Changes, distribution_sets, software_modules, targets};

#[derive(serde::Deserialize)]
pub struct HistoryQuery {
    #[serde(rename = "actionHistory", default, deserialize_with = "lenient_int")]
    pub action_history: i64,
}

/// `?actionHistory` without a value counts as 0 (hawkBit test `testActionHistoryZeroInput`).
fn lenient_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    if s.is_empty() {
        Ok(0)
    } else {
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub(super) fn artifact_json(a: &Artifact, links_base: &str, https: bool) -> updraft_ddi::Artifact {
    let file = crate::links::encode_segment(&a.filename);
    let href = format!("{links_base}/softwaremodules/{}/artifacts/{file}", a.sm_id);
    let mut links = BTreeMap::new();
    links.insert("download-http".to_owned(), Link::new(href.clone()));
    links.insert("md5sum-http".to_owned(), Link::new(format!("{href}.MD5SUM")));
    if https {
        // SWUpdate and rauc-hawkbit-updater prefer `download` (hawkBit's HTTPS rel).
        links.insert("download".to_owned(), Link::new(href.clone()));
        links.insert("md5sum".to_owned(), Link::new(format!("{href}.MD5SUM")));
    }
    updraft_ddi::Artifact {
        filename: a.filename.clone(),
        hashes: Hashes {
            sha1: a.sha1.clone(),
            md5: a.md5.clone(),
            sha256: Some(a.sha256.clone()),
        },
        size: a.size as u64,
        links,
    }
}

/// The `deployment` object of an action: handling types and one chunk per software module.
pub fn build_deployment(
    conn: &mut AnyConnection,
    action: &Action,
    links_base: &str,
    now: i64,
) -> ApiResult<Deployment> {
    let modules = software_modules::deployment_modules_for(conn, action.ds_id, Some(action.target_id))?;
    let https = links_base.starts_with("https://");
    let chunks = modules
        .into_iter()
        .map(|m| {
            let meta: Vec<Metadata> = m
                .metadata
                .into_iter()
                .take(50)
                .map(|(key, value)| Metadata { key, value })
                .collect();
            Chunk {
                // hawkBit's legacy part names for its default module types.
                part: match m.type_key.as_str() {
                    "application" => "bApp".to_owned(),
                    "runtime" => "jvm".to_owned(),
                    _ => m.type_key,
                },
                version: m.version,
                name: m.name,
                encrypted: m.encrypted.then_some(true),
                artifacts: m
                    .artifacts
                    .iter()
                    .map(|a| artifact_json(a, links_base, https))
                    .collect(),
                metadata: (!meta.is_empty()).then_some(meta),
            }
        })
        .collect();
    let action_type = action.action_type();
    let download = if matches!(action_type, ActionType::Forced | ActionType::DownloadOnly)
        || (action_type == ActionType::TimeForced && now >= action.forced_time)
    {
        HandlingType::Forced
    } else {
        HandlingType::Attempt
    };
    let window = actions::maintenance_window(action);
    let available = window.as_ref().map(|w| w.is_available(now));
    let update = match (action_type, available) {
        (ActionType::DownloadOnly, _) | (_, Some(false)) => HandlingType::Skip,
        _ => download,
    };
    Ok(Deployment {
        download,
        update,
        maintenance_window: available.map(|a| {
            if a {
                MaintenanceWindowStatus::Available
            } else {
                MaintenanceWindowStatus::Unavailable
            }
        }),
        chunks,
    })
}

pub fn history(conn: &mut AnyConnection, action: &Action, count: i64) -> ApiResult<Option<ActionHistory>> {
    if count == 0 {
        return Ok(None);
    }
    let messages = actions::action_history(conn, action.id, count)?;
    Ok((!messages.is_empty()).then(|| ActionHistory {
        status: action.status().java_name(),
        messages,
    }))
}

type ActionPath = web::Path<(String, String, String)>;

/// What the action resources (deploymentBase, installedBase, confirmationBase) share: the
/// authenticated device and its target, the action id, where links point, and when.
pub struct ActionRequest {
    pub format: Format,
    pub dev: Device,
    pub target: Target,
    pub action_id: i64,
    pub links_base: String,
    pub now: i64,
}

impl ActionRequest {
    pub async fn resolve(req: &HttpRequest, path: ActionPath, state: &AppState) -> ApiResult<Self> {
        let (tenant, cid, action_id) = path.into_inner();
        let format = negotiate(req)?;
        let dev = device(req, state, &tenant, &cid).await?;
        let action_id = parse_id(&action_id)?;
        let target = dev.target(state).await?;
        let links_base = dev.link_base(req, state);
        Ok(Self {
            format,
            dev,
            target,
            action_id,
            links_base,
            now: state.now(),
        })
    }
}

/// The id, deployment and history of an action, as all three action resources render them.
pub fn action_payload(
    c: &mut AnyConnection,
    action: &Action,
    links_base: &str,
    now: i64,
    history_count: i64,
) -> ApiResult<(String, Deployment, Option<ActionHistory>)> {
    Ok((
        action.id.to_string(),
        build_deployment(c, action, links_base, now)?,
        history(c, action, history_count)?,
    ))
}

pub async fn deployment_base(
    req: HttpRequest,
    path: ActionPath,
    query: web::Query<HistoryQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let r = ActionRequest::resolve(&req, path, &state).await?;
    let (target, action_id, links_base, now) = (r.target.clone(), r.action_id, r.links_base.clone(), r.now);
    let count = query.action_history;
    let body = state
        .db
        .tx(move |c| {
            let action = actions::find_action_of_target(c, &target, action_id)?;
            let status = action.status();
            if status.is_canceling_or_canceled() || status == ActionStatus::WaitForConfirmation {
                return Err(ApiError::not_found("Action", action_id));
            }
            if action.active {
                let message = format!(
                    "{SERVER_PREFIX}Target retrieved update action and should start now the download."
                );
                actions::register_retrieved(c, &action, &message, now, &target.controller_id)?;
            }
            let action = actions::find_action_of_target(c, &target, action_id)?;
            let (id, deployment, action_history) = action_payload(c, &action, &links_base, now, count)?;
            Ok(DeploymentBase {
                id,
                deployment,
                action_history,
            })
        })
        .await?;
    state.apply(Changes::device(&r.dev.tenant, &r.dev.controller_id));
    respond(&req, r.format, &body)
}

pub async fn installed_base(
    req: HttpRequest,
    path: ActionPath,
    query: web::Query<HistoryQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let r = ActionRequest::resolve(&req, path, &state).await?;
    let (target, action_id, links_base, now) = (r.target.clone(), r.action_id, r.links_base.clone(), r.now);
    let count = query.action_history;
    let body = state
        .db
        .run(move |c| {
            let action = actions::find_action_of_target(c, &target, action_id)?;
            if action.active || action.status().is_canceling_or_canceled() {
                return Err(ApiError::not_found("Action", action_id));
            }
            let (id, deployment, action_history) = action_payload(c, &action, &links_base, now, count)?;
            Ok(DeploymentBase {
                id,
                deployment,
                action_history,
            })
        })
        .await?;
    respond(&req, r.format, &body)
}

/// A DDI feedback body in the domain's terms.
fn report(fb: ActionFeedback) -> actions::Report {
    use actions::Execution as E;
    use updraft_ddi::Execution;
    actions::Report {
        execution: match fb.status.execution {
            Execution::Closed => E::Closed,
            Execution::Canceled => E::Canceled,
            Execution::Rejected => E::Rejected,
            Execution::Download => E::Download,
            Execution::Downloaded => E::Downloaded,
            Execution::Proceeding => E::Proceeding,
            Execution::Scheduled => E::Scheduled,
            Execution::Resumed => E::Resumed,
        },
        failed: fb.status.result.finished == updraft_ddi::Finished::Failure,
        details: fb.status.details,
        code: fb.status.code,
        occurred_at: fb.timestamp,
    }
}

/// The wire name of an execution state (the `execution` label of `/metrics`).
fn execution_label(e: updraft_ddi::Execution) -> &'static str {
    use updraft_ddi::Execution;
    match e {
        Execution::Closed => "closed",
        Execution::Canceled => "canceled",
        Execution::Rejected => "rejected",
        Execution::Download => "download",
        Execution::Downloaded => "downloaded",
        Execution::Proceeding => "proceeding",
        Execution::Scheduled => "scheduled",
        Execution::Resumed => "resumed",
    }
}

async fn feedback(
    req: HttpRequest,
    path: ActionPath,
    payload: web::Payload,
    state: web::Data<AppState>,
    cancel: bool,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, action_id) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let action_id = parse_id(&action_id)?;
    let fb: ActionFeedback = read_body(&req, payload, state.config.max_body_size).await?;
    let labels = (
        if cancel { "cancel" } else { "deployment" },
        execution_label(fb.status.execution),
        match fb.status.result.finished {
            updraft_ddi::Finished::Success => "success",
            updraft_ddi::Finished::Failure => "failure",
            updraft_ddi::Finished::None => "none",
        },
    );
    let fb = report(fb);
    let target = dev.target(&state).await?;
    let quotas = state.config.quotas.clone();
    let now = state.now();
    let rollout = state
        .db
        .tx(move |c| {
            let action = actions::find_action_of_target(c, &target, action_id)?;
            if cancel {
                actions::cancel_feedback(c, &quotas, &target, &action, &fb, now)?;
            } else {
                actions::deployment_feedback(c, &quotas, &target, &action, &fb, now)?;
            }
            Ok(action.rollout_id)
        })
        .await?;
    state.metrics.feedback.inc(labels);
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    // The rollout moves on from this feedback now, not at the next sweep.
    if let Some(id) = rollout {
        state.apply(Changes::rollout(id));
    }
    Ok(HttpResponse::Ok().finish())
}

pub async fn deployment_feedback(
    req: HttpRequest,
    path: ActionPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    feedback(req, path, payload, state, false).await
}

pub async fn cancel_feedback(
    req: HttpRequest,
    path: ActionPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    feedback(req, path, payload, state, true).await
}

pub async fn cancel_action(
    req: HttpRequest,
    path: ActionPath,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid, action_id) = path.into_inner();
    let format = negotiate(&req)?;
    let dev = device(&req, &state, &tenant, &cid).await?;
    let action_id = parse_id(&action_id)?;
    let target = dev.target(&state).await?;
    let now = state.now();
    state
        .db
        .tx(move |c| {
            let action = actions::find_action_of_target(c, &target, action_id)?;
            if !action.status().is_canceling_or_canceled() {
                return Err(ApiError::not_found("Action", action_id));
            }
            Ok(actions::register_retrieved(
                c,
                &action,
                &format!(
                    "{SERVER_PREFIX}Target retrieved cancel action and should start now the cancellation."
                ),
                now,
                &target.controller_id,
            )?)
        })
        .await?;
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    let id = action_id.to_string();
    respond(
        &req,
        format,
        &CancelActionBase {
            id: id.clone(),
            cancel_action: CancelAction { stop_id: id },
        },
    )
}

pub async fn config_data(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid) = path.into_inner();
    let dev = device(&req, &state, &tenant, &cid).await?;
    let body: ConfigData = read_body(&req, payload, state.config.max_body_size).await?;
    if dev.snapshot.is_none() {
        return Err(ApiError::not_found("Target", &dev.controller_id));
    }
    if body.data.is_empty() {
        return Err(ApiError::body_not_readable());
    }
    if body.data.iter().any(|(k, v)| {
        !targets::valid_attribute(k) || v.as_deref().is_some_and(|v| !targets::valid_attribute(v))
    }) {
        return Err(ApiError::invalid_target_attributes());
    }
    let quota = state.config.quotas.max_attribute_entries_per_target;
    let now = state.now();
    let mode = match body.mode.unwrap_or(ConfigDataMode::Merge) {
        ConfigDataMode::Merge => AttributeUpdate::Merge,
        ConfigDataMode::Replace => AttributeUpdate::Replace,
        ConfigDataMode::Remove => AttributeUpdate::Remove,
    };
    // Grouped with the other devices' writes of the moment (a registration storm sends every new
    // device's attributes at once); the 200 waits for the commit. The target row is read in the
    // same transaction: an idle device's snapshot does not keep it.
    let (tenant, cid) = (dev.tenant.clone(), dev.controller_id.clone());
    let changes = state
        .writes
        .write(move |c| {
            let target = targets::find_target(c, &tenant, &cid)?;
            Ok(targets::update_attributes(
                c, &target, mode, &body.data, quota, now,
            )?)
        })
        .await?;
    state.apply(changes);
    Ok(HttpResponse::Ok().finish())
}

pub async fn report_installed_base(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant, cid) = path.into_inner();
    let dev: Device = device(&req, &state, &tenant, &cid).await?;
    let body: InstalledBaseReport = read_body(&req, payload, state.config.max_body_size).await?;
    let target = dev.target(&state).await?;
    let now = state.now();
    let created = state
        .db
        .tx(move |c| {
            let ds = distribution_sets::find_by_name_version(c, &target.tenant, &body.name, &body.version)?;
            Ok(actions::report_installed(c, &target, ds, now)?)
        })
        .await?;
    state.apply(Changes::device(&dev.tenant, &dev.controller_id));
    Ok(HttpResponse::build(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
    .finish())
}
