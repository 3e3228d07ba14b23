//! `/rest/v1/targettags`: tags of targets and which targets carry them, and `/targets/{id}/tags`.
//!
//! The tag body, JSON and the `onNotFoundPolicy` of bulk assignment are shared with the distribution
//! set tags in `ds_tags.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::targets::to_json;
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::Target;
use crate::store::schema::{target_tag_assignments as tta, target_tags, targets};
use crate::store::targets::find_target;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/targettags", web::get().to(list))
        .route("/targettags", web::post().to(create))
        .route("/targettags/{targetTagId}", web::get().to(get_one))
        .route("/targettags/{targetTagId}", web::put().to(update))
        .route("/targettags/{targetTagId}", web::delete().to(delete))
        .route("/targettags/{targetTagId}/assigned", web::get().to(assigned))
        .route("/targettags/{targetTagId}/assigned", web::put().to(assign))
        .route("/targettags/{targetTagId}/assigned", web::post().to(assign_post))
        .route("/targettags/{targetTagId}/assigned", web::delete().to(unassign))
        .route(
            "/targettags/{targetTagId}/assigned/{controllerId}",
            web::post().to(assign_one),
        )
        .route(
            "/targettags/{targetTagId}/assigned/{controllerId}",
            web::delete().to(unassign_one),
        )
        .route("/targets/{targetId}/tags", web::get().to(tags_of_target));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        assigned,
        assign,
        assign_post,
        unassign,
        assign_one,
        unassign_one,
        tags_of_target
    ),
    components(schemas(MgmtTag, TagRequest, NotFoundPolicy))
)]
pub struct Api;

/// hawkBit's longest tag name, description and colour (`NamedEntity`, `Tag`).
const NAME_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 512;
const COLOUR_MAX: usize = 16;

/// A row of `target_tags` or `ds_tags` (same columns, loaded with the table's default selection).
#[derive(Queryable)]
pub(super) struct TagRow {
    pub id: i64,
    pub _tenant: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

/// hawkBit's `MgmtTag`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtTag {
    #[serde(flatten)]
    pub audit: json::Audit,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "lab")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Devices in the test lab")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "rgb(0,255,0)")]
    pub colour: Option<String>,
    /// `self` and `assignedTargets` (target tags) or `assignedDistributionSets` (DS tags).
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_tag_links)]
    pub links: Value,
}

/// `self_href` is the tag's URL; `assigned_rel` the link name of its assigned entities.
pub(super) fn tag_json(t: TagRow, self_href: String, assigned_rel: &str) -> MgmtTag {
    let links = json!({
        "self": { "href": self_href },
        assigned_rel: { "href": format!("{self_href}/assigned?offset=0&limit=50") },
    });
    MgmtTag {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        id: t.id,
        name: t.name,
        description: t.description,
        colour: t.colour,
        links,
    }
}

fn to_mgmt(base: &str, t: TagRow) -> MgmtTag {
    let href = format!("{base}/targettags/{}", t.id);
    tag_json(t, href, "assignedTargets")
}

/// hawkBit's `MgmtTagRequestBodyPut`, for create (name required) and update (all optional).
#[derive(Deserialize, utoipa::ToSchema)]

pub(crate) struct TagRequest {
    #[schema(example = "Example name")]
    pub name: Option<String>,
    #[schema(example = "Devices in the test lab")]
    pub description: Option<String>,
    #[schema(example = "rgb(0,255,0)")]
    pub colour: Option<String>,
}

impl TagRequest {
    pub(crate) fn validate(&self, create: bool) -> ApiResult<()> {
        match self.name.as_deref() {
            None if create => return Err(ApiError::constraint_violation("name is required.")),
            Some(n) if n.trim().is_empty() => {
                return Err(ApiError::constraint_violation("name must not be empty."));
            }
            _ => {}
        }
        check_len("name", self.name.as_deref().unwrap_or(""), NAME_MAX)?;
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        Ok(check_len(
            "colour",
            self.colour.as_deref().unwrap_or(""),
            COLOUR_MAX,
        )?)
    }
}

