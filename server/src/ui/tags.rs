//! Tags of devices and of distribution sets: the list with colours, create, edit (colour picker),
//! delete after a confirmation page, and tagging a set from its page. Every write is the Management
//! API's store call (`store::tags`) with its permissions: device tags need the target permissions,
//! set tags the distribution set ones, as in hawkBit.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::field_errors::{self as fe, Problem};
use super::layout;
use super::session::Ctx;
use super::swatch;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::query::{self, ListSpec};
use crate::store::tags::{self, Kind, Tag, TagFields};
use crate::store::{ListQuery, Page};

/// The colour a new tag's picker starts at.
const DEFAULT_COLOUR: &str = "#0b5cad";
/// More tags than this are listed a page at a time in the Management API only.
const SHOWN: i64 = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tags", web::get().to(page))
        .route("/tags/{kind}", web::post().to(create))
        .route("/tags/{kind}/{id}", web::get().to(edit_page))
        .route("/tags/{kind}/{id}", web::post().to(update))
        .route("/tags/{kind}/{id}/delete", web::get().to(confirm_delete))
        .route("/tags/{kind}/{id}/delete", web::post().to(delete))
        .route("/distributions/{id}/tags", web::post().to(tag_set))
        .route("/distributions/{id}/tags/{tag}/remove", web::post().to(untag_set));
}

/// What a kind of tag is called in paths and on the page, and the permissions its operations need.
struct Meta {
    kind: Kind,
    slug: &'static str,
    title: &'static str,
    one: &'static str,
    read: Permission,
    create: Permission,
    update: Permission,
    delete: Permission,
}

static DEVICES: Meta = Meta {
    kind: Kind::Target,
    slug: "devices",
    title: "Device tags",
    one: "device tag",
    read: Permission::ReadTarget,
    create: Permission::CreateTarget,
    update: Permission::UpdateTarget,
    delete: Permission::DeleteTarget,
};

static SETS: Meta = Meta {
    kind: Kind::DistributionSet,
    slug: "sets",
    title: "Distribution set tags",
    one: "distribution set tag",
    read: Permission::ReadDistributionSet,
    create: Permission::CreateDistributionSet,
    update: Permission::UpdateDistributionSet,
    delete: Permission::DeleteDistributionSet,
};

fn meta(slug: &str) -> Result<&'static Meta, UiError> {
    match slug {
        "devices" => Ok(&DEVICES),
        "sets" => Ok(&SETS),
        _ => Err(UiError::not_found()),
    }
}

/// The form of a tag, as typed.
#[derive(Deserialize, Default)]
pub struct TagForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    colour: String,
    /// The colour the edit form started with: an unchanged picker keeps the stored colour as it
    /// was written (`rgb(...)` stays).
    #[serde(default)]
    colour_was: String,
    /// The create form's "no colour" box.
    #[serde(default)]
    no_colour: Option<String>,
}

impl TagForm {
    fn of(t: &Tag) -> Self {
        let colour = swatch::picker_value(t.colour.as_deref(), DEFAULT_COLOUR);
        Self {
            name: t.name.clone(),
            description: t.description.clone().unwrap_or_default(),
            colour_was: colour.clone(),
            colour,
            no_colour: t.colour.is_none().then(String::new),
        }
    }

    /// The store's fields: on create, empty texts are absent; on update, given texts replace.
    fn fields(&self, create: bool) -> TagFields {
        let description = self.description.trim();
        let colour = if create {
            (self.no_colour.is_none() && !self.colour.is_empty()).then(|| self.colour.clone())
        } else {
            (self.colour != self.colour_was && !self.colour.is_empty()).then(|| self.colour.clone())
        };
        TagFields {
            name: Some(self.name.trim().to_owned()),
            description: (!create || !description.is_empty()).then(|| description.to_owned()),
            colour,
        }
    }
}

const FIELDS: [&str; 3] = ["name", "description", "colour"];

