//! `/rest/v1/distributionsettags`: tags of distribution sets and which sets carry them.
//!
//! Same shapes and rules as the target tags (`target_tags.rs`), with distribution sets named by their
//! numeric ids.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::distribution_sets::ds_json;
use super::target_tags::{MgmtTag, NotFoundPolicy, PolicyQuery, TagRequest, tag_json};
use super::{PagedList, Paging, body, body_list, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::tags::{self, Kind, Tag};

super::routes::api! {
    paths: [list, create, get_one, update, delete, assigned, assign, assign_put, unassign, assign_one, unassign_one],
    schemas: [MgmtTag, TagRequest, NotFoundPolicy],
}

fn to_mgmt(base: &str, t: Tag) -> MgmtTag {
    let href = format!("{base}/distributionsettags/{}", t.id);
    tag_json(t, href, "assignedDistributionSets")
}

/// Lists the distribution set tags of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettags",
    tag = "Distribution Set Tags",
    params(Paging),
    responses(
        (status = 200, description = "One page of tags", body = PagedList<MgmtTag>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let list = q.list(&query::DS_TAGS)?;
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| tags::list(c, Kind::DistributionSet, &tenant, &list))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |t| to_mgmt(&base, t))))
}

/// Creates distribution set tags.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettags",
    tag = "Distribution Set Tags",
    request_body = Vec<TagRequest>,
    responses(
        (status = 201, description = "The created tags", body = Vec<MgmtTag>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 409, description = "A tag with that name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateDistributionSet)?;
    let requests: Vec<TagRequest> = body_list(&req, payload, &state).await?;
    let fields = requests
        .into_iter()
        .map(|r| r.fields(true))
        .collect::<ApiResult<Vec<_>>>()?;
    let (tenant, by, at) = (tenant_of(&user), user.username.clone(), state.now());
    let rows = state
        .db
        .write(move |c| {
            let audit = tags::Audit { by: &by, at };
            tags::create(c, Kind::DistributionSet, &tenant, &fields, audit)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTag> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// One distribution set tag.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}",
    tag = "Distribution Set Tags",
    params(("distributionsetTagId" = i64, Path, description = "The tag's id")),
    responses(
        (status = 200, description = "The tag", body = MgmtTag),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSet)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state
        .db
        .read(move |c| tags::get(c, Kind::DistributionSet, &tenant, id))
        .await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Changes the given fields of a distribution set tag.
#[utoipa::path(
    put,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}",
    tag = "Distribution Set Tags",
    params(("distributionsetTagId" = i64, Path, description = "The tag's id")),
    request_body = TagRequest,
    responses(
        (status = 200, description = "The updated tag", body = MgmtTag),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
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
    user.require(Permission::UpdateDistributionSet)?;
    let r: TagRequest = body(&req, payload, &state).await?;
    let fields = r.fields(false)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, at) = (user.username.clone(), state.now());
    let t = state
        .db
        .write(move |c| {
            let audit = tags::Audit { by: &by, at };
            tags::update(c, Kind::DistributionSet, &tenant, id, &fields, audit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Deletes a distribution set tag; the sets lose it.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}",
    tag = "Distribution Set Tags",
    params(("distributionsetTagId" = i64, Path, description = "The tag's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such tag", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteDistributionSet)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state
        .db
        .write(move |c| tags::delete(c, Kind::DistributionSet, &tenant, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The distribution sets that carry a tag, in the shape of `GET /rest/v1/distributionsets`.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}/assigned",
    tag = "Distribution Set Tags",
    params(("distributionsetTagId" = i64, Path, description = "The tag's id"), Paging),
    responses(
        (status = 200, description = "One page of distribution sets", body = PagedList<Object>,
            example = super::examples::distribution_set_page),
        (status = 400, description = "Bad paging, sort, query or id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
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
    user.require(Permission::ReadDistributionSet)?;
    let list = q.list(&query::DISTRIBUTION_SETS)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let base = rest_base(&req, &state);
    let page: PagedList<Value> = state
        .db
        .run(move |c| {
            let page = tags::tagged_sets(c, &tenant, id, &list)?;
            let content = page
                .rows
                .iter()
                .map(|id| ds_json(c, *id, &base))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(PagedList::new(content, page.total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Tags (`assign`) or untags the distribution sets with the given ids, following `policy` for
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
    user.require(Permission::UpdateDistributionSet)?;
    // `[5]`, `["5"]`, one id alone, or hawkBit ≤ 0.6's `[{"id": 5}]`.
    let ids: Vec<i64> = body_list::<super::lenient::IdRef>(&req, payload, &state)
        .await?
        .iter()
        .map(super::lenient::IdRef::id)
        .collect();
    let tenant = tenant_of(&user);
    let missing = state
        .db
        .write(move |c| tags::tag_sets(c, &tenant, id, &ids, assign, policy.missing()))
        .await?;
    policy.after("DistributionSet", &missing)
}

super::target_tags::bulk_tagging! {
    path: "/rest/v1/distributionsettags/{distributionsetTagId}/assigned",
    tag: "Distribution Set Tags",
    id: "distributionsetTagId",
    ids: i64 "Distribution set ids" [1, 2],
    lacks: "Lacks UPDATE_DISTRIBUTION_SET", missing: "No such tag, or (policy) no such set",
    endpoints: [
        (post assign "Tags the distribution sets with the given ids." "Tagged" true),
        (put assign_put "Tags the distribution sets with the given ids (the same as POST)." "Tagged" true),
        (delete unassign "Untags the distribution sets with the given ids." "Untagged" false),
    ],
}

async fn change_one(user: User, path: (i64, i64), state: web::Data<AppState>, assign: bool) -> ApiResult<()> {
    user.require(Permission::UpdateDistributionSet)?;
    let tenant = tenant_of(&user);
    let (id, ds) = path;
    state
        .db
        .write(move |c| tags::tag_set(c, &tenant, id, ds, assign))
        .await?;
    Ok(())
}

/// Tags one distribution set.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}/assigned/{distributionsetId}",
    tag = "Distribution Set Tags",
    params(
        ("distributionsetTagId" = i64, Path, description = "The tag's id"),
        ("distributionsetId" = i64, Path, description = "The distribution set's id"),
    ),
    responses(
        (status = 204, description = "Tagged"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such tag or set", body = ExceptionInfo),
    )
)]
async fn assign_one(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    change_one(user, path.into_inner(), state, true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Untags one distribution set.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettags/{distributionsetTagId}/assigned/{distributionsetId}",
    tag = "Distribution Set Tags",
    params(
        ("distributionsetTagId" = i64, Path, description = "The tag's id"),
        ("distributionsetId" = i64, Path, description = "The distribution set's id"),
    ),
    responses(
        (status = 204, description = "Untagged"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such tag or set", body = ExceptionInfo),
    )
)]
async fn unassign_one(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    change_one(user, path.into_inner(), state, false).await?;
    Ok(HttpResponse::NoContent().finish())
}
