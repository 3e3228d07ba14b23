//! Distribution sets and their types: the list, creation with modules, and one set with its
//! modules and metadata.

use actix_web::{HttpRequest, web};
use maud::html;
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use super::software::link as sm_link;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::distribution_sets::delta_forecast::DeltaForecast;
use crate::store::distribution_sets::{self as sets, NewSet, pages};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/distributions", web::get().to(list))
        .route("/distributions", web::post().to(create))
        .route("/distributions/{id}", web::get().to(set_page))
        .route("/distributions/{id}/metadata", web::post().to(add_metadata));
}

#[derive(Deserialize)]
pub struct Paging {
    offset: Option<i64>,
}

pub async fn list(ctx: Ctx, q: web::Query<Paging>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadDistributionSet)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let tenant = ctx.tenant();
    let page = state
        .db
        .read(move |c| pages::set_list(c, &tenant, offset, 50))
        .await?;
    let (rows, total, types, modules) = (page.rows, page.total, page.types, page.modules);
    let body = html! {
        h1 { "Distribution sets" }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Version" } th { "Type" } th { "State" } } }
            tbody { @for (id, name, version, ty, valid, locked) in &rows {
                tr {
                    td { a href={ "/ui/distributions/" (id) } { (name) } }
                    td { (version) } td { (ty) }
                    td { @if !valid { span.badge.s-error { "invalid" } } @if *locked { span.badge { "locked" } } }
                }
            } }
        } }
        (layout::pager("", offset, 50, total))
        @if ctx.can(Permission::CreateDistributionSet) {
            section.card {
                h2 { "New distribution set" }
                form method="post" action="/ui/distributions" {
                    div.row {
                        div { label for="ds-name" { "Name" } input #ds-name name="name" required maxlength="128"; }
                        div { label for="ds-version" { "Version" } input #ds-version name="version" required maxlength="64"; }
                        div {
                            label for="ds-type" { "Type" }
                            select #ds-type name="type_key" { @for (key, name, _) in &types { option value=(key) { (name) } } }
                        }
                    }
                    fieldset {
                        legend { "Software modules" }
                        @if modules.is_empty() { p.muted { "Create a software module first." } }
                        @for (id, name, version, ty) in &modules {
                            div {
                                input type="checkbox" name="module" value=(id) id={ "m" (id) };
                                label.check for={ "m" (id) } {
                                    " " (name) " " (version) " (" (ty) ")"
                                }
                            }
                        }
                    }
                    button type="submit" { "Create distribution set" }
                }
            }
        }
        section.card {
            h2 { "Distribution set types" }
            div.table-wrap { table {
                thead { tr { th { "Key" } th { "Name" } th { "Description" } } }
                tbody { @for (key, name, d) in &types { tr { td { code { (key) } } td { (name) } td { (d.as_deref().unwrap_or("")) } } } }
            } }
        }
    };
    Ok(layout::ok(&ctx, "Distribution sets", &body))
}

/// The create form, read by hand: its `module` field repeats, which `web::Form` cannot collect.
pub async fn create(ctx: Ctx, req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::CreateDistributionSet)?;
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(UiError::bad_request(
            "Send the form from the distribution sets page.",
        ));
    }
    let pairs: Vec<(String, String)> = super::device_bulk::pairs(&body);
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut modules = Vec::new();
    for (k, v) in &pairs {
        if k == "module" {
            let id = v
                .parse()
                .map_err(|_| UiError::bad_request("A module id is not a number."))?;
            modules.push(id);
        }
    }
    let type_key = field("type_key");
    let set = NewSet {
        name: field("name"),
        version: field("version"),
        type_key: (!type_key.is_empty()).then_some(type_key),
        modules,
        ..NewSet::default()
    };
    set.validate()?;
    let (tenant, by, now) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let created = state
        .db
        .write(move |c| sets::create(c, &tenant, &by, now, std::slice::from_ref(&set)))
        .await?;
    let id = created.first().copied().unwrap_or_default();
    Ok(layout::see_other(
        &format!("/ui/distributions/{id}"),
        Some("Distribution set created."),
    ))
}

