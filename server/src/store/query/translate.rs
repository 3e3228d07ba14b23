//! Turns a parsed RSQL query and a `sort` parameter into SQL for one [`Entity`].
//!
//! Every value the user typed is bound as a parameter; SQL text comes only from the field tables.
//! hawkBit's semantics: text compares case-insensitively, "not equal" (and `=out=`) also matches
//! rows without a value, `==''` matches NULL or empty.

use super::rsql::{self, Arg, Comparison, Node, Op};
use super::{Entity, Field, Path, SqlFilter, SqlOrder, Ty};
use crate::store::error::{Error, Result, Rule};

/// The `WHERE` condition for `q` (all rows when there is none).
pub fn filter(entity: &Entity, q: Option<&str>) -> Result<SqlFilter> {
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return Ok(SqlFilter::always());
    };
    let node = rsql::parse(q).map_err(|e| Error::refused(Rule::QuerySyntax, e.to_string()))?;
    let mut out = SqlFilter::new();
    node_sql(entity, &node, &mut out)?;
    Ok(out)
}

/// The `ORDER BY` for `sort` (the entity's default when there is none), always ending with the
/// entity's tiebreak column (the id) so that pages are stable.
pub fn order(entity: &Entity, sort: Option<&str>) -> Result<SqlOrder> {
    let id = format!("{}.{}", entity.table, entity.tiebreak);
    let mut out = SqlOrder::new();
    let mut has_id = false;
    match sort.filter(|s| !s.trim().is_empty()) {
        None => {
            out.push_sql(entity.default_order);
            has_id = entity.default_order.starts_with(&format!("{id} "));
        }
        Some(sort) => {
            // Like Java's `String.split`, which hawkBit uses: trailing empty items are dropped.
            let terms = sort.trim_end_matches(',').split(',').count();
            if terms > MAX_SORT_TERMS {
                return Err(Error::refused(
                    Rule::SortSyntax,
                    format!("The sort parameter has {terms} terms; at most {MAX_SORT_TERMS} are allowed."),
                ));
            }
            let items: Vec<(&str, &str)> = sort
                .trim_end_matches(',')
                .split(',')
                .map(sort_syntax)
                .collect::<Result<_>>()?;
            for (i, (name, dir)) in items.into_iter().enumerate() {
                let (column, nullable, dir) = sort_item(entity, name, dir)?;
                if i > 0 {
                    out.push_sql(", ");
                }
                let column = format!("{}.{column}", entity.table);
                if nullable {
                    // NULLs first when ascending on both backends (PostgreSQL would put them last).
                    out.push_sql(&format!("CASE WHEN {column} IS NULL THEN 0 ELSE 1 END {dir}, "));
                }
                out.push_sql(&format!("{column} {dir}"));
                has_id |= column == id;
            }
        }
    }
    if !has_id {
        out.push_sql(&format!(", {id} ASC"));
    }
    Ok(out)
}

/// More sort terms than any entity has fields; thousands made SQLite refuse the statement (500).
const MAX_SORT_TERMS: usize = 32;

/// Splits one `field:DIR` of a sort.
fn sort_syntax(item: &str) -> Result<(&str, &str)> {
    let mut parts = item.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(dir), None) => Ok((name, dir)),
        _ => Err(Error::refused(
            Rule::SortSyntax,
            format!(
                "The sort parameter '{item}' is not well formed; expected field:ASC or field:DESC, \
             several separated by commas."
            ),
        )),
    }
}

/// The column, whether it is nullable, and `ASC`/`DESC` of one `field:DIR`.
fn sort_item(entity: &Entity, name: &str, dir: &str) -> Result<(&'static str, bool, &'static str)> {
    let name = name.trim();
    let column = entity.fields.iter().find_map(|f| match f.path {
        Path::Column { column, nullable, .. } if f.name.eq_ignore_ascii_case(name) => {
            Some((column, nullable))
        }
        _ => None,
    });
    let Some((column, nullable)) = column else {
        let valid: Vec<&str> = entity
            .fields
            .iter()
            .filter(|f| matches!(f.path, Path::Column { .. }))
            .map(|f| f.name)
            .collect();
        return Err(Error::refused(
            Rule::SortField,
            format!(
                "Sorting by '{name}' is not supported; sortable fields: {}.",
                valid.join(", ")
            ),
        ));
    };
    let dir = match dir.trim().to_ascii_uppercase().as_str() {
        "ASC" => "ASC",
        "DESC" => "DESC",
        _ => {
            return Err(Error::refused(
                Rule::SortDirection,
                format!(
                    "Invalid sort direction '{}' for '{name}'; expected ASC or DESC.",
                    dir.trim()
                ),
            ));
        }
    };
    Ok((column, nullable, dir))
}

