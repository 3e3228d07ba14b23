//! The kinds of things: software module types ([`sm`]), distribution set types ([`ds`]) and target
//! types ([`target`]).
//!
//! The three share their shape (a key, a name, a description and a colour, hawkBit's lengths, its
//! answer to a taken key or name, finding one, changing its texts): that part is written once here
//! and stamped onto each table by [`type_table!`]. What is a kind's own (module types' assignment
//! limits, the module types a set type holds, the set types a target type accepts, which of them are
//! only marked deleted) lives in its module.

use super::{Error, Result, Rule, check_len};

/// hawkBit's longest type key, name, description and colour (`Type`, `NamedEntity`).
pub const KEY_MAX: usize = 64;
pub const NAME_MAX: usize = 64;
pub const DESCRIPTION_MAX: usize = 512;
pub const COLOUR_MAX: usize = 16;

/// A type to create, as given: which of `key` and `name` are required, and what an absent one
/// means, is the kind's rule.
#[derive(Debug, Clone, Default)]
pub struct NewType {
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub colour: Option<String>,
}

/// The texts of a type to change; absent ones stay. Only target types may be renamed.
#[derive(Debug, Clone, Default)]
pub struct TypeChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub colour: Option<String>,
}

impl NewType {
    /// The `(key, name)` of a module or set type, both required, after checking every text's length.
    fn required(&self) -> Result<(&str, &str)> {
        for (field, value, max) in [
            ("name", self.name.as_deref(), NAME_MAX),
            ("key", self.key.as_deref(), KEY_MAX),
        ] {
            match value {
                Some(v) if !v.trim().is_empty() => check_len(field, v, max)?,
                _ => {
                    return Err(Error::refused(Rule::Constraint, format!("{field} is required.")));
                }
            }
        }
        check_description_and_colour(self.description.as_deref(), self.colour.as_deref())?;
        Ok((
            self.key.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default(),
        ))
    }
}

impl TypeChange {
    /// Refuses an empty new name and texts longer than hawkBit allows.
    fn check(&self) -> Result<()> {
        check_name(self.name.as_deref())?;
        check_description_and_colour(self.description.as_deref(), self.colour.as_deref())
    }
}

/// Refuses a given name that is blank or too long.
fn check_name(name: Option<&str>) -> Result<()> {
    if name.is_some_and(|n| n.trim().is_empty()) {
        return Err(Error::refused(Rule::Constraint, "name must not be empty."));
    }
    check_len("name", name.unwrap_or(""), NAME_MAX)
}

fn check_description_and_colour(description: Option<&str>, colour: Option<&str>) -> Result<()> {
    check_len("description", description.unwrap_or(""), DESCRIPTION_MAX)?;
    check_len("colour", colour.unwrap_or(""), COLOUR_MAX)
}

/// Checks every one of `types`, then creates each with `create`, so a refusal of the last leaves
/// none created (hawkBit validates a whole list before it writes).
fn check_then_create<T, R>(
    types: &[T],
    check: impl Fn(&T) -> Result<()>,
    create: impl FnMut(&T) -> Result<R>,
) -> Result<Vec<R>> {
    for t in types {
        check(t)?;
    }
    types.iter().map(create).collect()
}

/// A unique violation on writing a type as hawkBit's conflict naming the type; other errors as they are.
fn already_exists(e: diesel::result::Error, key: &str, name: &str) -> Error {
    Error::taken(e, || {
        format!("A type with key {key} or name {name} already exists.")
    })
}

/// Inserts a type into `$table` with its shared columns (`$key_and_name`: `(&str, &str)`, the rest
/// from the `NewType` `$t`) and the kind's `$extra` column values;
/// `Result<i64>`, the new id. A taken key or name is hawkBit's conflict naming the type.
macro_rules! insert_type {
    ($c:expr, $table:ident, $tenant:expr, $key_and_name:expr, $t:expr, $by:expr, $now:expr $(, $extra:expr)*) => {{
        use diesel::prelude::*;
        let (key, name): (&str, &str) = $key_and_name;
        diesel::insert_into($table::table)
            .values((
                $table::tenant.eq($tenant),
                $table::type_key.eq(key),
                $table::name.eq(name),
                $table::description.eq($t.description.as_deref()),
                $table::colour.eq($t.colour.as_deref()),
                $table::created_at.eq($now),
                $table::created_by.eq($by),
                $table::last_modified_at.eq($now),
                $table::last_modified_by.eq($by),
                $($extra,)*
            ))
            .returning($table::id)
            .get_result::<i64>($c)
            .map_err(|e| super::already_exists(e, key, name))
    }};
}

