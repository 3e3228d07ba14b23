//! hawkBit's `soft_deleted_mode` on the lists of distribution sets, software modules and their types.
//!
//! Deleting one of these that something still refers to (actions, sets, modules) only marks it
//! `deleted`; the lists hide such rows unless the request asks for them.

use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize};

/// Which rows a list shows with respect to their soft deletion (hawkBit's `MgmtSoftDeletedMode`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SoftDeletedMode {
    /// Only rows that are not deleted (the default).
    #[default]
    #[serde(rename = "EXCLUDE_SOFT_DELETED")]
    Exclude,
    /// Deleted and not deleted rows.
    #[serde(rename = "INCLUDE_SOFT_DELETED")]
    Include,
    /// Only soft-deleted rows.
    #[serde(rename = "ONLY_SOFT_DELETED")]
    Only,
}

impl SoftDeletedMode {
    /// The values of the `deleted` column that the mode lists.
    pub fn deleted(self) -> Vec<bool> {
        match self {
            Self::Exclude => vec![false],
            Self::Include => vec![false, true],
            Self::Only => vec![true],
        }
    }
}

/// The `soft_deleted_mode` query parameter. As with Spring's enum binding in hawkBit, the value is
/// one of the three names exactly (surrounding blanks aside), an empty one means the default, and
/// anything else is a 400.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoftDeleted {
    /// Whether soft-deleted entries are listed: `EXCLUDE_SOFT_DELETED` (default),
    /// `INCLUDE_SOFT_DELETED` or `ONLY_SOFT_DELETED`.
    #[serde(default, deserialize_with = "mode_or_default")]
    #[param(inline, default = SoftDeletedMode::default)]
    pub soft_deleted_mode: SoftDeletedMode,
}

fn mode_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<SoftDeletedMode, D::Error> {
    let text = String::deserialize(d)?;
    match text.trim() {
        "" => Ok(SoftDeletedMode::default()),
        name => SoftDeletedMode::deserialize(name.into_deserializer()),
    }
}
