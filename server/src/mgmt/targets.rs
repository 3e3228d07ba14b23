//! `/rest/v1/targets`: targets, their attributes, actions and action status, and assignment.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::distribution_sets::ds_json;
use super::ds_assignments::{AssignmentBody, assign_and_respond};
use super::{PagedList, Paging, body, body_list, check_len, json, query, rest_base, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiError, ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::models::Target;
use crate::store::targets::{self, TargetFields, find_target};

super::routes::api! {
    paths: [list, create, get_one, update, delete, attributes, assigned_ds, assign_ds, installed_ds],
    schemas: [json::MgmtTarget, TargetRequest],
}

/// The target as `user` may see it: without `securityToken` unless they hold READ_TARGET_SECURITY_TOKEN.
pub(super) async fn to_json(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    t: &Target,
    full: bool,
) -> ApiResult<json::MgmtTarget> {
    let settings = state.tenants.get(&state.db, &t.tenant).await?;
    let last_poll = match (t.last_poll, state.polls.pending(t.id)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut out = json::target(
        t,
        &rest_base(req, state),
        last_poll,
        settings
            .polling_time
            .for_target(&crate::polling::PollSubject {
                controller_id: &t.controller_id,
                name: &t.name,
                update_status: t.update_status.as_str(),
            })
            .interval
            .as_millis() as i64,
        settings.polling_overdue.as_millis() as i64,
        state.now(),
        full,
        settings.confirmation_flow,
    );
    if !user.permissions.has(Permission::ReadTargetSecurityToken) {
        out.security_token = None;
    }
    if let Some(type_id) = t.target_type_id {
        let name = state.db.read(move |c| targets::type_name(c, type_id)).await?;
        out.target_type_name = name;
        if full && let Some(links) = out.links.as_object_mut() {
            links.insert(
                "targetType".into(),
                serde_json::json!({ "href": format!("{}/targettypes/{type_id}", rest_base(req, state)) }),
            );
        }
    }
    Ok(out)
}

/// Lists the targets of the tenant.
#[utoipa::path(
    get,
    path = "/rest/v1/targets",
    tag = "Targets",
    params(Paging),
    responses(
        (status = 200, description = "One page of targets", body = PagedList<json::MgmtTarget>),
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
    let list = q.list(&query::TARGETS)?;
    let tenant = tenant_of(&user);
    let page = state.db.read(move |c| targets::list(c, &tenant, &list)).await?;
    page_json(&req, &state, &user, page).await
}

/// One page of targets as hawkBit lists them (`GET /targets` and the lists of a tag's, a set's or a
/// rollout group's targets).
pub(super) async fn page_json(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    page: crate::store::Paged<Target>,
) -> ApiResult<HttpResponse> {
    let mut content = Vec::with_capacity(page.rows.len());
    for t in &page.rows {
        content.push(to_json(req, state, user, t, false).await?);
    }
    Ok(HttpResponse::Ok().json(PagedList::new(content, page.total)))
}

/// A target to create, or the fields of one to change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TargetRequest {
    #[schema(example = "device-01")]
    controller_id: Option<String>,
    #[schema(example = "Device 01")]
    name: Option<String>,
    #[schema(example = "Gateway in building 3")]
    description: Option<String>,
    #[schema(example = "38e6a19932b014040ba061795186514e")]
    security_token: Option<String>,
    #[schema(example = "http://192.168.0.1")]
    address: Option<String>,
    #[schema(example = 1)]
    target_type: Option<i64>,
    #[schema(example = true)]
    request_attributes: Option<bool>,
    #[schema(example = "europe/berlin")]
    group: Option<String>,
}

impl TargetRequest {
    fn into_fields(self) -> TargetFields {
        TargetFields {
            controller_id: self.controller_id,
            name: self.name,
            description: self.description,
            security_token: self.security_token,
            address: self.address,
            target_type: self.target_type,
            request_attributes: self.request_attributes,
            group: self.group,
        }
    }
}

fn validate(t: &TargetRequest) -> ApiResult<()> {
    if let Some(cid) = &t.controller_id {
        crate::guard::check_controller_id(cid)?;
    }
    check_len("name", t.name.as_deref().unwrap_or(""), 128)?;
    check_len("description", t.description.as_deref().unwrap_or(""), 512)?;
    check_len("securityToken", t.security_token.as_deref().unwrap_or(""), 128)?;
    check_len("address", t.address.as_deref().unwrap_or(""), 512)?;
    check_len("group", t.group.as_deref().unwrap_or(""), 256)?;
    Ok(())
}

/// Creates targets; a missing name is the controller id, a missing token is generated.
#[utoipa::path(
    post,
    path = "/rest/v1/targets",
    tag = "Targets",
    request_body = Vec<TargetRequest>,
    responses(
        (status = 201, description = "The created targets", body = Vec<json::MgmtTarget>),
        (status = 400, description = "Unreadable body, missing controllerId or too long field", body = ExceptionInfo),
        (status = 403, description = "Lacks CREATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "The given targetType does not exist", body = ExceptionInfo),
        (status = 409, description = "A controllerId exists already", body = ExceptionInfo),
    )
)]
async fn create(
    req: HttpRequest,
    user: User,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::CreateTarget)?;
    let requests: Vec<TargetRequest> = body_list(&req, payload, &state).await?;
    for r in &requests {
        if r.controller_id.is_none() {
            return Err(ApiError::constraint_violation("controllerId is required."));
        }
        validate(r)?;
    }
    let fields: Vec<TargetFields> = requests.into_iter().map(TargetRequest::into_fields).collect();
    let (tenant, by, now) = (tenant_of(&user), user.username.clone(), state.now());
    let (created, changes) = state
        .db
        .write(move |c| targets::create(c, &tenant, &fields, crate::auth::random_token, &by, now))
        .await?;
    state.apply(changes);
    let mut content = Vec::new();
    for t in &created {
        content.push(to_json(&req, &state, &user, t, true).await?);
    }
    Ok(HttpResponse::Created().json(content))
}

