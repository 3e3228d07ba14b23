//! Bulk actions of the device list: the form around its table (checkboxes, or "all devices matching
//! the filter"; assign a set, tag, untag, cancel the active action, delete) and what it does, each
//! through one store function in one transaction, with the Management API's permissions for the
//! same operation. Deleting asks for confirmation on a page of its own first. Works without
//! JavaScript: the form posts, the answer redirects back to the list with what was done.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::devices::Filter;
use super::error::{UiError, UiResult};
use super::layout::{self, encode};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::bulk::{self, Outcome, Selection};
use crate::store::models::ActionType;

/// `application/x-www-form-urlencoded` (or a query string) as name-value pairs, repeated names kept.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The bulk form wrapping the device table: the checkboxes in `table` belong to it.
pub fn form(
    ctx: &Ctx,
    f: &Filter,
    total: i64,
    sets: &[(i64, String)],
    tags: &[(i64, String)],
    table: &Markup,
) -> Markup {
    let may_update = ctx.can(Permission::UpdateTarget);
    let may_assign = may_update && ctx.can(Permission::ReadDistributionSet);
    html! {
        form #bulk method="post" action="/ui/devices/bulk" {
            (hidden_filter(f))
            fieldset.card {
                legend { "Act on devices" }
                div.bulk {
                    div.scope {
                        label.check {
                            input type="radio" name="scope" value="selected" checked;
                            " The devices checked below"
                        }
                        label.check {
                            input #scope-all type="radio" name="scope" value="all";
                            " All " (total) " devices matching the filter"
                        }
                    }
                    div {
                        label for="op" { "Action" }
                        select #op name="op" {
                            @if may_assign { option value="assign" { "Assign a distribution set" } }
                            @if may_update {
                                option value="tag" { "Add a tag" }
                                option value="untag" { "Remove a tag" }
                                option value="cancel" { "Cancel the active action" }
                            }
                            @if ctx.can(Permission::DeleteTarget) { option value="delete" { "Delete" } }
                        }
                    }
                    @if may_assign {
                        div {
                            label for="bulk-ds" { "Distribution set" }
                            select #bulk-ds name="ds" {
                                @for (id, label) in sets { option value=(id) { (label) } }
                            }
                        }
                        div {
                            label for="bulk-type" { "Assignment type" }
                            select #bulk-type name="action_type" {
                                option value="forced" { "forced" }
                                option value="soft" { "soft" }
                                option value="downloadonly" { "download only" }
                            }
                        }
                    }
                    @if may_update {
                        div {
                            label for="bulk-tag" { "Tag" }
                            select #bulk-tag name="tag_id" {
                                @for (id, name) in tags { option value=(id) { (name) } }
                            }
                        }
                    }
                }
                button type="submit" { "Apply" }
            }
            (table)
        }
    }
}

/// Hidden fields that carry the list's filter and sort through a form.
fn hidden_filter(f: &Filter) -> Markup {
    html! {
        @for (k, v) in f.fields() { input type="hidden" name=(k) value=(v); }
        input type="hidden" name="sort" value=(f.sort);
    }
}