/// Name, description and colour, with the problems a refused form came back with.
fn fields(m: &Meta, f: &TagForm, create: bool, p: Option<&Problem>) -> Markup {
    let id = |field: &str| format!("{}-{}-{field}", m.slug, if create { "new" } else { "edit" });
    html! {
        div.row {
            (fe::text("Name", &id("name"), "name", &f.name, 64, true, p))
            (fe::text("Description (optional)", &id("description"), "description", &f.description, 512, false, p))
            (fe::colour(&id("colour"), &f.colour, p))
        }
        @if create {
            div {
                input type="checkbox" id=(id("no-colour")) name="no_colour" value="1" checked[f.no_colour.is_some()];
                label.check for=(id("no-colour")) { " No colour" }
            }
        } @else {
            input type="hidden" name="colour_was" value=(f.colour_was);
        }
    }
}

/// The kind's tags by name.
fn spec(kind: Kind) -> crate::store::Result<ListSpec> {
    let entity = match kind {
        Kind::Target => &query::TARGET_TAGS,
        Kind::DistributionSet => &query::DS_TAGS,
    };
    query::list_spec(entity, None, Some("name:ASC"))
}

/// One kind's section of the tags page: the tags with their colours, and the create form.
fn section(ctx: &Ctx, m: &Meta, rows: &[Tag], total: i64, form: &TagForm, p: Option<&Problem>) -> Markup {
    let can_edit = ctx.can(m.update);
    let can_delete = ctx.can(m.delete);
    html! {
        section.card id={ (m.slug) "-tags" } aria-labelledby={ (m.slug) "-tags-h" } {
            h2 id={ (m.slug) "-tags-h" } { (m.title) }
            @if rows.is_empty() { p.muted { "No " (m.one) "s yet." } } @else {
                div.table-wrap { table {
                    thead { tr { th { "Tag" } th { "Description" } th { "Colour" } th { span.sr { "Actions" } } } }
                    tbody { @for t in rows {
                        tr {
                            td { (swatch::named(&t.name, t.colour.as_deref())) }
                            td { (t.description.as_deref().unwrap_or("")) }
                            td { code { (t.colour.as_deref().unwrap_or("-")) } }
                            td {
                                @if can_edit {
                                    a href={ "/ui/tags/" (m.slug) "/" (t.id) } aria-label={ "Edit " (m.one) " " (t.name) } { "Edit" }
                                    " "
                                }
                                @if can_delete {
                                    a href={ "/ui/tags/" (m.slug) "/" (t.id) "/delete" } aria-label={ "Delete " (m.one) " " (t.name) } { "Delete" }
                                }
                            }
                        }
                    } }
                } }
                @if total > SHOWN { p.muted { "The first " (SHOWN) " of " (total) " by name." } }
            }
            @if ctx.can(m.create) {
                h3 { "New " (m.one) }
                form method="post" action={ "/ui/tags/" (m.slug) } {
                    (fe::general(p))
                    (fields(m, form, true, p))
                    button type="submit" { "Create " (m.one) }
                }
            }
        }
    }
}

/// The tags page; `refused` is the kind whose create form came back, with what was typed.
async fn render(ctx: &Ctx, state: &AppState, refused: Option<(&Meta, &TagForm, &Problem)>) -> UiResult {
    let kinds: Vec<&'static Meta> = [&DEVICES, &SETS]
        .into_iter()
        .filter(|m| ctx.can(m.read))
        .collect();
    if kinds.is_empty() {
        return Err(UiError::forbidden(
            "You lack the permission READ_TARGET or READ_DISTRIBUTION_SET needed for this.",
        ));
    }
    let (tenant, which) = (ctx.tenant(), kinds.iter().map(|m| m.kind).collect::<Vec<_>>());
    let pages = state
        .db
        .read(move |c| {
            which
                .iter()
                .map(|k| {
                    let list = ListQuery {
                        spec: spec(*k)?,
                        page: Page {
                            offset: 0,
                            limit: SHOWN,
                        },
                    };
                    tags::list(c, *k, &tenant, &list)
                })
                .collect::<crate::store::Result<Vec<_>>>()
        })
        .await?;
    let blank = TagForm {
        colour: DEFAULT_COLOUR.to_owned(),
        ..TagForm::default()
    };
    let body = html! {
        h1 { "Tags" }
        p.muted { "Tags group devices and distribution sets; their colour shows wherever the tag does." }
        @for (m, page) in kinds.iter().zip(&pages) {
            @let (form, p) = match refused {
                Some((r, f, p)) if r.slug == m.slug => (f, Some(p)),
                _ => (&blank, None),
            };
            (section(ctx, m, &page.rows, page.total, form, p))
        }
    };
    let status = refused.map_or(StatusCode::OK, |(_, _, p)| p.status);
    Ok(layout::html_response(
        status,
        &layout::page(Some(ctx), "Tags", &body),
    ))
}

