//! Key/value metadata of targets, distribution sets and software modules: one implementation over
//! the three tables (`target_metadata`, `ds_metadata`, `sm_metadata`), the owner picking the table.
//! A software module's entries also say whether devices see them (`targetVisible`).

use diesel::dsl::AsExprOf;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::page::{ListQuery, Paged, paginate};
use super::schema::{distribution_sets, software_modules};
use super::targets::find_target;
use super::{AnyConnection, Error, Result, Rule, check_len};

/// hawkBit's `maxMetaDataEntriesPerTarget` / `maxMetaDataEntriesPerDistributionSet`.
const MAX_ENTRIES: usize = 100;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 4000;

/// Whose metadata an operation addresses, as the caller names it.
#[derive(Debug, Clone)]
pub enum Owner {
    /// A target, by controller id.
    Target(String),
    /// A distribution set, by id.
    Ds(i64),
    /// A software module, by id.
    Sm(i64),
}

/// One metadata entry. `target_visible` is a software module's only (false for the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub target_visible: bool,
}

/// An owner found in its tenant: the row id in `targets`, `distribution_sets` or `software_modules`.
#[derive(Debug, Clone, Copy)]
pub enum Found {
    Target(i64),
    Ds(i64),
    Sm(i64),
}

impl Owner {
    /// The owner's row, if it exists in `tenant`.
    fn find(&self, c: &mut AnyConnection, tenant: &str) -> Result<Found> {
        match self {
            Self::Target(cid) => Ok(Found::Target(find_target(c, tenant, cid)?.id)),
            Self::Ds(id) => distribution_sets::table
                .find(id)
                .filter(distribution_sets::tenant.eq(tenant))
                .filter(distribution_sets::deleted.eq(false))
                .select(distribution_sets::id)
                .first(c)
                .optional()?
                .map(Found::Ds)
                .ok_or_else(|| Error::not_found("DistributionSet", id)),
            // Soft-deleted modules keep their metadata readable, as before.
            Self::Sm(id) => software_modules::table
                .find(id)
                .filter(software_modules::tenant.eq(tenant))
                .select(software_modules::id)
                .first(c)
                .optional()?
                .map(Found::Sm)
                .ok_or_else(|| Error::not_found("SoftwareModule", id)),
        }
    }

    /// Key and value rules. Software module keys were never refused for being empty.
    fn check(&self, key: Option<&str>, value: &str) -> Result<()> {
        if let Some(key) = key {
            if key.is_empty() && !matches!(self, Self::Sm(_)) {
                return Err(Error::refused(Rule::Constraint, "key must not be empty."));
            }
            check_len("key", key, MAX_KEY_LEN)?;
        }
        check_len("value", value, MAX_VALUE_LEN)
    }
}

impl Found {
    /// The entity an entry of this owner is, as hawkBit names it in a 404.
    fn entity(self) -> &'static str {
        match self {
            Self::Target(_) => "TargetMetadata",
            Self::Ds(_) => "DistributionSetMetadata",
            Self::Sm(_) => "SoftwareModuleMetadata",
        }
    }
}

/// `false` as a selectable column, for the tables without `target_visible`.
fn invisible() -> AsExprOf<bool, Bool> {
    false.into_sql::<Bool>()
}

/// Runs `$body` on the found owner's table: `$t` names the table's schema module, `$owner` its
/// owner column, `$id` the owner's id and `$visible` its `target_visible` (or `false`).
macro_rules! on_table {
    ($found:expr, |$t:ident, $owner:ident, $id:ident, $visible:ident| $body:expr) => {
        match $found {
            Found::Target($id) => {
                use super::schema::target_metadata as $t;
                let ($owner, $visible) = ($t::target_id, invisible());
                $body
            }
            Found::Ds($id) => {
                use super::schema::ds_metadata as $t;
                let ($owner, $visible) = ($t::ds_id, invisible());
                $body
            }
            Found::Sm($id) => {
                use super::schema::sm_metadata as $t;
                let ($owner, $visible) = ($t::sm_id, $t::target_visible);
                $body
            }
        }
    };
}

