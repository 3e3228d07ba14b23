//! Users and roles on the settings page (`SYSTEM_ADMIN` only): the list with each user's role, a
//! new user and an existing user's permissions chosen as a role preset (Viewer, Operator, Release
//! manager, Admin: `store::users::PRESETS`) or permission by permission with checkboxes, with
//! hawkBit's names as the endpoints check them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::{Markup, html};

use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use crate::audit_trail;
use crate::auth::permissions::{Permission, Permissions};
use crate::auth::users;
use crate::state::AppState;
use crate::store::users::{self as user_store, PRESETS, UserRow, preset_of};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/users", web::post().to(create_user))
        .route("/settings/users/{name}", web::get().to(edit_page))
        .route("/settings/users/{name}", web::post().to(update_user))
        .route("/settings/users/{name}/delete", web::post().to(delete_user));
}

const VERBS: [&str; 6] = ["CREATE_", "READ_", "UPDATE_", "DELETE_", "HANDLE_", "APPROVE_"];

/// The checkbox groups: what a permission is about, in the order of hawkBit's list.
fn groups() -> Vec<(String, Vec<Permission>)> {
    let mut out: Vec<(String, Vec<Permission>)> = Vec::new();
    for &p in Permission::ALL {
        let name = p.name();
        let subject = VERBS
            .iter()
            .find_map(|v| name.strip_prefix(v))
            .unwrap_or("SERVER")
            .replace("_SECURITY_TOKEN", "")
            .replace("_ARTIFACT", "");
        let subject = match subject.as_str() {
            "TARGET" => "Devices (targets)".to_owned(),
            "GATEWAY" => "Tenant configuration".to_owned(),
            s => {
                let s = s.replace('_', " ").to_lowercase();
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        };
        match out.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, ps)) => ps.push(p),
            None => out.push((subject, vec![p])),
        }
    }
    out
}

/// The role of a stored permission list, as the console names it.
fn role(perms: &str) -> String {
    let p = Permissions::parse(perms).unwrap_or_default();
    preset_of(p).map_or_else(
        || format!("Custom ({} permissions)", p.iter().count()),
        |s| s.label.to_owned(),
    )
}

