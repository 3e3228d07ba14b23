//! Settings: the tenant configuration (hawkBit's system configuration keys) with labels, units and
//! help, grouped, the keys Updraft does not act on set apart; and, for `SYSTEM_ADMIN`, the users
//! (`users.rs`).

use actix_web::{HttpRequest, web};
use maud::{Markup, html};
use serde_json::Value;

use super::config_keys::{self, Group, SHOWN, Shown, Widget};
use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use super::users;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::tenants::{self, StoredValue, key_def};
use crate::store::users::{self as user_store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(page))
        .route("/settings/config", web::post().to(save_config))
        .configure(users::configure);
}

const GATEWAY_KEY: &str = "authentication.gatewaytoken.key";

const GROUPS: [(Group, &str); 3] = [
    (Group::Authentication, "Device authentication"),
    (Group::Polling, "Polling"),
    (Group::Deployment, "Rollouts and assignments"),
];

fn current<'a>(stored: &'a [StoredValue], key: &str) -> &'a str {
    stored
        .iter()
        .find(|s| s.key == key)
        .map(|s| s.value.as_str())
        .or_else(|| key_def(key).map(|d| d.default))
        .unwrap_or("")
}

fn field(ctx: &Ctx, s: &Shown, value: &str) -> Markup {
    let can_edit = ctx.can(Permission::UpdateTenantConfiguration);
    let id = s.key.replace('.', "-");
    let help = format!("{id}-help");
    let default = key_def(s.key).map_or("", |d| d.default);
    let duration = config_keys::to_amount(s.widget, value);
    html! {
        div.setting {
            label for=(id) { (s.label) }
            @match (s.widget, duration) {
                (Widget::Switch, _) => {
                    select id=(id) name=(s.key) disabled[!can_edit] aria-describedby=(help) {
                        option value="true" selected[value == "true"] { "on" }
                        option value="false" selected[value != "true"] { "off" }
                    }
                }
                (Widget::Hms | Widget::Millis, Some(amount)) => {
                    @let (n, unit) = match amount {
                        config_keys::Amount::Never => (String::new(), "days"),
                        config_keys::Amount::Of(n, u) => (n.to_string(), u),
                    };
                    div.row {
                        input id=(id) name={ (s.key) ".amount" } value=(n) inputmode="numeric" disabled[!can_edit]
                            aria-describedby=(help) placeholder=[(s.widget == Widget::Millis).then_some("never")];
                        select name={ (s.key) ".unit" } aria-label={ (s.label) " unit" } disabled[!can_edit] {
                            @for (u, _) in config_keys::units(s.widget) { option value=(u) selected[*u == unit] { (u) } }
                        }
                    }
                }
                (Widget::Number(unit), _) => {
                    div.row {
                        input id=(id) name=(s.key) value=(value) inputmode="numeric" disabled[!can_edit] aria-describedby=(help);
                        span.unit { (unit) }
                    }
                }
                _ if s.key == GATEWAY_KEY && !ctx.can(Permission::ReadGatewaySecurityToken) => {
                    input id=(id) name=(s.key) value="" placeholder="(hidden; type to replace)" disabled[!can_edit]
                        aria-describedby=(help);
                }
                _ => { input id=(id) name=(s.key) value=(value) disabled[!can_edit] aria-describedby=(help); }
            }
            small.muted id=(help) {
                (s.help) " "
                @if !default.is_empty() { "Default: " code { (default) } ". " }
                "Key: " code { (s.key) }
            }
        }
    }
}

fn config_form(ctx: &Ctx, stored: &[StoredValue]) -> Markup {
    let can_edit = ctx.can(Permission::UpdateTenantConfiguration);
    let of = |g: Group| SHOWN.iter().filter(move |s| s.group == g);
    html! {
        section.card {
            h2 { "Tenant configuration" }
            form method="post" action="/ui/settings/config" {
                @for (g, title) in GROUPS {
                    fieldset {
                        legend { (title) }
                        @for s in of(g) { (field(ctx, s, current(stored, s.key))) }
                    }
                }
                details.not-acted-on {
                    summary { "Kept for hawkBit clients; Updraft does not act on these" }
                    p.muted { "The Management API stores and returns these keys as hawkBit does, so existing tools keep working, but changing them changes nothing here." }
                    @for s in of(Group::NotActedOn) { (field(ctx, s, current(stored, s.key))) }
                }
                @if can_edit { button type="submit" { "Save configuration" } }
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
        @if admin { (users::section(&all_users, &ctx.user.username)) }
    };
    Ok(layout::ok(&ctx, "Settings", &body))
}

/// What the form says for `s`, as the stored text; `None` when the form leaves it out.
fn given(form: &[(String, String)], s: &Shown) -> Result<Option<String>, UiError> {
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if matches!(s.widget, Widget::Hms | Widget::Millis)
        && let (Some(amount), Some(unit)) =
            (get(&format!("{}.amount", s.key)), get(&format!("{}.unit", s.key)))
    {
        return config_keys::from_amount(s, amount, unit)
            .map(Some)
            .map_err(UiError::bad_request);
    }
    let Some(v) = get(s.key) else { return Ok(None) };
    let v = v.trim();
    if let Widget::Number(unit) = s.widget
        && v.parse::<i64>().map_or(true, |n| n < 0)
    {
        return Err(UiError::bad_request(format!(
            "{} must be a whole number of {unit}, 0 or more (you entered “{v}”).",
            s.label
        )));
    }
    Ok(Some(v.to_owned()))
}

pub async fn save_config(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateTenantConfiguration)?;
    let form = super::device_bulk::pairs(&body);
    let tenant = ctx.tenant();
    let settings_now = {
        let t = tenant.clone();
        state.db.read(move |c| tenants::stored(c, &t)).await?
    };
    let mut changes = Vec::new();
    let mut said = Vec::new();
    for s in SHOWN {
        let Some(text) = given(&form, s)? else { continue };
        let now = current(&settings_now, s.key);
        // An empty hidden gateway token means "leave it as it is".
        if text == now || (s.key == GATEWAY_KEY && text.is_empty()) {
            continue;
        }
        let value = match key_def(s.key).map(|d| d.value_type) {
            Some(tenants::ValueType::Bool) => Value::Bool(text == "true"),
            Some(tenants::ValueType::Int | tenants::ValueType::Long) => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| UiError::bad_request(format!("{} must be a whole number.", s.label)))?,
            _ => Value::String(text.clone()),
        };
        said.push(if s.key == GATEWAY_KEY {
            format!("{} changed", s.key)
        } else {
            format!("{} {now} → {text}", s.key)
        });
        changes.push((s.key.to_owned(), value));
    }
    let n = changes.len();
    let (st, by, now) = (state.clone(), ctx.user.username.clone(), state.now());
    let applied = state
        .db
        .write(move |c| tenants::set_values(c, &st.config, &tenant, &changes, &by, now))
        .await?;
    state.apply(applied);
    crate::audit_trail::note_with(
        &req,
        crate::audit_trail::Note {
            detail: said.join("; "),
            unchanged: n == 0,
            ..Default::default()
        },
    );
    Ok(layout::see_other(
        "/ui/settings",
        Some(&format!("Saved {n} changed setting(s).")),
    ))
}
