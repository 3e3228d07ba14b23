//! Tags: of targets and of distribution sets. Both kinds have the same columns, rules and
//! assignment table shape, so one module serves both; [`Kind`] picks the tables.

use diesel::prelude::*;

use super::models::Target;
use super::page::{ListQuery, Paged, paginate};
use super::schema::{
    distribution_sets, ds_tag_assignments, ds_tags, target_tag_assignments, target_tags, targets,
};
use super::targets::find_target;
use super::{AnyConnection, Error, Result, Rule, check_len};

/// hawkBit's longest tag name, description and colour (`NamedEntity`, `Tag`).
const NAME_MAX: usize = 64;
const DESCRIPTION_MAX: usize = 512;
const COLOUR_MAX: usize = 16;

/// Which entities a tag marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Target,
    DistributionSet,
}

impl Kind {
    /// The tag's entity name in hawkBit's messages.
    pub fn entity(self) -> &'static str {
        match self {
            Self::Target => "TargetTag",
            Self::DistributionSet => "DistributionSetTag",
        }
    }
}

/// Runs `$body` with `$tags` and `$assigned` naming the tag table and its assignment table of `$kind`
/// (whose tagged-entity column is `$assigned::entity`).
macro_rules! with_tables {
    ($kind:expr, |$tags:ident, $assigned:ident| $body:expr) => {
        match $kind {
            Kind::Target => {
                use target_tag_assignments as $assigned;
                #[allow(unused_imports)]
                use target_tags as $tags;
                #[allow(unused_imports)]
                use $assigned::target_id as entity;
                $body
            }
            Kind::DistributionSet => {
                use ds_tag_assignments as $assigned;
                #[allow(unused_imports)]
                use ds_tags as $tags;
                #[allow(unused_imports)]
                use $assigned::ds_id as entity;
                $body
            }
        }
    };
}

/// A tag (a row of `target_tags` or `ds_tags`).
#[derive(Debug, Clone, Queryable)]
pub struct Tag {
    pub id: i64,
    pub tenant: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

/// The fields of a new tag, or those to change on one (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct TagFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub colour: Option<String>,
}

impl TagFields {
    /// hawkBit's rules: a name on create, never blank; bounded lengths.
    pub fn validate(&self, create: bool) -> Result<()> {
        match self.name.as_deref() {
            None if create => return Err(Error::refused(Rule::Constraint, "name is required.")),
            Some(n) if n.trim().is_empty() => {
                return Err(Error::refused(Rule::Constraint, "name must not be empty."));
            }
            _ => {}
        }
        check_len("name", self.name.as_deref().unwrap_or(""), NAME_MAX)?;
        check_len(
            "description",
            self.description.as_deref().unwrap_or(""),
            DESCRIPTION_MAX,
        )?;
        check_len("colour", self.colour.as_deref().unwrap_or(""), COLOUR_MAX)
    }
}

/// Who changes what, when.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub by: &'a str,
    pub at: i64,
}

/// The tenant's tag `id`.
pub fn get(c: &mut AnyConnection, kind: Kind, tenant: &str, id: i64) -> Result<Tag> {
    with_tables!(kind, |tags, a| tags::table
        .filter(tags::tenant.eq(tenant).and(tags::id.eq(id)))
        .first::<Tag>(c)
        .optional()?)
    .ok_or_else(|| Error::not_found(kind.entity(), id))
}

/// One page of the tenant's tags.
pub fn list(c: &mut AnyConnection, kind: Kind, tenant: &str, list: &ListQuery) -> Result<Paged<Tag>> {
    Ok(with_tables!(kind, |tags, a| paginate!(
        c,
        tags::table.filter(tags::tenant.eq(tenant)),
        list
    )))
}

/// The tenant's tags as (id, name), by name: for pickers.
pub fn names(c: &mut AnyConnection, kind: Kind, tenant: &str) -> Result<Vec<(i64, String)>> {
    Ok(with_tables!(kind, |tags, a| tags::table
        .filter(tags::tenant.eq(tenant))
        .order(tags::name.asc())
        .select((tags::id, tags::name))
        .load(c)?))
}

/// Creates tags from validated fields, all or none; a taken name is refused.
pub fn create(
    c: &mut AnyConnection,
    kind: Kind,
    tenant: &str,
    fields: &[TagFields],
    audit: Audit<'_>,
) -> Result<Vec<Tag>> {
    fields
        .iter()
        .map(|f| create_one(c, kind, tenant, f, audit))
        .collect()
}