pub async fn set_page(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadDistributionSet)?;
    let id = path.into_inner();
    let tenant = ctx.tenant();
    let may_count = ctx.can(Permission::ReadTarget);
    let (page, devices, forecast, (set_tags, all_tags)) = state
        .db
        .read(move |c| {
            let page = pages::set_page(c, &tenant, id)?;
            let tags = super::tags::set_tags(c, &tenant, id)?;
            let (devices, forecast) = if may_count {
                // One read of the maintained counts for both the set's figures and its forecast.
                let counts = crate::store::target_counts::load(c, &tenant)?;
                (
                    Some(sets::statistics::devices_of_set(
                        &counts,
                        id,
                        &page.name,
                        &page.version,
                    )),
                    Some(sets::delta_forecast::forecast(c, &tenant, &counts, id)?),
                )
            } else {
                (None, None)
            };
            Ok((page, devices, forecast, tags))
        })
        .await?;
    let (name, version, ty, valid, locked) =
        (page.name, page.version, page.type_name, page.valid, page.locked);
    let (modules, meta) = (page.modules, page.metadata);
    let body = html! {
        h1 { "Distribution set " (name) " " (version) }
        section.card {
            p { "Type: " (ty) @if !valid { " · " span.badge.s-error { "invalid" } } @if locked { " · " span.badge { "locked" } } }
            h2 { "Modules" }
            ul { @for (mid, n, v) in &modules { li { (sm_link(*mid, &format!("{n} {v}"))) } } }
        }
        @if let Some(d) = &devices {
            section.card #set-devices aria-label="Devices" {
                h2 { "Devices" }
                div.grid {
                    div #installed-count { span.stat { (d.installed) }
                        a href={ "/ui/devices?q=" (layout::encode(&d.installed_query)) } { "have it installed" } }
                    div #assigned-count { span.stat { (d.assigned) }
                        a href={ "/ui/devices?q=" (layout::encode(&d.assigned_query)) } { "have it assigned" } }
                }
            }
        }
        @if let Some(f) = &forecast { (delta_panel(f)) }
        (super::tags::set_section(&ctx, id, &set_tags, &all_tags))
        section.card {
            h2 { "Metadata" }
            @if meta.is_empty() { p.muted { "No metadata." } }
            div.table-wrap { table { tbody { @for (k, v) in &meta { tr { th scope="row" { (k) } td { (v) } } } } } }
            @if ctx.can(Permission::UpdateDistributionSet) {
                form method="post" action={ "/ui/distributions/" (id) "/metadata" } {
                    div.row {
                        div { label for="meta-key" { "Key" } input #meta-key name="key" required maxlength="128"; }
                        div { label for="meta-value" { "Value" } input #meta-value name="value" maxlength="4000"; }
                    }
                    button type="submit" { "Add metadata" }
                }
            }
        }
    };
    Ok(layout::ok(&ctx, &format!("Distribution set {name}"), &body))
}

/// "If I roll this out, what will devices download": per-source patches, chunk deltas and full
/// bundles, counted over the devices with the set assigned (or, before any is, every device not
/// running it), and the bytes the patches save.
fn delta_panel(f: &DeltaForecast) -> maud::Markup {
    html! {
        section.card #set-delta aria-label="Delta" {
            h2 { "Delta" }
            p.muted {
                @if f.assigned {
                    "What the devices with this set assigned will download, by the set they run now."
                } @else {
                    "No device has this set assigned yet: what every device not running it would download if it were rolled out to them."
                }
                @if !f.has_delta {
                    " This set has no per-source patch and no chunk file (.zck), so every one of them downloads the full bundle."
                }
            }
            @if f.has_delta { div.table-wrap { table {
                thead { tr { th { "Download" } th { "Devices" } th { "Each downloads" } th { "Saved" } } }
                tbody {
                    @for p in &f.patch {
                        tr.delta-patch {
                            td { "Patch from " (p.from) }
                            td.devices { (p.devices) }
                            td { (layout::size(p.patch_bytes)) }
                            td { (layout::size(p.saved_per_device * p.devices)) }
                        }
                    }
                    tr #delta-chunk {
                        td { "Chunk delta (Updraft agents): the chunks their running slot lacks" }
                        td.devices { (f.chunk) } td { "up to " (layout::size(f.full_bytes)) } td { "depends on the slot" }
                    }
                    tr #delta-full {
                        td { "Full bundle" }
                        td.devices { (f.full) } td { (layout::size(f.full_bytes)) } td { "—" }
                    }
                    @if f.current > 0 {
                        tr #delta-current { td { "Nothing (they run it already)" } td.devices { (f.current) } td { "—" } td { "—" } }
                    }
                }
            } }
            p #delta-saved { "Per-source patches save " strong { (layout::size(f.saved)) } " against full downloads (artifact sizes)." } }
            @else { p #delta-full-only { "Full download: " (layout::size(f.full_bytes)) " per device." } }
        }
    }
}

#[derive(Deserialize)]
pub struct MetaForm {
    key: String,
    #[serde(default)]
    value: String,
}

pub async fn add_metadata(
    ctx: Ctx,
    path: web::Path<i64>,
    form: web::Form<MetaForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateDistributionSet)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let entry = crate::store::metadata::Entry {
        key: f.key,
        value: f.value,
        target_visible: false,
    };
    let (tenant, owner) = (ctx.tenant(), crate::store::metadata::Owner::Ds(id));
    state
        .db
        .write(move |c| crate::store::metadata::create(c, &tenant, &owner, std::slice::from_ref(&entry)))
        .await?;
    Ok(layout::see_other(
        &format!("/ui/distributions/{id}"),
        Some("Metadata added."),
    ))
}
