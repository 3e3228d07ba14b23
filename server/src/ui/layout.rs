//! The page frame (header, navigation, notices) and small rendering helpers shared by the pages.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::Ctx;
use crate::auth::permissions::Permission;

/// The navigation entries, each shown to users who may read what it lists.
fn nav(ctx: &Ctx) -> Vec<(&'static str, &'static str)> {
    let mut items = vec![("/ui", "Overview")];
    if ctx.can(Permission::ReadTarget) {
        items.push(("/ui/devices", "Devices"));
        items.push(("/ui/filters", "Filters"));
        items.push(("/ui/fleet", "Fleet health"));
        items.push(("/ui/failures", "Failures"));
    }
    if ctx.can(Permission::ReadSoftwareModule) {
        items.push(("/ui/software", "Software"));
    }
    if ctx.can(Permission::ReadDistributionSet) {
        items.push(("/ui/distributions", "Distribution sets"));
    }
    if ctx.can(Permission::ReadRollout) {
        items.push(("/ui/rollouts", "Rollouts"));
    }
    if ctx.can(Permission::ReadTarget) || ctx.can(Permission::ReadDistributionSet) {
        items.push(("/ui/tags", "Tags"));
    }
    if ctx.can(Permission::ReadTargetType) || ctx.can(Permission::ReadDistributionSetType) {
        items.push(("/ui/types", "Types"));
    }
    if ctx.can(Permission::ReadTenantConfiguration) || ctx.can(Permission::SystemAdmin) {
        items.push(("/ui/settings", "Settings"));
    }
    if ctx.can(Permission::ReadTenantConfiguration) {
        items.push(("/ui/audit", "Audit log"));
    }
    items
}

/// A whole page: `title` names it in the tab; `body` brings its own `h1`.
pub fn page(ctx: Option<&Ctx>, title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Updraft" }
                link rel="stylesheet" href=(assets::css_path());
                script src=(assets::js_path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui" { "Updraft" }
                    @if let Some(ctx) = ctx {
                        nav aria-label="Main" {
                            ul {
                                @for (href, label) in nav(ctx) {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                        form.logout method="post" action="/ui/logout" {
                            span.who { (ctx.user.username) " · " (ctx.user.tenant) }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main {
                    @if let Some(n) = ctx.and_then(|c| c.notice.as_deref()) {
                        p.notice role="status" { (n) }
                    }
                    (body)
                }
            }
        }
    }
}

/// An HTML answer that no cache keeps and no other site may frame or script.
pub fn html_response(status: StatusCode, markup: &Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("content-type", "text/html; charset=utf-8"))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "same-origin"))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ))
        .body(markup.clone().into_string())
}

pub fn ok(ctx: &Ctx, title: &str, body: &Markup) -> HttpResponse {
    html_response(StatusCode::OK, &page(Some(ctx), title, body))
}

pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    error_page_for(None, status, message)
}

/// An error page; with `ctx`, inside the user's navigation.
pub fn error_page_for(ctx: Option<&Ctx>, status: StatusCode, message: &str) -> HttpResponse {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        section.card {
            h1 { (reason) }
            p.error role="alert" { (message) }
            p { a href="/ui" { "Back to the overview" } }
        }
    };
    html_response(status, &page(ctx, reason, &body))
}

/// POST-redirect-GET: back to `path`, with a message shown there once.
pub fn see_other(path: &str, notice: Option<&str>) -> HttpResponse {
    let location = match notice {
        Some(n) => format!("{path}?notice={}", encode(n)),
        None => path.to_owned(),
    };
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}

pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Epoch milliseconds as UTC date and time.
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A `<time>` with the absolute date as its title and "5 min ago" as its text.
pub fn ago(now: i64, ms: Option<i64>) -> Markup {
    let Some(ms) = ms else {
        return html! { span.muted { "never" } };
    };
    let s = (now - ms).max(0) / 1000;
    let text = match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    };
    html! { time datetime=(when(ms)) title=(when(ms)) { (text) } }
}

pub fn status_badge(status: &str) -> Markup {
    html! { span class={ "badge s-" (status.to_ascii_lowercase()) } { (status.replace('_', " ")) } }
}

/// Human file sizes.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// "Previous / next" links for a list of `total` entries shown `limit` at a time from `offset`.
pub fn pager(base_query: &str, offset: i64, limit: i64, total: i64) -> Markup {
    let last = offset + limit >= total;
    let link = |o: i64| format!("?{base_query}offset={o}");
    html! {
        nav.pager aria-label="Pages" {
            @if offset > 0 {
                a rel="prev" href=(link((offset - limit).max(0))) { "← Previous" }
            }
            span { (offset.min(total) + i64::from(total > 0)) "–" ((offset + limit).min(total)) " of " (total) }
            @if !last {
                a rel="next" href=(link(offset + limit)) { "Next →" }
            }
        }
    }
}