/// Creates one tag from validated fields; a taken name is refused.
pub fn create_one(
    c: &mut AnyConnection,
    kind: Kind,
    tenant: &str,
    f: &TagFields,
    audit: Audit<'_>,
) -> Result<Tag> {
    let name = f.name.as_deref().unwrap_or_default();
    let id: i64 = with_tables!(kind, |tags, a| diesel::insert_into(tags::table)
        .values((
            tags::tenant.eq(tenant),
            tags::name.eq(name),
            tags::description.eq(f.description.as_deref()),
            tags::colour.eq(f.colour.as_deref()),
            tags::created_at.eq(audit.at),
            tags::created_by.eq(audit.by),
            tags::last_modified_at.eq(audit.at),
            tags::last_modified_by.eq(audit.by),
        ))
        .returning(tags::id)
        .get_result(c))
    .map_err(|e| duplicate_name(e, name))?;
    get(c, kind, tenant, id)
}

/// Changes the given fields of the tenant's tag `id`.
pub fn update(
    c: &mut AnyConnection,
    kind: Kind,
    tenant: &str,
    id: i64,
    fields: &TagFields,
    audit: Audit<'_>,
) -> Result<Tag> {
    let t = get(c, kind, tenant, id)?;
    let name = fields.name.as_deref().unwrap_or(&t.name);
    let description = fields.description.as_deref().or(t.description.as_deref());
    let colour = fields.colour.as_deref().or(t.colour.as_deref());
    with_tables!(kind, |tags, a| diesel::update(tags::table.find(t.id))
        .set((
            tags::name.eq(name),
            tags::description.eq(description),
            tags::colour.eq(colour),
            tags::last_modified_at.eq(audit.at),
            tags::last_modified_by.eq(audit.by),
        ))
        .execute(c))
    .map_err(|e| duplicate_name(e, name))?;
    get(c, kind, tenant, id)
}

/// Deletes the tenant's tag `id`; its entities lose it.
pub fn delete(c: &mut AnyConnection, kind: Kind, tenant: &str, id: i64) -> Result<()> {
    let t = get(c, kind, tenant, id)?;
    with_tables!(kind, |tags, a| {
        diesel::delete(a::table.filter(a::tag_id.eq(t.id))).execute(c)?;
        diesel::delete(tags::table.find(t.id)).execute(c)?;
    });
    Ok(())
}

/// A unique violation on insert or rename, as a refusal naming the tag.
fn duplicate_name(e: diesel::result::Error, name: &str) -> Error {
    Error::taken(e, || format!("A tag named {name} already exists."))
}

/// Tags (`assign`) or untags the entities `ids` (of the tag's kind); tagging twice changes nothing.
pub fn set_tagged(c: &mut AnyConnection, kind: Kind, tag: i64, ids: &[i64], assign: bool) -> Result<()> {
    with_tables!(kind, |tags, a| {
        if !assign {
            diesel::delete(a::table.filter(a::tag_id.eq(tag).and(entity.eq_any(ids)))).execute(c)?;
            return Ok(());
        }
        let present: Vec<i64> = a::table
            .filter(a::tag_id.eq(tag).and(entity.eq_any(ids)))
            .select(entity)
            .load(c)?;
        let mut new: Vec<i64> = ids.iter().copied().filter(|t| !present.contains(t)).collect();
        new.sort_unstable();
        new.dedup();
        for t in new {
            diesel::insert_into(a::table)
                .values((a::tag_id.eq(tag), entity.eq(t)))
                .execute(c)?;
        }
    });
    Ok(())
}

/// Which of the tenant's entities a bulk (un)tagging names that do not exist, and what to do then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Refuse the whole change (not found) when any is missing.
    Refuse,
    /// Change the entities that exist.
    Skip,
}

/// Tags or untags the tenant's targets named by controller id; returns the ids that do not exist.
pub fn tag_targets(
    c: &mut AnyConnection,
    tenant: &str,
    tag: i64,
    controller_ids: &[String],
    assign: bool,
    missing: Missing,
) -> Result<Vec<String>> {
    let tag = get(c, Kind::Target, tenant, tag)?;
    let found: Vec<(i64, String)> = targets::table
        .filter(targets::tenant.eq(tenant))
        .filter(targets::controller_id.eq_any(controller_ids))
        .select((targets::id, targets::controller_id))
        .load(c)?;
    let absent: Vec<String> = controller_ids
        .iter()
        .filter(|cid| !found.iter().any(|(_, f)| f == *cid))
        .cloned()
        .collect();
    if missing == Missing::Refuse && !absent.is_empty() {
        return Err(Error::not_found("Target", absent.join(",")));
    }
    let ids: Vec<i64> = found.iter().map(|(i, _)| *i).collect();
    set_tagged(c, Kind::Target, tag.id, &ids, assign)?;
    Ok(absent)
}

