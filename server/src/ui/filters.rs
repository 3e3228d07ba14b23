//! Saved target filters (hawkBit's Target Filter Management): the list with each filter's count
//! of matching devices (one pass over the devices for the whole page, `store::target_filters::
//! match_counts`) and its auto-assignment, the create form (also reached from the device list's
//! "Save this filter"), and one filter's page to rename it, change its query or delete it. Its
//! auto-assignment form is [`super::filter_auto_assign`]'s. Every change goes through the same
//! store functions and permissions as the Management API's `/rest/v1/targetfilters`, so a rejected
//! form shows the API's own message, next to the field it is about.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::filter_auto_assign::{self, AutoForm};
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::target_filters::{self as filters, Audit, Filter};
use crate::store::{self, ListQuery, Rule, query};

const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/filters", web::get().to(list))
        .route("/filters", web::post().to(create))
        .route("/filters/{id}", web::get().to(page))
        .route("/filters/{id}", web::post().to(update))
        .route("/filters/{id}/delete", web::post().to(delete))
        .configure(filter_auto_assign::configure);
}

/// The name and query fields as typed, so a rejected form comes back as it was.
#[derive(Deserialize, Default)]
pub struct FilterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    q: String,
}

/// A message and the field it is about (`None`: the whole form).
#[derive(Default)]
pub struct FieldError {
    pub field: Option<&'static str>,
    pub message: String,
}

impl FieldError {
    /// The store's refusal placed at the field it names: query errors at the query, the rest
    /// (a name too long or taken) at the name.
    fn of(e: &UiError, rule: Option<Rule>) -> Self {
        let field = match rule {
            Some(Rule::QuerySyntax | Rule::QueryField) => "q",
            _ if e.message.starts_with("query") => "q",
            _ if e.message.starts_with("name and query") => "",
            _ => "name",
        };
        Self {
            field: (!field.is_empty()).then_some(field),
            message: e.message.clone(),
        }
    }

    pub fn at(&self, field: &str) -> Option<&str> {
        (self.field == Some(field)).then_some(self.message.as_str())
    }
}

/// The rule a store error broke, if it was a refusal.
fn rule_of(e: &store::Error) -> Option<Rule> {
    match e {
        store::Error::Refused { rule, .. } => Some(*rule),
        _ => None,
    }
}

/// A text input with its label and, when it is the one at fault, the message below it.
pub fn field(id: &str, name: &str, label: &str, value: &str, err: Option<&str>, extra: Markup) -> Markup {
    let err_id = format!("{id}-error");
    html! {
        div {
            label for=(id) { (label) }
            input id=(id) name=(name) value=(value) aria-invalid=[err.map(|_| "true")]
                aria-describedby=[err.map(|_| err_id.as_str())];
            (extra)
            @if let Some(e) = err {
                p.error id=(err_id) role="alert" { (e) }
            }
        }
    }
}

/// The name and query fields of the create and edit forms.
fn name_and_query(f: &FilterForm, err: Option<&FieldError>) -> Markup {
    let at = |k| err.and_then(|e| e.at(k));
    html! {
        div.row {
            (field("f-name", "name", "Name", &f.name, at("name"), html! {}))
            (field("f-q", "q", "Query (RSQL, as on the devices page)", &f.q, at("q"), html! {}))
        }
        @if let Some(e) = err.filter(|e| e.field.is_none()) {
            p #f-form-error .error role="alert" { (e.message) }
        }
    }
}

/// A link to the device list showing exactly the devices `q` matches.
pub fn devices_link(q: &str, count: Option<i64>) -> Markup {
    html! {
        @match count {
            Some(n) => a.match-count href={ "/ui/devices?q=" (layout::encode(q)) } { (n) " devices" },
            None => span.muted { "query no longer valid" },
        }
    }
}

/// An auto-assignment in a few words: set, action type, weight, consent, pause.
pub fn auto_assign_text(f: &Filter, sets: &HashMap<i64, String>) -> Markup {
    html! {
        @if let Some(ds) = f.auto_assign_ds_id {
            span.auto-assign {
                (sets.get(&ds).cloned().unwrap_or_else(|| format!("set #{ds}")))
                " · " (f.auto_assign_action_type.as_deref().unwrap_or("forced"))
                @if let Some(w) = f.auto_assign_weight { " · weight " (w) }
                @if f.confirmation_required { " · confirmation required" }
                @if f.paused_at.is_some() { " · " strong { "paused" } }
            }
        } @else {
            span.muted { "none" }
        }
    }
}

