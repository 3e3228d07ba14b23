//! Key/value metadata of targets (`/rest/v1/targets/{targetId}/metadata`) and distribution sets
//! (`/rest/v1/distributionsets/{distributionSetId}/metadata`): one implementation over both tables.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{PagedList, Paging, body, body_list, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::metadata::{self, Owner};
use crate::store::query;

super::routes::api! {
    paths: [target_list, target_create, target_get, target_update, target_delete, ds_list, ds_create, ds_get, ds_update, ds_delete],
    schemas: [MgmtMetadata, MetadataValue],
}

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
enum OwnerRef {
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

    fn owner(&self) -> Owner {
        match self {
            Self::Target(cid) => Owner::Target(cid.clone()),
            Self::Ds(id) => Owner::Ds(*id),
        }
    }
}

fn to_json(e: metadata::Entry) -> MgmtMetadata {
    MgmtMetadata {
        key: e.key,
        value: e.value,
    }
}

async fn list(user: User, owner: OwnerRef, q: &Paging, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.read_permission())?;
    let list = q.list(owner.query_entity())?;
    let (tenant, owner) = (tenant_of(&user), owner.owner());
    let page = state
        .db
        .read(move |c| metadata::list(c, &tenant, &owner, &list))
        .await?;
    let content: Vec<MgmtMetadata> = page.rows.into_iter().map(to_json).collect();
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
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
    let (tenant, owner) = (tenant_of(&user), owner.owner());
    let new: Vec<metadata::Entry> = entries
        .iter()
        .map(|e| metadata::Entry {
            key: e.key.clone(),
            value: e.value.clone(),
            target_visible: false,
        })
        .collect();
    state
        .db
        .write(move |c| metadata::create(c, &tenant, &owner, &new))
        .await?;
    Ok(HttpResponse::Created().json(entries))
}

async fn get_one(user: User, owner: OwnerRef, key: String, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.read_permission())?;
    let (tenant, owner) = (tenant_of(&user), owner.owner());
    let entry = state
        .db
        .read(move |c| metadata::get(c, &tenant, &owner, &key))
        .await?;
    Ok(HttpResponse::Ok().json(to_json(entry)))
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
    let (tenant, owner) = (tenant_of(&user), owner.owner());
    let entry = state
        .db
        .write(move |c| metadata::update(c, &tenant, &owner, &key, Some(&v.value), None))
        .await?;
    Ok(HttpResponse::Ok().json(to_json(entry)))
}

