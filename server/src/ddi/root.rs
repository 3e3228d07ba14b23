//! `GET {base}`: the poll. The hot path: a known device with nothing new is answered from memory.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use updraft_ddi::{ControllerBase, ControllerConfig, Link, Polling, RootLinks};

use super::{Device, Encoded, Format, client_address, device, negotiate, respond};
use crate::device_cache::{ActiveDevice, CachedPollAnswer, DeviceSnapshot, IdleDevice};
use crate::error::{ApiError, ApiResult};
use crate::polling::{MaintenanceWindow, PollSubject, format_hms, sleep_before_window};
use crate::state::AppState;
use crate::store::Changes;
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
    let active = snapshot.active();
    if format != Format::Cbor
        && let Some(cached) = active.and_then(|a| a.poll_answer.get())
        && cached.settings == settings_id
        && cached.origin == origin
        && cached.tenant_in_url == dev.tenant_in_url
    {
        return Ok(cached.encoded.respond(&req, format));
    }
    if format != Format::Cbor
        && let DeviceSnapshot::Idle(idle) = &*snapshot
        && let Some(json) = idle_answer_json(
            &origin,
            &dev.tenant_in_url,
            &dev.controller_id,
            poll_sleep(&state, &dev, &snapshot).0,
            idle,
        )
    {
        // Rendered on every poll: an idle device's snapshot keeps no encoded answer (memory).
        return Ok(Encoded::from_bytes(json).respond(&req, format));
    }
    let (body, timeless) = controller_base(&dev.link_base_from(&origin), &state, &dev, &snapshot, now);
    if format == Format::Cbor {
        return respond(&req, format, &body);
    }
    let encoded = Encoded::new(format, &body)?;
    let response = encoded.respond(&req, format);
    if timeless && let Some(a) = active {
        // JSON and HAL+JSON are the same bytes; only the Content-Type differs.
        let tenant_in_url = dev.tenant_in_url.clone();
        let _ = a.poll_answer.set(CachedPollAnswer {
            origin,
            tenant_in_url,
            settings: settings_id,
            encoded,
        });
    }
    Ok(response)
}