/// Tags or untags the tenant's distribution sets `ids`; returns the ids that do not exist.
pub fn tag_sets(
    c: &mut AnyConnection,
    tenant: &str,
    tag: i64,
    ids: &[i64],
    assign: bool,
    missing: Missing,
) -> Result<Vec<String>> {
    let tag = get(c, Kind::DistributionSet, tenant, tag)?;
    let found: Vec<i64> = distribution_sets::table
        .filter(distribution_sets::tenant.eq(tenant))
        .filter(distribution_sets::id.eq_any(ids))
        .select(distribution_sets::id)
        .load(c)?;
    let absent: Vec<String> = ids
        .iter()
        .filter(|i| !found.contains(i))
        .map(i64::to_string)
        .collect();
    if missing == Missing::Refuse && !absent.is_empty() {
        return Err(Error::not_found("DistributionSet", absent.join(",")));
    }
    set_tagged(c, Kind::DistributionSet, tag.id, &found, assign)?;
    Ok(absent)
}

/// Tags or untags one target with the tenant's tag `tag`.
pub fn tag_target(
    c: &mut AnyConnection,
    tenant: &str,
    tag: i64,
    controller_id: &str,
    assign: bool,
) -> Result<()> {
    let tag = get(c, Kind::Target, tenant, tag)?;
    let t = find_target(c, tenant, controller_id)?;
    set_tagged(c, Kind::Target, tag.id, &[t.id], assign)
}

/// Tags or untags one of the tenant's distribution sets.
pub fn tag_set(c: &mut AnyConnection, tenant: &str, tag: i64, ds: i64, assign: bool) -> Result<()> {
    let tag = get(c, Kind::DistributionSet, tenant, tag)?;
    let found: Option<i64> = distribution_sets::table
        .filter(
            distribution_sets::tenant
                .eq(tenant)
                .and(distribution_sets::id.eq(ds)),
        )
        .select(distribution_sets::id)
        .first(c)
        .optional()?;
    let ds = found.ok_or_else(|| Error::not_found("DistributionSet", ds))?;
    set_tagged(c, Kind::DistributionSet, tag.id, &[ds], assign)
}

/// One page of the targets that carry the tenant's tag `tag`.
pub fn tagged_targets(
    c: &mut AnyConnection,
    tenant: &str,
    tag: i64,
    list: &ListQuery,
) -> Result<Paged<Target>> {
    use target_tag_assignments as tta;
    let tag = get(c, Kind::Target, tenant, tag)?;
    Ok(paginate!(
        c,
        targets::table
            .filter(targets::tenant.eq(tenant))
            .filter(targets::id.eq_any(tta::table.filter(tta::tag_id.eq(tag.id)).select(tta::target_id))) => Target::as_select(),
        list
    ))
}

/// One page of the ids of the distribution sets that carry the tenant's tag `tag`.
pub fn tagged_sets(c: &mut AnyConnection, tenant: &str, tag: i64, list: &ListQuery) -> Result<Paged<i64>> {
    use ds_tag_assignments as dta;
    let tag = get(c, Kind::DistributionSet, tenant, tag)?;
    Ok(paginate!(
        c,
        distribution_sets::table
            .filter(distribution_sets::tenant.eq(tenant))
            .filter(
                distribution_sets::id.eq_any(dta::table.filter(dta::tag_id.eq(tag.id)).select(dta::ds_id))
            ) => distribution_sets::id,
        list
    ))
}

/// The tags of the tenant's target `controller_id`, by id.
pub fn of_target(c: &mut AnyConnection, tenant: &str, controller_id: &str) -> Result<Vec<Tag>> {
    use target_tag_assignments as tta;
    let t = find_target(c, tenant, controller_id)?;
    let tagged = tta::table.filter(tta::target_id.eq(t.id)).select(tta::tag_id);
    Ok(target_tags::table
        .filter(target_tags::tenant.eq(tenant))
        .filter(target_tags::id.eq_any(tagged))
        .order(target_tags::id.asc())
        .load::<Tag>(c)?)
}

/// The tags of the tenant's distribution set `ds`, by name.
pub fn of_set(c: &mut AnyConnection, tenant: &str, ds: i64) -> Result<Vec<Tag>> {
    use ds_tag_assignments as dta;
    let tagged = dta::table.filter(dta::ds_id.eq(ds)).select(dta::tag_id);
    Ok(ds_tags::table
        .filter(ds_tags::tenant.eq(tenant))
        .filter(ds_tags::id.eq_any(tagged))
        .order(ds_tags::name.asc())
        .load::<Tag>(c)?)
}

/// The colours of the tenant's tags that have one, by tag name: for showing tags that were loaded
/// by name only (device list, device page).
pub fn colours(
    c: &mut AnyConnection,
    kind: Kind,
    tenant: &str,
) -> Result<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, Option<String>)> = with_tables!(kind, |tags, a| tags::table
        .filter(tags::tenant.eq(tenant))
        .select((tags::name, tags::colour))
        .load(c)?);
    Ok(rows.into_iter().filter_map(|(n, c)| Some((n, c?))).collect())
}
