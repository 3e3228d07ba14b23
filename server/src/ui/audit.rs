//! The audit log page: who did what, when, in the user's tenant, newest first, with filters by
//! actor, action, object and day. The same entries and permission as `GET /rest/v1/auditlog`.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout::{self, encode, when};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::audit::{self, ACTIONS, AUDIT_LOG};
use crate::store::{ListQuery, Page, query};

const PAGE_SIZE: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page));
}

/// The filter form's fields, as the address carries them.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    /// A day, `YYYY-MM-DD` (UTC): entries from its start.
    #[serde(default)]
    from: String,
    /// A day, `YYYY-MM-DD` (UTC): entries up to its end.
    #[serde(default)]
    to: String,
    #[serde(default)]
    offset: Option<i64>,
}

impl Params {
    fn query_string(&self) -> String {
        let mut q = String::new();
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                q.push_str(k);
                q.push('=');
                q.push_str(&encode(v));
                q.push('&');
            }
        }
        q
    }
}

/// The start of a `YYYY-MM-DD` day (UTC) in milliseconds, with `days` added.
fn day(text: &str, days: i64, field: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{field} must be a day like 2026-12-07."))?;
    let start = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    Ok(start.map(|s| s + days * 86_400_000))
}

fn filter(p: &Params) -> Result<audit::Filter, String> {
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let f = audit::Filter {
        actor: some(&p.actor),
        action: some(&p.action),
        object_type: None,
        object: some(&p.object),
        from: day(&p.from, 0, "From")?,
        to: day(&p.to, 1, "To")?,
    };
    f.check().map_err(|e| e.to_string())?;
    Ok(f)
}

fn filter_form(p: &Params, actors: &[String], error: Option<&str>) -> Markup {
    html! {
        form.card method="get" action="/ui/audit" aria-label="Filter the audit log" {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            div.row {
                div {
                    label for="audit-actor" { "Who" }
                    select #audit-actor name="actor" {
                        option value="" { "anyone" }
                        @for a in actors { option value=(a) selected[*a == p.actor] { (a) } }
                    }
                }
                div {
                    label for="audit-action" { "Did" }
                    select #audit-action name="action" {
                        option value="" { "anything" }
                        @for a in ACTIONS { option value=(a) selected[*a == p.action] { (a.replace('_', " ")) } }
                    }
                }
                div {
                    label for="audit-object" { "To (object id or name contains)" }
                    input #audit-object name="object" value=(p.object);
                }
                div {
                    label for="audit-from" { "From day (UTC)" }
                    input #audit-from name="from" type="date" value=(p.from);
                }
                div {
                    label for="audit-to" { "Until day (UTC)" }
                    input #audit-to name="to" type="date" value=(p.to);
                }
                div { button type="submit" { "Filter" } }
            }
        }
    }
}

/// `GET /ui/audit`.
pub async fn page(ctx: Ctx, p: web::Query<Params>, state: web::Data<AppState>) -> UiResult {
    if !ctx.can(Permission::ReadTenantConfiguration) {
        return Err(UiError::forbidden(
            "You lack the permission READ_TENANT_CONFIGURATION needed to read the audit log.",
        ));
    }
    let p = p.into_inner();
    let offset = p.offset.unwrap_or(0).max(0);
    let (f, error) = match filter(&p) {
        Ok(f) => (f, None),
        Err(e) => (audit::Filter::default(), Some(e)),
    };
    let spec = query::list_spec(&AUDIT_LOG, None, None)?;
    let list = ListQuery {
        spec,
        page: Page {
            offset,
            limit: PAGE_SIZE,
        },
    };
    let tenant = ctx.tenant();
    let (page, actors) = state
        .db
        .read(move |c| Ok((audit::list(c, &tenant, &f, &list)?, audit::actors(c, &tenant)?)))
        .await?;
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Who did what, when, in tenant " (ctx.user.tenant) ". Times are UTC." }
        (filter_form(&p, &actors, error.as_deref()))
        div.table-wrap tabindex="0" role="region" aria-label="Audit log entries" { table {
            caption.muted { (page.total) " entries match" }
            thead { tr {
                th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Did" }
                th scope="col" { "Object" } th scope="col" { "Detail" }
            } }
            tbody {
                @for e in &page.rows {
                    tr {
                        td { time datetime=(when(e.at)) { (when(e.at)) } }
                        td { (e.actor) }
                        td { code { (e.action) } }
                        td {
                            span.muted { (e.object_type.replace('_', " ")) " " }
                            (e.object_id)
                            @if !e.object_name.is_empty() && e.object_name != e.object_id { " · " (e.object_name) }
                        }
                        td { (e.detail) }
                    }
                }
                @if page.rows.is_empty() { tr { td colspan="5" { span.muted { "No entries." } } } }
            }
        } }
        (layout::pager(&p.query_string(), offset, PAGE_SIZE, page.total))
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(layout::html_response(
        status,
        &layout::page(Some(&ctx), "Audit log", &body),
    ))
}
