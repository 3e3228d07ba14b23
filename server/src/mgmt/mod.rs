//! The hawkBit Management API (`/rest/v1`), the part needed to drive devices: system configs,
//! targets and their actions, software modules with artifacts, distribution sets and assignment.

mod distribution_sets;
mod json;
pub mod query;
mod software_modules;
mod system;
mod targets;
mod users;

pub use users::{tenant_name, validate_new_user};

use actix_web::{HttpRequest, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::users::User;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/rest/v1")
            .configure(system::configure)
            .configure(targets::configure)
            .configure(software_modules::configure)
            .configure(distribution_sets::configure)
            .configure(users::configure),
    );
}

/// The parts of the Management API document, one per resource module.
pub fn openapi_parts() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi as _;
    vec![
        targets::Api::openapi(),
        users::Api::openapi(),
        distribution_sets::Api::openapi(),
        software_modules::Api::openapi(),
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

    pub fn no_search(&self) -> ApiResult<()> {
        match self.q.as_deref() {
            Some(q) if !q.trim().is_empty() => Err(ApiError::rsql_unsupported()),
            _ => Ok(()),
        }
    }

    /// The `WHERE` and `ORDER BY` for this request's `q` and `sort` on `entity`.
    pub fn spec(&self, entity: &query::Entity) -> ApiResult<query::ListSpec> {
        query::list_spec(entity, self.q.as_deref(), self.sort.as_deref())
    }

    pub fn limit(&self) -> i64 {
        match self.limit.unwrap_or(50) {
            l if l < 1 => 50,
            l => l.min(500),
        }
    }

    /// Whether the list is sorted by id descending; only `id` is sortable here so far.
    pub fn id_descending(&self, default_desc: bool) -> ApiResult<bool> {
        let Some(sort) = self.sort.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(default_desc);
        };
        let (field, dir) = sort.split_once(':').unwrap_or((sort, "ASC"));
        if !field.eq_ignore_ascii_case("id") {
            return Err(ApiError::sort_param_invalid_field(format!(
                "Sorting by {field} is not supported here."
            )));
        }
        match dir.to_ascii_uppercase().as_str() {
            "ASC" => Ok(false),
            "DESC" => Ok(true),
            _ => Err(ApiError::sort_param_invalid_field(format!(
                "Invalid sort direction {dir}."
            ))),
        }
    }
}

/// hawkBit's `PagedList`: one page of `content`, `total` matching entries, `size` entries in this page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PagedList<T> {
    pub content: Vec<T>,
    pub total: i64,
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

pub fn check_len(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::constraint_violation(format!(
            "{field} must be at most {max} characters."
        )));
    }
    Ok(())
}