fn node_sql(entity: &Entity, node: &Node, out: &mut SqlFilter) -> Result<()> {
    let (items, sep) = match node {
        Node::Cmp(c) => return comparison(entity, c, out),
        Node::And(items) => (items, " AND "),
        Node::Or(items) => (items, " OR "),
    };
    out.push_sql("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_sql(sep);
        }
        node_sql(entity, item, out)?;
    }
    out.push_sql(")");
    Ok(())
}

/// The field a selector names, with the key for map fields (`attribute.<key>`).
fn lookup<'a>(entity: &Entity, selector: &'a str) -> Option<(&'static Field, Option<&'a str>)> {
    let fields: &'static [Field] = entity.fields;
    if let Some(f) = fields
        .iter()
        .find(|f| !matches!(f.path, Path::Map { .. }) && f.name.eq_ignore_ascii_case(selector))
    {
        return Some((f, None));
    }
    let (prefix, key) = selector.split_once('.')?;
    fields
        .iter()
        .find(|f| matches!(f.path, Path::Map { .. }) && f.name.eq_ignore_ascii_case(prefix))
        .filter(|_| !key.is_empty())
        .map(|f| (f, Some(key)))
}

fn unknown_field(entity: &Entity, selector: &str) -> Error {
    let valid: Vec<String> = entity
        .fields
        .iter()
        .map(|f| match f.path {
            Path::Map { .. } => format!("{}.<key>", f.name),
            _ => f.name.to_owned(),
        })
        .collect();
    Error::refused(
        Rule::QueryField,
        format!(
            "Unknown field '{selector}' in the query; valid fields: {}.",
            valid.join(", ")
        ),
    )
}

/// A typed value to bind.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    /// An enum's stored (lower-case) name, compared exactly.
    Stored(String),
}

/// The positive test on the leaf column; the comparison is its negation when `negated`.
#[derive(Debug, Clone)]
enum Test {
    NotNull,
    /// Neither NULL nor empty.
    NonEmpty,
    Compare(&'static str, Value),
    Like(String),
    In(Vec<Value>),
}

fn leaf_ty(path: &Path) -> Ty {
    match path {
        Path::Column { ty, .. } => *ty,
        Path::Ref { then, .. } | Path::Link { then, .. } => leaf_ty(then),
        Path::Map { .. } => Ty::Text,
    }
}

fn comparison(entity: &Entity, c: &Comparison, out: &mut SqlFilter) -> Result<()> {
    let (field, key) = lookup(entity, &c.selector).ok_or_else(|| unknown_field(entity, &c.selector))?;
    let (negated, test) = test_of(&c.selector, leaf_ty(&field.path), c.op, &c.args)?;
    let table = entity.table;
    if !negated {
        positive(table, &field.path, key, &test, out);
        return Ok(());
    }
    match field.path {
        Path::Column {
            column,
            nullable: true,
            ..
        } => out.push_sql(&format!("({table}.{column} IS NULL OR NOT (")),
        Path::Ref {
            fk, nullable: true, ..
        } => out.push_sql(&format!("({table}.{fk} IS NULL OR NOT (")),
        _ => out.push_sql("(NOT ("),
    }
    positive(table, &field.path, key, &test, out);
    out.push_sql("))");
    Ok(())
}

/// Writes "the value at `path`, seen from a row of `table`, passes `test`".
fn positive(table: &str, path: &Path, key: Option<&str>, test: &Test, out: &mut SqlFilter) {
    match *path {
        Path::Column { column, .. } => leaf(&format!("{table}.{column}"), test, out),
        Path::Ref {
            fk,
            table: other,
            then,
            ..
        } => {
            out.push_sql(&format!("{table}.{fk} IN (SELECT {other}.id FROM {other} WHERE "));
            positive(other, then, None, test, out);
            out.push_sql(")");
        }
        Path::Link {
            link,
            owner,
            fk,
            table: other,
            then,
        } => {
            out.push_sql(&format!(
                "EXISTS (SELECT 1 FROM {link} WHERE {link}.{owner} = {table}.id AND {link}.{fk} IN \
                 (SELECT {other}.id FROM {other} WHERE "
            ));
            positive(other, then, None, test, out);
            out.push_sql("))");
        }
        Path::Map {
            table: map,
            owner,
            key: key_column,
            value,
        } => {
            out.push_sql(&format!(
                "EXISTS (SELECT 1 FROM {map} WHERE {map}.{owner} = {table}.id AND {map}.{key_column} = "
            ));
            out.push_text(key.unwrap_or_default());
            out.push_sql(" AND ");
            leaf(&format!("{map}.{value}"), test, out);
            out.push_sql(")");
        }
    }
}

fn leaf(column: &str, test: &Test, out: &mut SqlFilter) {
    match test {
        Test::NotNull => out.push_sql(&format!("{column} IS NOT NULL")),
        Test::NonEmpty => out.push_sql(&format!("({column} IS NOT NULL AND {column} <> '')")),
        Test::Like(pattern) => {
            // SQLite's LIKE already ignores the case of ASCII letters, and its UPPER folds nothing
            // else: the same match without calling UPPER twice per row (at 100,000 devices a
            // `controllerId==dev-*` count took half the time).
            out.push_dialect(
                &format!("{column} LIKE "),
                &format!("UPPER({column}) LIKE UPPER("),
            );
            out.push_text(pattern.clone());
            out.push_dialect(" ESCAPE '\\'", ") ESCAPE '\\'");
        }
        Test::Compare(op, v) => {
            out.push_sql(&format!("{} {op} ", wrap(column, v)));
            bind(v, out);
        }
        Test::In(values) => {
            let first = values.first().map_or(column.to_owned(), |v| wrap(column, v));
            out.push_sql(&format!("{first} IN ("));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                bind(v, out);
            }
            out.push_sql(")");
        }
    }
}

