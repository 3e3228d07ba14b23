//! A piece of SQL with bound parameters, built at run time from a query (`q=`) or a sort (`sort=`),
//! usable in Diesel's `.filter()` and `.order_by()` on either backend.
//!
//! Column names come only from the per-entity field tables; everything a user typed is bound as a
//! parameter, never spliced into the SQL text.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, SingleValue, SqlType, Text};

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Sql(String),
    Text(String),
    Int(i64),
    Bool(bool),
    /// SQL text that differs by backend: (SQLite's, PostgreSQL's).
    Dialect(String, String),
}

/// Which SQL dialect a backend speaks, for [`Part::Dialect`].
pub trait Dialect {
    fn is_sqlite(&self) -> bool;
}

impl Dialect for diesel::sqlite::Sqlite {
    fn is_sqlite(&self) -> bool {
        true
    }
}

impl Dialect for diesel::pg::Pg {
    fn is_sqlite(&self) -> bool {
        false
    }
}

impl Dialect for crate::store::db::MultiBackend {
    fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }
}

/// SQL text and binds, typed as `ST` for Diesel (`Bool` for a filter).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql<ST> {
    parts: Vec<Part>,
    _type: PhantomData<fn() -> ST>,
}

/// A `WHERE` condition.
pub type SqlFilter = Sql<Bool>;
/// An `ORDER BY` list (typed `BigInt` only to satisfy Diesel; it is never selected).
pub type SqlOrder = Sql<BigInt>;

impl<ST> Default for Sql<ST> {
    fn default() -> Self {
        Self {
            parts: Vec::new(),
            _type: PhantomData,
        }
    }
}

impl<ST> Sql<ST> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends SQL text; it must never contain user input.
    #[must_use]
    pub fn sql(mut self, s: &str) -> Self {
        self.push_sql(s);
        self
    }

    pub fn push_sql(&mut self, s: &str) {
        if let Some(Part::Sql(last)) = self.parts.last_mut() {
            last.push_str(s);
        } else {
            self.parts.push(Part::Sql(s.to_owned()));
        }
    }

    /// Appends a bound integer.
    #[must_use]
    pub fn int(mut self, v: i64) -> Self {
        self.push_int(v);
        self
    }

    /// Appends a bound string.
    #[must_use]
    pub fn text(mut self, v: impl Into<String>) -> Self {
        self.push_text(v);
        self
    }

    /// Appends a bound boolean.
    #[must_use]
    pub fn boolean(mut self, v: bool) -> Self {
        self.push_bool(v);
        self
    }

    pub fn push_text(&mut self, v: impl Into<String>) {
        self.parts.push(Part::Text(v.into()));
    }

    pub fn push_int(&mut self, v: i64) {
        self.parts.push(Part::Int(v));
    }

    pub fn push_bool(&mut self, v: bool) {
        self.parts.push(Part::Bool(v));
    }

    /// Appends SQL text that differs by backend; neither may contain user input.
    pub fn push_dialect(&mut self, sqlite: &str, postgres: &str) {
        self.parts
            .push(Part::Dialect(sqlite.to_owned(), postgres.to_owned()));
    }

    /// Appends another fragment (its text and binds).
    pub fn push<T>(&mut self, other: Sql<T>) {
        for p in other.parts {
            match p {
                Part::Sql(s) => self.push_sql(&s),
                p => self.parts.push(p),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The SQL text with `?` for each bind (PostgreSQL's where they differ), for tests and logs.
    pub fn debug_text(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Sql(s) | Part::Dialect(_, s) => s.clone(),
                _ => "?".to_owned(),
            })
            .collect()
    }
}

impl SqlFilter {
    /// A condition that holds for every row.
    pub fn always() -> Self {
        Self::new().sql("1 = 1")
    }
}

/// A whole statement (`INSERT … SELECT`, `UPDATE … WHERE … IN (…)`) runs with `.execute(conn)`.
impl<ST, Conn> diesel::RunQueryDsl<Conn> for Sql<ST> {}

impl<ST: SqlType + SingleValue> Expression for Sql<ST> {
    type SqlType = ST;
}

impl<ST: SqlType + SingleValue, QS> AppearsOnTable<QS> for Sql<ST> {}

impl<ST: SqlType + SingleValue, QS> SelectableExpression<QS> for Sql<ST> {}

impl<ST> ValidGrouping<()> for Sql<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for Sql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB> QueryFragment<DB> for Sql<ST>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Bool> + Dialect,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    bool: ToSql<Bool, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for p in &self.parts {
            match p {
                Part::Sql(s) => out.push_sql(s),
                Part::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Part::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Bool(v) => out.push_bind_param::<Bool, bool>(v)?,
                Part::Dialect(sqlite, postgres) => {
                    let s = if out.backend().is_sqlite() {
                        sqlite
                    } else {
                        postgres
                    };
                    out.push_sql(s);
                }
            }
        }
        Ok(())
    }
}