async fn delete(user: User, owner: OwnerRef, key: String, state: &AppState) -> ApiResult<HttpResponse> {
    user.require(owner.update_permission())?;
    let (tenant, owner) = (tenant_of(&user), owner.owner());
    state
        .db
        .write(move |c| metadata::delete(c, &tenant, &owner, &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The five metadata endpoints of one owner kind, each with its own OpenAPI entry; `$owner` makes
/// the [`OwnerRef`] from the path's id.
macro_rules! metadata_endpoints {
    (
        owner: $owner:ident($id:ty), id: $id_name:literal, id_doc: $id_doc:literal, tag: $tag:literal,
        paths: ($all:literal, $one:literal),
        lacks: ($read:literal, $write:literal), missing: ($none:literal, $none_or_key:literal),
        list: $list:ident $list_doc:literal,
        create: $create:ident $create_doc:literal,
        get: $get:ident $get_doc:literal,
        update: $update:ident $update_doc:literal,
        delete: $delete:ident $delete_doc:literal $(,)?
    ) => {
        #[doc = $list_doc]
        #[utoipa::path(
            get,
            path = $all,
            tag = $tag,
            params(($id_name = $id, Path, description = $id_doc), Paging),
            responses(
                (status = 200, description = "One page of metadata", body = PagedList<MgmtMetadata>),
                (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
                (status = 403, description = $read, body = ExceptionInfo),
                (status = 404, description = $none, body = ExceptionInfo),
            )
        )]
        async fn $list(
            user: User,
            path: web::Path<$id>,
            q: web::Query<Paging>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            list(user, OwnerRef::$owner(path.into_inner()), &q, &state).await
        }

        #[doc = $create_doc]
        #[utoipa::path(
            post,
            path = $all,
            tag = $tag,
            params(($id_name = $id, Path, description = $id_doc)),
            request_body = Vec<MgmtMetadata>,
            responses(
                (status = 201, description = "The created entries", body = Vec<MgmtMetadata>),
                (status = 400, description = "Unreadable body, empty or too long key or value", body = ExceptionInfo),
                (status = 403, description = $write, body = ExceptionInfo),
                (status = 404, description = $none, body = ExceptionInfo),
                (status = 409, description = "A key exists already", body = ExceptionInfo),
                (status = 429, description = "More than 100 entries", body = ExceptionInfo),
            )
        )]
        async fn $create(
            req: HttpRequest,
            user: User,
            path: web::Path<$id>,
            payload: web::Payload,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            create(req, user, OwnerRef::$owner(path.into_inner()), payload, &state).await
        }

        #[doc = $get_doc]
        #[utoipa::path(
            get,
            path = $one,
            tag = $tag,
            params(
                ($id_name = $id, Path, description = $id_doc),
                ("metadataKey" = String, Path, description = "The key"),
            ),
            responses(
                (status = 200, description = "The entry", body = MgmtMetadata),
                (status = 403, description = $read, body = ExceptionInfo),
                (status = 404, description = $none_or_key, body = ExceptionInfo),
            )
        )]
        async fn $get(
            user: User,
            path: web::Path<($id, String)>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            let (id, key) = path.into_inner();
            get_one(user, OwnerRef::$owner(id), key, &state).await
        }

        #[doc = $update_doc]
        #[utoipa::path(
            put,
            path = $one,
            tag = $tag,
            params(
                ($id_name = $id, Path, description = $id_doc),
                ("metadataKey" = String, Path, description = "The key"),
            ),
            request_body = MetadataValue,
            responses(
                (status = 200, description = "The updated entry", body = MgmtMetadata),
                (status = 400, description = "Unreadable body or too long value", body = ExceptionInfo),
                (status = 403, description = $write, body = ExceptionInfo),
                (status = 404, description = $none_or_key, body = ExceptionInfo),
            )
        )]
        async fn $update(
            req: HttpRequest,
            user: User,
            path: web::Path<($id, String)>,
            payload: web::Payload,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            let (id, key) = path.into_inner();
            update(req, user, OwnerRef::$owner(id), key, payload, &state).await
        }

        #[doc = $delete_doc]
        #[utoipa::path(
            delete,
            path = $one,
            tag = $tag,
            params(
                ($id_name = $id, Path, description = $id_doc),
                ("metadataKey" = String, Path, description = "The key"),
            ),
            responses(
                (status = 204, description = "Deleted"),
                (status = 403, description = $write, body = ExceptionInfo),
                (status = 404, description = $none_or_key, body = ExceptionInfo),
            )
        )]
        async fn $delete(
            user: User,
            path: web::Path<($id, String)>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            let (id, key) = path.into_inner();
            delete(user, OwnerRef::$owner(id), key, &state).await
        }
    };
}

metadata_endpoints! {
    owner: Target(String), id: "targetId", id_doc: "The target's controller id", tag: "Targets",
    paths: ("/rest/v1/targets/{targetId}/metadata", "/rest/v1/targets/{targetId}/metadata/{metadataKey}"),
    lacks: ("Lacks READ_TARGET", "Lacks UPDATE_TARGET"),
    missing: ("No such target", "No such target or key"),
    list: target_list
        "The metadata of a target: `q` and `sort` on `key` and `value` (default `key:ASC`), paged.",
    create: target_create "Adds metadata entries to a target (at most 100 per target).",
    get: target_get "One metadata entry of a target.",
    update: target_update "Changes the value of a target's metadata entry.",
    delete: target_delete "Deletes a target's metadata entry.",
}

metadata_endpoints! {
    owner: Ds(i64), id: "distributionSetId", id_doc: "The distribution set's id", tag: "Distribution Sets",
    paths: (
        "/rest/v1/distributionsets/{distributionSetId}/metadata",
        "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}"
    ),
    lacks: ("Lacks READ_DISTRIBUTION_SET", "Lacks UPDATE_DISTRIBUTION_SET"),
    missing: ("No such distribution set", "No such distribution set or key"),
    list: ds_list
        "The metadata of a distribution set: `q` and `sort` on `key` and `value` (default `key:ASC`), paged.",
    create: ds_create "Adds metadata entries to a distribution set (at most 100 per set).",
    get: ds_get "One metadata entry of a distribution set.",
    update: ds_update "Changes the value of a distribution set's metadata entry.",
    delete: ds_delete "Deletes a distribution set's metadata entry.",
}
