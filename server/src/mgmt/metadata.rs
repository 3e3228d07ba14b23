//! Key/value metadata of targets (`/rest/v1/targets/{targetId}/metadata`) and distribution sets
//! (`/rest/v1/distributionsets/{distributionSetId}/metadata`): one implementation over both tables.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{PagedList, Paging, body, body_list, check_len, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::query::{self, ListSpec};
use crate::store::schema::{distribution_sets, ds_metadata, target_metadata};
use crate::store::targets::find_target;

/// hawkBit's `maxMetaDataEntriesPerTarget` / `maxMetaDataEntriesPerDistributionSet`.
const MAX_ENTRIES: i64 = 100;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 4000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/targets/{cid}/metadata", web::get().to(target_list))
        .route("/targets/{cid}/metadata", web::post().to(target_create))
        .route("/targets/{cid}/metadata/{key}", web::get().to(target_get))
        .route("/targets/{cid}/metadata/{key}", web::put().to(target_update))
        .route("/targets/{cid}/metadata/{key}", web::delete().to(target_delete))
        .route("/distributionsets/{id}/metadata", web::get().to(ds_list))
        .route("/distributionsets/{id}/metadata", web::post().to(ds_create))
        .route("/distributionsets/{id}/metadata/{key}", web::get().to(ds_get))
        .route("/distributionsets/{id}/metadata/{key}", web::put().to(ds_update))
        .route(
            "/distributionsets/{id}/metadata/{key}",
            web::delete().to(ds_delete),
        );
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        target_list,
        target_create,
        target_get,
        target_update,
        target_delete,
        ds_list,
        ds_create,
        ds_get,
        ds_update,
        ds_delete
    ),
    components(schemas(MgmtMetadata, MetadataValue))
)]
pub struct Api;

/// One metadata entry (hawkBit's `MgmtMetadata`); in a create request `value` may be left out.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]

pub struct MgmtMetadata {
    #[schema(example = "hw.revision")]
    pub key: String,
    #[serde(default)]
    #[schema(example = "2")]
    pub value: String,
}

/// The body of a metadata update (hawkBit's `MgmtMetadataBodyPut`).
#[derive(Deserialize, utoipa::ToSchema)]

pub struct MetadataValue {
    #[serde(default)]
    #[schema(example = "3")]
    pub value: String,
}

/// Whose metadata a request addresses, as named in its path.
#[derive(Clone)]
pub(crate) enum OwnerRef {
    Target(String),
    Ds(i64),
}

impl OwnerRef {
    fn read_permission(&self) -> Permission {
        match self {
            Self::Target(_) => Permission::ReadTarget,
            Self::Ds(_) => Permission::ReadDistributionSet,
        }
    }

    /// What `q` and `sort` may name in this owner's metadata.
    fn query_entity(&self) -> &'static query::Entity {
        match self {
            Self::Target(_) => &query::TARGET_METADATA,
            Self::Ds(_) => &query::DS_METADATA,
        }
    }

    fn update_permission(&self) -> Permission {
        match self {
            Self::Target(_) => Permission::UpdateTarget,
            Self::Ds(_) => Permission::UpdateDistributionSet,
        }
    }

    /// The owner's row id, if it exists in `tenant`.
    fn resolve(&self, c: &mut AnyConnection, tenant: &str) -> ApiResult<Owner> {
        match self {
            Self::Target(cid) => Ok(Owner::Target(find_target(c, tenant, cid)?.id)),
            Self::Ds(id) => {
                let found: Option<i64> = distribution_sets::table
                    .find(id)
                    .filter(distribution_sets::tenant.eq(tenant))
                    .filter(distribution_sets::deleted.eq(false))
                    .select(distribution_sets::id)
                    .first(c)
                    .optional()?;
                found
                    .map(Owner::Ds)
                    .ok_or_else(|| ApiError::not_found("DistributionSet", id))
            }
        }
    }
}

/// A resolved owner: the row id in `targets` or `distribution_sets`.
#[derive(Clone, Copy)]
enum Owner {
    Target(i64),
    Ds(i64),
}

