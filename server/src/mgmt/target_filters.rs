//! `/rest/v1/targetfilters`: stored target queries and their auto-assignment settings.
//!
//! Only the settings are stored here; assigning the distribution set to matching targets is the
//! scheduler's job (`scheduler::auto_assign`).

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::actions::{Representation, RepresentationQuery};
use super::distribution_sets::ds_json;
use super::{PagedList, Paging, body, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::actions::assignable_ds;
use crate::store::models::ActionType;
use crate::store::schema::target_filter_queries as tfq;

const MAX_NAME_LEN: usize = 128;
const MAX_QUERY_LEN: usize = 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/targetfilters", web::get().to(list))
        .route("/targetfilters", web::post().to(create))
        .route("/targetfilters/{id}", web::get().to(get_one))
        .route("/targetfilters/{id}", web::put().to(update))
        .route("/targetfilters/{id}", web::delete().to(delete))
        .route("/targetfilters/{id}/autoAssignDS", web::get().to(get_auto_assign))
        .route(
            "/targetfilters/{id}/autoAssignDS",
            web::post().to(set_auto_assign),
        )
        .route(
            "/targetfilters/{id}/autoAssignDS",
            web::delete().to(delete_auto_assign),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        get_auto_assign,
        set_auto_assign,
        delete_auto_assign
    ),
    components(schemas(MgmtTargetFilterQuery, FilterRequest, AutoAssignRequest))
)]
pub struct Api;

/// A row of `target_filter_queries`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tfq)]
struct Filter {
    id: i64,
    name: String,
    query: String,
    auto_assign_ds_id: Option<i64>,
    auto_assign_action_type: Option<String>,
    auto_assign_weight: Option<i32>,
    confirmation_required: bool,
    created_at: i64,
    created_by: String,
    last_modified_at: i64,
    last_modified_by: String,
}

/// hawkBit's `MgmtTargetFilterQuery`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MgmtTargetFilterQuery {
    #[serde(flatten)]
    audit: json::Audit,
    #[schema(example = 2)]
    id: i64,
    #[schema(example = "lab devices")]
    name: String,
    #[schema(example = "name==Device*")]
    query: String,
    /// The id of the distribution set auto-assigned to matching targets, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    auto_assign_distribution_set: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "forced")]
    auto_assign_action_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 600)]
    auto_assign_weight: Option<i32>,
    #[schema(example = false)]
    confirmation_required: bool,
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_filter_query_links)]
    links: Value,
}

fn to_json(f: Filter, base: &str, representation: Representation) -> MgmtTargetFilterQuery {
    let self_href = format!("{base}/targetfilters/{}", f.id);
    let links = match representation {
        Representation::Compact => json!({ "self": { "href": self_href } }),
        Representation::Full => json!({
            "self": { "href": self_href },
            "autoAssignDS": { "href": format!("{self_href}/autoAssignDS") },
        }),
    };
    MgmtTargetFilterQuery {
        audit: json::Audit {
            created_by: f.created_by,
            created_at: f.created_at,
            last_modified_by: f.last_modified_by,
            last_modified_at: f.last_modified_at,
        },
        id: f.id,
        name: f.name,
        query: f.query,
        auto_assign_distribution_set: f.auto_assign_ds_id,
        auto_assign_action_type: f.auto_assign_action_type,
        auto_assign_weight: f.auto_assign_weight,
        confirmation_required: f.confirmation_required,
        links,
    }
}

fn find(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<Filter> {
    tfq::table
        .find(id)
        .filter(tfq::tenant.eq(tenant))
        .select(Filter::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("TargetFilterQuery", id))
}

/// 409 when another filter of the tenant has `name`.
fn name_is_free(c: &mut AnyConnection, tenant: &str, name: &str, except: Option<i64>) -> ApiResult<()> {
    let taken: Option<i64> = tfq::table
        .filter(tfq::tenant.eq(tenant).and(tfq::name.eq(name)))
        .select(tfq::id)
        .first(c)
        .optional()?;
    match taken {
        Some(id) if Some(id) != except => Err(ApiError::already_exists(format!(
            "Target filter query with name {name} already exists."
        ))),
        _ => Ok(()),
    }
}

/// A name: present, at most 128 characters.
fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(ApiError::constraint_violation("name must not be empty."));
    }
    Ok(check_len("name", name, MAX_NAME_LEN)?)
}

