//! One device: attributes, installed and assigned sets, tags, the full action history with every
//! status message, and the forms for the actions on it (handled in `device_actions.rs`).

use actix_web::web;
use maud::{Markup, html};

use super::error::UiResult;
use super::layout::{self, ago, encode, status_badge, when};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::{Action, ActionStatus, ActionType};
use crate::store::targets::{History, device_details};

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
    let may_types = ctx.can(Permission::ReadTargetType) && ctx.can(Permission::ReadDistributionSetType);
    let (d, events, (colours, ty)) = state
        .db
        .read(move |c| {
            let d = device_details(c, &tenant, &c2)?;
            let events = crate::store::fleet_health::history(c, d.target.id, super::device_slots::HISTORY)?;
            let extra = super::target_types::device_extras(c, &tenant, d.target.target_type_id, may_types)?;
            Ok((d, events, extra))
        })
        .await?;
    let slots = super::device_slots::panel(&d.attributes, &events);
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
                    // hawkBit tells the transports apart by the address: `amqp:` is DMF.
                    div { dt { "Transport" } dd #transport {
                        (if t.address.as_deref().is_some_and(crate::store::dmf::is_dmf_address) { "DMF" } else { "DDI" })
                    } }
                    div { dt { "Address" } dd { (t.address.as_deref().unwrap_or("-")) } }
                    div { dt { "Description" } dd { (t.description.as_deref().unwrap_or("-")) } }
                }
            }
            @if let Some(slots) = &slots { (slots) }
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
            ul.tags { @for (id, name) in &d.tags {
                li { (super::swatch::named(name, colours.get(name).map(String::as_str)))
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
        @if let Some(ty) = &ty { (super::target_types::device_section(&ctx, &cid, ty)) }
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