/// Text compares case-insensitively: `UPPER(col)` against `UPPER(?)`.
fn wrap(column: &str, v: &Value) -> String {
    match v {
        Value::Text(_) => format!("UPPER({column})"),
        _ => column.to_owned(),
    }
}

fn bind(v: &Value, out: &mut SqlFilter) {
    match v {
        Value::Text(s) => {
            out.push_sql("UPPER(");
            out.push_text(s.clone());
            out.push_sql(")");
        }
        Value::Stored(s) => out.push_text(s.clone()),
        Value::Int(i) => out.push_int(*i),
        Value::Bool(b) => out.push_bool(*b),
    }
}

/// Checks operator and arguments against the field's type: `(negated, positive test)`.
fn test_of(field: &str, ty: Ty, op: Op, args: &[Arg]) -> Result<(bool, Test)> {
    let single = || {
        args.first()
            .ok_or_else(|| Error::refused(Rule::QuerySyntax, format!("No value for {field}.")))
    };
    match op {
        Op::In | Op::Out => {
            if matches!(ty, Ty::Present) {
                return Err(Error::refused(
                    Rule::QuerySyntax,
                    format!("The field {field} can only be compared with == or !=."),
                ));
            }
            let values = args
                .iter()
                .map(|a| value(field, ty, a))
                .collect::<Result<Vec<_>>>()?;
            Ok((op == Op::Out, Test::In(values)))
        }
        Op::Eq | Op::Ne | Op::Is | Op::Not => {
            let negated = matches!(op, Op::Ne | Op::Not);
            let arg = single()?;
            Ok(if matches!(op, Op::Is | Op::Not) && arg.is_null() {
                (!negated, Test::NotNull)
            } else {
                let (flip, test) = equality(field, ty, arg)?;
                (negated != flip, test)
            })
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            if !matches!(ty, Ty::Text | Ty::Int) {
                return Err(Error::refused(
                    Rule::QuerySyntax,
                    format!("The field {field} cannot be compared with <, <=, > or >=."),
                ));
            }
            let sym = match op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                _ => ">=",
            };
            Ok((false, Test::Compare(sym, value(field, ty, single()?)?)))
        }
    }
}

/// `field == arg` as (negated, positive test): wildcards, `''` and the presence booleans.
fn equality(field: &str, ty: Ty, arg: &Arg) -> Result<(bool, Test)> {
    match ty {
        Ty::Text if arg.value.is_empty() => Ok((true, Test::NonEmpty)),
        Ty::Text if has_wildcard(&arg.value) => Ok((false, Test::Like(like_pattern(&arg.value)))),
        Ty::Present => match value(field, Ty::Bool, arg)? {
            Value::Bool(b) => Ok((!b, Test::NotNull)),
            _ => Err(bad_value(field, &arg.value, "true or false")),
        },
        _ => Ok((false, Test::Compare("=", value(field, ty, arg)?))),
    }
}

fn bad_value(field: &str, value: &str, expected: &str) -> Error {
    Error::refused(
        Rule::QuerySyntax,
        format!("The value '{value}' is not valid for the field {field}; expected {expected}."),
    )
}

fn value(field: &str, ty: Ty, arg: &Arg) -> Result<Value> {
    let v = arg.value.as_str();
    match ty {
        Ty::Text => Ok(Value::Text(v.replace("\\*", "*"))),
        Ty::Int => v
            .parse()
            .map(Value::Int)
            .map_err(|_| bad_value(field, v, "a number")),
        Ty::Bool | Ty::Present => match v.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad_value(field, v, "true or false")),
        },
        Ty::Enum(names) => {
            let lower = v.to_ascii_lowercase();
            match names.iter().find(|n| **n == lower) {
                Some(n) => Ok(Value::Stored((*n).to_owned())),
                None => Err(bad_value(field, v, &format!("one of {}", names.join(", ")))),
            }
        }
    }
}

/// Whether the value has a `*` that is not written `\*`.
fn has_wildcard(v: &str) -> bool {
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
            }
            '*' => return true,
            _ => {}
        }
    }
    false
}

/// `*` → `%`, `\*` → `*`; `%`, `_` and `\` escaped with `\` for `LIKE … ESCAPE '\'`.
fn like_pattern(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push('*');
            }
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
