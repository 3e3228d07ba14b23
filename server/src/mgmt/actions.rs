//! `/rest/v1/actions`: every action of the tenant, across targets.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::json::{ActionLinks, MgmtAction, RolloutNames, mgmt_action};
use super::{PagedList, Paging, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::actions::queries::{self, ActionView};

super::routes::api! {
    paths: [list, get_one],
    schemas: [MgmtAction],
}

/// `representation=compact|full` as hawkBit reads it (default compact).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepresentationQuery {
    /// `compact` (default) or `full` (more links).
    #[serde(default)]
    representation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Compact,
    Full,
}

impl RepresentationQuery {
    pub fn representation(&self) -> ApiResult<Representation> {
        match self
            .representation
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("compact") => Ok(Representation::Compact),
            Some("full") => Ok(Representation::Full),
            Some(other) => Err(ApiError::constraint_violation(format!(
                "representation must be compact or full, not {other}."
            ))),
        }
    }
}

/// The names of the views' rollouts, as the JSON of an action takes them.
pub(super) fn rollout_names(views: &[ActionView]) -> RolloutNames {
    views
        .iter()
        .filter_map(|v| Some((v.action.rollout_id?, v.rollout_name.clone()?)))
        .collect()
}

fn render(views: &[ActionView], base: &str, links: ActionLinks) -> Vec<MgmtAction> {
    let names = rollout_names(views);
    views
        .iter()
        .map(|v| mgmt_action(&v.action, &v.controller_id, &v.ds_label, base, links, &names))
        .collect()
}

/// Lists the actions of all targets of the tenant (newest first unless sorted otherwise).
#[utoipa::path(
    get,
    path = "/rest/v1/actions",
    tag = "Actions",
    params(Paging, RepresentationQuery),
    responses(
        (status = 200, description = "One page of actions; `full` adds target, distribution set and status links", body = PagedList<MgmtAction>),
        (status = 400, description = "Bad paging, sort, query or representation", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    r: web::Query<RepresentationQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let links = match r.representation()? {
        Representation::Compact => ActionLinks::SelfOnly,
        Representation::Full => ActionLinks::Full,
    };
    let list = q.list(&query::ACTIONS)?;
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| queries::list_actions(c, &tenant, &list))
        .await?;
    let content = render(&page.rows, &rest_base(&req, &state), links);
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
}

/// One action of the tenant, with links to its target, distribution set and status.
#[utoipa::path(
    get,
    path = "/rest/v1/actions/{actionId}",
    tag = "Actions",
    params(("actionId" = i64, Path, description = "The action's id")),
    responses(
        (status = 200, description = "The action", body = MgmtAction),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such action", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let view = state
        .db
        .read(move |c| queries::get_action(c, &tenant, id))
        .await?;
    let names = rollout_names(std::slice::from_ref(&view));
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(mgmt_action(
        &view.action,
        &view.controller_id,
        &view.ds_label,
        &base,
        ActionLinks::Full,
        &names,
    )))
}