impl Owner {
    fn entity(self) -> &'static str {
        match self {
            Self::Target(_) => "TargetMetadata",
            Self::Ds(_) => "DistributionSetMetadata",
        }
    }

    fn all(self, c: &mut AnyConnection) -> ApiResult<Vec<(String, String)>> {
        Ok(match self {
            Self::Target(id) => target_metadata::table
                .filter(target_metadata::target_id.eq(id))
                .select((target_metadata::meta_key, target_metadata::meta_value))
                .load(c)?,
            Self::Ds(id) => ds_metadata::table
                .filter(ds_metadata::ds_id.eq(id))
                .select((ds_metadata::meta_key, ds_metadata::meta_value))
                .load(c)?,
        })
    }

    /// One page of the entries that `spec` selects, in its order, and how many it selects in all.
    fn page(
        self,
        c: &mut AnyConnection,
        spec: ListSpec,
        offset: i64,
        limit: i64,
    ) -> ApiResult<(Vec<(String, String)>, i64)> {
        Ok(match self {
            Self::Target(id) => {
                let mine = target_metadata::target_id.eq(id);
                let total = target_metadata::table
                    .filter(mine)
                    .filter(spec.filter.clone())
                    .count()
                    .get_result(c)?;
                let rows = target_metadata::table
                    .filter(mine)
                    .filter(spec.filter)
                    .order_by(spec.order)
                    .offset(offset)
                    .limit(limit)
                    .select((target_metadata::meta_key, target_metadata::meta_value))
                    .load(c)?;
                (rows, total)
            }
            Self::Ds(id) => {
                let mine = ds_metadata::ds_id.eq(id);
                let total = ds_metadata::table
                    .filter(mine)
                    .filter(spec.filter.clone())
                    .count()
                    .get_result(c)?;
                let rows = ds_metadata::table
                    .filter(mine)
                    .filter(spec.filter)
                    .order_by(spec.order)
                    .offset(offset)
                    .limit(limit)
                    .select((ds_metadata::meta_key, ds_metadata::meta_value))
                    .load(c)?;
                (rows, total)
            }
        })
    }

    fn get(self, c: &mut AnyConnection, key: &str) -> ApiResult<String> {
        let found: Option<String> = match self {
            Self::Target(id) => target_metadata::table
                .find((id, key))
                .select(target_metadata::meta_value)
                .first(c)
                .optional()?,
            Self::Ds(id) => ds_metadata::table
                .find((id, key))
                .select(ds_metadata::meta_value)
                .first(c)
                .optional()?,
        };
        found.ok_or_else(|| ApiError::not_found(self.entity(), key))
    }

    fn insert(self, c: &mut AnyConnection, key: &str, value: &str) -> ApiResult<()> {
        match self {
            Self::Target(id) => diesel::insert_into(target_metadata::table)
                .values((
                    target_metadata::target_id.eq(id),
                    target_metadata::meta_key.eq(key),
                    target_metadata::meta_value.eq(value),
                ))
                .execute(c)?,
            Self::Ds(id) => diesel::insert_into(ds_metadata::table)
                .values((
                    ds_metadata::ds_id.eq(id),
                    ds_metadata::meta_key.eq(key),
                    ds_metadata::meta_value.eq(value),
                ))
                .execute(c)?,
        };
        Ok(())
    }

    /// Sets the value of an existing key; 404 when there is none.
    fn update(self, c: &mut AnyConnection, key: &str, value: &str) -> ApiResult<()> {
        let n = match self {
            Self::Target(id) => diesel::update(target_metadata::table.find((id, key)))
                .set(target_metadata::meta_value.eq(value))
                .execute(c)?,
            Self::Ds(id) => diesel::update(ds_metadata::table.find((id, key)))
                .set(ds_metadata::meta_value.eq(value))
                .execute(c)?,
        };
        if n == 0 {
            return Err(ApiError::not_found(self.entity(), key));
        }
        Ok(())
    }

    fn delete(self, c: &mut AnyConnection, key: &str) -> ApiResult<()> {
        let n = match self {
            Self::Target(id) => diesel::delete(target_metadata::table.find((id, key))).execute(c)?,
            Self::Ds(id) => diesel::delete(ds_metadata::table.find((id, key))).execute(c)?,
        };
        if n == 0 {
            return Err(ApiError::not_found(self.entity(), key));
        }
        Ok(())
    }
}

fn validate(key: &str, value: &str) -> ApiResult<()> {
    if key.is_empty() {
        return Err(ApiError::constraint_violation("key must not be empty."));
    }
    check_len("key", key, MAX_KEY_LEN)?;
    Ok(check_len("value", value, MAX_VALUE_LEN)?)
}