fn to_entry((key, value, target_visible): (String, String, bool)) -> Entry {
    Entry {
        key,
        value,
        target_visible,
    }
}

/// One page of an owner's entries that `list` selects, in its order (`q`/`sort` on `key`, `value`
/// and, for modules, `targetVisible`).
pub fn list(c: &mut AnyConnection, tenant: &str, owner: &Owner, list: &ListQuery) -> Result<Paged<Entry>> {
    let found = owner.find(c, tenant)?;
    let page: Paged<(String, String, bool)> = on_table!(found, |t, owner_id, id, visible| paginate!(
        c,
        t::table
            .filter(owner_id.eq(id))
            .select((t::meta_key, t::meta_value, visible)),
        list
    ));
    Ok(page.map(to_entry))
}

/// All of an owner's entries, by key.
pub fn all(c: &mut AnyConnection, tenant: &str, owner: &Owner) -> Result<Vec<Entry>> {
    let found = owner.find(c, tenant)?;
    let rows: Vec<(String, String, bool)> = on_table!(found, |t, owner_id, id, visible| t::table
        .filter(owner_id.eq(id))
        .order(t::meta_key.asc())
        .select((t::meta_key, t::meta_value, visible))
        .load(c)?);
    Ok(rows.into_iter().map(to_entry).collect())
}

fn get_found(c: &mut AnyConnection, found: Found, key: &str) -> Result<Entry> {
    let row: Option<(String, String, bool)> = on_table!(found, |t, owner_id, id, visible| t::table
        .filter(owner_id.eq(id).and(t::meta_key.eq(key)))
        .select((t::meta_key, t::meta_value, visible))
        .first(c)
        .optional()?);
    row.map(to_entry)
        .ok_or_else(|| Error::not_found(found.entity(), key))
}

/// One entry of an owner.
pub fn get(c: &mut AnyConnection, tenant: &str, owner: &Owner, key: &str) -> Result<Entry> {
    let found = owner.find(c, tenant)?;
    get_found(c, found, key)
}

fn insert(c: &mut AnyConnection, found: Found, e: &Entry) -> Result<()> {
    use super::schema::{ds_metadata, sm_metadata, target_metadata};
    match found {
        Found::Target(id) => diesel::insert_into(target_metadata::table)
            .values((
                target_metadata::target_id.eq(id),
                target_metadata::meta_key.eq(&e.key),
                target_metadata::meta_value.eq(&e.value),
            ))
            .execute(c)?,
        Found::Ds(id) => diesel::insert_into(ds_metadata::table)
            .values((
                ds_metadata::ds_id.eq(id),
                ds_metadata::meta_key.eq(&e.key),
                ds_metadata::meta_value.eq(&e.value),
            ))
            .execute(c)?,
        Found::Sm(id) => diesel::insert_into(sm_metadata::table)
            .values((
                sm_metadata::sm_id.eq(id),
                sm_metadata::meta_key.eq(&e.key),
                sm_metadata::meta_value.eq(&e.value),
                sm_metadata::target_visible.eq(e.target_visible),
            ))
            .execute(c)?,
    };
    Ok(())
}