#[derive(Deserialize)]
pub struct ListParams {
    offset: Option<i64>,
    /// Prefills the create form ("Save this filter" on the device list).
    #[serde(default)]
    q: String,
}

/// The distribution sets an auto-assignment or a rollout may use, as (id, `name:version`).
pub async fn usable_sets(state: &AppState, tenant: String) -> Result<Vec<(i64, String)>, UiError> {
    Ok(state
        .db
        .read(move |c| store::distribution_sets::usable(c, &tenant, 200))
        .await?)
}

fn create_form(ctx: &Ctx, f: &FilterForm, err: Option<&FieldError>) -> Markup {
    html! {
        @if ctx.can(Permission::CreateTarget) {
            form.card #new method="post" action="/ui/filters" {
                h2 { "Save a filter" }
                (name_and_query(f, err))
                button type="submit" { "Save filter" }
            }
        }
    }
}

async fn list_page(
    ctx: &Ctx,
    state: &AppState,
    offset: i64,
    form: &FilterForm,
    err: Option<&FieldError>,
) -> Result<Markup, UiError> {
    let tenant = ctx.tenant();
    let list = ListQuery {
        spec: query::list_spec(&query::TARGET_FILTER_QUERIES, None, Some("name:ASC"))?,
        page: store::Page {
            offset,
            limit: PAGE_SIZE,
        },
    };
    let (page, counts) = state
        .db
        .read(move |c| {
            let page = filters::list(c, &tenant, &list)?;
            let queries: Vec<&str> = page.rows.iter().map(|f| f.query.as_str()).collect();
            let counts = filters::match_counts(c, &tenant, &queries)?;
            Ok((page, counts))
        })
        .await?;
    let sets: HashMap<i64, String> = usable_sets(state, ctx.tenant()).await?.into_iter().collect();
    let now = state.now();
    Ok(html! {
        h1 { "Target filters" }
        p.muted { "Saved device queries. A filter with an auto-assignment gives its distribution set to every device it matches, now and whenever a device comes to match it." }
        div.table-wrap { table #filters {
            caption.muted { (page.total) " filters" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Query" } th scope="col" { "Matching" }
                th scope="col" { "Auto-assignment" } th.opt scope="col" { "Changed" }
            } }
            tbody {
                @for (f, n) in page.rows.iter().zip(&counts) {
                    tr {
                        td.name { a href={ "/ui/filters/" (f.id) } { (f.name) } }
                        td { code { (f.query) } }
                        td { (devices_link(&f.query, *n)) }
                        td { (auto_assign_text(f, &sets)) }
                        td.opt { (layout::ago(now, Some(f.last_modified_at))) }
                    }
                }
            }
        } }
        (layout::pager("", offset, PAGE_SIZE, page.total))
        (create_form(ctx, form, err))
    })
}

pub async fn list(ctx: Ctx, p: web::Query<ListParams>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    let p = p.into_inner();
    let form = FilterForm {
        name: String::new(),
        q: p.q,
    };
    let body = list_page(&ctx, &state, p.offset.unwrap_or(0).max(0), &form, None).await?;
    Ok(layout::ok(&ctx, "Target filters", &body))
}

fn audit_now(ctx: &Ctx, state: &AppState) -> (String, i64) {
    (ctx.user.username.clone(), state.now())
}

pub async fn create(ctx: Ctx, form: web::Form<FilterForm>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    ctx.require(Permission::CreateTarget)?;
    let f = form.into_inner();
    let (tenant, (by, now)) = (ctx.tenant(), audit_now(&ctx, &state));
    let (name, q) = (f.name.clone(), f.q.clone());
    let created = state
        .db
        .write(move |c| filters::create(c, &tenant, Some(&name), Some(&q), Audit { by: &by, now }))
        .await;
    match created {
        Ok(made) => Ok(layout::see_other(
            &format!("/ui/filters/{}", made.id),
            Some("Filter saved."),
        )),
        Err(e) => {
            let rule = rule_of(&e);
            let ui = UiError::from(e);
            let err = FieldError::of(&ui, rule);
            let body = list_page(&ctx, &state, 0, &f, Some(&err)).await?;
            Ok(layout::html_response(
                ui.status,
                &layout::page(Some(&ctx), "Target filters", &body),
            ))
        }
    }
}

