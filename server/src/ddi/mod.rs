//! The hawkBit DDI v1 device API: `/{tenant}/controller/v1/{controllerId}/...`.

mod artifacts;
pub(crate) mod confirmation;
mod deployment;
pub mod openapi;
mod root;
mod routes;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::routes::{NoRoute, Route};
use crate::auth::device::{DeviceAuth, authenticate};
use crate::device_cache::DeviceSnapshot;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenant_config::TenantSettings;

/// Routes a DDI request, `/{tenant}/controller/v1/{controllerId}/...`, by its path segments.
///
/// The DDI paths have one fixed shape, so splitting them is exact; actix's router matched these
/// dynamic segments with a regex, which cost a tenth of a poll's CPU. Anything else is 404.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let path = req.path().to_owned();
    let mut segments = path.split('/').skip(1);
    let (Some(tenant), Some("controller"), Some("v1"), Some(cid)) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Ok(HttpResponse::NotFound().finish());
    };
    if cid.is_empty() {
        return Ok(HttpResponse::NotFound().finish());
    }
    let (tenant, cid) = (decode(tenant)?, decode(cid)?);
    let rest: Vec<&str> = segments.collect();
    let route = match routes::route(req.method(), &rest) {
        Ok(route) => route,
        Err(NoRoute::NotAllowed) => return Ok(HttpResponse::MethodNotAllowed().finish()),
        Err(NoRoute::NotFound) => return Ok(HttpResponse::NotFound().finish()),
    };
    req.extensions_mut()
        .insert(crate::metrics::http::RouteTemplate(route.template()));
    let two = |t: String, c: String| web::Path::from((t, c));
    let three = |t: String, c: String, x: &str| -> ApiResult<web::Path<(String, String, String)>> {
        Ok(web::Path::from((t, c, decode(x)?)))
    };
    let history = || {
        web::Query::<deployment::HistoryQuery>::from_query(req.query_string())
            .map_err(|_| ApiError::constraint_violation("actionHistory must be a number."))
    };
    // Every route is served here; `routes` checks each against the DDI document.
    let id = |i: usize| rest.get(i).copied().unwrap_or_default();
    match route {
        Route::Root => root::poll(req.clone(), two(tenant, cid), state).await,
        Route::DeploymentBase => {
            deployment::deployment_base(req.clone(), three(tenant, cid, id(1))?, history()?, state).await
        }
        Route::DeploymentFeedback => {
            deployment::deployment_feedback(req.clone(), three(tenant, cid, id(1))?, payload, state).await
        }
        Route::CancelAction => {
            deployment::cancel_action(req.clone(), three(tenant, cid, id(1))?, state).await
        }
        Route::CancelFeedback => {
            deployment::cancel_feedback(req.clone(), three(tenant, cid, id(1))?, payload, state).await
        }
        Route::InstalledBaseReport => {
            deployment::report_installed_base(req.clone(), two(tenant, cid), payload, state).await
        }
        Route::InstalledBase => {
            deployment::installed_base(req.clone(), three(tenant, cid, id(1))?, history()?, state).await
        }
        Route::ConfigData => deployment::config_data(req.clone(), two(tenant, cid), payload, state).await,
        Route::Artifacts => artifacts::list(req.clone(), three(tenant, cid, id(1))?, state).await,
        Route::Download => {
            let p = web::Path::from((tenant, cid, decode(id(1))?, decode(id(3))?));
            artifacts::download(req.clone(), p, state).await
        }
        Route::ConfirmationBase => {
            confirmation::confirmation_base(req.clone(), two(tenant, cid), state).await
        }
        Route::ActivateAutoConfirm => {
            confirmation::activate_auto_confirm(req.clone(), two(tenant, cid), payload, state).await
        }
        Route::DeactivateAutoConfirm => {
            confirmation::deactivate_auto_confirm(req.clone(), two(tenant, cid), state).await
        }
        Route::ConfirmationAction => {
            confirmation::confirmation_action(req.clone(), three(tenant, cid, id(1))?, history()?, state)
                .await
        }
        Route::ConfirmationFeedback => {
            confirmation::confirmation_feedback(req.clone(), three(tenant, cid, id(1))?, payload, state).await
        }
    }
}