/// The operation a bulk form asks for.
enum Op {
    Assign { ds: i64, action_type: ActionType },
    Tag { tag: i64, on: bool },
    Cancel,
    Delete,
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn parse_op(ctx: &Ctx, pairs: &[(String, String)]) -> Result<Op, UiError> {
    let get = |name| first(pairs, name);
    let op = match get("op") {
        "assign" => {
            ctx.require(Permission::UpdateTarget)?;
            ctx.require(Permission::ReadDistributionSet)?;
            let ds = get("ds")
                .parse()
                .map_err(|_| UiError::bad_request("Choose a distribution set to assign."))?;
            let Some(action_type @ (ActionType::Forced | ActionType::Soft | ActionType::DownloadOnly)) =
                ActionType::parse(get("action_type"))
            else {
                return Err(UiError::bad_request("Choose forced, soft or download only."));
            };
            Op::Assign { ds, action_type }
        }
        op @ ("tag" | "untag") => {
            ctx.require(Permission::UpdateTarget)?;
            let tag = get("tag_id")
                .parse()
                .map_err(|_| UiError::bad_request("Choose a tag."))?;
            Op::Tag { tag, on: op == "tag" }
        }
        "cancel" => {
            ctx.require(Permission::UpdateTarget)?;
            Op::Cancel
        }
        "delete" => {
            ctx.require(Permission::DeleteTarget)?;
            Op::Delete
        }
        _ => {
            return Err(UiError::bad_request(
                "Choose an action: assign, tag, untag, cancel or delete.",
            ));
        }
    };
    Ok(op)
}

/// What the bulk form posts: checks the permission of the operation, then does it in one
/// transaction and goes back to the list with the counts.
pub async fn submit(ctx: Ctx, body: web::Bytes, state: web::Data<AppState>) -> UiResult {
    let pairs = pairs(&body);
    let op = parse_op(&ctx, &pairs)?;
    let f = Filter::from_pairs(&pairs);
    let selection = if first(&pairs, "scope") == "all" {
        let (filter, list) = f.to_store()?;
        Selection::Matching { filter, list }
    } else {
        let cids: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "cid")
            .map(|(_, v)| v.clone())
            .collect();
        if cids.is_empty() {
            return Err(UiError::bad_request(
                "No device is selected: check devices in the list, or choose all devices matching the filter.",
            ));
        }
        Selection::Devices(cids)
    };
    let tenant = ctx.tenant();
    if matches!(op, Op::Delete) && first(&pairs, "confirm") != "yes" {
        let (t, sel) = (tenant.clone(), selection.clone());
        let devices = state.db.read(move |c| bulk::resolve(c, &t, &sel)).await?;
        return Ok(confirm_delete(&ctx, &f, &pairs, &devices));
    }
    let (by, now) = (ctx.user.username.clone(), state.now());
    let notice = match op {
        Op::Assign { ds, action_type } => {
            let settings = state.tenants.get(&state.db, &tenant).await?;
            let (o, changes) = state
                .db
                .write(move |c| bulk::assign(c, &settings, &tenant, &selection, ds, action_type, &by, now))
                .await?;
            state.apply(changes);
            counted(o, "Assigned the set to", "had it assigned already")
        }
        Op::Tag { tag, on } => {
            let o = state
                .db
                .write(move |c| bulk::tag(c, &tenant, &selection, tag, on))
                .await?;
            if on {
                counted(o, "Tagged", "had the tag already")
            } else {
                counted(o, "Untagged", "did not have the tag")
            }
        }
        Op::Cancel => {
            let (o, changes) = state
                .db
                .write(move |c| bulk::cancel_active(c, &tenant, &selection, &by, now))
                .await?;
            state.apply(changes);
            counted(
                o,
                "Requested the cancelation of the active action of",
                "had no action to cancel",
            )
        }
        Op::Delete => {
            let (o, changes) = state
                .db
                .write(move |c| bulk::delete(c, &tenant, &selection))
                .await?;
            state.apply(changes);
            format!("Deleted {} devices.", o.changed)
        }
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!("/ui/devices?{}notice={}", f.query_string(), encode(&notice)),
        ))
        .finish())
}

fn counted(o: Outcome, did: &str, skipped: &str) -> String {
    let rest = o.selected - o.changed;
    if rest == 0 {
        format!("{did} {} of {} selected devices.", o.changed, o.selected)
    } else {
        format!(
            "{did} {} of {} selected devices; {rest} {skipped}.",
            o.changed, o.selected
        )
    }
}

/// The confirmation page of a bulk delete: the same form again, with `confirm=yes`.
fn confirm_delete(
    ctx: &Ctx,
    f: &Filter,
    pairs: &[(String, String)],
    devices: &[(i64, String)],
) -> HttpResponse {
    let shown: Vec<&str> = devices.iter().take(20).map(|(_, cid)| cid.as_str()).collect();
    let body = html! {
        h1 { "Delete devices" }
        section.card {
            p.error role="alert" {
                "Delete " (devices.len()) " devices with their actions and attributes? This cannot be undone."
            }
            p { (shown.join(", ")) @if devices.len() > shown.len() { ", and " (devices.len() - shown.len()) " more" } "." }
            form method="post" action="/ui/devices/bulk" {
                @for (k, v) in pairs { @if k != "confirm" { input type="hidden" name=(k) value=(v); } }
                input type="hidden" name="confirm" value="yes";
                button.danger type="submit" { "Delete " (devices.len()) " devices" }
                " " a href={ "/ui/devices?" (f.query_string()) } { "Cancel" }
            }
        }
    };
    layout::ok(ctx, "Delete devices", &body)
}
