//! The form of a target type or a distribution set type: the texts every type has (key, name,
//! description, colour) and the kind's choices (repeated checkboxes, one select per module type),
//! read from the urlencoded body by hand because `web::Form` cannot collect repeated fields.

use actix_web::HttpRequest;
use maud::{Markup, html};

use super::error::UiError;
use super::field_errors::{self as fe, Problem};
use super::swatch;
use crate::store::types::{DESCRIPTION_MAX, KEY_MAX, NAME_MAX, NewType, TypeChange};

/// The colour a new type's picker starts at.
pub const DEFAULT_COLOUR: &str = "#1a7f37";

/// The fields a type's refusal may be about.
pub const FIELDS: [&str; 4] = ["key", "name", "description", "colour"];

/// A type form as typed, so a refused one comes back unchanged.
#[derive(Debug, Default, Clone)]
pub struct TypeForm {
    pub key: String,
    pub name: String,
    pub description: String,
    pub colour: String,
    /// The colour the edit form started with; an unchanged picker keeps the stored colour.
    pub colour_was: String,
    pub no_colour: bool,
    /// Every name-value pair, for the kind's own choices.
    pub pairs: Vec<(String, String)>,
}

impl TypeForm {
    /// A blank create form.
    pub fn blank() -> Self {
        Self {
            colour: DEFAULT_COLOUR.to_owned(),
            ..Self::default()
        }
    }

    /// The edit form of a stored type.
    pub fn of(key: &str, name: &str, description: Option<&str>, colour: Option<&str>) -> Self {
        let picker = swatch::picker_value(colour, DEFAULT_COLOUR);
        Self {
            key: key.to_owned(),
            name: name.to_owned(),
            description: description.unwrap_or_default().to_owned(),
            colour_was: picker.clone(),
            colour: picker,
            no_colour: colour.is_none(),
            pairs: Vec::new(),
        }
    }

    /// Reads a posted form; anything but a urlencoded body is refused.
    pub fn read(req: &HttpRequest, body: &[u8]) -> Result<Self, UiError> {
        let urlencoded = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !urlencoded {
            return Err(UiError::bad_request("Send the form from the types page."));
        }
        let pairs = super::device_bulk::pairs(body);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(Self {
            key: get("key"),
            name: get("name"),
            description: get("description"),
            colour: get("colour"),
            colour_was: get("colour_was"),
            no_colour: !get("no_colour").is_empty(),
            pairs,
        })
    }

    /// The ids given for the repeated field `name` (checkboxes).
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, UiError> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| {
                v.parse()
                    .map_err(|_| UiError::bad_request(format!("The choice {v} is not a number.")))
            })
            .collect()
    }

    /// The value of the single field `name`, empty when absent.
    pub fn value(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The texts of a new type: empty ones are absent, so the store's defaults and rules apply
    /// (a target type's key defaults to its name).
    pub fn new_type(&self) -> NewType {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        NewType {
            key: given(&self.key),
            name: given(&self.name),
            description: given(&self.description),
            colour: (!self.no_colour)
                .then(|| self.colour.clone())
                .filter(|c| !c.is_empty()),
        }
    }

    /// The texts to change: name and description as typed, the colour only when the picker moved.
    pub fn change(&self) -> TypeChange {
        TypeChange {
            name: Some(self.name.trim().to_owned()),
            description: Some(self.description.trim().to_owned()),
            colour: (self.colour != self.colour_was && !self.colour.is_empty()).then(|| self.colour.clone()),
        }
    }
}

/// Key, name, description and colour; `prefix` keeps element ids apart, `create` shows the key as
/// a field (it never changes afterwards) and the "no colour" box.
pub fn texts(prefix: &str, f: &TypeForm, create: bool, key_required: bool, p: Option<&Problem>) -> Markup {
    let id = |field: &str| format!("{prefix}-{field}");
    let key_label = if key_required {
        "Key"
    } else {
        "Key (optional; the name if empty)"
    };
    html! {
        div.row {
            (fe::text("Name", &id("name"), "name", &f.name, NAME_MAX, true, p))
            @if create {
                (fe::text(key_label, &id("key"), "key", &f.key, KEY_MAX, key_required, p))
            } @else {
                div { label for=(id("key")) { "Key" } input id=(id("key")) value=(f.key) readonly maxlength=(KEY_MAX); }
            }
        }
        div.row {
            (fe::text("Description (optional)", &id("description"), "description", &f.description, DESCRIPTION_MAX, false, p))
            (fe::colour(&id("colour"), &f.colour, p))
        }
        @if create {
            div {
                input type="checkbox" id=(id("no-colour")) name="no_colour" value="1" checked[f.no_colour];
                label.check for=(id("no-colour")) { " No colour" }
            }
        } @else {
            input type="hidden" name="colour_was" value=(f.colour_was);
        }
    }
}
