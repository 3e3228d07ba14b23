//! `/rest/v1/targettypes`: kinds of targets and the distribution set types they accept, and
//! `/targets/{id}/targettype` to give a target its type.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ds_types::{IdRef, MgmtDistributionSetType, ds_type_json, find_ds_type};
use super::sm_types::{COLOUR_MAX, DESCRIPTION_MAX, KEY_MAX, NAME_MAX, duplicate_type};
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::Changes;
use crate::store::models::{DsType, TargetType};
use crate::store::schema::{ds_types, target_type_ds_types as ttds, target_types, targets};
use crate::store::targets::find_target;

pub fn configure(cfg: &mut web::ServiceConfig) {
    const ONE: &str = "/targettypes/{targetTypeId}";
    const COMPAT: &str = "/targettypes/{targetTypeId}/compatibledistributionsettypes";
    const COMPAT_ONE: &str =
        "/targettypes/{targetTypeId}/compatibledistributionsettypes/{distributionSetTypeId}";
    cfg.route("/targettypes", web::get().to(list))
        .route("/targettypes", web::post().to(create))
        .route(ONE, web::get().to(get_one))
        .route(ONE, web::put().to(update))
        .route(ONE, web::delete().to(delete))
        .route(COMPAT, web::get().to(compatible))
        .route(COMPAT, web::post().to(add_compatible))
        .route(COMPAT_ONE, web::delete().to(remove_compatible))
        .route("/targets/{targetId}/targettype", web::post().to(assign_type))
        .route("/targets/{targetId}/targettype", web::delete().to(unassign_type));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get_one,
        update,
        delete,
        compatible,
        add_compatible,
        remove_compatible,
        assign_type,
        unassign_type
    ),
    components(schemas(MgmtTargetType, TargetTypeCreate, TargetTypeUpdate))
)]
pub struct Api;

/// hawkBit's `MgmtTargetType`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtTargetType {
    #[serde(flatten)]
    pub audit: json::Audit,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "Raspberry Pi 4")]
    pub name: String,
    #[schema(example = "pi4")]
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Raspberry Pi 4 gateways")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "rgb(200,0,80)")]
    pub colour: Option<String>,
    /// Always false: target types are deleted for good.
    #[schema(example = false)]
    pub deleted: bool,
    /// `self` and `compatibledistributionsettypes`.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_target_type_links)]
    pub links: Value,
}

fn to_mgmt(base: &str, t: TargetType) -> MgmtTargetType {
    let href = format!("{base}/targettypes/{}", t.id);
    MgmtTargetType {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        links: json!({
            "self": { "href": href },
            "compatibledistributionsettypes": { "href": format!("{href}/compatibledistributionsettypes") },
        }),
        id: t.id,
        name: t.name,
        key: t.type_key,
        description: t.description,
        colour: t.colour,
        deleted: false,
    }
}

/// hawkBit's `MgmtTargetTypeRequestBodyPost`: `key` defaults to `name` and `name` to `key`.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct TargetTypeCreate {
    #[schema(example = "Raspberry Pi 4")]
    name: Option<String>,
    #[schema(example = "pi4")]
    key: Option<String>,
    #[schema(example = "Raspberry Pi 4 gateways")]
    description: Option<String>,
    #[schema(example = "rgb(200,0,80)")]
    colour: Option<String>,
    /// Distribution set types targets of this type accept.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 1}]))]
    compatibledistributionsettypes: Vec<IdRef>,
}

/// hawkBit's `MgmtTargetTypeRequestBodyPut` (absent fields stay).
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct TargetTypeUpdate {
    #[schema(example = "Raspberry Pi 4")]
    name: Option<String>,
    #[schema(example = "Raspberry Pi 4 gateways, 4 GB")]
    description: Option<String>,
    #[schema(example = "rgb(200,0,80)")]
    colour: Option<String>,
}

fn check_texts(name: Option<&str>, description: Option<&str>, colour: Option<&str>) -> ApiResult<()> {
    if name.is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::constraint_violation("name must not be empty."));
    }
    check_len("name", name.unwrap_or(""), NAME_MAX)?;
    check_len("description", description.unwrap_or(""), DESCRIPTION_MAX)?;
    Ok(check_len("colour", colour.unwrap_or(""), COLOUR_MAX)?)
}

impl TargetTypeCreate {
    /// The `(key, name)` to store, after hawkBit's defaults and checks.
    fn key_and_name(&self) -> ApiResult<(String, String)> {
        let (key, name) = match (&self.key, &self.name) {
            (None, None) => return Err(ApiError::target_type_key_or_name_required()),
            (k, n) => (
                k.clone().or_else(|| n.clone()).unwrap_or_default(),
                n.clone().or_else(|| k.clone()).unwrap_or_default(),
            ),
        };
        if key.trim().is_empty() {
            return Err(ApiError::constraint_violation("key must not be empty."));
        }
        check_len("key", &key, KEY_MAX)?;
        check_texts(Some(&name), self.description.as_deref(), self.colour.as_deref())?;
        Ok((key, name))
    }
}

