//! `/rest/v1/distributionsettypes`: the kinds of distribution sets and which software module types
//! they must (mandatory) or may (optional) hold.
//!
//! Once a distribution set has the type its module lists are frozen (hawkBit's `EntityReadOnly`), and
//! deleting it only marks it `deleted`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sm_types::{MgmtSoftwareModuleType, TypeUpdate, sm_type_json};
use super::soft_deleted::SoftDeleted;
use super::{PagedList, Paging, body, body_list, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::DsType;
use crate::store::types::{NewType, ds};

super::routes::api! {
    paths: [list, create, get_one, update, delete, list_mandatory, add_mandatory, get_mandatory, remove_mandatory, list_optional, add_optional, get_optional, remove_optional],
    schemas: [MgmtDistributionSetType, DsTypeCreate, TypeUpdate, IdRef],
}

/// hawkBit's `MgmtDistributionSetType`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MgmtDistributionSetType {
    #[serde(flatten)]
    pub audit: json::Audit,
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "OS")]
    pub name: String,
    #[schema(example = "os")]
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Operating system image")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "rgb(0,128,255)")]
    pub colour: Option<String>,
    #[schema(example = false)]
    pub deleted: bool,
    /// `self`, `mandatorymodules` and `optionalmodules`.
    #[serde(rename = "_links")]
    #[schema(schema_with = super::examples::mgmt_distribution_set_type_links)]
    pub links: Value,
}

pub(super) fn ds_type_json(base: &str, t: DsType) -> MgmtDistributionSetType {
    let href = format!("{base}/distributionsettypes/{}", t.id);
    MgmtDistributionSetType {
        audit: json::Audit {
            created_by: t.created_by,
            created_at: t.created_at,
            last_modified_by: t.last_modified_by,
            last_modified_at: t.last_modified_at,
        },
        links: json!({
            "self": { "href": href },
            "mandatorymodules": { "href": format!("{href}/mandatorymoduletypes") },
            "optionalmodules": { "href": format!("{href}/optionalmoduletypes") },
        }),
        id: t.id,
        name: t.name,
        key: t.type_key,
        description: t.description,
        colour: t.colour,
        deleted: t.deleted,
    }
}

/// `{"id": ...}`: hawkBit's `MgmtId` and its `*TypeAssignment`s.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct IdRef {
    #[schema(example = 1)]
    pub id: i64,
}

/// hawkBit's `MgmtDistributionSetTypeRequestBodyPost`.
#[derive(Deserialize, utoipa::ToSchema)]

pub(super) struct DsTypeCreate {
    #[schema(example = "OS with apps")]
    name: Option<String>,
    #[schema(example = "os_app")]
    key: Option<String>,
    #[schema(example = "Operating system and optional applications")]
    description: Option<String>,
    #[schema(example = "rgb(0,128,255)")]
    colour: Option<String>,
    /// Software module types a set of this type must hold.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 1}]))]
    mandatorymodules: Vec<IdRef>,
    /// Software module types a set of this type may hold.
    #[serde(default, deserialize_with = "super::lenient::one_or_many")]
    #[schema(example = json!([{"id": 2}]))]
    optionalmodules: Vec<IdRef>,
}

impl DsTypeCreate {
    fn into_new(self) -> ds::NewDsType {
        ds::NewDsType {
            fields: NewType {
                key: self.key,
                name: self.name,
                description: self.description,
                colour: self.colour,
            },
            mandatory: self.mandatorymodules.iter().map(|m| m.id).collect(),
            optional: self.optionalmodules.iter().map(|m| m.id).collect(),
        }
    }
}

/// Lists the distribution set types of the tenant; deleted ones only as `soft_deleted_mode` asks.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes",
    tag = "Distribution Set Types",
    params(Paging, SoftDeleted),
    responses(
        (status = 200, description = "One page of types", body = PagedList<MgmtDistributionSetType>),
        (status = 400, description = "Bad paging, sort or query", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
    )
)]
async fn list(
    req: HttpRequest,
    user: User,
    q: web::Query<Paging>,
    mode: web::Query<SoftDeleted>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let list = q.list(&query::DS_TYPES)?;
    let tenant = tenant_of(&user);
    let deleted = mode.soft_deleted_mode.deleted();
    let page = state
        .db
        .read(move |c| ds::list(c, &tenant, &deleted, &list))
        .await?;
    let base = rest_base(&req, &state);
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, |t| ds_type_json(&base, t))))
}