/// An idle device's JSON poll answer, the bytes `serde_json` writes for [`controller_base`]'s
/// answer, written directly; None when the origin has characters JSON must escape (then the
/// caller serializes the answer).
fn idle_answer_json(
    origin: &str,
    tenant_in_url: &str,
    controller_id: &str,
    sleep: Duration,
    idle: &IdleDevice,
) -> Option<Vec<u8>> {
    if origin.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return None;
    }
    let mut out = String::with_capacity(256);
    let base = |out: &mut String| {
        // `Device::link_base_from`, without its allocations; percent-encoded segments never need
        // escaping in JSON.
        out.push_str(origin);
        out.push('/');
        out.extend(crate::links::segment(tenant_in_url));
        out.push_str("/controller/v1/");
        out.extend(crate::links::segment(controller_id));
    };
    out.push_str(r#"{"config":{"polling":{"sleep":""#);
    push_hms(&mut out, sleep);
    out.push_str(r#""}}"#);
    if idle.installed_action_id.is_some() || idle.request_attributes {
        out.push_str(r#","_links":{"#);
        if let Some(id) = idle.installed_action_id {
            out.push_str(r#""installedBase":{"href":""#);
            base(&mut out);
            out.push_str("/installedBase/");
            let _ = write!(out, "{id}");
            out.push_str(r#""}"#);
        }
        if idle.request_attributes {
            if idle.installed_action_id.is_some() {
                out.push(',');
            }
            out.push_str(r#""configData":{"href":""#);
            base(&mut out);
            out.push_str(r#"/configData"}"#);
        }
        out.push('}');
    }
    out.push('}');
    Some(out.into_bytes())
}

/// [`format_hms`] into `out`.
fn push_hms(out: &mut String, d: Duration) {
    let s = d.as_secs().min(86_399);
    for (i, v) in [s / 3600, (s / 60) % 60, s % 60].into_iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    }
}

/// The device's next sleep and whether its polling time has a random deviation.
fn poll_sleep(state: &AppState, dev: &Device, snapshot: &DeviceSnapshot) -> (Duration, bool) {
    let (min, max) = (state.config.min_polling(), state.config.max_polling());
    let subject = PollSubject {
        controller_id: &dev.controller_id,
        name: snapshot.name(&dev.controller_id),
        update_status: snapshot.update_status().as_str(),
    };
    let polling_time = dev.settings.polling_time.for_target(&subject);
    (
        polling_time.next_sleep(min, max),
        polling_time.deviation_percent > 0,
    )
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
        Some(s) => s.update_status() == UpdateStatus::Unknown || s.address() != Some(address.as_str()),
    };
    let expired_window = dev.snapshot.as_ref().and_then(|s| s.active()).is_some_and(|a| {
        !a.action.status().is_canceling_or_canceled()
            && a.window.as_ref().is_some_and(|w| !w.has_future_window(now))
    });
    if !needs_write && !expired_window {
        if let Some(s) = &dev.snapshot {
            state.polls.record(s.id(), now);
        }
        return Ok(());
    }
    let (tenant, cid) = (dev.tenant.clone(), dev.controller_id.clone());
    let exists = dev.snapshot.is_some();
    // Grouped with the other devices' writes of the moment: a registration storm commits in
    // batches, and this answer waits for its own batch's commit.
    let changes = if exists {
        state
            .writes
            .write(move |c| {
                let changes = targets::record_poll(c, &tenant, &cid, &address, now)?;
                if let Some(DeviceSnapshot::Active(a)) = crate::device_cache::load_snapshot(c, &tenant, &cid)?
                {
                    actions::cancel_if_window_expired(c, &a.action, now)?;
                }
                Ok(changes)
            })
            .await?
    } else {
        // A new target has no action whose window could have expired; a target someone else
        // created meanwhile gets that check at its next poll (its snapshot shows the window).
        let token = crate::auth::random_token();
        // The row written answers this poll and the device's next request (its configData):
        // no read back. Taken before the write, so an invalidation after the commit (an
        // auto-assignment, say) keeps the row out of the cache. Batched with the other
        // registrations of the moment into one insert.
        let version = state.devices.version(&tenant, &cid);
        let row = state
            .writes
            .register(targets::Registration {
                tenant,
                controller_id: cid,
                address,
                security_token: token,
                now,
            })
            .await?;
        if row.is_some() {
            // Nobody can have cached a target that did not exist.
            state.apply(Changes::targets());
        } else {
            state.apply(Changes::device(&dev.tenant, &dev.controller_id).and(Changes::targets()));
        }
        if let Some(target) = row {
            state.metrics.registrations.inc();
            let snapshot = Arc::new(DeviceSnapshot::new(target, None, None));
            state
                .devices
                .store_if_unchanged(&dev.tenant, &dev.controller_id, version, &snapshot);
            dev.snapshot = Some(snapshot);
            return Ok(());
        }
        // Another request registered the device first: read what it wrote.
        dev.snapshot = state
            .devices
            .get(&state.db, &dev.tenant, &dev.controller_id)
            .await?;
        return Ok(());
    };
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
    snapshot: &DeviceSnapshot,
    now: i64,
) -> (ControllerBase, bool) {
    let min = state.config.min_polling();
    let (polling, deviates) = poll_sleep(state, dev, snapshot);
    let active = snapshot.active();
    let timeless = !deviates
        && active.is_none_or(|a| {
            a.window.is_none()
                && (a.action.action_type() != ActionType::TimeForced || now >= a.action.forced_time)
        });
    let mut sleep = polling;
    let mut links = RootLinks::default();
    if let Some(ActiveDevice {
        action: a, window, ..
    }) = active
    {
        let status = a.status();
        if status == ActionStatus::WaitForConfirmation {
            links.confirmation_base = Some(Link::new(format!(
                "{base}/confirmationBase/{}?c={}",
                a.id,
                action_etag(a, window.as_ref(), now)
            )));
        } else if status.is_canceling_or_canceled() {
            links.cancel_action = Some(Link::new(format!("{base}/cancelAction/{}", a.id)));
        } else {
            links.deployment_base = Some(Link::new(format!(
                "{base}/deploymentBase/{}?c={}",
                a.id,
                action_etag(a, window.as_ref(), now)
            )));
        }
        if let Some(start) = window.as_ref().and_then(|w| w.current_or_next_start(now)) {
            sleep = sleep_before_window(
                polling,
                min,
                start,
                now,
                dev.settings.maintenance_window_poll_count,
            );
        }
    }
    if let Some(id) = snapshot.installed_action_id() {
        links.installed_base = Some(Link::new(format!("{base}/installedBase/{id}")));
    }
    if snapshot.request_attributes() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(installed_action_id: Option<i64>, request_attributes: bool) -> IdleDevice {
        IdleDevice::for_test(installed_action_id, request_attributes)
    }

    /// The directly written answer is byte for byte what serializing the answer gives.
    #[test]
    fn idle_answer_is_the_serialized_answer() {
        let cases = [
            ("http://127.0.0.1:8080", "DEFAULT", "dev-1", None, false),
            (
                "https://ota.example.com",
                "default",
                "dev 1/ä\"x",
                Some(42),
                false,
            ),
            ("http://[::1]:80", "Tenant_1", "a~b.c-d", None, true),
            ("http://h", "T", "%2F", Some(i64::MAX), true),
        ];
        for (origin, tenant, cid, installed, attributes) in cases {
            let base = format!(
                "{origin}/{}/controller/v1/{}",
                crate::links::encode_segment(tenant),
                crate::links::encode_segment(cid)
            );
            for secs in [0, 1, 59, 300, 3_661, 86_399, 100_000] {
                let sleep = Duration::from_secs(secs);
                let mut links = RootLinks::default();
                if let Some(id) = installed {
                    links.installed_base = Some(Link::new(format!("{base}/installedBase/{id}")));
                }
                if attributes {
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
                let rendered = idle_answer_json(origin, tenant, cid, sleep, &idle(installed, attributes));
                assert_eq!(
                    String::from_utf8(rendered.unwrap()).unwrap(),
                    serde_json::to_string(&body).unwrap(),
                );
            }
        }
    }

    /// An origin JSON would escape is left to the serializer.
    #[test]
    fn idle_answer_leaves_escapes_to_serde() {
        for origin in ["http://a\"b", "http://a\\b", "http://a\u{1}b"] {
            let rendered = idle_answer_json(origin, "T", "d", Duration::from_secs(1), &idle(Some(1), true));
            assert_eq!(rendered, None);
        }
    }
}