fn decode(segment: &str) -> ApiResult<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| ApiError::constraint_violation("Path segments must be UTF-8."))
}

/// The three encodings hawkBit offers for every DDI resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    HalJson,
    Json,
    Cbor,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Self::HalJson => "application/hal+json",
            Self::Json => "application/json",
            Self::Cbor => "application/cbor",
        }
    }
}

/// Picks the response encoding from `Accept`: none or `*/*` gives HAL+JSON; unsupported gives 406.
pub fn negotiate(req: &HttpRequest) -> ApiResult<Format> {
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Format::HalJson);
    };
    for media in accept.split(',') {
        let media = media
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "" | "*/*" | "application/*" | "application/hal+json" => return Ok(Format::HalJson),
            "application/json" => return Ok(Format::Json),
            "application/cbor" => return Ok(Format::Cbor),
            _ => {}
        }
    }
    Err(ApiError::bare(StatusCode::NOT_ACCEPTABLE))
}

/// Encodes `body`; GET responses carry hawkBit's body ETag and honour `If-None-Match` with 304.
pub fn respond<T: Serialize>(req: &HttpRequest, format: Format, body: &T) -> ApiResult<HttpResponse> {
    let encoded = Encoded::new(format, body)?;
    Ok(encoded.respond(req, format))
}

/// An encoded DDI body and its ETag.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: web::Bytes,
    pub etag: String,
}

impl Encoded {
    pub fn new<T: Serialize>(format: Format, body: &T) -> ApiResult<Self> {
        let bytes = match format {
            Format::Cbor => {
                let mut out = Vec::with_capacity(256);
                ciborium::into_writer(body, &mut out).map_err(ApiError::internal)?;
                out
            }
            _ => serde_json::to_vec(body).map_err(ApiError::internal)?,
        };
        Ok(Self::from_bytes(bytes))
    }

    /// A body already encoded, with its ETag.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        // Like Spring's ShallowEtagHeaderFilter (`"0" + md5(body)`), a strong ETag derived from the
        // body alone, so every node gives the same one; clients only compare it. SipHash with fixed
        // keys costs a fraction of MD5 on the poll path.
        let etag = {
            use std::hash::Hasher;
            let mut h = std::hash::DefaultHasher::new();
            h.write(&bytes);
            format!("\"0{:016x}\"", h.finish())
        };
        Self {
            bytes: bytes.into(),
            etag,
        }
    }

    /// The 200 response, or 304 when `If-None-Match` names this body.
    pub fn respond(&self, req: &HttpRequest, format: Format) -> HttpResponse {
        let matches = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == self.etag || t.trim() == "*")
            });
        if matches {
            return HttpResponse::NotModified()
                .insert_header((header::ETAG, self.etag.clone()))
                .finish();
        }
        HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ))
            .insert_header((header::ETAG, self.etag.clone()))
            .body(self.bytes.clone())
    }
}

/// Reads a JSON or CBOR body of at most `limit` bytes (415 for other types, 413 above the limit,
/// hawkBit's 400 when it does not parse).
pub async fn read_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> ApiResult<T> {
    read_body_as(req, payload, limit, false).await
}

/// [`read_body`], optionally also accepting `application/hal+json` (the Management API does; the
/// DDI API answers it with 415).
pub async fn read_body_as<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    allow_hal: bool,
) -> ApiResult<T> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let cbor = match ct.as_deref() {
        Some("application/json") => false,
        Some("application/hal+json") if allow_hal => false,
        Some("application/cbor") => true,
        // No body and no type: Spring finds the required body missing, which hawkBit answers 400.
        None if next_is_end(&mut payload).await => return Err(ApiError::body_not_readable()),
        _ => return Err(ApiError::unsupported_media_type()),
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::payload_too_large(limit as u64));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::body_not_readable())?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit as u64));
        }
        body.extend_from_slice(&chunk);
    }
    parse_body(&body, cbor)
}

/// Whether the body is empty (only called when it is refused anyway, so reading a chunk is fine).
async fn next_is_end(payload: &mut web::Payload) -> bool {
    loop {
        match payload.next().await {
            None => return true,
            Some(Ok(chunk)) if chunk.is_empty() => {}
            Some(_) => return false,
        }
    }
}

