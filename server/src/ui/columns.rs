//! Which optional columns the device list shows: chosen with checkboxes (a GET form, so it works
//! without JavaScript), carried in the query string (`cols=1&col=tag&col=ip`) and kept in a cookie
//! for the next visit.

use actix_web::HttpRequest;
use maud::{Markup, html};

use super::devices::Filter;
use crate::store::target_list::SortKey;

/// The cookie that keeps the chosen columns, as their names joined by `.`.
const COOKIE: &str = "updraft_columns";

/// An optional column of the device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Tag,
    Type,
    Installed,
    Assigned,
    LastPoll,
    Ip,
}

impl Col {
    /// Every column, in the order the table shows them.
    const ALL: [Col; 6] = [
        Col::LastPoll,
        Col::Type,
        Col::Installed,
        Col::Assigned,
        Col::Tag,
        Col::Ip,
    ];
    /// What a user sees before choosing.
    const DEFAULT: [Col; 3] = [Col::LastPoll, Col::Type, Col::Installed];

    fn name(self) -> &'static str {
        match self {
            Col::Tag => "tag",
            Col::Type => "type",
            Col::Installed => "installed",
            Col::Assigned => "assigned",
            Col::LastPoll => "lastpoll",
            Col::Ip => "ip",
        }
    }

    fn parse(s: &str) -> Option<Col> {
        Col::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Its header.
    pub fn label(self) -> &'static str {
        match self {
            Col::Tag => "Tags",
            Col::Type => "Type",
            Col::Installed => "Installed",
            Col::Assigned => "Assigned",
            Col::LastPoll => "Last poll",
            Col::Ip => "IP address",
        }
    }

    /// The sort its header offers, if any.
    pub fn sort_key(self) -> Option<SortKey> {
        match self {
            Col::Type => Some(SortKey::Type),
            Col::Installed => Some(SortKey::Installed),
            Col::Assigned => Some(SortKey::Assigned),
            Col::LastPoll => Some(SortKey::LastPoll),
            Col::Tag | Col::Ip => None,
        }
    }
}

fn in_order(names: impl Iterator<Item = String>) -> Vec<Col> {
    let chosen: Vec<Col> = names.filter_map(|n| Col::parse(&n)).collect();
    Col::ALL.into_iter().filter(|c| chosen.contains(c)).collect()
}

/// The columns to show: those just chosen in the query string (with the `Set-Cookie` value that
/// keeps them), else those of the cookie, else the default.
pub fn chosen(req: &HttpRequest) -> (Vec<Col>, Option<String>) {
    let pairs = super::device_bulk::pairs(req.query_string().as_bytes());
    if pairs.iter().any(|(k, _)| k == "cols") {
        let cols = in_order(pairs.into_iter().filter(|(k, _)| k == "col").map(|(_, v)| v));
        let value: Vec<&str> = cols.iter().map(|c| c.name()).collect();
        let cookie = format!(
            "{COOKIE}={}; Path=/ui; Max-Age=31536000; SameSite=Lax; HttpOnly",
            if value.is_empty() {
                "none".to_owned()
            } else {
                value.join(".")
            }
        );
        return (cols, Some(cookie));
    }
    let kept = req
        .headers()
        .get("cookie")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.split(';')
                .filter_map(|c| c.trim().split_once('='))
                .find(|(k, _)| *k == COOKIE)
                .map(|(_, v)| v.to_owned())
        });
    match kept {
        Some(v) => (in_order(v.split('.').map(str::to_owned)), None),
        None => (Col::DEFAULT.to_vec(), None),
    }
}

/// The form choosing the columns, keeping the filter and the sort.
pub fn chooser(f: &Filter, cols: &[Col]) -> Markup {
    html! {
        details.columns {
            summary { "Columns" }
            form method="get" action="/ui/devices" {
                @for (k, v) in f.fields() { @if !v.is_empty() { input type="hidden" name=(k) value=(v); } }
                @if !f.sort.is_empty() { input type="hidden" name="sort" value=(f.sort); }
                input type="hidden" name="cols" value="1";
                @for c in Col::ALL {
                    label.check {
                        input type="checkbox" name="col" value=(c.name()) checked[cols.contains(&c)];
                        " " (c.label())
                    }
                    " "
                }
                button.secondary type="submit" { "Show these columns" }
            }
        }
    }
}
