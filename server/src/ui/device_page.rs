//! One device: attributes, installed and assigned sets, tags, the full action history with every
//! status message, and the forms for the actions on it (handled in `device_actions.rs`).

use actix_web::web;
use diesel::prelude::*;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, ago, encode, status_badge, when};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::models::{Action, ActionStatus, ActionType, Target};
use crate::store::schema::{
    action_status_messages, action_statuses, actions as actions_t, distribution_sets, target_attributes,
    target_tag_assignments, target_tags, target_types,
};
use crate::store::targets::find_target;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use super::device_actions::{add_tag, assign, cancel, delete, force, remove_tag};
    cfg.route("/devices/{cid}", web::get().to(page))
        .route("/devices/{cid}/assign", web::post().to(assign))
        .route("/devices/{cid}/actions/{aid}/cancel", web::post().to(cancel))
        .route("/devices/{cid}/actions/{aid}/force", web::post().to(force))
        .route("/devices/{cid}/delete", web::post().to(delete))
        .route("/devices/{cid}/tags", web::post().to(add_tag))
        .route("/devices/{cid}/tags/{tag}/remove", web::post().to(remove_tag));
}

/// One action with its distribution set name and its status entries (id, status, time, messages).
type History = Vec<(Action, String, Vec<(i64, String, i64, Vec<String>)>)>;

struct Device {
    target: Target,
    type_name: Option<String>,
    attributes: Vec<(String, String)>,
    installed: Option<String>,
    assigned: Option<String>,
    tags: Vec<(i64, String)>,
    all_tags: Vec<(i64, String)>,
    history: History,
    assignable: Vec<(i64, String)>,
}

fn ds_name(c: &mut AnyConnection, id: Option<i64>) -> ApiResult<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    let (n, v): (String, String) = distribution_sets::table
        .find(id)
        .select((distribution_sets::name, distribution_sets::version))
        .first(c)?;
    Ok(Some(format!("{n}:{v}")))
}