pub async fn page(ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    render(&ctx, &state, None).await
}

pub async fn create(
    ctx: Ctx,
    path: web::Path<String>,
    form: web::Form<TagForm>,
    state: web::Data<AppState>,
) -> UiResult {
    let m = meta(&path)?;
    ctx.require(m.create)?;
    let f = form.into_inner();
    let fields = f.fields(true);
    let (tenant, by, at) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    let kind = m.kind;
    let written = match fields.validate(true) {
        Ok(()) => state
            .db
            .write(move |c| tags::create_one(c, kind, &tenant, &fields, tags::Audit { by: &by, at }))
            .await
            .map_err(UiError::from),
        Err(e) => Err(e.into()),
    };
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/tags",
            Some(&format!("Created the {} {}.", m.one, t.name)),
        )),
        Err(e) => render(&ctx, &state, Some((m, &f, &Problem::of(e, &FIELDS)))).await,
    }
}

fn edit_form(ctx: &Ctx, m: &Meta, id: i64, f: &TagForm, p: Option<&Problem>) -> Markup {
    let body = html! {
        h1 { "Edit " (m.one) " " (swatch::named(&f.name, Some(&f.colour_was))) }
        form.card method="post" action={ "/ui/tags/" (m.slug) "/" (id) } {
            (fe::general(p))
            (fields(m, f, false, p))
            button type="submit" { "Save" }
        }
        p { a href="/ui/tags" { "Back to the tags" } }
    };
    layout::page(Some(ctx), &format!("Edit {}", m.one), &body)
}

async fn find(ctx: &Ctx, state: &AppState, kind: Kind, id: i64) -> Result<Tag, UiError> {
    let tenant = ctx.tenant();
    Ok(state.db.read(move |c| tags::get(c, kind, &tenant, id)).await?)
}

pub async fn edit_page(ctx: Ctx, path: web::Path<(String, i64)>, state: web::Data<AppState>) -> UiResult {
    let (slug, id) = path.into_inner();
    let m = meta(&slug)?;
    ctx.require(m.update)?;
    let t = find(&ctx, &state, m.kind, id).await?;
    Ok(layout::html_response(
        StatusCode::OK,
        &edit_form(&ctx, m, id, &TagForm::of(&t), None),
    ))
}

pub async fn update(
    ctx: Ctx,
    path: web::Path<(String, i64)>,
    form: web::Form<TagForm>,
    state: web::Data<AppState>,
) -> UiResult {
    let (slug, id) = path.into_inner();
    let m = meta(&slug)?;
    ctx.require(m.update)?;
    let f = form.into_inner();
    let fields = f.fields(false);
    let (tenant, by, at, kind) = (ctx.tenant(), ctx.user.username.clone(), state.now(), m.kind);
    let written = match fields.validate(false) {
        Ok(()) => state
            .db
            .write(move |c| tags::update(c, kind, &tenant, id, &fields, tags::Audit { by: &by, at }))
            .await
            .map_err(UiError::from),
        Err(e) => Err(e.into()),
    };
    match written {
        Ok(t) => Ok(layout::see_other(
            "/ui/tags",
            Some(&format!("Saved the {} {}.", m.one, t.name)),
        )),
        Err(e) => {
            let p = Problem::of(e, &FIELDS);
            Ok(layout::html_response(
                p.status,
                &edit_form(&ctx, m, id, &f, Some(&p)),
            ))
        }
    }
}