fn find_type(c: &mut AnyConnection, tenant: &str, id: i64) -> ApiResult<TargetType> {
    target_types::table
        .filter(target_types::tenant.eq(tenant).and(target_types::id.eq(id)))
        .select(TargetType::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("TargetType", id))
}

/// Makes the distribution set types `ds_type_ids` (of `tenant`; 404 otherwise) compatible with `tt`.
fn add_compatibles(c: &mut AnyConnection, tenant: &str, tt: i64, ds_type_ids: &[i64]) -> ApiResult<()> {
    for &d in ds_type_ids {
        find_ds_type(c, tenant, d)?;
        let present: i64 = ttds::table
            .filter(ttds::target_type_id.eq(tt).and(ttds::ds_type_id.eq(d)))
            .count()
            .get_result(c)?;
        if present == 0 {
            diesel::insert_into(ttds::table)
                .values((ttds::target_type_id.eq(tt), ttds::ds_type_id.eq(d)))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Lists the target types of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes",
    tag = "Target Types",
    params(Paging),
    responses(
        (status = 200, description = "One page of types", body = PagedList<MgmtTargetType>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    let spec = q.spec(&query::TARGET_TYPES)?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (rows, total) = state
        .db
        .run(move |c| {
            let total: i64 = target_types::table
                .filter(target_types::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .count()
                .get_result(c)?;
            let rows = target_types::table
                .filter(target_types::tenant.eq(&tenant))
                .filter(spec.filter.clone())
                .order_by(spec.order.clone())
                .offset(offset)
                .limit(limit)
                .select(TargetType::as_select())
                .load(c)?;
            Ok((rows, total))
        })
        .await?;
    let base = rest_base(&req, &state);
    let content = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

/// Creates target types with their compatible distribution set types.
#[utoipa::path(
    post,
    path = "/rest/v1/targettypes",
    tag = "Target Types",
    request_body = Vec<TargetTypeCreate>,
    responses(
        (status = 201, description = "The created types", body = Vec<MgmtTargetType>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "A distribution set type does not exist", body = ExceptionInfo),
        (status = 409, description = "A type with that key or name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTargetType)?;
    let requests: Vec<TargetTypeCreate> = body_list(&req, payload, &state).await?;
    let names = requests
        .iter()
        .map(TargetTypeCreate::key_and_name)
        .collect::<ApiResult<Vec<_>>>()?;
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .tx(move |c| {
            let mut out = Vec::with_capacity(requests.len());
            for (r, (key, name)) in requests.iter().zip(&names) {
                let id: i64 = diesel::insert_into(target_types::table)
                    .values((
                        target_types::tenant.eq(&tenant),
                        target_types::type_key.eq(key),
                        target_types::name.eq(name),
                        target_types::description.eq(r.description.as_deref()),
                        target_types::colour.eq(r.colour.as_deref()),
                        target_types::created_at.eq(now),
                        target_types::created_by.eq(&by),
                        target_types::last_modified_at.eq(now),
                        target_types::last_modified_by.eq(&by),
                    ))
                    .returning(target_types::id)
                    .get_result(c)
                    .map_err(|e| duplicate_type(e, key, name))?;
                let ds: Vec<i64> = r.compatibledistributionsettypes.iter().map(|d| d.id).collect();
                add_compatibles(c, &tenant, id, &ds)?;
                out.push(find_type(c, &tenant, id)?);
            }
            Ok(out)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtTargetType> = rows.into_iter().map(|t| to_mgmt(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// One target type.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The type", body = MgmtTargetType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| find_type(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Changes the given name, description and colour of a target type.
#[utoipa::path(
    put,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    request_body = TargetTypeUpdate,
    responses(
        (status = 200, description = "The updated type", body = MgmtTargetType),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
        (status = 409, description = "Another type has that name", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    let r: TargetTypeUpdate = body(&req, payload, &state).await?;
    check_texts(r.name.as_deref(), r.description.as_deref(), r.colour.as_deref())?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .tx(move |c| {
            let t = find_type(c, &tenant, id)?;
            let name = r.name.as_deref().unwrap_or(&t.name);
            diesel::update(target_types::table.find(t.id))
                .set((
                    target_types::name.eq(name),
                    target_types::description.eq(r.description.as_deref().or(t.description.as_deref())),
                    target_types::colour.eq(r.colour.as_deref().or(t.colour.as_deref())),
                    target_types::last_modified_at.eq(now),
                    target_types::last_modified_by.eq(&by),
                ))
                .execute(c)
                .map_err(|e| duplicate_type(e, &t.type_key, name))?;
            find_type(c, &tenant, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(to_mgmt(&rest_base(&req, &state), t)))
}

/// Deletes a target type that no target has.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettypes/{targetTypeId}",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
        (status = 409, description = "Targets have the type", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTargetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    state
        .db
        .tx(move |c| {
            let t = find_type(c, &tenant, id)?;
            let users: i64 = targets::table
                .filter(targets::target_type_id.eq(t.id))
                .count()
                .get_result(c)?;
            if users > 0 {
                return Err(ApiError::target_type_in_use(format!(
                    "Target type {id} is assigned to {users} target(s) and cannot be deleted."
                )));
            }
            diesel::delete(ttds::table.filter(ttds::target_type_id.eq(t.id))).execute(c)?;
            diesel::delete(target_types::table.find(t.id)).execute(c)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The distribution set types targets of this type accept.
#[utoipa::path(
    get,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The compatible distribution set types", body = Vec<MgmtDistributionSetType>),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn compatible(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let rows = state
        .db
        .run(move |c| {
            let t = find_type(c, &tenant, id)?;
            let ids = ttds::table
                .filter(ttds::target_type_id.eq(t.id))
                .select(ttds::ds_type_id);
            Ok(ds_types::table
                .filter(ds_types::tenant.eq(&tenant))
                .filter(ds_types::id.eq_any(ids))
                .order(ds_types::id.asc())
                .select(DsType::as_select())
                .load(c)?)
        })
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtDistributionSetType> = rows.into_iter().map(|t| ds_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}

/// Makes distribution set types compatible with this target type.
#[utoipa::path(
    post,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes",
    tag = "Target Types",
    params(("targetTypeId" = i64, Path, description = "The type's id")),
    request_body(content = Vec<IdRef>, description = "Distribution set type ids"),
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such target or distribution set type", body = ExceptionInfo),
    )
)]
async fn add_compatible(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let ids: Vec<IdRef> = body_list(&req, payload, &state).await?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    state
        .db
        .tx(move |c| {
            let t = find_type(c, &tenant, id)?;
            let ds: Vec<i64> = ids.iter().map(|d| d.id).collect();
            add_compatibles(c, &tenant, t.id, &ds)?;
            touch(c, t.id, now, &by)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn touch(c: &mut AnyConnection, id: i64, now: i64, by: &str) -> ApiResult<()> {
    diesel::update(target_types::table.find(id))
        .set((
            target_types::last_modified_at.eq(now),
            target_types::last_modified_by.eq(by),
        ))
        .execute(c)?;
    Ok(())
}

/// Makes a distribution set type no longer compatible with this target type.
#[utoipa::path(
    delete,
    path = "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes/{distributionSetTypeId}",
    tag = "Target Types",
    params(
        ("targetTypeId" = i64, Path, description = "The type's id"),
        ("distributionSetTypeId" = i64, Path, description = "The distribution set type's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such target or distribution set type", body = ExceptionInfo),
    )
)]
async fn remove_compatible(
    user: User,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTargetType)?;
    user.require(Permission::ReadDistributionSetType)?;
    let tenant = tenant_of(&user);
    let (id, ds) = path.into_inner();
    let (by, now) = (user.username.clone(), state.now());
    state
        .db
        .tx(move |c| {
            let t = find_type(c, &tenant, id)?;
            find_ds_type(c, &tenant, ds)?;
            diesel::delete(ttds::table.filter(ttds::target_type_id.eq(t.id).and(ttds::ds_type_id.eq(ds))))
                .execute(c)?;
            touch(c, t.id, now, &by)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets (`Some`) or clears a target's type.
async fn set_type(
    user: User,
    cid: String,
    ty: Option<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let tenant = tenant_of(&user);
    let (by, now) = (user.username.clone(), state.now());
    let (t2, c2) = (tenant.clone(), cid.clone());
    state
        .db
        .tx(move |c| {
            let t = find_target(c, &t2, &c2)?;
            if let Some(ty) = ty {
                find_type(c, &t2, ty)?;
            }
            diesel::update(targets::table.find(t.id))
                .set((
                    targets::target_type_id.eq(ty),
                    targets::last_modified_at.eq(now),
                    targets::last_modified_by.eq(&by),
                ))
                .execute(c)?;
            Ok(())
        })
        .await?;
    state.apply(Changes::device(&tenant, &cid));
    Ok(HttpResponse::NoContent().finish())
}

/// Gives a target a type.
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/targettype",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body(content = IdRef, description = "The target type's id"),
    responses(
        (status = 204, description = "Assigned"),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or target type", body = ExceptionInfo),
    )
)]
async fn assign_type(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: IdRef = body(&req, payload, &state).await?;
    set_type(user, path.into_inner(), Some(r.id), state).await
}

/// Takes a target's type away.
#[utoipa::path(
    delete,
    path = "/rest/v1/targets/{targetId}/targettype",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 204, description = "Unassigned"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn unassign_type(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_type(user, path.into_inner(), None, state).await
}
