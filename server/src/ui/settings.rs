//! Settings: the tenant configuration (hawkBit's system configuration keys) with explanations, and
//! users with their permissions.

use actix_web::web;
use maud::{Markup, html};
use serde_json::Value;

use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::auth::users;
use crate::state::AppState;
use crate::store::tenants::{self, StoredValue};
use crate::store::users::{self as user_store, UserRow};
use crate::tenant_config::{KEYS, ValueType};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(page))
        .route("/settings/config", web::post().to(save_config))
        .route("/settings/users", web::post().to(create_user))
        .route("/settings/users/{name}/delete", web::post().to(delete_user));
}

const GATEWAY_KEY: &str = "authentication.gatewaytoken.key";

fn explain(key: &str) -> &'static str {
    match key {
        "authentication.header.enabled" => {
            "Devices authenticate by a client certificate checked by a reverse proxy, which passes the issuer hash in a header."
        }
        "authentication.header.authority" => {
            "The issuer hashes the proxy may pass for header authentication, separated by ; or ,."
        }
        "authentication.targettoken.enabled" => {
            "Each device authenticates with its own security token (Authorization: TargetToken …)."
        }
        "authentication.gatewaytoken.enabled" => {
            "Any device may authenticate with the tenant's shared gateway token (Authorization: GatewayToken …)."
        }
        GATEWAY_KEY => "The shared gateway token; keep it secret.",
        "pollingTime" => "How often devices poll, HH:MM:SS; per-device overrides may follow after a comma.",
        "pollingOverdueTime" => "How long after its polling time a device counts as overdue, HH:MM:SS.",
        "maintenanceWindowPollCount" => "How many polls a device should make within a maintenance window.",
        "rollout.approval.enabled" => "Rollouts need an approval before they can start.",
        "auto.assignment.approval.enabled" => "Auto-assignments need an approval.",
        "repository.actions.autoclose.enabled" => {
            "A new assignment closes a device's open actions instead of canceling them."
        }
        "action.cleanup.auto.expiry" => {
            "Delete closed actions older than this many milliseconds (-1: never)."
        }
        "action.cleanup.auto.status" => "Which closed actions the automatic cleanup deletes.",
        "action.cleanup.onQuotaHit.percent" => {
            "When a device hits its action quota, delete this percentage of its oldest closed actions."
        }
        "action.delete.allowed.statuses" => "Statuses in which actions may be deleted.",
        "batch.assignments.enabled" => "Assignments to many devices are processed in batches.",
        "user.confirmation.flow.enabled" => {
            "Devices (or their users) must confirm an update before it is installed."
        }
        "implicit.lock.enabled" => "Assigning a distribution set locks it and its modules against changes.",
        "multi.assignments.enabled" => "Several distribution sets per device at once (not supported).",
        _ => "",
    }
}

fn config_form(ctx: &Ctx, stored: &[StoredValue]) -> Markup {
    let can_edit = ctx.can(Permission::UpdateTenantConfiguration);
    let can_see_gateway = ctx.can(Permission::ReadGatewaySecurityToken);
    html! {
        section.card {
            h2 { "Tenant configuration" }
            form method="post" action="/ui/settings/config" {
                @for def in KEYS {
                    @let value = stored.iter().find(|s| s.key == def.key).map_or(def.default, |s| s.value.as_str());
                    @let id = def.key.replace('.', "-");
                    div {
                        label for=(id) { (def.key) }
                        @if def.value_type == ValueType::Bool {
                            select id=(id) name=(def.key) disabled[!can_edit] aria-describedby={ (id) "-help" } {
                                option value="true" selected[value == "true"] { "on" }
                                option value="false" selected[value != "true"] { "off" }
                            }
                        } @else if def.key == GATEWAY_KEY && !can_see_gateway {
                            input id=(id) name=(def.key) value="" placeholder="(hidden; type to replace)" disabled[!can_edit]
                                aria-describedby={ (id) "-help" };
                        } @else {
                            input id=(id) name=(def.key) value=(value) disabled[!can_edit] aria-describedby={ (id) "-help" };
                        }
                        small.muted id={ (id) "-help" } { (explain(def.key)) " Default: " code { (def.default) } }
                    }
                }
                @if can_edit { button type="submit" { "Save configuration" } }
            }
        }
    }
}