pub async fn confirm_delete(
    ctx: Ctx,
    path: web::Path<(String, i64)>,
    state: web::Data<AppState>,
) -> UiResult {
    let (slug, id) = path.into_inner();
    let m = meta(&slug)?;
    ctx.require(m.delete)?;
    let (tenant, kind) = (ctx.tenant(), m.kind);
    let counting = Page { offset: 0, limit: 0 };
    let (t, carriers) = state
        .db
        .read(move |c| {
            let t = tags::get(c, kind, &tenant, id)?;
            let n = match kind {
                Kind::Target => {
                    let l = ListQuery {
                        spec: query::list_spec(&query::TARGETS, None, None)?,
                        page: counting,
                    };
                    tags::tagged_targets(c, &tenant, id, &l)?.total
                }
                Kind::DistributionSet => {
                    let l = ListQuery {
                        spec: query::list_spec(&query::DISTRIBUTION_SETS, None, None)?,
                        page: counting,
                    };
                    tags::tagged_sets(c, &tenant, id, &l)?.total
                }
            };
            Ok((t, n))
        })
        .await?;
    let what = if m.kind == Kind::Target {
        "device"
    } else {
        "distribution set"
    };
    let body = html! {
        h1 { "Delete " (m.one) " " (swatch::named(&t.name, t.colour.as_deref())) "?" }
        section.card {
            p #tag-carriers {
                (carriers) " " (what) @if carriers == 1 { " carries" } @else { "s carry" }
                " this tag; " @if carriers == 1 { "it loses" } @else { "they lose" } " it, nothing else about them changes."
            }
            form method="post" action={ "/ui/tags/" (m.slug) "/" (id) "/delete" } {
                button.danger type="submit" { "Delete the tag " (t.name) }
            }
            p { a href="/ui/tags" { "Keep it and go back" } }
        }
    };
    Ok(layout::ok(&ctx, &format!("Delete {}", m.one), &body))
}

pub async fn delete(ctx: Ctx, path: web::Path<(String, i64)>, state: web::Data<AppState>) -> UiResult {
    let (slug, id) = path.into_inner();
    let m = meta(&slug)?;
    ctx.require(m.delete)?;
    let (tenant, kind) = (ctx.tenant(), m.kind);
    let t = state
        .db
        .write(move |c| {
            let t = tags::get(c, kind, &tenant, id)?;
            tags::delete(c, kind, &tenant, id)?;
            Ok(t)
        })
        .await?;
    Ok(layout::see_other(
        "/ui/tags",
        Some(&format!("Deleted the {} {}.", m.one, t.name)),
    ))
}

/// The colours of the tenant's device tags when `wanted` (the device list shows its tag column).
pub fn colours_if(
    c: &mut crate::store::AnyConnection,
    tenant: &str,
    wanted: bool,
) -> crate::store::Result<HashMap<String, String>> {
    if wanted {
        tags::colours(c, Kind::Target, tenant)
    } else {
        Ok(HashMap::new())
    }
}

/// The device list's tag cell: each tag with its colour.
pub fn names_cell(names: Option<&Vec<String>>, colours: &HashMap<String, String>) -> Markup {
    html! {
        @for (i, n) in names.into_iter().flatten().enumerate() {
            @if i > 0 { ", " }
            (swatch::named(n, colours.get(n).map(String::as_str)))
        }
    }
}