/// A query: present, at most 1024 characters, and valid RSQL over target fields.
fn check_query(q: &str) -> ApiResult<()> {
    if q.trim().is_empty() {
        return Err(ApiError::constraint_violation("query must not be empty."));
    }
    check_len("query", q, MAX_QUERY_LEN)?;
    query::list_spec(&query::TARGETS, Some(q), None)
        .map(|_| ())
        .map_err(Into::into)
}

/// Lists the target filter queries of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters",
    tag = "Target Filter Queries",
    params(Paging, RepresentationQuery),
    responses(
        (status = 200, description = "One page of filters", body = PagedList<MgmtTargetFilterQuery>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
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
    let representation = r.representation()?;
    let spec = q.spec(&query::TARGET_FILTER_QUERIES)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let total: i64 = tfq::table
                .filter(tfq::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = tfq::table
                .filter(tfq::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Filter::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows
        .into_iter()
        .map(|f| to_json(f, &base, representation))
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// A filter to create (both fields required) or the fields to change.
#[derive(Deserialize, utoipa::ToSchema)]

pub struct FilterRequest {
    #[schema(example = "europe")]
    name: Option<String>,
    #[schema(example = "name==*eu*")]
    query: Option<String>,
}

/// Creates a target filter query.
#[utoipa::path(
    post,
    path = "/rest/v1/targetfilters",
    tag = "Target Filter Queries",
    request_body = FilterRequest,
    responses(
        (status = 201, description = "The new filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "Missing, too long or invalid name or query", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET", body = ExceptionInfo),
        (status = 409, description = "The name is taken", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTarget)?;
    let r: FilterRequest = body(&req, payload, &state).await?;
    let (Some(name), Some(q)) = (r.name, r.query) else {
        return Err(ApiError::constraint_violation("name and query are required."));
    };
    check_name(&name)?;
    check_query(&q)?;
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let f = state
        .db
        .tx(move |c| {
            name_is_free(c, &tenant, &name, None)?;
            let id: i64 = diesel::insert_into(tfq::table)
                .values((
                    tfq::tenant.eq(&tenant),
                    tfq::name.eq(&name),
                    tfq::query.eq(&q),
                    tfq::confirmation_required.eq(false),
                    tfq::created_at.eq(now),
                    tfq::created_by.eq(&by),
                    tfq::last_modified_at.eq(now),
                    tfq::last_modified_by.eq(&by),
                ))
                .returning(tfq::id)
                .get_result(c)?;
            find(c, &tenant, id)
        })
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Created().json(to_json(f, &base, Representation::Full)))
}

/// One target filter query.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 200, description = "The filter", body = MgmtTargetFilterQuery),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
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
    let f = state.db.run(move |c| find(c, &tenant, id)).await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Changes a filter's name and/or query.
#[utoipa::path(
    put,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    request_body = FilterRequest,
    responses(
        (status = 200, description = "The updated filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "Too long or invalid name or query", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
        (status = 409, description = "The name is taken", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: FilterRequest = body(&req, payload, &state).await?;
    if let Some(name) = &r.name {
        check_name(name)?;
    }
    if let Some(q) = &r.query {
        check_query(q)?;
    }
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let f = state
        .db
        .tx(move |c| {
            let old = find(c, &tenant, id)?;
            let name = r.name.clone().unwrap_or(old.name);
            name_is_free(c, &tenant, &name, Some(id))?;
            diesel::update(tfq::table.find(id))
                .set((
                    tfq::name.eq(&name),
                    tfq::query.eq(r.query.clone().unwrap_or(old.query)),
                    tfq::last_modified_at.eq(now),
                    tfq::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            find(c, &tenant, id)
        })
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Deletes a target filter query.
#[utoipa::path(
    delete,
    path = "/rest/v1/targetfilters/{filterId}",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks DELETE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state
        .db
        .tx(move |c| {
            find(c, &tenant, id)?;
            diesel::delete(tfq::table.find(id)).execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The distribution set the filter auto-assigns; 204 when none.
#[utoipa::path(
    get,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 200, description = "The auto-assigned distribution set (hawkBit's MgmtDistributionSet)", body = Object,
            example = super::examples::distribution_set),
        (status = 204, description = "The filter auto-assigns nothing"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn get_auto_assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let ds = state
        .db
        .run(move |c| match find(c, &tenant, id)?.auto_assign_ds_id {
            Some(ds) => ds_json(c, ds, &base).map(Some),
            None => Ok(None),
        })
        .await?;
    Ok(match ds {
        Some(v) => HttpResponse::Ok().json(v),
        None => HttpResponse::NoContent().finish(),
    })
}

/// hawkBit's `MgmtDistributionSetAutoAssignment`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoAssignRequest {
    /// The distribution set to assign.
    #[schema(example = 1)]
    id: Option<i64>,
    /// `forced` (default), `soft` or `downloadonly`; `timeforced` is refused.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, example = "forced")]
    action_type: Option<ActionType>,
    /// 0 to 1000.
    #[schema(example = 600)]
    weight: Option<i32>,
    /// Default: whether the tenant's user-consent flow is on.
    #[schema(example = false)]
    confirmation_required: Option<bool>,
}

/// Sets the distribution set (and action type, weight, consent) the filter auto-assigns.
#[utoipa::path(
    post,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    request_body = AutoAssignRequest,
    responses(
        (status = 200, description = "The updated filter", body = MgmtTargetFilterQuery),
        (status = 400, description = "No id, timeforced, bad weight, incomplete or invalidated set", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET or READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such filter or distribution set", body = ExceptionInfo),
    )
)]
async fn set_auto_assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let r: AutoAssignRequest = body(&req, payload, &state).await?;
    let ds_id =
        r.id.ok_or_else(|| ApiError::constraint_violation("id of the distribution set is required."))?;
    let action_type = r.action_type.unwrap_or(ActionType::Forced);
    if action_type == ActionType::TimeForced {
        return Err(ApiError::invalid_auto_assign_action_type());
    }
    if r.weight.is_some_and(|w| !(0..=1000).contains(&w)) {
        return Err(ApiError::constraint_violation(
            "weight must be between 0 and 1000.",
        ));
    }
    let tenant = tenant_of(&user);
    let confirmation = match r.confirmation_required {
        Some(c) => c,
        None => state.tenants.get(&state.db, &tenant).await?.confirmation_flow,
    };
    let by = user.username.clone();
    let now = state.now();
    let id = path.into_inner();
    let f = state
        .db
        .tx(move |c| {
            find(c, &tenant, id)?;
            assignable_ds(c, &tenant, ds_id)?;
            diesel::update(tfq::table.find(id))
                .set((
                    tfq::auto_assign_ds_id.eq(ds_id),
                    tfq::auto_assign_action_type.eq(action_type.as_str()),
                    tfq::auto_assign_weight.eq(r.weight),
                    tfq::confirmation_required.eq(confirmation),
                    // The scheduler checks every matching target once.
                    tfq::auto_assign_pending.eq(true),
                    tfq::last_modified_at.eq(now),
                    tfq::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            find(c, &tenant, id)
        })
        .await?;
    state.apply(Changes::targets());
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(to_json(f, &base, Representation::Full)))
}

/// Stops the filter's auto-assignment.
#[utoipa::path(
    delete,
    path = "/rest/v1/targetfilters/{filterId}/autoAssignDS",
    tag = "Target Filter Queries",
    params(("filterId" = i64, Path, description = "The filter's id")),
    responses(
        (status = 204, description = "Auto-assignment removed"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such filter", body = ExceptionInfo),
    )
)]
async fn delete_auto_assign(
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .tx(move |c| {
            find(c, &tenant, id)?;
            diesel::update(tfq::table.find(id))
                .set((
                    tfq::auto_assign_ds_id.eq(None::<i64>),
                    tfq::auto_assign_action_type.eq(None::<String>),
                    tfq::auto_assign_weight.eq(None::<i32>),
                    tfq::confirmation_required.eq(false),
                    tfq::last_modified_at.eq(now),
                    tfq::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
