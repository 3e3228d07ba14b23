//! A refused form comes back as the user typed it, with the Management API's own message shown as a
//! sentence next to the field it is about (or above the form when it is about no one field). The
//! message is the store's refusal, so the UI and the API never disagree about a rule.

use actix_web::http::StatusCode;
use maud::{Markup, html};

use super::error::UiError;

/// Why a form was refused, and at which of its fields.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub field: Option<&'static str>,
    pub message: String,
}

impl Problem {
    /// Places `e` at the first of `fields` its message is about: the store's messages name the
    /// field first ("name must not be empty.") or say what is taken ("A tag named x already exists.").
    pub fn of(e: UiError, fields: &[&'static str]) -> Self {
        let lower = e.message.to_ascii_lowercase();
        let about = |f: &str| {
            lower.starts_with(&format!("{f} "))
                || (f == "name" && (lower.starts_with("a tag named") || lower.starts_with("key or name")))
                || (f == "key" && lower.starts_with("a type with key"))
        };
        let field = fields.iter().copied().find(|f| about(f));
        Self {
            status: e.status,
            field,
            message: sentence(&e.message),
        }
    }
}

/// The message with a capital first letter, as a sentence.
fn sentence(m: &str) -> String {
    let mut c = m.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The message of `p` if it is about `field`.
pub fn at<'a>(p: Option<&'a Problem>, field: &str) -> Option<&'a str> {
    p.filter(|p| p.field == Some(field)).map(|p| p.message.as_str())
}

/// The form-wide message of `p`, above the form's fields.
pub fn general(p: Option<&Problem>) -> Markup {
    html! {
        @if let Some(p) = p.filter(|p| p.field.is_none()) {
            p.error role="alert" { (p.message) }
        }
    }
}

/// A labelled text field `name` (element id `id`), with its problem, if any, beneath it.
pub fn text(
    label: &str,
    id: &str,
    name: &str,
    value: &str,
    max: usize,
    required: bool,
    p: Option<&Problem>,
) -> Markup {
    let error = at(p, name);
    let error_id = format!("{id}-error");
    html! {
        div {
            label for=(id) { (label) }
            input id=(id) name=(name) value=(value) maxlength=(max) required[required]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(e) = error { p.error id=(error_id) role="alert" { (e) } }
        }
    }
}

/// The colour picker `colour` (element id `id`) starting at `value` (`#rrggbb`), with its problem.
pub fn colour(id: &str, value: &str, p: Option<&Problem>) -> Markup {
    let error = at(p, "colour");
    let error_id = format!("{id}-error");
    html! {
        div {
            label for=(id) { "Colour" }
            input.colour type="color" id=(id) name="colour" value=(value)
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(e) = error { p.error id=(error_id) role="alert" { (e) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_land_at_their_field() {
        let bad = |m: &str| UiError::bad_request(m);
        let p = Problem::of(bad("name must not be empty."), &["name", "description"]);
        assert_eq!(
            (p.field, p.message.as_str()),
            (Some("name"), "Name must not be empty.")
        );
        let p = Problem::of(
            bad("description must be at most 512 characters."),
            &["name", "description"],
        );
        assert_eq!(p.field, Some("description"));
        let p = Problem::of(bad("A tag named lab already exists."), &["name"]);
        assert_eq!(p.field, Some("name"));
        let p = Problem::of(
            bad("A type with key os or name OS already exists."),
            &["key", "name"],
        );
        assert_eq!(p.field, Some("key"));
        let p = Problem::of(
            bad("Distribution set type 3 is already assigned."),
            &["key", "name"],
        );
        assert_eq!(p.field, None);
    }
}