/// What bulk (un)assignment does when some ids do not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum NotFoundPolicy {
    /// Change nothing and answer 404.
    #[default]
    Fail,
    /// Change the found ones, then answer 404.
    OnWhatFoundAndFail,
    /// Change the found ones and answer 204.
    OnWhatFoundAndSuccess,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PolicyQuery {
    /// What to do when some of the given ids do not exist (default `FAIL`).
    #[serde(rename = "onNotFoundPolicy", default)]
    #[param(inline)]
    pub on_not_found_policy: NotFoundPolicy,
}

impl NotFoundPolicy {
    /// Whether to apply the change to the found entities, given which ids were `missing`; `Err` is
    /// the 404 to answer before any change.
    pub(super) fn before(self, entity: &str, missing: &[String]) -> ApiResult<()> {
        if self == Self::Fail && !missing.is_empty() {
            return Err(ApiError::not_found(entity, missing.join(",")));
        }
        Ok(())
    }

    /// The 404 to answer after the found entities were changed, if any.
    pub(super) fn after(self, entity: &str, missing: &[String]) -> Option<ApiError> {
        (self == Self::OnWhatFoundAndFail && !missing.is_empty())
            .then(|| ApiError::not_found(entity, missing.join(",")))
    }
}

fn find_tag(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<TagRow> {
    target_tags::table
        .filter(target_tags::tenant.eq(tenant).and(target_tags::id.eq(id)))
        .first::<TagRow>(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("TargetTag", id))
}

/// Lists the target tags of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targettags",
    tag = "Target Tags",
    params(Paging),
    responses(
        (status = 200, description = "One page of tags", body = PagedList<MgmtTag>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let spec = q.spec(&query::TARGET_TAGS)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let total: i64 = target_tags::table
                .filter(target_tags::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = target_tags::table
                .filter(target_tags::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .load::<TagRow>(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// Creates target tags.
#[utoipa::path(
    post,
    path = "/rest/v1/targettags",
    tag = "Target Tags",
    request_body = Vec<TagRequest>,
    responses(
        (status = 201, description = "The created tags", body = Vec<MgmtTag>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET", body = ExceptionInfo),
        (status = 409, description = "A tag with that name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTarget)?;
    let requests: Vec<TagRequest> = body_list(&req, payload, &state).await?;
    for r in &requests {
        r.validate(true)?;
    }
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .tx(move |c| {
            let mut out = Vec::with_capacity(requests.len());
            for r in &requests {
                let id = insert_tag(c, &tenant, r, &by, now)?;
                out.push(find_tag(c, &tenant, id)?);
            }
            Ok(out)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTag> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// Creates a target tag of `tenant` from a validated request; 409 when the name is taken.
pub(crate) fn insert_tag(
    c: &mut AnyConnection,
    tenant: &str,
    r: &TagRequest,
    by: &str,
    now: i64,
) -> ApiResult<i64> {
    let name = r.name.as_deref().unwrap_or_default();
    diesel::insert_into(target_tags::table)
        .values((
            target_tags::tenant.eq(tenant),
            target_tags::name.eq(name),
            target_tags::description.eq(r.description.as_deref()),
            target_tags::colour.eq(r.colour.as_deref()),
            target_tags::created_at.eq(now),
            target_tags::created_by.eq(by),
            target_tags::last_modified_at.eq(now),
            target_tags::last_modified_by.eq(by),
        ))
        .returning(target_tags::id)
        .get_result(c)
        .map_err(|e| duplicate_name(e, name))
}

/// A unique violation on insert or rename as hawkBit's 409 naming the tag.
pub(super) fn duplicate_name(e: diesel::result::Error, name: &str) -> ApiError {
    match ApiError::from(e) {
        e if e.status == actix_web::http::StatusCode::CONFLICT => {
            ApiError::already_exists(format!("A tag named {name} already exists."))
        }
        e => e,
    }
}

/// One target tag.
#[utoipa::path(
    get,
    path = "/rest/v1/targettags/{targetTagId}",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id")),
    responses(
        (status = 200, description = "The tag", body = MgmtTag),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
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
    let t = state.db.run(move |c| find_tag(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Changes the given fields of a target tag.
#[utoipa::path(
    put,
    path = "/rest/v1/targettags/{targetTagId}",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id")),
    request_body = TagRequest,
    responses(
        (status = 200, description = "The updated tag", body = MgmtTag),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
        (status = 409, description = "Another tag has that name", body = ExceptionInfo),
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
    let r: TagRequest = body(&req, payload, &state).await?;
    r.validate(false)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .tx(move |c| {
            let t = find_tag(c, &tenant, id)?;
            let name = r.name.as_deref().unwrap_or(&t.name);
            diesel::update(target_tags::table.find(t.id))
                .set((
                    target_tags::name.eq(name),
                    target_tags::description.eq(r.description.as_deref().or(t.description.as_deref())),
                    target_tags::colour.eq(r.colour.as_deref().or(t.colour.as_deref())),
                    target_tags::last_modified_at.eq(now),
                    target_tags::last_modified_by.eq(&by),
                ))
                .execute(c)
                .map_err(|e| duplicate_name(e, name))?;
            find_tag(c, &tenant, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Deletes a target tag; the targets lose it.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettags/{targetTagId}",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTarget)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state
        .db
        .tx(move |c| {
            let t = find_tag(c, &tenant, id)?;
            diesel::delete(tta::table.filter(tta::tag_id.eq(t.id))).execute(c)?;
            diesel::delete(target_tags::table.find(t.id)).execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The targets that carry a tag, in the shape of `GET /rest/v1/targets`.
#[utoipa::path(
    get,
    path = "/rest/v1/targettags/{targetTagId}/assigned",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id"), Paging),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
        (status = 400, description = "Bad paging, sort, query or id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
    )
)]
async fn assigned(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let spec = q.spec(&query::TARGETS)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let tag = find_tag(c, &tenant, id)?;
            let tagged = tta::table.filter(tta::tag_id.eq(tag.id)).select(tta::target_id);
            let total: i64 = targets::table
                .filter(targets::tenant.eq(&tenant))
                .filter(targets::id.eq_any(tagged))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let tagged = tta::table.filter(tta::tag_id.eq(tag.id)).select(tta::target_id);
            let rows = targets::table
                .filter(targets::tenant.eq(&tenant))
                .filter(targets::id.eq_any(tagged))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(Target::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let mut content = Vec::with_capacity(rows.len());
    for t in &rows {
        content.push(to_json(&req, &state, &user, t, false).await?);
    }
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// Tags (`assign`) or untags the targets with the given controller ids, following `policy` for
/// unknown ids.
async fn change_many(
    req: HttpRequest,
    user: User,
    id: i64,
    policy: NotFoundPolicy,
    payload: web::Payload,
    state: web::Data<AppState>,
    assign: bool,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    // `["dev1"]`, one id alone, or hawkBit ≤ 0.6's `[{"controllerId": "dev1"}]`.
    let ids: Vec<String> = body_list::<super::lenient::ControllerIdRef>(&req, payload, &state)
        .await?
        .into_iter()
        .map(super::lenient::ControllerIdRef::into_id)
        .collect();
    let tenant = tenant_of(&user);
    let late = state
        .db
        .tx(move |c| {
            let tag = find_tag(c, &tenant, id)?;
            let found: Vec<(i64, String)> = targets::table
                .filter(targets::tenant.eq(&tenant))
                .filter(targets::controller_id.eq_any(&ids))
                .select((targets::id, targets::controller_id))
                .load(c)?;
            let missing: Vec<String> = ids
                .iter()
                .filter(|cid| !found.iter().any(|(_, f)| f == *cid))
                .cloned()
                .collect();
            policy.before("Target", &missing)?;
            let target_ids: Vec<i64> = found.iter().map(|(i, _)| *i).collect();
            crate::store::targets::set_tagged(c, tag.id, &target_ids, assign)?;
            Ok(policy.after("Target", &missing))
        })
        .await?;
    match late {
        Some(e) => Err(e),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// Tags the targets with the given controller ids.
#[utoipa::path(
    put,
    path = "/rest/v1/targettags/{targetTagId}/assigned",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id"), PolicyQuery),
    request_body(content = Vec<String>, description = "Controller ids", example = json!(["dev1", "dev2"])),
    responses(
        (status = 204, description = "Tagged"),
        (status = 400, description = "Bad body, policy or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag, or (policy) no such target", body = ExceptionInfo),
    )
)]
async fn assign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<PolicyQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let policy = q.on_not_found_policy;
    change_many(req, user, path.into_inner(), policy, payload, state, true).await
}

/// Tags the targets with the given controller ids (hawkBit ≤ 0.9 and its API docs use POST).
#[utoipa::path(
    post,
    path = "/rest/v1/targettags/{targetTagId}/assigned",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id"), PolicyQuery),
    request_body(content = Vec<String>, description = "Controller ids", example = json!(["dev1", "dev2"])),
    responses(
        (status = 204, description = "Tagged"),
        (status = 400, description = "Bad body, policy or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag, or (policy) no such target", body = ExceptionInfo),
    )
)]
async fn assign_post(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<PolicyQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let policy = q.on_not_found_policy;
    change_many(req, user, path.into_inner(), policy, payload, state, true).await
}

/// Untags the targets with the given controller ids.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettags/{targetTagId}/assigned",
    tag = "Target Tags",
    params(("targetTagId" = i64, Path, description = "The tag's id"), PolicyQuery),
    request_body(content = Vec<String>, description = "Controller ids", example = json!(["dev1", "dev2"])),
    responses(
        (status = 204, description = "Untagged"),
        (status = 400, description = "Bad body, policy or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag, or (policy) no such target", body = ExceptionInfo),
    )
)]
async fn unassign(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    q: web::Query<PolicyQuery>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let policy = q.on_not_found_policy;
    change_many(req, user, path.into_inner(), policy, payload, state, false).await
}

async fn change_one(
    user: User,
    path: (i64, String),
    state: web::Data<AppState>,
    assign: bool,
) -> ApiResult<()> {
    user.require(Permission::UpdateTarget)?;
    let tenant = tenant_of(&user);
    let (id, cid) = path;
    state
        .db
        .tx(move |c| Ok(crate::store::targets::tag_target(c, &tenant, id, &cid, assign)?))
        .await
}

/// Tags one target.
#[utoipa::path(
    post,
    path = "/rest/v1/targettags/{targetTagId}/assigned/{controllerId}",
    tag = "Target Tags",
    params(
        ("targetTagId" = i64, Path, description = "The tag's id"),
        ("controllerId" = String, Path, description = "The target's controller id"),
    ),
    responses(
        (status = 204, description = "Tagged"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag or target", body = ExceptionInfo),
    )
)]
async fn assign_one(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    change_one(user, path.into_inner(), state, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Untags one target.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettags/{targetTagId}/assigned/{controllerId}",
    tag = "Target Tags",
    params(
        ("targetTagId" = i64, Path, description = "The tag's id"),
        ("controllerId" = String, Path, description = "The target's controller id"),
    ),
    responses(
        (status = 204, description = "Untagged"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such tag or target", body = ExceptionInfo),
    )
)]
async fn unassign_one(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    change_one(user, path.into_inner(), state, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tags of one target.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/tags",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The target's tags", body = Vec<MgmtTag>),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn tags_of_target(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let rows = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &cid)?;
            let tags = tta::table.filter(tta::target_id.eq(t.id)).select(tta::tag_id);
            Ok(target_tags::table
                .filter(target_tags::tenant.eq(&tenant))
                .filter(target_tags::id.eq_any(tags))
                .order(target_tags::id.asc())
                .load::<TagRow>(c)?)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTag> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}
