//! A whole `SELECT` built with [`Sql`] (binds placed for either backend), loadable as rows of
//! `ST`: the fleet figures join a table twice under aliases and group by joined columns, which
//! Diesel's DSL does not express across tables.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use crate::store::query::Sql;

/// Rows of (set id, name, version, devices).
pub type SetRow = (Nullable<BigInt>, Nullable<Text>, Nullable<Text>, BigInt);
/// Rows of (value, value, devices).
pub type PairRow = (Nullable<Text>, Nullable<Text>, BigInt);

/// A `SELECT` statement whose rows have the SQL types `ST`.
pub struct Select<ST> {
    sql: Sql<Bool>,
    _rows: PhantomData<fn() -> ST>,
}

impl<ST> Select<ST> {
    pub fn new(sql: Sql<Bool>) -> Self {
        Self {
            sql,
            _rows: PhantomData,
        }
    }
}

impl<ST> QueryId for Select<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> Query for Select<ST> {
    type SqlType = ST;
}

impl<ST, DB: Backend> QueryFragment<DB> for Select<ST>
where
    Sql<Bool>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.sql.walk_ast(out)
    }
}

impl<ST, Conn> RunQueryDsl<Conn> for Select<ST> {}
