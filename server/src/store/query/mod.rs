//! Listing queries: hawkBit's `q=` (RSQL/FIQL) and `sort=` turned into SQL for one entity.
//!
//! Each list endpoint names its [`Entity`]; [`list_spec`] checks `q` and `sort` against the entity's
//! fields and answers the `WHERE` and `ORDER BY` to add to the Diesel query:
//!
//! ```ignore
//! let spec = paging.spec(&query::TARGETS)?;
//! targets::table.filter(targets::tenant.eq(t)).filter(spec.filter.clone()).order_by(spec.order.clone())
//! ```
//!
//! The filter never joins: fields of other rows become correlated subqueries, so the outer query and
//! its paging stay one row per entity.

mod fields;
pub mod rsql;
mod sql;
mod translate;

pub use fields::*;
pub use sql::{Part, Sql, SqlFilter, SqlOrder};
pub use translate::{filter, order};

use crate::store::Result;

/// What a list endpoint lists: its table and the fields `q` and `sort` may name.
#[derive(Debug)]
pub struct Entity {
    /// The SQL table, as written in the field expressions; fields that reach other rows ([`Path::Link`],
    /// [`Path::Map`]) need it to have an `id` primary key.
    pub table: &'static str,
    /// `ORDER BY` when no `sort` is given (hawkBit: `id:ASC` mostly; targets `controllerId:ASC`;
    /// actions and action status `id:DESC`).
    pub default_order: &'static str,
    /// The column that tells the listed rows apart (`id`; the key for metadata, which is listed per
    /// owner and has no `id`). Every `ORDER BY` ends with it, so pages are stable.
    pub tiebreak: &'static str,
    /// The fields `q` may name (and `sort`, for plain columns).
    pub fields: &'static [Field],
}

/// One hawkBit field name and where its value lives.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// hawkBit's name (matched case-insensitively); for [`Path::Map`] the prefix before `.<key>`.
    pub name: &'static str,
    pub path: Path,
}

/// Where a field's value is, seen from a row of the current table.
#[derive(Debug, Clone, Copy)]
pub enum Path {
    /// A column of the current table.
    Column {
        column: &'static str,
        ty: Ty,
        nullable: bool,
    },
    /// A field of the row of `table` that the current row's `fk` column points to.
    Ref {
        fk: &'static str,
        nullable: bool,
        table: &'static str,
        then: &'static Path,
    },
    /// A field of any row of `table` linked through the join table `link`
    /// (`link.owner` = current id, `link.fk` = the other row's id).
    Link {
        link: &'static str,
        owner: &'static str,
        fk: &'static str,
        table: &'static str,
        then: &'static Path,
    },
    /// `<name>.<key>`: the text stored under a key in a key/value table owned by the current row.
    Map {
        table: &'static str,
        owner: &'static str,
        key: &'static str,
        value: &'static str,
    },
}

/// How a value is typed and compared.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// Compared case-insensitively; `*` wildcards.
    Text,
    /// Numbers and epoch-ms timestamps.
    Int,
    Bool,
    /// Stored lower-case; the query may use any case.
    Enum(&'static [&'static str]),
    /// A boolean that is true when the (nullable) column has a value (target `autoConfirm`).
    Present,
}

/// The `WHERE` and `ORDER BY` of one list request.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub filter: SqlFilter,
    pub order: SqlOrder,
}

/// Checks `q` and `sort` against `entity`'s fields and translates them to SQL.
pub fn list_spec(entity: &Entity, q: Option<&str>, sort: Option<&str>) -> Result<ListSpec> {
    Ok(ListSpec {
        filter: filter(entity, q)?,
        order: order(entity, sort)?,
    })
}
