//! `/rest/v1/auditlog`: who did what, when, in the user's tenant (an Updraft extension; hawkBit has
//! no audit resource). Entries are written by `crate::audit_trail` and the console's login.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{PagedList, Paging, tenant_of};
use crate::auth::permissions::Permission;
use crate::auth::users::User;
use crate::error::{ApiResult, ExceptionInfo};
use crate::state::AppState;
use crate::store::audit::{self, AUDIT_LOG, AuditRow};

super::routes::api! {
    paths: [audit_log],
    schemas: [AuditEntry],
}

/// One entry of the audit log.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[schema(example = 812)]
    id: i64,
    /// Server time, milliseconds since 1970.
    #[schema(example = 1_765_000_000_000_i64)]
    at: i64,
    /// A user name, `device <controllerId>`, `gateway` or `system`.
    #[schema(example = "alice")]
    actor: String,
    /// What was done: `login`, `login_failed`, `assign`, `rollout_start`, `target_delete`,
    /// `setting_change`, `user_update`, ... (the `action` filter lists them all when given another).
    #[schema(example = "rollout_start")]
    action: String,
    /// The object's kind: `target`, `distribution_set`, `software_module`, `rollout`, `user`,
    /// `setting`, `target_tag`, ...
    #[schema(example = "rollout")]
    object_type: String,
    /// The object's id as the API names it (a controller id, a number, a user or key name).
    #[schema(example = "17")]
    object_id: String,
    /// The object's name when it had one (`name version` for sets and modules).
    #[schema(example = "gateway-os 2.0 to the fleet")]
    object_name: String,
    #[schema(example = "")]
    detail: String,
}

/// Filters besides `q` (which takes `actor`, `action`, `objectType`, `objectId`, `objectName`,
/// `detail`, `at` and `id`; `sort` takes the same names, default `at:DESC`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only this actor (exact).
    #[serde(default)]
    actor: Option<String>,
    /// Only this action (exact, one of the vocabulary).
    #[serde(default)]
    action: Option<String>,
    /// Only objects of this kind (exact).
    #[serde(default)]
    object_type: Option<String>,
    /// Only objects whose id or name contains this text.
    #[serde(default)]
    object: Option<String>,
    /// Entries at or after this time (milliseconds since 1970).
    #[serde(default)]
    from: Option<i64>,
    /// Entries before this time (milliseconds since 1970).
    #[serde(default)]
    to: Option<i64>,
}

fn some(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// One page of the tenant's audit log, newest first unless `sort` says otherwise. An Updraft
/// extension; needs `READ_TENANT_CONFIGURATION` (tenant administrators hold it).
#[utoipa::path(
    get,
    path = "/rest/v1/auditlog",
    tag = "Audit log (Updraft extension)",
    params(Paging, AuditQuery),
    responses(
        (status = 200, description = "One page of entries", body = PagedList<AuditEntry>),
        (status = 400, description = "An unknown action, field or sort, a bad query or time range", body = ExceptionInfo),
        (status = 403, description = "Lacks READ_TENANT_CONFIGURATION", body = ExceptionInfo),
    )
)]
async fn audit_log(
    user: User,
    paging: web::Query<Paging>,
    q: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    user.require(Permission::ReadTenantConfiguration)?;
    let list = paging.list(&AUDIT_LOG)?;
    let filter = audit::Filter {
        actor: some(q.actor.as_ref()),
        action: some(q.action.as_ref()),
        object_type: some(q.object_type.as_ref()),
        object: some(q.object.as_ref()),
        from: q.from,
        to: q.to,
    };
    filter.check()?;
    let tenant = tenant_of(&user);
    let page = state
        .db
        .read(move |c| audit::list(c, &tenant, &filter, &list))
        .await?;
    Ok(HttpResponse::Ok().json(PagedList::from_page(page, entry)))
}

fn entry(r: AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        object_type: r.object_type,
        object_id: r.object_id,
        object_name: r.object_name,
        detail: r.detail,
    }
}