/// Creates distribution set types with their module types.
#[utoipa::path(
    post,
    path = "/rest/v1/distributionsettypes",
    tag = "Distribution Set Types",
    request_body = Vec<DsTypeCreate>,
    responses(
        (status = 201, description = "The created types", body = Vec<MgmtDistributionSetType>),
        (status = 400, description = "Bad body", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "A software module type does not exist", body = ExceptionInfo),
        (status = 409, description = "A type with that key or name exists", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateDistributionSetType)?;
    let requests: Vec<DsTypeCreate> = body_list(&req, payload, &state).await?;
    let types: Vec<ds::NewDsType> = requests.into_iter().map(DsTypeCreate::into_new).collect();
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    let rows = state
        .db
        .write(move |c| ds::create(c, &tenant, &types, &by, now))
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtDistributionSetType> = rows.into_iter().map(|t| ds_type_json(&base, t)).collect();
    Ok(HttpResponse::Created().json(content))
}

/// One distribution set type, deleted or not.
#[utoipa::path(
    get,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 200, description = "The type", body = MgmtDistributionSetType),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let t = state.db.read(move |c| ds::find(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok().json(ds_type_json(&rest_base(&req, &state), t)))
}

/// Changes the description and colour of a distribution set type.
#[utoipa::path(
    put,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    request_body = TypeUpdate,
    responses(
        (status = 200, description = "The updated type", body = MgmtDistributionSetType),
        (status = 400, description = "Bad body or id", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<i64>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSetType)?;
    let change = body::<TypeUpdate>(&req, payload, &state).await?.change();
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    let t = state
        .db
        .write(move |c| ds::update(c, &tenant, id, &change, &by, now))
        .await?;
    Ok(HttpResponse::Ok().json(ds_type_json(&rest_base(&req, &state), t)))
}

