//! Listing queries: hawkBit's `q=` (RSQL/FIQL) and `sort=` turned into SQL for one entity.
//!
//! Each list endpoint names its [`Entity`]; [`list_spec`] checks `q` and `sort` against the entity's
//! fields and answers the `WHERE` and `ORDER BY` to add to the Diesel query:
//!
//! ```ignore
//! let spec = paging.spec(&query::TARGETS)?;
//! targets::table.filter(targets::tenant.eq(t)).filter(spec.filter.clone()).order_by(spec.order.clone())
//! ```

mod fields;
mod sql;

pub use fields::*;
pub use sql::{Part, Sql, SqlFilter, SqlOrder};

use crate::error::{ApiError, ApiResult};

/// What a list endpoint lists: its table and the fields `q` and `sort` may name.
#[derive(Debug)]
pub struct Entity {
    /// The SQL table, as written in the field expressions.
    pub table: &'static str,
    /// `ORDER BY` when no `sort` is given (hawkBit: `id:ASC` mostly; targets `controllerId:ASC`;
    /// actions and action status `id:DESC`).
    pub default_order: &'static str,
}

/// The `WHERE` and `ORDER BY` of one list request.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub filter: SqlFilter,
    pub order: SqlOrder,
}

/// Checks `q` and `sort` against `entity`'s fields and translates them to SQL.
pub fn list_spec(entity: &Entity, q: Option<&str>, sort: Option<&str>) -> ApiResult<ListSpec> {
    if q.is_some_and(|q| !q.trim().is_empty()) {
        return Err(ApiError::rsql_unsupported());
    }
    if let Some(sort) = sort.filter(|s| !s.trim().is_empty()) {
        let (field, dir) = sort.split_once(':').unwrap_or((sort, "ASC"));
        if !field.trim().eq_ignore_ascii_case("id") {
            return Err(ApiError::sort_param_invalid_field(format!(
                "Sorting by {field} is not supported here."
            )));
        }
        let dir = match dir.trim().to_ascii_uppercase().as_str() {
            "ASC" => "ASC",
            "DESC" => "DESC",
            _ => {
                return Err(ApiError::sort_param_invalid_field(format!(
                    "Invalid sort direction {dir}."
                )));
            }
        };
        return Ok(ListSpec {
            filter: SqlFilter::always(),
            order: SqlOrder::new().sql(&format!("{}.id {dir}", entity.table)),
        });
    }
    Ok(ListSpec {
        filter: SqlFilter::always(),
        order: SqlOrder::new().sql(entity.default_order),
    })
}