/// What a filter's page shows besides the stored filter: the forms as typed and their errors.
#[derive(Default)]
pub struct PageState {
    pub edit: Option<(FilterForm, FieldError)>,
    pub auto: Option<(AutoForm, FieldError)>,
}

/// One filter's page, answered with `status` (400 when it shows a rejected form).
pub async fn render_page(
    ctx: &Ctx,
    state: &AppState,
    id: i64,
    ps: PageState,
    status: StatusCode,
) -> UiResult {
    let tenant = ctx.tenant();
    let (f, count) = state
        .db
        .read(move |c| {
            let f = filters::find(c, &tenant, id)?;
            let n = filters::match_counts(c, &tenant, &[f.query.as_str()])?;
            Ok((f, n.first().copied().flatten()))
        })
        .await?;
    let sets = usable_sets(state, ctx.tenant()).await?;
    let labels: HashMap<i64, String> = sets.iter().cloned().collect();
    let (edit_form, edit_err) = match ps.edit {
        Some((form, e)) => (form, Some(e)),
        None => (
            FilterForm {
                name: f.name.clone(),
                q: f.query.clone(),
            },
            None,
        ),
    };
    let now = state.now();
    let body = html! {
        h1 { "Filter " (f.name) }
        section.card aria-label="Filter" {
            dl.facts {
                dt { "Query" } dd { code { (f.query) } }
                dt { "Matching devices" } dd { (devices_link(&f.query, count)) }
                dt { "Auto-assignment" } dd #auto-assign-now { (auto_assign_text(&f, &labels)) }
                @if let Some(reason) = &f.pause_reason { dt { "Paused because" } dd { (reason) } }
                dt { "Changed" } dd { (layout::ago(now, Some(f.last_modified_at))) " by " (f.last_modified_by) }
            }
        }
        @if ctx.can(Permission::UpdateTarget) {
            form.card #edit method="post" action={ "/ui/filters/" (f.id) } {
                h2 { "Change" }
                (name_and_query(&edit_form, edit_err.as_ref()))
                button type="submit" { "Save changes" }
            }
        }
        (filter_auto_assign::section(ctx, &f, &sets, ps.auto.as_ref()))
        @if ctx.can(Permission::DeleteTarget) {
            form.inline method="post" action={ "/ui/filters/" (f.id) "/delete" }
                data-confirm="Delete this filter? Its auto-assignment stops; assignments it made stay." {
                button.danger type="submit" { "Delete filter" }
            }
        }
        p { a href="/ui/filters" { "All filters" } }
    };
    Ok(layout::html_response(
        status,
        &layout::page(Some(ctx), &format!("Filter {}", f.name), &body),
    ))
}

pub async fn page(ctx: Ctx, path: web::Path<i64>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    render_page(
        &ctx,
        &state,
        path.into_inner(),
        PageState::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    ctx: Ctx,
    path: web::Path<i64>,
    form: web::Form<FilterForm>,
    state: web::Data<AppState>,
) -> UiResult {
    ctx.require(Permission::ReadTarget)?;
    ctx.require(Permission::UpdateTarget)?;
    let (id, f) = (path.into_inner(), form.into_inner());
    let (tenant, (by, now)) = (ctx.tenant(), audit_now(&ctx, &state));
    let (name, q) = (f.name.clone(), f.q.clone());
    let updated = state
        .db
        .write(move |c| filters::update(c, &tenant, id, Some(&name), Some(&q), Audit { by: &by, now }))
        .await;
    match updated {
        Ok(_) => Ok(layout::see_other(
            &format!("/ui/filters/{id}"),
            Some("Filter changed."),
        )),
        Err(e @ store::Error::NotFound { .. }) => Err(e.into()),
        Err(e) => {
            let rule = rule_of(&e);
            let ui = UiError::from(e);
            let err = FieldError::of(&ui, rule);
            let ps = PageState {
                edit: Some((f, err)),
                auto: None,
            };
            render_page(&ctx, &state, id, ps, ui.status).await
        }
    }
}

pub async fn delete(
    ctx: Ctx,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    ctx.require(Permission::DeleteTarget)?;
    let (tenant, id) = (ctx.tenant(), path.into_inner());
    state.db.write(move |c| filters::delete(c, &tenant, id)).await?;
    Ok(layout::see_other("/ui/filters", Some("Filter deleted.")))
}
