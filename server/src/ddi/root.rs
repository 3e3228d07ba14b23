//! `GET {base}`: the poll. The hot path: a known device with nothing new is answered from memory.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use updraft_ddi::{ControllerBase, ControllerConfig, Link, Polling, RootLinks};

use super::{Device, Encoded, Format, client_address, device, negotiate, respond};
use crate::device_cache::CachedPollAnswer;
use crate::error::{ApiError, ApiResult};
use crate::polling::{MaintenanceWindow, PollSubject, format_hms, sleep_before_window};
use crate::state::AppState;
use crate::store::models::{Action, ActionStatus, ActionType, UpdateStatus};
use crate::store::{actions, targets};

pub async fn poll(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (tenant_raw, controller_id) = path.into_inner();
    let format = negotiate(&req)?;
    let mut dev = device(&req, &state, &tenant_raw, &controller_id).await?;
    let now = state.now();
    let address = client_address(&req, state.config.track_remote_ip);
    register_or_touch(&state, &mut dev, address, now).await?;
    state.metrics.ddi_polls.inc();
    let snapshot = dev
        .snapshot
        .clone()
        .ok_or_else(|| ApiError::not_found("Target", &controller_id))?;
    let origin = crate::links::base_url(&req, state.config.external_url.as_deref());
    let settings_id = dev.settings.version;
    if format != Format::Cbor
        && let Some(cached) = snapshot.poll_answer.get()
        && cached.settings == settings_id
        && cached.origin == origin
        && cached.tenant_in_url == dev.tenant_in_url
    {
        return Ok(cached.encoded.respond(&req, format));
    }
    let (body, timeless) = controller_base(&dev.link_base_from(&origin), &state, &dev, &snapshot, now);
    if format == Format::Cbor {
        return respond(&req, format, &body);
    }
    let encoded = Encoded::new(format, &body)?;
    let response = encoded.respond(&req, format);
    if timeless {
        // JSON and HAL+JSON are the same bytes; only the Content-Type differs.
        let tenant_in_url = dev.tenant_in_url.clone();
        let _ = snapshot.poll_answer.set(CachedPollAnswer {
            origin,
            tenant_in_url,
            settings: settings_id,
            encoded,
        });
    }
    Ok(response)
}

/// Plug-and-play registration, the UNKNOWN → REGISTERED step and address changes are written at
/// once; a plain poll only queues its timestamp.
pub async fn register_or_touch(
    state: &AppState,
    dev: &mut Device,
    address: String,
    now: i64,
) -> ApiResult<()> {
    let needs_write = match &dev.snapshot {
        None => {
            if !dev.auth.may_register() {
                return Err(ApiError::not_found("Target", &dev.controller_id));
            }
            true
        }
        Some(s) => {
            s.target.status() == UpdateStatus::Unknown
                || s.target.address.as_deref() != Some(address.as_str())
        }
    };
    let expired_window = dev.snapshot.as_ref().is_some_and(|s| {
        s.active_action
            .as_ref()
            .is_some_and(|a| !a.status().is_canceling_or_canceled())
            && s.window.as_ref().is_some_and(|w| !w.has_future_window(now))
    });
    if !needs_write && !expired_window {
        if let Some(s) = &dev.snapshot {
            state.polls.record(s.target.id, now);
        }
        return Ok(());
    }
    let (tenant, cid) = (dev.tenant.clone(), dev.controller_id.clone());
    let exists = dev.snapshot.is_some();
    let changes = state
        .db
        .tx(move |c| {
            let changes = if exists {
                targets::record_poll(c, &tenant, &cid, &address, now)?
            } else {
                targets::register_on_poll(c, &tenant, &cid, &address, &crate::auth::random_token(), now)?
            };
            if let Some(snapshot) = crate::device_cache::load_snapshot(c, &tenant, &cid)?
                && let Some(a) = snapshot.active_action
            {
                actions::cancel_if_window_expired(c, &a, now)?;
            }
            Ok(changes)
        })
        .await?;
    if !exists {
        state.metrics.registrations.inc();
    }
    state.apply(changes);
    dev.snapshot = state
        .devices
        .get(&state.db, &dev.tenant, &dev.controller_id)
        .await?;
    Ok(())
}

/// The `c=` value in action links; it changes whenever the action row changes, a time-forced action
/// becomes forced, or a maintenance window opens (hawkBit's `calculateEtag`).
pub fn action_etag(action: &Action, window: Option<&MaintenanceWindow>, now: i64) -> i32 {
    let hash = (action.id as i32).wrapping_mul(31).wrapping_add(action.revision);
    let flag = if window.is_some_and(|w| w.is_available(now)) {
        1249
    } else if action.action_type() == ActionType::TimeForced && now >= action.forced_time {
        1231
    } else {
        1237
    };
    31i32.wrapping_mul(hash).wrapping_add(flag)
}

/// The root answer, and whether it is timeless: the same until the snapshot or the settings
/// change (no polling deviation, no maintenance window, no force time still to come).
fn controller_base(
    base: &str,
    state: &AppState,
    dev: &Device,
    snapshot: &Arc<crate::device_cache::DeviceSnapshot>,
    now: i64,
) -> (ControllerBase, bool) {
    let (min, max) = (state.config.min_polling(), state.config.max_polling());
    let t = &snapshot.target;
    let subject = PollSubject {
        controller_id: &t.controller_id,
        name: &t.name,
        update_status: t.update_status.as_str(),
    };
    let polling_time = dev.settings.polling_time.for_target(&subject);
    let polling = polling_time.next_sleep(min, max);
    let timeless = polling_time.deviation_percent == 0
        && snapshot.window.is_none()
        && snapshot
            .active_action
            .as_ref()
            .is_none_or(|a| a.action_type() != ActionType::TimeForced || now >= a.forced_time);
    let mut sleep = polling;
    let mut links = RootLinks::default();
    if let Some(a) = &snapshot.active_action {
        let status = a.status();
        if status == ActionStatus::WaitForConfirmation {
            links.confirmation_base = Some(Link::new(format!(
                "{base}/confirmationBase/{}?c={}",
                a.id,
                action_etag(a, snapshot.window.as_ref(), now)
            )));
        } else if status.is_canceling_or_canceled() {
            links.cancel_action = Some(Link::new(format!("{base}/cancelAction/{}", a.id)));
        } else {
            links.deployment_base = Some(Link::new(format!(
                "{base}/deploymentBase/{}?c={}",
                a.id,
                action_etag(a, snapshot.window.as_ref(), now)
            )));
        }
        if let Some(start) = snapshot
            .window
            .as_ref()
            .and_then(|w| w.current_or_next_start(now))
        {
            sleep = sleep_before_window(
                polling,
                min,
                start,
                now,
                dev.settings.maintenance_window_poll_count,
            );
        }
    }
    if let Some(id) = snapshot.installed_action_id {
        links.installed_base = Some(Link::new(format!("{base}/installedBase/{id}")));
    }
    if snapshot.target.request_attributes {
        links.config_data = Some(Link::new(format!("{base}/configData")));
    }
    let body = ControllerBase {
        config: ControllerConfig {
            polling: Polling {
                sleep: format_hms(sleep),
            },
        },
        links,
    };
    (body, timeless)
}
