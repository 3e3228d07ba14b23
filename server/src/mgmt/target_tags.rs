//! `/rest/v1/targettags`: tags of targets and which targets carry them, and `/targets/{id}/tags`.
//!
//! The tag body, JSON and the `onNotFoundPolicy` of bulk assignment are shared with the distribution
//! set tags in `ds_tags.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::tags::{self, Kind, Missing, Tag, TagFields};

super::routes::api! {
    paths: [list, create, get_one, update, delete, assigned, assign, assign_post, unassign, assign_one, unassign_one, tags_of_target],
    schemas: [MgmtTag, TagRequest, NotFoundPolicy],
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
pub(super) fn tag_json(t: Tag, self_href: String, assigned_rel: &str) -> MgmtTag {
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

fn to_mgmt(base: &str, t: Tag) -> MgmtTag {
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
    /// The request's fields, checked against hawkBit's rules for a create or an update.
    pub(crate) fn fields(self, create: bool) -> ApiResult<TagFields> {
        let fields = TagFields {
            name: self.name,
            description: self.description,
            colour: self.colour,
        };
        fields.validate(create)?;
        Ok(fields)
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
    /// Whether the store refuses the whole change when some entities are missing.
    pub(super) fn missing(self) -> Missing {
        match self {
            Self::Fail => Missing::Refuse,
            Self::OnWhatFoundAndFail | Self::OnWhatFoundAndSuccess => Missing::Skip,
        }
    }

    /// The 404 to answer after the found entities were changed, if any.
    pub(super) fn after(self, entity: &str, missing: &[String]) -> ApiResult<HttpResponse> {
        if self == Self::OnWhatFoundAndFail && !missing.is_empty() {
            return Err(ApiError::not_found(entity, missing.join(",")));
        }
        Ok(HttpResponse::NoContent().finish())
    }
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
    let list = q.list(&query::TARGET_TAGS)?;
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| tags::list(c, Kind::Target, &tenant, &list))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |t| to_mgmt(&base, t))))
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
    let fields = requests
        .into_iter()
        .map(|r| r.fields(true))
        .collect::<ApiResult<Vec<_>>>()?;
    let (tenant, by, at) = (tenant_of(&user), user.username.clone(), state.now());
    let rows = state
        .db
        .write(move |c| tags::create(c, Kind::Target, &tenant, &fields, tags::Audit { by: &by, at }))
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTag> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
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
    let t = state
        .db
        .read(move |c| tags::get(c, Kind::Target, &tenant, id))
        .await?;
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
    let fields = r.fields(false)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, at) = (user.username.clone(), state.now());
    let t = state
        .db
        .write(move |c| tags::update(c, Kind::Target, &tenant, id, &fields, tags::Audit { by: &by, at }))
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
        .write(move |c| tags::delete(c, Kind::Target, &tenant, id))
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
    let list = q.list(&query::TARGETS)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let page = state
        .db
        .read(move |c| tags::tagged_targets(c, &tenant, id, &list))
        .await?;
    super::targets::page_json(&req, &state, &user, page).await
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
    let missing = state
        .db
        .write(move |c| tags::tag_targets(c, &tenant, id, &ids, assign, policy.missing()))
        .await?;
    policy.after("Target", &missing)
}

/// The bulk (un)tagging endpoints of one tag kind, each with its own OpenAPI entry: alike but for
/// their method, text and whether they tag (`$assign`). The kind's module has `change_many`.
macro_rules! bulk_tagging {
    (
        path: $path:literal, tag: $tag:literal, id: $id:literal,
        ids: $ids:ident $ids_doc:literal $example:tt,
        lacks: $lacks:literal, missing: $missing:literal,
        endpoints: [$(($method:ident $name:ident $doc:literal $ok:literal $assign:literal)),* $(,)?] $(,)?
    ) => {
        $(
            #[doc = $doc]
            #[utoipa::path(
                $method,
                path = $path,
                tag = $tag,
                params(($id = i64, Path, description = "The tag's id"), PolicyQuery),
                request_body(content = Vec<$ids>, description = $ids_doc, example = json!($example)),
                responses(
                    (status = 204, description = $ok),
                    (status = 400, description = "Bad body, policy or id", body = ExceptionInfo),
                    (status = 403, description = $lacks, body = ExceptionInfo),
                    (status = 404, description = $missing, body = ExceptionInfo),
                )
            )]
            async fn $name(
                req: HttpRequest,
                user: User,
                path: web::Path<i64>,
                q: web::Query<PolicyQuery>,
                payload: web::Payload,
                state: web::Data<AppState>,
            ) -> ApiResult<HttpResponse> {
                let policy = q.on_not_found_policy;
                change_many(req, user, path.into_inner(), policy, payload, state, $assign).await
            }
        )*
    };
}
pub(super) use bulk_tagging;

bulk_tagging! {
    path: "/rest/v1/targettags/{targetTagId}/assigned", tag: "Target Tags", id: "targetTagId",
    ids: String "Controller ids" ["dev1", "dev2"],
    lacks: "Lacks UPDATE_TARGET", missing: "No such tag, or (policy) no such target",
    endpoints: [
        (put assign "Tags the targets with the given controller ids." "Tagged" true),
        (post assign_post
            "Tags the targets with the given controller ids (hawkBit ≤ 0.9 and its API docs use POST)."
            "Tagged" true),
        (delete unassign "Untags the targets with the given controller ids." "Untagged" false),
    ],
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
        .write(move |c| tags::tag_target(c, &tenant, id, &cid, assign))
        .await?;
    Ok(())
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
    let rows = state.db.read(move |c| tags::of_target(c, &tenant, &cid)).await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTag> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}