pub fn parse_body<T: DeserializeOwned>(body: &[u8], cbor: bool) -> ApiResult<T> {
    if cbor {
        ciborium::from_reader(body).map_err(|_| ApiError::body_not_readable())
    } else if crate::guard::json_has_nul(body) {
        Err(ApiError::constraint_violation(
            "The request body contains a NUL character (\\u0000), which no field may hold.",
        ))
    } else {
        serde_json::from_slice(body).map_err(|_| ApiError::body_not_readable())
    }
}

/// A request that passed device authentication.
pub struct Device {
    /// The tenant as stored (upper case).
    pub tenant: String,
    /// The tenant as the device spelled it, reused in links so they match what it called.
    pub tenant_in_url: String,
    pub controller_id: String,
    pub settings: Arc<TenantSettings>,
    pub snapshot: Option<Arc<DeviceSnapshot>>,
    pub auth: DeviceAuth,
}

impl Device {
    /// The target, or hawkBit's 404 for endpoints that do not register devices. The snapshot of an
    /// idle device does not keep the whole row, so it is read from the database then.
    pub async fn target(&self, state: &AppState) -> ApiResult<crate::store::models::Target> {
        match self.snapshot.as_deref() {
            None => Err(ApiError::not_found("Target", &self.controller_id)),
            Some(DeviceSnapshot::Active(a)) => Ok(a.target.clone()),
            Some(DeviceSnapshot::Idle(_)) => {
                let (tenant, cid) = (self.tenant.clone(), self.controller_id.clone());
                state
                    .db
                    .run(move |c| Ok(crate::store::targets::find_target(c, &tenant, &cid)?))
                    .await
            }
        }
    }

    pub fn link_base(&self, req: &HttpRequest, state: &AppState) -> String {
        self.link_base_from(&crate::links::base_url(req, state.config.external_url.as_deref()))
    }

    /// The device's base URL under `origin` (`scheme://host[:port]`).
    pub fn link_base_from(&self, origin: &str) -> String {
        format!(
            "{origin}/{}/controller/v1/{}",
            crate::links::encode_segment(&self.tenant_in_url),
            crate::links::encode_segment(&self.controller_id)
        )
    }
}

/// Canonical tenant name, or None when it cannot be one (hawkBit: at most 40 characters).
pub fn canonical_tenant(raw: &str) -> Option<String> {
    (!raw.is_empty()
        && raw.len() <= 40
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then(|| raw.to_ascii_uppercase())
}

/// Resolves tenant and device and checks the device's credentials (401 without a body otherwise).
pub async fn device(
    req: &HttpRequest,
    state: &AppState,
    tenant_raw: &str,
    controller_id: &str,
) -> ApiResult<Device> {
    crate::guard::check_controller_id(controller_id)?;
    let tenant = canonical_tenant(tenant_raw).ok_or_else(|| ApiError::tenant_not_exists(tenant_raw))?;
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let snapshot = state.devices.get(&state.db, &tenant, controller_id).await?;
    let auth = authenticate(
        req.headers(),
        &settings,
        controller_id,
        snapshot.as_deref().map(DeviceSnapshot::security_token),
    )
    .ok_or_else(|| ApiError::bare(StatusCode::UNAUTHORIZED))?;
    Ok(Device {
        tenant,
        tenant_in_url: tenant_raw.to_owned(),
        controller_id: controller_id.to_owned(),
        settings,
        snapshot,
        auth,
    })
}

/// Path ids are numbers; anything else is hawkBit's 400.
pub fn parse_id(s: &str) -> ApiResult<i64> {
    s.parse()
        .map_err(|_| ApiError::constraint_violation(format!("{s:?} is not a valid id.")))
}

/// The client address as hawkBit records it (`http://<ip>`): the peer, or what a trusted proxy
/// forwarded.
pub fn client_address(req: &HttpRequest, track: bool) -> String {
    if !track {
        return "http://***".to_owned();
    }
    match crate::proxy::ClientIp::of(req) {
        Some(ip) => format!("http://{ip}"),
        None => "http://unknown".to_owned(),
    }
}