fn load(c: &mut AnyConnection, tenant: &str, cid: &str) -> ApiResult<Device> {
    let target = find_target(c, tenant, cid)?;
    let type_name = match target.target_type_id {
        Some(id) => target_types::table
            .find(id)
            .select(target_types::name)
            .first(c)
            .optional()?,
        None => None,
    };
    let attributes = target_attributes::table
        .filter(target_attributes::target_id.eq(target.id))
        .order(target_attributes::attr_key.asc())
        .select((target_attributes::attr_key, target_attributes::attr_value))
        .load(c)?;
    let tags = target_tags::table
        .inner_join(target_tag_assignments::table)
        .filter(target_tag_assignments::target_id.eq(target.id))
        .order(target_tags::name.asc())
        .select((target_tags::id, target_tags::name))
        .load(c)?;
    let all_tags = target_tags::table
        .filter(target_tags::tenant.eq(tenant))
        .order(target_tags::name.asc())
        .select((target_tags::id, target_tags::name))
        .load(c)?;
    let acts: Vec<(Action, String, String)> = actions_t::table
        .inner_join(distribution_sets::table)
        .filter(actions_t::target_id.eq(target.id))
        .order(actions_t::id.desc())
        .select((
            Action::as_select(),
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load(c)?;
    let ids: Vec<i64> = acts.iter().map(|a| a.0.id).collect();
    let statuses: Vec<(i64, i64, String, i64)> = action_statuses::table
        .filter(action_statuses::action_id.eq_any(&ids))
        .order(action_statuses::id.desc())
        .select((
            action_statuses::id,
            action_statuses::action_id,
            action_statuses::status,
            action_statuses::occurred_at,
        ))
        .load(c)?;
    let status_ids: Vec<i64> = statuses.iter().map(|s| s.0).collect();
    let messages: Vec<(i64, String)> = action_status_messages::table
        .filter(action_status_messages::action_status_id.eq_any(&status_ids))
        .order(action_status_messages::id.asc())
        .select((
            action_status_messages::action_status_id,
            action_status_messages::message,
        ))
        .load(c)?;
    let history = acts
        .into_iter()
        .map(|(a, n, v)| {
            let entries = statuses
                .iter()
                .filter(|s| s.1 == a.id)
                .map(|(sid, _, st, at)| {
                    let m = messages
                        .iter()
                        .filter(|(s, _)| s == sid)
                        .map(|(_, m)| m.clone())
                        .collect();
                    (*sid, st.clone(), *at, m)
                })
                .collect();
            (a, format!("{n}:{v}"), entries)
        })
        .collect();
    let assignable = distribution_sets::table
        .filter(distribution_sets::tenant.eq(tenant))
        .filter(
            distribution_sets::deleted
                .eq(false)
                .and(distribution_sets::valid.eq(true)),
        )
        .order(distribution_sets::id.desc())
        .limit(500)
        .select((
            distribution_sets::id,
            distribution_sets::name,
            distribution_sets::version,
        ))
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(|(id, n, v)| (id, format!("{n}:{v}")))
        .collect();
    Ok(Device {
        installed: ds_name(c, target.installed_ds_id)?,
        assigned: ds_name(c, target.assigned_ds_id)?,
        target,
        type_name,
        attributes,
        tags,
        all_tags,
        history,
        assignable,
    })
}

fn action_controls(ctx: &Ctx, cid: &str, a: &Action) -> Markup {
    let base = format!("/ui/devices/{}/actions/{}", encode(cid), a.id);
    let canceling = a.status() == ActionStatus::Canceling;
    html! {
        @if ctx.can(Permission::UpdateTarget) && a.active {
            @if !canceling {
                form.inline method="post" action={ (base) "/cancel" } data-confirm="Cancel this action?" {
                    button.secondary type="submit" { "Cancel" }
                }
            } @else {
                form.inline method="post" action={ (base) "/cancel" } data-confirm="Force-quit this canceling action?" {
                    input type="hidden" name="force" value="true";
                    button.danger type="submit" { "Force quit" }
                }
            }
            @if a.action_type() != ActionType::Forced && !canceling {
                form.inline method="post" action={ (base) "/force" } {
                    button.secondary type="submit" { "Force" }
                }
            }
        }
    }
}

fn history(ctx: &Ctx, cid: &str, h: &History, now: i64) -> Markup {
    html! {
        @if h.is_empty() { p.muted { "No actions yet." } }
        @for (a, ds, entries) in h {
            article.card {
                h3 { "Action " (a.id) ": " (ds) " " (status_badge(a.status().as_str())) }
                p.muted {
                    (a.action_type().as_str()) " · " @if a.active { "active" } @else { "closed" }
                    " · created " (ago(now, Some(a.created_at))) " by " (a.initiated_by)
                }
                (action_controls(ctx, cid, a))
                ol reversed {
                    @for (_, st, at, messages) in entries {
                        li {
                            (status_badge(st)) " " time datetime=(when(*at)) { (when(*at)) }
                            @if !messages.is_empty() {
                                ul.messages { @for m in messages { li { (m) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(ctx: Ctx, path: web::Path<String>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let cid = path.into_inner();
    let (tenant, c2) = (ctx.tenant(), cid.clone());
    let d = state.db.run(move |c| load(c, &tenant, &c2)).await?;
    let now = state.now();
    let t = &d.target;
    let action = |p: &str| format!("/ui/devices/{}/{p}", encode(&cid));
    let polled = match (t.last_poll, state.polls.pending(t.id)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let body = html! {
        h1 { "Device " (t.controller_id) }
        div #live data-refresh="3" {
            section.card {
                dl.grid {
                    div { dt { "Name" } dd { (t.name) } }
                    div { dt { "Update status" } dd #update-status { (status_badge(t.update_status.as_str())) } }
                    div { dt { "Last poll" } dd { (ago(now, polled)) } }
                    div { dt { "Type" } dd { (d.type_name.as_deref().unwrap_or("-")) } }
                    div { dt { "Installed" } dd #installed { (d.installed.as_deref().unwrap_or("-")) } }
                    div { dt { "Assigned" } dd #assigned { (d.assigned.as_deref().unwrap_or("-")) } }
                    div { dt { "Address" } dd { (t.address.as_deref().unwrap_or("-")) } }
                    div { dt { "Description" } dd { (t.description.as_deref().unwrap_or("-")) } }
                }
            }
            section {
                h2 { "Action history" }
                (history(&ctx, &cid, &d.history, now))
            }
        }
        @if ctx.can(Permission::UpdateTarget) && ctx.can(Permission::ReadDistributionSet) {
            section.card {
                h2 { "Assign a distribution set" }
                form method="post" action=(action("assign")) {
                    div.row {
                        div {
                            label for="ds" { "Distribution set" }
                            select #ds name="ds" required {
                                @for (id, name) in &d.assignable { option value=(id) { (name) } }
                            }
                        }
                        div {
                            label for="action_type" { "Type" }
                            select #action_type name="action_type" {
                                option value="forced" { "forced" }
                                option value="soft" { "soft" }
                                option value="downloadonly" { "download only" }
                            }
                        }
                    }
                    button type="submit" { "Assign" }
                }
            }
        }
        section.card {
            h2 { "Tags" }
            @if d.tags.is_empty() { p.muted { "No tags." } }
            ul { @for (id, name) in &d.tags {
                li { (name)
                    @if ctx.can(Permission::UpdateTarget) {
                        " " form.inline method="post" action=(action(&format!("tags/{id}/remove"))) {
                            button.secondary type="submit" aria-label={ "Remove tag " (name) } { "Remove" }
                        }
                    }
                }
            } }
            @if ctx.can(Permission::UpdateTarget) && (!d.all_tags.is_empty() || ctx.can(Permission::CreateTarget)) {
                form method="post" action=(action("tags")) {
                    div.row {
                        @if !d.all_tags.is_empty() {
                            div {
                                label for="tag" { "Add tag" }
                                select #tag name="tag" {
                                    option value="" { "choose…" }
                                    @for (id, name) in &d.all_tags { option value=(id) { (name) } }
                                }
                            }
                        }
                        @if ctx.can(Permission::CreateTarget) {
                            div {
                                label for="new-tag" { "or a new tag" }
                                input #new-tag name="new_tag" maxlength="64";
                            }
                        }
                    }
                    button type="submit" { "Add tag" }
                }
            }
        }
        section.card {
            h2 { "Attributes" }
            @if d.attributes.is_empty() { p.muted { "The device reported no attributes." } }
            div.table-wrap { table { tbody { @for (k, v) in &d.attributes { tr { th scope="row" { (k) } td { (v) } } } } } }
        }
        @if ctx.can(Permission::DeleteTarget) {
            form method="post" action=(action("delete")) data-confirm="Delete this device and its history?" {
                button.danger type="submit" { "Delete device" }
            }
        }
    };
    Ok(layout::ok(&ctx, &format!("Device {cid}"), &body))
}
