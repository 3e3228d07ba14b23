//! The hawkBit Management API (`/rest/v1`), the part needed to drive devices: system configs,
//! targets and their actions, software modules with artifacts, distribution sets and assignment.

mod actions;
mod audit_log;
mod distribution_sets;
mod download_links;
mod ds_assignments;
mod ds_invalidate;
mod ds_statistics;
mod ds_tags;
mod ds_types;
pub(crate) mod examples;
mod fleet;
mod json;
pub mod lenient;
mod metadata;
pub use crate::store::check_len;
use crate::store::query;
mod rollout_groups;
mod rollout_lifecycle;
mod rollouts;
mod routes;
mod sm_artifacts;
mod sm_metadata;
mod sm_types;
mod soft_deleted;
mod software_modules;
mod system;
mod target_actions;
mod target_filters;
mod target_tags;
mod target_types;
mod targets;
mod users;

use actix_web::{HttpRequest, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::users::User;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/rest/v1")
            .wrap(actix_web::middleware::from_fn(legacy_status_codes))
            .wrap(actix_web::middleware::from_fn(crate::audit_trail::middleware))
            .configure(system::configure)
            .configure(targets::configure)
            .configure(target_actions::configure)
            .configure(software_modules::configure)
            .configure(sm_artifacts::configure)
            .configure(download_links::configure)
            .configure(sm_metadata::configure)
            .configure(distribution_sets::configure)
            .configure(ds_assignments::configure)
            .configure(ds_statistics::configure)
            .configure(ds_invalidate::configure)
            .configure(users::configure)
            .configure(metadata::configure)
            .configure(target_filters::configure)
            .configure(actions::configure)
            .configure(target_tags::configure)
            .configure(ds_tags::configure)
            .configure(sm_types::configure)
            .configure(ds_types::configure)
            .configure(target_types::configure)
            .configure(rollouts::configure)
            .configure(rollout_groups::configure)
            .configure(rollout_lifecycle::configure)
            .configure(fleet::configure)
            .configure(audit_log::configure),
    );
}

/// With `legacy_status_codes`, hawkBit ≤ 0.9's codes: 200 for 204, 403 for a quota's 429.
async fn legacy_status_codes(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::StatusCode;
    let legacy = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.legacy_status_codes);
    let mut res = next.call(req).await?;
    if legacy {
        let status = res.status();
        let mapped = match status {
            StatusCode::NO_CONTENT => StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS => StatusCode::FORBIDDEN,
            s => s,
        };
        *res.response_mut().status_mut() = mapped;
    }
    Ok(res)
}

/// The parts of the Management API document, one per resource module.
pub fn openapi_parts() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    vec![
        targets::Api::openapi(),
        target_actions::Api::openapi(),
        users::Api::openapi(),
        system::Api::openapi(),
        metadata::Api::openapi(),
        target_filters::Api::openapi(),
        actions::Api::openapi(),
        target_tags::Api::openapi(),
        ds_tags::Api::openapi(),
        sm_types::Api::openapi(),
        ds_types::Api::openapi(),
        target_types::Api::openapi(),
        distribution_sets::Api::openapi(),
        ds_assignments::Api::openapi(),
        ds_statistics::Api::openapi(),
        ds_invalidate::Api::openapi(),
        software_modules::Api::openapi(),
        sm_artifacts::Api::openapi(),
        download_links::Api::openapi(),
        sm_metadata::Api::openapi(),
        rollouts::Api::openapi(),
        rollout_groups::Api::openapi(),
        rollout_lifecycle::Api::openapi(),
        fleet::Api::openapi(),
        audit_log::Api::openapi(),
    ]
}

/// `offset`/`limit`/`sort`/`q` as hawkBit reads them: negative offset → 0, limit < 1 → 50, > 500 → 500.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The paging offset (default 0).
    #[serde(default)]
    offset: Option<i64>,
    /// The maximum number of entries in a page (default 50, at most 500).
    #[serde(default)]
    limit: Option<i64>,
    /// Sorting: `field:ASC` or `field:DESC`, several separated by commas, e.g. `name:ASC,id:DESC`.
    #[serde(default)]
    pub sort: Option<String>,
    /// An RSQL/FIQL query, e.g. `name==*test*;updateStatus==pending`.
    #[serde(default)]
    q: Option<String>,
}

impl Paging {
    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }

    /// The `WHERE` and `ORDER BY` for this request's `q` and `sort` on `entity`.
    pub fn spec(&self, entity: &query::Entity) -> ApiResult<query::ListSpec> {
        query::list_spec(entity, self.q.as_deref(), self.sort.as_deref()).map_err(Into::into)
    }

    pub fn limit(&self) -> i64 {
        match self.limit.unwrap_or(50) {
            l if l < 1 => 50,
            l => l.min(500),
        }
    }

    /// This request as the store's list query on `entity`: filter, order and page.
    pub fn list(&self, entity: &query::Entity) -> ApiResult<crate::store::ListQuery> {
        Ok(crate::store::ListQuery {
            spec: self.spec(entity)?,
            page: crate::store::Page {
                offset: self.offset(),
                limit: self.limit(),
            },
        })
    }
}

/// hawkBit's `PagedList`: one page of `content`, `total` matching entries, `size` entries in this page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PagedList<T> {
    pub content: Vec<T>,
    #[schema(example = 1)]
    pub total: i64,
    #[schema(example = 1)]
    pub size: usize,
}

impl<T> PagedList<T> {
    pub fn new(content: Vec<T>, total: i64) -> Self {
        Self {
            size: content.len(),
            content,
            total,
        }
    }

    /// A page of the store's rows, each rendered by `render`.
    pub fn from_page<R>(page: crate::store::Paged<R>, render: impl FnMut(R) -> T) -> Self {
        Self::new(page.rows.into_iter().map(render).collect(), page.total)
    }
}

/// A list body, or one element alone as hawkBit ≥ 1.1 accepts (`lenient::list`).
pub async fn body_list<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> ApiResult<Vec<T>> {
    lenient::list(body::<serde_json::Value>(req, payload, state).await?)
}

pub async fn body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> ApiResult<T> {
    crate::ddi::read_body_as(req, payload, state.config.max_body_size, true).await
}

/// `http(s)://host/rest/v1`.
pub fn rest_base(req: &HttpRequest, state: &AppState) -> String {
    format!(
        "{}/rest/v1",
        crate::links::base_url(req, state.config.external_url.as_deref())
    )
}

/// Every endpoint here needs an authenticated user; permissions beyond that come with the users and
/// roles issue. The tenant is the user's.
pub fn tenant_of(user: &User) -> String {
    user.tenant.clone()
}