/// The role choice and the checkboxes; `held` ticks boxes, `chosen` selects a preset ("custom": the boxes).
fn permission_fields(held: Permissions, chosen: &str) -> Markup {
    html! {
        label for="user-role" { "Role" }
        select #user-role name="role" aria-describedby="user-role-help" {
            @for s in PRESETS { option value=(s.id) selected[s.id == chosen] { (s.label) } }
            option value="custom" selected[chosen == "custom"] { "Custom: the permissions ticked below" }
        }
        ul.muted #user-role-help {
            @for s in PRESETS { li { strong { (s.label) } ": " (s.description) } }
        }
        details open[chosen == "custom"] {
            summary { "Permissions (used with the role Custom)" }
            div.perm-groups {
                @for (subject, ps) in groups() {
                    fieldset {
                        legend { (subject) }
                        @for p in ps {
                            label.check {
                                input type="checkbox" name="perm" value=(p.name()) checked[held.has(p)];
                                " " code { (p.name()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The users table and the new-user form.
pub fn section(all: &[UserRow], me: &str) -> Markup {
    html! {
        section.card {
            h2 { "Users and roles" }
            div.table-wrap { table {
                thead { tr { th { "User" } th { "Tenant" } th { "Role" } th { span.muted { "Actions" } } } }
                tbody { @for UserRow { username: name, tenant, permissions } in all {
                    tr {
                        td { (name) } td { (tenant) } td { (role(permissions)) }
                        td {
                            a href={ "/ui/settings/users/" (layout::encode(name)) } aria-label={ "Edit user " (name) } { "Edit" }
                            @if name != me {
                                " "
                                form.inline method="post" action={ "/ui/settings/users/" (layout::encode(name)) "/delete" }
                                    data-confirm={ "Delete user " (name) "?" } {
                                    button.danger type="submit" aria-label={ "Delete user " (name) } { "Delete" }
                                }
                            }
                        }
                    }
                } }
            } }
            h2 { "New user" }
            form method="post" action="/ui/settings/users" {
                div.row {
                    div { label for="new-username" { "Username" } input #new-username name="username" required autocomplete="off"; }
                    div { label for="new-password" { "Password (12 characters or more)" } input #new-password name="password" type="password" required autocomplete="new-password"; }
                    div { label for="new-tenant" { "Tenant" } input #new-tenant name="tenant" value=(users::DEFAULT_TENANT); }
                }
                (permission_fields(PRESETS[0].set(), PRESETS[0].id))
                button type="submit" { "Create user" }
            }
        }
    }
}

/// The permission list a role form asks for, as stored; refused with a sentence when empty.
fn chosen_permissions(form: &[(String, String)]) -> Result<(String, String), UiError> {
    let role = form
        .iter()
        .find(|(k, _)| k == "role")
        .map_or("custom", |(_, v)| v.as_str());
    if let Some(s) = PRESETS.iter().find(|s| s.id == role) {
        return Ok((s.names(), format!("role {}", s.label)));
    }
    if role != "custom" {
        return Err(UiError::bad_request(format!("There is no role {role}.")));
    }
    let ticked: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "perm")
        .map(|(_, v)| v.as_str())
        .collect();
    if ticked.is_empty() {
        return Err(UiError::bad_request(
            "Tick at least one permission, or choose a role other than Custom.",
        ));
    }
    let list = ticked.join(",");
    let p = Permissions::parse(&list).map_err(|e| UiError::bad_request(format!("{e}.")))?;
    let label = preset_of(p).map_or_else(|| format!("custom: {list}"), |s| format!("role {}", s.label));
    Ok((list, label))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub async fn create_user(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let form = super::device_bulk::pairs(&body);
    let (username, password) = (
        field(&form, "username").trim().to_owned(),
        field(&form, "password").to_owned(),
    );
    let (perms, said) = chosen_permissions(&form)?;
    user_store::validate_new_user(&username, &password, &perms)?;
    let tenant = match field(&form, "tenant").trim() {
        "" => users::DEFAULT_TENANT.to_owned(),
        t => t.to_ascii_uppercase(),
    };
    let (st, name, now) = (state.clone(), username.clone(), state.now());
    web::block(move || users::add_user(&st.db, &tenant, &name, &password, &perms, now))
        .await
        .map_err(|e| UiError::from(crate::error::ApiError::internal(e)))??;
    audit_trail::note_with(
        &req,
        audit_trail::Note {
            object: Some(crate::store::audit::Object {
                kind: "user".into(),
                id: username.clone(),
                name: username.clone(),
            }),
            detail: said,
            ..Default::default()
        },
    );
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Created user {username}.")),
    ))
}

/// One user's permissions, to change.
pub async fn edit_page(ctx: Ctx, path: web::Path<String>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let name = path.into_inner();
    let all = state.db.read(user_store::list).await?;
    let Some(user) = all.into_iter().find(|u| u.username == name) else {
        return Err(UiError::not_found());
    };
    let held = Permissions::parse(&user.permissions).unwrap_or_default();
    let chosen = preset_of(held).map_or("custom", |s| s.id);
    let body = html! {
        h1 { "User " (user.username) }
        section.card {
            p { "Tenant " (user.tenant) ". Now: " strong { (role(&user.permissions)) } "." }
            form method="post" action={ "/ui/settings/users/" (layout::encode(&user.username)) } {
                (permission_fields(held, chosen))
                button type="submit" { "Save permissions" }
            }
            p { a href="/ui/settings" { "Back to the settings" } }
        }
    };
    Ok(layout::ok(&ctx, &format!("User {}", user.username), &body))
}

pub async fn update_user(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let name = path.into_inner();
    let form = super::device_bulk::pairs(&body);
    let (perms, said) = chosen_permissions(&form)?;
    let n = name.clone();
    state
        .db
        .write(move |c| user_store::set_permissions(c, &n, &perms))
        .await?;
    state.credentials.forget_all();
    audit_trail::note(&req, said);
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Saved the permissions of {name}.")),
    ))
}

pub async fn delete_user(ctx: Ctx, path: web::Path<String>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::SystemAdmin)?;
    let name = path.into_inner();
    if name == ctx.user.username {
        return Err(UiError::new(
            StatusCode::CONFLICT,
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