/// Adds entries to an owner's metadata. Targets and distribution sets hold at most 100 entries and
/// refuse a key they have (or that the request repeats) as hawkBit does; a module's duplicate key
/// is refused by the table's key.
pub fn create(c: &mut AnyConnection, tenant: &str, owner: &Owner, entries: &[Entry]) -> Result<()> {
    for e in entries {
        owner.check(Some(&e.key), &e.value)?;
    }
    let found = owner.find(c, tenant)?;
    if !matches!(found, Found::Sm(_)) {
        let existing: Vec<String> = on_table!(found, |t, owner_id, id, _visible| t::table
            .filter(owner_id.eq(id))
            .select(t::meta_key)
            .load(c)?);
        if existing.len() + entries.len() > MAX_ENTRIES {
            return Err(Error::refused(
                Rule::Quota,
                format!("Quota exceeded: at most {MAX_ENTRIES} metadata entries are allowed per entity."),
            ));
        }
        for (i, e) in entries.iter().enumerate() {
            if entries[..i].iter().any(|p| p.key == e.key) || existing.contains(&e.key) {
                return Err(Error::refused(
                    Rule::AlreadyExists,
                    format!("Metadata with key {} already exists.", e.key),
                ));
            }
        }
    }
    for e in entries {
        insert(c, found, e)?;
    }
    Ok(())
}

/// Changes an entry's value and, for a module, its visibility; what is not given stays. Returns
/// the entry as stored.
pub fn update(
    c: &mut AnyConnection,
    tenant: &str,
    owner: &Owner,
    key: &str,
    value: Option<&str>,
    target_visible: Option<bool>,
) -> Result<Entry> {
    // A module's key was never checked here: an impossible key is simply not found.
    let path_key = (!matches!(owner, Owner::Sm(_))).then_some(key);
    owner.check(path_key, value.unwrap_or(""))?;
    let found = owner.find(c, tenant)?;
    let old = get_found(c, found, key)?;
    let value = value.unwrap_or(&old.value);
    on_table!(found, |t, owner_id, id, _visible| diesel::update(
        t::table.filter(owner_id.eq(id).and(t::meta_key.eq(key)))
    )
    .set(t::meta_value.eq(value))
    .execute(c)?);
    if let (Found::Sm(id), Some(visible)) = (found, target_visible) {
        use super::schema::sm_metadata;
        diesel::update(sm_metadata::table.find((id, key)))
            .set(sm_metadata::target_visible.eq(visible))
            .execute(c)?;
    }
    get_found(c, found, key)
}

/// Deletes one entry of an owner.
pub fn delete(c: &mut AnyConnection, tenant: &str, owner: &Owner, key: &str) -> Result<()> {
    let found = owner.find(c, tenant)?;
    let n = on_table!(found, |t, owner_id, id, _visible| diesel::delete(
        t::table.filter(owner_id.eq(id).and(t::meta_key.eq(key)))
    )
    .execute(c)?);
    if n == 0 {
        return Err(Error::not_found(found.entity(), key));
    }
    Ok(())
}

/// Gives the owner `found` the entries as another server holds them (the import): missing ones are
/// added, changed ones take the given value (and visibility), others are left alone. No quota
/// applies: the source accepted them. Returns how many were added or changed.
pub fn merge(c: &mut AnyConnection, found: Found, entries: &[Entry]) -> Result<usize> {
    let have: Vec<(String, String, bool)> = on_table!(found, |t, owner_id, id, visible| t::table
        .filter(owner_id.eq(id))
        .select((t::meta_key, t::meta_value, visible))
        .load(c)?);
    let mut written = 0;
    for e in entries {
        match have.iter().find(|(k, _, _)| *k == e.key) {
            Some((_, v, visible)) if *v == e.value && *visible == e.target_visible => continue,
            Some(_) => {
                on_table!(found, |t, owner_id, id, _visible| diesel::update(
                    t::table.filter(owner_id.eq(id).and(t::meta_key.eq(&e.key)))
                )
                .set(t::meta_value.eq(&e.value))
                .execute(c)?);
                if let Found::Sm(id) = found {
                    use super::schema::sm_metadata;
                    diesel::update(sm_metadata::table.find((id, &e.key)))
                        .set(sm_metadata::target_visible.eq(e.target_visible))
                        .execute(c)?;
                }
            }
            None => insert(c, found, e)?,
        }
        written += 1;
    }
    Ok(written)
}