/// What every type table offers, for the table `$table` (a `store::schema` module in scope), its row
/// `$Row` and hawkBit's entity name `$entity`: `find`, `update` and `touch`; with `soft_deleted`
/// also `list` (by the `deleted` values the caller wants) and `mark_deleted`.
macro_rules! type_table {
    ($table:ident, $Row:ident, $entity:literal) => {
        /// The tenant's type `id`, deleted or not; not found otherwise.
        pub fn find(
            c: &mut $crate::store::AnyConnection,
            tenant: &str,
            id: i64,
        ) -> $crate::store::Result<$Row> {
            use diesel::prelude::*;
            $table::table
                .filter($table::tenant.eq(tenant).and($table::id.eq(id)))
                .select($Row::as_select())
                .first(c)
                .optional()?
                .ok_or_else(|| $crate::store::Error::not_found($entity, id))
        }

        /// Records who changed the type `id` last, and when.
        pub fn touch(
            c: &mut $crate::store::AnyConnection,
            id: i64,
            by: &str,
            now: i64,
        ) -> $crate::store::Result<()> {
            use diesel::prelude::*;
            diesel::update($table::table.find(id))
                .set((
                    $table::last_modified_at.eq(now),
                    $table::last_modified_by.eq(by),
                ))
                .execute(c)?;
            Ok(())
        }

        /// Changes the texts `change` gives of the tenant's type `id` (the others stay); the type
        /// as it is then.
        pub fn update(
            c: &mut $crate::store::AnyConnection,
            tenant: &str,
            id: i64,
            change: &super::TypeChange,
            by: &str,
            now: i64,
        ) -> $crate::store::Result<$Row> {
            use diesel::prelude::*;
            change.check()?;
            let t = find(c, tenant, id)?;
            let name = change.name.as_deref().unwrap_or(&t.name);
            diesel::update($table::table.find(t.id))
                .set((
                    $table::name.eq(name),
                    $table::description.eq(change.description.as_deref().or(t.description.as_deref())),
                    $table::colour.eq(change.colour.as_deref().or(t.colour.as_deref())),
                    $table::last_modified_at.eq(now),
                    $table::last_modified_by.eq(by),
                ))
                .execute(c)
                .map_err(|e| super::already_exists(e, &t.type_key, name))?;
            find(c, tenant, id)
        }
    };
    ($table:ident, $Row:ident, $entity:literal, soft_deleted) => {
        type_table!($table, $Row, $entity);

        /// One page of the tenant's types whose `deleted` flag is one of `deleted`.
        pub fn list(
            c: &mut $crate::store::AnyConnection,
            tenant: &str,
            deleted: &[bool],
            list: &$crate::store::ListQuery,
        ) -> $crate::store::Result<$crate::store::Paged<$Row>> {
            Ok($crate::store::page::paginate!(
                c,
                $table::table
                    .filter(
                        $table::tenant
                            .eq(tenant)
                            .and($table::deleted.eq_any(deleted))
                    )
                    .select($table::all_columns),
                list
            ))
        }

        /// Marks the type `id` deleted: hawkBit keeps a type that others still refer to.
        fn mark_deleted(
            c: &mut $crate::store::AnyConnection,
            id: i64,
            by: &str,
            now: i64,
        ) -> $crate::store::Result<()> {
            use diesel::prelude::*;
            diesel::update($table::table.find(id))
                .set((
                    $table::deleted.eq(true),
                    $table::last_modified_at.eq(now),
                    $table::last_modified_by.eq(by),
                ))
                .execute(c)?;
            Ok(())
        }
    };
}

pub mod ds;
pub mod sm;
pub mod target;