/// One target, with links to its actions, attributes and distribution sets.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The target", body = json::MgmtTarget),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn get_one(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let t = state.db.run(move |c| Ok(find_target(c, &tenant, &cid)?)).await?;
    Ok(HttpResponse::Ok().json(to_json(&req, &state, &user, &t, true).await?))
}

/// Changes the given fields of a target; absent fields stay.
#[utoipa::path(
    put,
    path = "/rest/v1/targets/{targetId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body = TargetRequest,
    responses(
        (status = 200, description = "The updated target", body = json::MgmtTarget),
        (status = 400, description = "Unreadable body, too long field or changed controllerId", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn update(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    let r: TargetRequest = body(&req, payload, &state).await?;
    validate(&r)?;
    let fields = r.into_fields();
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let (by, now) = (user.username.clone(), state.now());
    let (t, changes) = state
        .db
        .write(move |c| targets::update(c, &tenant, &cid, &fields, &by, now))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::Ok().json(to_json(&req, &state, &user, &t, true).await?))
}

/// Deletes a target with its actions.
#[utoipa::path(
    delete,
    path = "/rest/v1/targets/{targetId}",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks DELETE_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn delete(user: User, path: web::Path<String>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    user.require(Permission::DeleteTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let changes = state
        .db
        .write(move |c| targets::delete_target(c, &tenant, &cid))
        .await?;
    state.apply(changes);
    Ok(HttpResponse::NoContent().finish())
}

/// The attributes the device reported; 204 when it reported none.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/attributes",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The attributes, a map of strings", body = std::collections::BTreeMap<String, String>,
            example = json!({"hwRevision": "2", "serial": "A1B2C3", "os": "Linux 6.1"})),
        (status = 204, description = "No attributes"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn attributes(
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    let (tenant, cid) = (tenant_of(&user), path.into_inner());
    let attrs = state
        .db
        .read(move |c| targets::attributes(c, &tenant, &cid))
        .await?;
    if attrs.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let map: serde_json::Map<String, Value> = attrs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    Ok(HttpResponse::Ok().json(map))
}

async fn ds_of_target(
    req: HttpRequest,
    user: User,
    cid: String,
    state: web::Data<AppState>,
    installed: bool,
) -> ApiResult<HttpResponse> {
    let tenant = tenant_of(&user);
    let base = rest_base(&req, &state);
    let ds: Option<Value> = state
        .db
        .run(move |c| {
            let t = find_target(c, &tenant, &cid)?;
            match if installed {
                t.installed_ds_id
            } else {
                t.assigned_ds_id
            } {
                Some(id) => Ok(Some(ds_json(c, id, &base)?)),
                None => Ok(None),
            }
        })
        .await?;
    Ok(match ds {
        Some(v) => HttpResponse::Ok().json(v),
        None => HttpResponse::NoContent().finish(),
    })
}

/// The distribution set assigned to the target; 204 when none.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/assignedDS",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The distribution set (hawkBit's MgmtDistributionSet)", body = Object,
            example = super::examples::distribution_set),
        (status = 204, description = "Nothing assigned"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn assigned_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    ds_of_target(req, user, path.into_inner(), state, false).await
}

/// The distribution set installed on the target; 204 when none.
#[utoipa::path(
    get,
    path = "/rest/v1/targets/{targetId}/installedDS",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    responses(
        (status = 200, description = "The distribution set (hawkBit's MgmtDistributionSet)", body = Object,
            example = super::examples::distribution_set),
        (status = 204, description = "Nothing installed"),
        (status = 403, description = "Lacks READ_TARGET", body = ExceptionInfo),
        (status = 404, description = "No such target", body = ExceptionInfo),
    )
)]
async fn installed_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTarget)?;
    ds_of_target(req, user, path.into_inner(), state, true).await
}