/// The tags section of a distribution set's page: its tags with their colours, and the forms to
/// add (a chosen or a new tag) and remove one.
pub fn set_section(ctx: &Ctx, ds: i64, on_set: &[Tag], all: &[(i64, String)]) -> Markup {
    let can_tag = ctx.can(Permission::UpdateDistributionSet);
    let can_create = ctx.can(Permission::CreateDistributionSet);
    let offered: Vec<&(i64, String)> = all
        .iter()
        .filter(|(id, _)| !on_set.iter().any(|t| t.id == *id))
        .collect();
    html! {
        section.card #set-tags aria-labelledby="set-tags-h" {
            h2 #set-tags-h { "Tags" }
            @if on_set.is_empty() { p.muted { "No tags." } }
            ul.tags { @for t in on_set {
                li {
                    (swatch::named(&t.name, t.colour.as_deref()))
                    @if can_tag {
                        " " form.inline method="post" action={ "/ui/distributions/" (ds) "/tags/" (t.id) "/remove" } {
                            button.secondary type="submit" aria-label={ "Remove tag " (t.name) } { "Remove" }
                        }
                    }
                }
            } }
            @if can_tag && (!offered.is_empty() || can_create) {
                form method="post" action={ "/ui/distributions/" (ds) "/tags" } {
                    div.row {
                        @if !offered.is_empty() {
                            div {
                                label for="set-tag" { "Add tag" }
                                select #set-tag name="tag" {
                                    option value="" { "choose…" }
                                    @for (id, name) in &offered { option value=(id) { (name) } }
                                }
                            }
                        }
                        @if can_create {
                            div { label for="set-new-tag" { "or a new tag" } input #set-new-tag name="new_tag" maxlength="64"; }
                        }
                    }
                    button type="submit" { "Add tag" }
                }
            }
        }
    }
}

/// A set's tags, and all of the tenant's set tags as (id, name).
pub type SetTags = (Vec<Tag>, Vec<(i64, String)>);

/// The set's tags and all of the tenant's set tags, for [`set_section`].
pub fn set_tags(c: &mut crate::store::AnyConnection, tenant: &str, ds: i64) -> crate::store::Result<SetTags> {
    Ok((
        tags::of_set(c, tenant, ds)?,
        tags::names(c, Kind::DistributionSet, tenant)?,
    ))
}

#[derive(Deserialize)]
pub struct SetTagForm {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    new_tag: String,
}

/// Tags the set with a chosen tag, or with a new one it creates first (which needs
/// CREATE_DISTRIBUTION_SET, as creating a set tag through the Management API does); one transaction.
pub async fn tag_set(
    ctx: Ctx,
    path: web::Path<i64>,
    form: web::Form<SetTagForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::UpdateDistributionSet)?;
    let ds = path.into_inner();
    let new_name = form.new_tag.trim().to_owned();
    let chosen = if new_name.is_empty() {
        Some(
            form.tag
                .parse::<i64>()
                .map_err(|_| UiError::bad_request("Choose a tag or name a new one."))?,
        )
    } else {
        ctx.require(Permission::CreateDistributionSet)?;
        None
    };
    let fields = TagFields {
        name: Some(new_name),
        ..TagFields::default()
    };
    if chosen.is_none() {
        fields.validate(true)?;
    }
    let (tenant, by, at) = (ctx.tenant(), ctx.user.username.clone(), state.now());
    state
        .db
        .write(move |c| {
            let tag = match chosen {
                Some(t) => t,
                None => {
                    tags::create_one(
                        c,
                        Kind::DistributionSet,
                        &tenant,
                        &fields,
                        tags::Audit { by: &by, at },
                    )?
                    .id
                }
            };
            tags::tag_set(c, &tenant, tag, ds, true)
        })
        .await?;
    Ok(layout::see_other(
        &format!("/ui/distributions/{ds}"),
        Some("Tag added."),
    ))
}

pub async fn untag_set(ctx: Ctx, path: web::Path<(i64, i64)>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::UpdateDistributionSet)?;
    let (ds, tag) = path.into_inner();
    let tenant = ctx.tenant();
    state
        .db
        .write(move |c| tags::tag_set(c, &tenant, tag, ds, false))
        .await?;
    Ok(layout::see_other(
        &format!("/ui/distributions/{ds}"),
        Some("Tag removed."),
    ))
}