fn users_section(all: &[UserRow], me: &str) -> Markup {
    html! {
        section.card {
            h2 { "Users and permissions" }
            div.table-wrap { table {
                thead { tr { th { "User" } th { "Tenant" } th { "Permissions" } th { span.muted { "Actions" } } } }
                tbody { @for UserRow { username: name, tenant, permissions: perms } in all {
                    tr {
                        td { (name) } td { (tenant) } td { code { (perms) } }
                        td { @if name != me {
                            form.inline method="post" action={ "/ui/settings/users/" (layout::encode(name)) "/delete" }
                                data-confirm={ "Delete user " (name) "?" } {
                                button.danger type="submit" aria-label={ "Delete user " (name) } { "Delete" }
                            }
                        } }
                    }
                } }
            } }
            h2 { "New user" }
            form method="post" action="/ui/settings/users" {
                div.row {
                    div { label for="new-username" { "Username" } input #new-username name="username" required autocomplete="off"; }
                    div { label for="new-password" { "Password" } input #new-password name="password" type="password" required autocomplete="new-password"; }
                    div { label for="new-tenant" { "Tenant" } input #new-tenant name="tenant" value=(users::DEFAULT_TENANT); }
                }
                label for="new-permissions" { "Permissions (comma-separated, e.g. READ_TARGET,UPDATE_TARGET or TENANT_ADMIN)" }
                input #new-permissions name="permissions" value="READ_TARGET" required;
                button type="submit" { "Create user" }
            }
        }
    }
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    let read_config = ctx.can(Permission::ReadTenantConfiguration);
    let admin = ctx.can(Permission::SystemAdmin);
    if !read_config && !admin {
        return Err(UiError::forbidden(
            "You lack the permission READ_TENANT_CONFIGURATION needed for this.",
        ));
    }
    let tenant = ctx.tenant();
    let (stored, all_users) = state
        .db
        .read(move |c| {
            let stored = tenants::stored(c, &tenant)?;
            let all = if admin { user_store::list(c)? } else { Vec::new() };
            Ok((stored, all))
        })
        .await?;
    let body = html! {
        h1 { "Settings" }
        @if read_config { (config_form(&ctx, &stored)) }
        @if admin { (users_section(&all_users, &ctx.user.username)) }
    };
    Ok(layout::ok(&ctx, "Settings", &body))
}

pub async fn save_config(
    ctx: Ctx,
    form: web::Form<std::collections::HashMap<String, String>>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTenantConfiguration)?;
    let tenant = ctx.tenant();
    let settings_now = {
        let t = tenant.clone();
        state.db.read(move |c| tenants::stored(c, &t)).await?
    };
    let mut changes = Vec::new();
    for def in KEYS {
        let Some(given) = form.get(def.key) else { continue };
        let current = settings_now
            .iter()
            .find(|s| s.key == def.key)
            .map_or(def.default, |s| s.value.as_str());
        // An empty hidden gateway token means "leave it as it is".
        if given == current || (def.key == GATEWAY_KEY && given.is_empty()) {
            continue;
        }
        let value = match def.value_type {
            ValueType::Bool => Value::Bool(given == "true"),
            ValueType::Int | ValueType::Long => given
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| UiError::bad_request(format!("{} must be a whole number.", def.key)))?,
            _ => Value::String(given.trim().to_owned()),
        };
        changes.push((def.key.to_owned(), value));
    }
    let n = changes.len();
    let (st, by, now) = (state.clone(), ctx.user.username.clone(), state.now());
    let applied = state
        .db
        .write(move |c| tenants::set_values(c, &st.config, &tenant, &changes, &by, now))
        .await?;
    state.apply(applied);
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Saved {n} changed setting(s).")),
    ))
}

#[derive(serde::Deserialize)]
pub struct NewUser {
    username: String,
    password: String,
    tenant: String,
    permissions: String,
}

pub async fn create_user(ctx: Ctx, form: web::Form<NewUser>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let f = form.into_inner();
    let perms: String = f
        .permissions
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    user_store::validate_new_user(&f.username, &f.password, &perms)?;
    let tenant = f.tenant.trim().to_ascii_uppercase();
    let (st, name, now) = (state.clone(), f.username.clone(), state.now());
    web::block(move || users::add_user(&st.db, &tenant, &name, &f.password, &perms, now))
        .await
        .map_err(|e| UiError::from(crate::error::ApiError::internal(e)))??;
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Created user {}.", f.username)),
    ))
}

pub async fn delete_user(ctx: Ctx, path: web::Path<String>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let name = path.into_inner();
    if name == ctx.user.username {
        return Err(UiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "You cannot delete the user you are logged in as; another SYSTEM_ADMIN can.",
        ));
    }
    let n = name.clone();
    state.db.tx(move |c| users::delete_user(c, &n)).await?;
    state.credentials.forget_all();
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Deleted user {name}.")),
    ))
}