async fn list(user: User, owner: OwnerRef, q: &Paging, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.read_permission())?;
    let spec = q.spec(owner.query_entity())?;
    let tenant = tenant_of(&user);
    let (offset, limit) = (q.offset(), q.limit());
    let (entries, total) = state
        .db
        .run(move |c| owner.resolve(c, &tenant)?.page(c, spec.clone(), offset, limit))
        .await?;
    let content: Vec<MgmtMetadata> = entries
        .into_iter()
        .map(|(key, value)| MgmtMetadata { key, value })
        .collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, total)))
}

async fn create(
    req: HttpRequest,
    user: User,
    owner: OwnerRef,
    payload: web::Payload,
    state: &AppState,
) -> ApiResult<HttpResponse> {
    user.require(owner.update_permission())?;
    let entries: Vec<MgmtMetadata> = body_list(&req, payload, state).await?;
    for e in &entries {
        validate(&e.key, &e.value)?;
    }
    let tenant = tenant_of(&user);
    let created = state
        .db
        .tx(move |c| {
            create_entries(c, owner.clone(), &tenant, &entries)?;
            Ok(entries.clone())
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Adds entries to an owner's metadata: within the quota, no key twice.
pub(crate) fn create_entries(
    c: &mut AnyConnection,
    owner: OwnerRef,
    tenant: &str,
    entries: &[MgmtMetadata],
) -> ApiResult<()> {
    for e in entries {
        validate(&e.key, &e.value)?;
    }
    let owner = owner.resolve(c, tenant)?;
    let existing = owner.all(c)?;
    if existing.len() as i64 + entries.len() as i64 > MAX_ENTRIES {
        return Err(ApiError::quota(format!(
            "Quota exceeded: at most {MAX_ENTRIES} metadata entries are allowed per entity."
        )));
    }
    for (i, e) in entries.iter().enumerate() {
        let repeated = entries[..i].iter().any(|p| p.key == e.key);
        if repeated || existing.iter().any(|(k, _)| *k == e.key) {
            return Err(ApiError::already_exists(format!(
                "Metadata with key {} already exists.",
                e.key
            )));
        }
        owner.insert(c, &e.key, &e.value)?;
    }
    Ok(())
}

async fn get_one(user: User, owner: OwnerRef, key: String, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.read_permission())?;
    let tenant = tenant_of(&user);
    let value = state
        .db
        .run(move |c| owner.resolve(c, &tenant)?.get(c, &key).map(|v| (key.clone(), v)))
        .await?;
    Ok(HttpResponse::Ok().json(MgmtMetadata {
        key: value.0,
        value: value.1,
    }))
}

async fn update(
    req: HttpRequest,
    user: User,
    owner: OwnerRef,
    key: String,
    payload: web::Payload,
    state: &AppState,
) -> ApiResult<HttpResponse> {
    user.require(owner.update_permission())?;
    let v: MetadataValue = body(&req, payload, state).await?;
    validate(&key, &v.value)?;
    let tenant = tenant_of(&user);
    let (k, value) = (key.clone(), v.value.clone());
    state
        .db
        .tx(move |c| owner.resolve(c, &tenant)?.update(c, &k, &value))
        .await?;
    Ok(HttpResponse::Ok().json(MgmtMetadata { key, value: v.value }))
}

async fn delete(user: User, owner: OwnerRef, key: String, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.update_permission())?;
    let tenant = tenant_of(&user);
    state
        .db
        .tx(move |c| owner.resolve(c, &tenant)?.delete(c, &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The metadata of a target: `q` and `sort` on `key` and `value` (default `key:ASC`), paged.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/metadata",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id"), Paging),
    responses(
        (status = 200, description = "One page of metadata", body = PagedList<MgmtMetadata>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn target_list(
    user: User,
    path: web::Path<String>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    list(user, OwnerRef::Target(path.into_inner()), &q, &state).await
}

/// Adds metadata entries to a target (at most 100 per target).
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/metadata",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body = Vec<MgmtMetadata>,
    responses(
        (status = 201, description = "The created entries", body = Vec<MgmtMetadata>),
        (status = 400, description = "Unreadable body, empty or too long key or value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
        (status = 409, description = "A key exists already", body = ExceptionInfo),
        (status = 429, description = "More than 100 entries", body = ExceptionInfo),
    )
)]
async fn target_create(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    create(req, user, OwnerRef::Target(path.into_inner()), payload, &state).await
}

/// One metadata entry of a target.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/metadata/{metadataKey}",
    tag = "Targets",
    params(
        ("targetId" = String, Path, description = "The target's controller id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    responses(
        (status = 200, description = "The entry", body = MgmtMetadata),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or key", body = ExceptionInfo),
    )
)]
async fn target_get(
    user: User,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (cid, key) = path.into_inner();
    get_one(user, OwnerRef::Target(cid), key, &state).await
}

/// Changes the value of a target's metadata entry.
#[utoipa::path(
    put,
    path = "/rest/v1/targets/{targetId}/metadata/{metadataKey}",
    tag = "Targets",
    params(
        ("targetId" = String, Path, description = "The target's controller id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    request_body = MetadataValue,
    responses(
        (status = 200, description = "The updated entry", body = MgmtMetadata),
        (status = 400, description = "Unreadable body or too long value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or key", body = ExceptionInfo),
    )
)]
async fn target_update(
    req: HttpRequest,
    user: User,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (cid, key) = path.into_inner();
    update(req, user, OwnerRef::Target(cid), key, payload, &state).await
}

/// Deletes a target's metadata entry.
#[utoipa::path(
    delete,
    path = "/rest/v1/targets/{targetId}/metadata/{metadataKey}",
    tag = "Targets",
    params(
        ("targetId" = String, Path, description = "The target's controller id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target or key", body = ExceptionInfo),
    )
)]
async fn target_delete(
    user: User,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (cid, key) = path.into_inner();
    delete(user, OwnerRef::Target(cid), key, &state).await
}