/// Assigns a distribution set to the target.
#[utoipa::path(
    post,
    path = "/rest/v1/targets/{targetId}/assignedDS",
    tag = "Targets",
    params(("targetId" = String, Path, description = "The target's controller id")),
    request_body(
        content = Object,
        description = "hawkBit's MgmtTargetAssignmentRequestBody: the set's `id`, optionally `type`, \
            `forcetime`, `weight`, `maintenanceWindow` and `confirmationRequired`",
        example = json!({"id": 1, "type": "soft"})
    ),
    responses(
        (status = 200, description = "The assignment result (hawkBit's MgmtTargetAssignmentResponseBody)", body = Object,
            example = json!({"assigned": 1, "alreadyAssigned": 0, "total": 1, "assignedActions": [{
                "id": 7,
                "_links": {"self": {"href": "https://updraft.example.com/rest/v1/targets/device-01/actions/7"}}
            }]})),
        (status = 400, description = "Unreadable body, incomplete or invalidated set, bad maintenance window", body = ExceptionInfo),
        (status = 403, description = "Lacks UPDATE_TARGET and READ_DISTRIBUTION_SET", body = ExceptionInfo),
        (status = 404, description = "No such target or distribution set", body = ExceptionInfo),
    )
)]
async fn assign_ds(
    req: HttpRequest,
    user: User,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::UpdateTarget)?;
    user.require(Permission::ReadDistributionSet)?;
    let cid = path.into_inner();
    // hawkBit's `MgmtDistributionSetAssignmentsDeserializer`: one assignment or an array of them
    // (its published document has the array); equal entries count once, different sets for one
    // target are a multi-assignment.
    let raw: Value = body(&req, payload, &state).await?;
    let items = match raw {
        Value::Array(items) if !items.is_empty() => items,
        Value::Object(_) => vec![raw],
        _ => return Err(ApiError::body_not_readable()),
    };
    let mut assignment: Option<(i64, AssignmentBody)> = None;
    for mut item in items {
        let ds_id = item
            .get("id")
            .and_then(super::lenient::i64_of)
            .ok_or_else(ApiError::body_not_readable)?;
        item["id"] = json!(cid);
        let request: AssignmentBody =
            serde_json::from_value(item).map_err(|_| ApiError::body_not_readable())?;
        match &assignment {
            None => assignment = Some((ds_id, request)),
            Some((first, _)) if *first == ds_id => {}
            Some(_) => return Err(ApiError::multi_assignment()),
        }
    }
    let (ds_id, request) = assignment.ok_or_else(ApiError::body_not_readable)?;
    assign_and_respond(&req, &user, &state, ds_id, vec![request]).await
}