/// Deletes a distribution set type: only marks it deleted while distribution sets use it. Target
/// types stop listing it as compatible either way.
#[utoipa::path(
    delete,
    path = "/rest/v1/distributionsettypes/{distributionSetTypeId}",
    tag = "Distribution Set Types",
    params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ExceptionInfo),
        (status = 403, description = "Lacks DELETE_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
        (status = 404, description = "No such type", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<i64>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteDistributionSetType)?;
    let (tenant, id) = (tenant_of(&user), path.into_inner());
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .write(move |c| ds::delete(c, &tenant, id, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_modules(
    req: HttpRequest,
    user: User,
    id: i64,
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let tenant = tenant_of(&user);
    let rows = state
        .db
        .read(move |c| ds::modules(c, &tenant, id, mandatory))
        .await?;
    let base = rest_base(&req, &state);
    let content: Vec<MgmtSoftwareModuleType> = rows.into_iter().map(|t| sm_type_json(&base, t)).collect();
    Ok(HttpResponse::Ok().json(content))
}

async fn get_module(
    req: HttpRequest,
    user: User,
    (id, sm): (i64, i64),
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadDistributionSetType)?;
    let tenant = tenant_of(&user);
    let t = state
        .db
        .read(move |c| ds::module(c, &tenant, id, sm, mandatory))
        .await?;
    Ok(HttpResponse::Ok().json(sm_type_json(&rest_base(&req, &state), t)))
}

/// Adds (`add`) or removes a module type, refused once distribution sets have the type.
async fn change_module(
    user: User,
    id: i64,
    sm: i64,
    state: web::Data<AppState>,
    add: Option<bool>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateDistributionSetType)?;
    user.require(Permission::ReadSoftwareModuleType)?;
    let tenant = tenant_of(&user);
    let by = user.username.clone();
    let now = state.now();
    state
        .db
        .write(move |c| ds::set_module(c, &tenant, id, sm, add, &by, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn add_module(
    req: HttpRequest,
    user: User,
    id: i64,
    payload: web::Payload,
    state: web::Data<AppState>,
    mandatory: bool,
) -> ApiResult<HttpResponse> {
    // Permission first: a caller without it learns nothing, not even that the body was wrong.
    user.require(Permission::UpdateDistributionSetType)?;
    user.require(Permission::ReadSoftwareModuleType)?;
    let r: IdRef = body(&req, payload, &state).await?;
    change_module(user, id, r.id, state, Some(mandatory)).await
}

/// The four endpoints of a set type's mandatory (`$mandatory`) or optional module types, each with
/// its own OpenAPI entry.
macro_rules! module_type_endpoints {
    (
        mandatory: $mandatory:literal, paths: ($all:literal, $one:literal),
        list: $list:ident $list_doc:literal $list_ok:literal,
        add: $add:ident $add_doc:literal,
        get: $get:ident $get_doc:literal $get_missing:literal,
        remove: $remove:ident $(,)?
    ) => {
        #[doc = $list_doc]
        #[utoipa::path(
            get,
            path = $all,
            tag = "Distribution Set Types",
            params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
            responses(
                (status = 200, description = $list_ok, body = Vec<MgmtSoftwareModuleType>),
                (status = 400, description = "Bad id", body = ExceptionInfo),
                (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
                (status = 404, description = "No such type", body = ExceptionInfo),
            )
        )]
        async fn $list(
            req: HttpRequest,
            user: User,
            path: web::Path<i64>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            list_modules(req, user, path.into_inner(), state, $mandatory).await
        }

        #[doc = $add_doc]
        #[utoipa::path(
            post,
            path = $all,
            tag = "Distribution Set Types",
            params(("distributionSetTypeId" = i64, Path, description = "The type's id")),
            request_body = IdRef,
            responses(
                (status = 204, description = "Added"),
                (status = 400, description = "Bad body or id", body = ExceptionInfo),
                (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
                (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
            )
        )]
        async fn $add(
            req: HttpRequest,
            user: User,
            path: web::Path<i64>,
            payload: web::Payload,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            add_module(req, user, path.into_inner(), payload, state, $mandatory).await
        }

        #[doc = $get_doc]
        #[utoipa::path(
            get,
            path = $one,
            tag = "Distribution Set Types",
            params(
                ("distributionSetTypeId" = i64, Path, description = "The type's id"),
                ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
            ),
            responses(
                (status = 200, description = "The module type", body = MgmtSoftwareModuleType),
                (status = 400, description = "Bad id", body = ExceptionInfo),
                (status = 403, description = "Lacks READ_DISTRIBUTION_SET_TYPE", body = ExceptionInfo),
                (status = 404, description = $get_missing, body = ExceptionInfo),
            )
        )]
        async fn $get(
            req: HttpRequest,
            user: User,
            path: web::Path<(i64, i64)>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            get_module(req, user, path.into_inner(), state, $mandatory).await
        }

        /// Removes a software module type from this distribution set type.
        #[utoipa::path(
            delete,
            path = $one,
            tag = "Distribution Set Types",
            params(
                ("distributionSetTypeId" = i64, Path, description = "The type's id"),
                ("softwareModuleTypeId" = i64, Path, description = "The software module type's id"),
            ),
            responses(
                (status = 204, description = "Removed"),
                (status = 400, description = "Bad id", body = ExceptionInfo),
                (status = 403, description = "Lacks UPDATE_DISTRIBUTION_SET_TYPE, or sets have the type", body = ExceptionInfo),
                (status = 404, description = "No such distribution set or module type", body = ExceptionInfo),
            )
        )]
        async fn $remove(
            user: User,
            path: web::Path<(i64, i64)>,
            state: web::Data<AppState>,
        ) -> ApiResult<HttpResponse> {
            let (id, sm) = path.into_inner();
            change_module(user, id, sm, state, None).await
        }
    };
}

module_type_endpoints! {
    mandatory: true,
    paths: (
        "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes",
        "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}"
    ),
    list: list_mandatory "The software module types a distribution set of this type must hold."
        "The mandatory module types",
    add: add_mandatory "Makes a software module type mandatory for this distribution set type.",
    get: get_mandatory "One mandatory software module type of this distribution set type."
        "No such type, or not a mandatory one",
    remove: remove_mandatory,
}

module_type_endpoints! {
    mandatory: false,
    paths: (
        "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes",
        "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}"
    ),
    list: list_optional "The software module types a distribution set of this type may hold."
        "The optional module types",
    add: add_optional "Makes a software module type optional for this distribution set type.",
    get: get_optional "One optional software module type of this distribution set type."
        "No such type, or not an optional one",
    remove: remove_optional,
}