/// The metadata of a distribution set: `q` and `sort` on `key` and `value` (default `key:ASC`), paged.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/metadata",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id"), Paging),
    responses(
        (status = 200, description = "One page of metadata", body = PagedList<MgmtMetadata>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
    )
)]
async fn ds_list(
    user: User,
    path: web::Path<i64>,
    q: web::Query<Paging>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    list(user, OwnerRef::Ds(path.into_inner()), &q, &state).await
}

/// Adds metadata entries to a distribution set (at most 100 per set).
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsets/{distributionSetId}/metadata",
    tag = "Distribution Sets",
    params(("distributionSetId" = i64, Path, description = "The distribution set's id")),
    request_body = Vec<MgmtMetadata>,
    responses(
        (status = 201, description = "The created entries", body = Vec<MgmtMetadata>),
        (status = 400, description = "Unreadable body, empty or too long key or value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set", body = ExceptionInfo),
        (status = 409, description = "A key exists already", body = ExceptionInfo),
        (status = 429, description = "More than 100 entries", body = ExceptionInfo),
    )
)]
async fn ds_create(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    create(req, user, OwnerRef::Ds(path.into_inner()), payload, &state).await
}

/// One metadata entry of a distribution set.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}",
    tag = "Distribution Sets",
    params(
        ("distributionSetId" = i64, Path, description = "The distribution set's id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    responses(
        (status = 200, description = "The entry", body = MgmtMetadata),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or key", body = ExceptionInfo),
    )
)]
async fn ds_get(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (id, key) = path.into_inner();
    get_one(user, OwnerRef::Ds(id), key, &state).await
}

/// Changes the value of a distribution set's metadata entry.
#[utoipa::path(
    put,
    path = "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}",
    tag = "Distribution Sets",
    params(
        ("distributionSetId" = i64, Path, description = "The distribution set's id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    request_body = MetadataValue,
    responses(
        (status = 200, description = "The updated entry", body = MgmtMetadata),
        (status = 400, description = "Unreadable body or too long value", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or key", body = ExceptionInfo),
    )
)]
async fn ds_update(
    req: HttpRequest,
    user: User,
    path: web::Path<(i64, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (id, key) = path.into_inner();
    update(req, user, OwnerRef::Ds(id), key, payload, &state).await
}

/// Deletes a distribution set's metadata entry.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}",
    tag = "Distribution Sets",
    params(
        ("distributionSetId" = i64, Path, description = "The distribution set's id"),
        ("metadataKey" = String, Path, description = "The key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such distribution set or key", body = ExceptionInfo),
    )
)]
async fn ds_delete(
    user: User,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (id, key) = path.into_inner();
    delete(user, OwnerRef::Ds(id), key, &state).await
}
