//! `/rest/v1/actions`: every action of the tenant, across targets.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;

use super::json::{ActionLinks, MgmtAction, mgmt_action};
use super::{PagedList, Paging, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::Action;
use crate::store::schema::{actions, distribution_sets, targets};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/actions", web::get().to(list))
        .route("/actions/{id}", web::get().to(get_one));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, get_one), components(schemas(MgmtAction)))]
pub struct Api;

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

type Row = (Action, String, String, String);

fn render(
    rows: Vec<Row>,
    names: &super::json::RolloutNames,
    base: &str,
    links: ActionLinks,
) -> Vec<MgmtAction> {
    rows.iter()
        .map(|(a, cid, n, v)| mgmt_action(a, cid, &format!("{n}:{v}"), base, links, names))
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
    let spec = q.spec(&query::ACTIONS)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, names, total) = state
        .db
        .run(move |c| {
            let total: i64 = actions::table
                .inner_join(targets::table)
                .inner_join(distribution_sets::table)
                .filter(actions::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows: Vec<Row> = actions::table
                .inner_join(targets::table)
                .inner_join(distribution_sets::table)
                .filter(actions::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select((
                    Action::as_select(),
                    targets::controller_id,
                    distribution_sets::name,
                    distribution_sets::version,
                ))
                .load(c)?;
            let names = super::json::rollout_names(c, rows.iter().map(|r: &Row| &r.0))?;
            Ok((rows, names, total))
        })
        .await?;
    let content = render(rows, &names, &rest_base(&req, &state), links);
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
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
    let rows = state
        .db
        .run(move |c| {
            let row: Option<Row> = actions::table
                .inner_join(targets::table)
                .inner_join(distribution_sets::table)
                .filter(actions::tenant.eq(&tenant).and(actions::id.eq(id)))
                .select((
                    Action::as_select(),
                    targets::controller_id,
                    distribution_sets::name,
                    distribution_sets::version,
                ))
                .first(c)
                .optional()?;
            let rows = row
                .map(|r| vec![r])
                .ok_or_else(|| ApiError::not_found("Action", id))?;
            let names = super::json::rollout_names(c, rows.iter().map(|r: &Row| &r.0))?;
            Ok((rows, names))
        })
        .await?;
    let (rows, names) = rows;
    let mut content = render(rows, &names, &rest_base(&req, &state), ActionLinks::Full);
    match content.pop() {
        Some(a) => Ok(HttpResponse::Ok().json(a)),
        None => Err(ApiError::not_found("Action", id)),
    }
}
