//! Why a rollout reaches no target. hawkBit counts only the targets whose type accepts the set's
//! type (`RolloutManagement` refuses with "Rollout does not match any existing targets", 400); when
//! the filter does match devices and their target types are what leaves them out, the operator needs
//! to hear that, or the refusal reads as a wrong filter while a direct assignment seems to work.
//! Same rule and status as hawkBit's answer; only the sentence says more.

use diesel::prelude::*;

use crate::store::query::{Sql, SqlFilter};
use crate::store::schema::{distribution_sets, ds_types, target_types, targets};
use crate::store::{AnyConnection, Error, Result, Rule};

/// How many target type names the message lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// The refusal of a rollout over `filter` (RSQL already translated) for the set `ds_id` of type
/// `ds_type` that reaches no target: hawkBit's sentence when the filter matches nothing, otherwise
/// how many devices match and which target types keep the set from them.
pub fn no_target_error(
    conn: &mut AnyConnection,
    tenant: &str,
    filter: SqlFilter,
    ds_id: i64,
    ds_type: i64,
) -> Result<Error> {
    let matching = || -> SqlFilter {
        let mut f = Sql::new().sql("targets.tenant = ").text(tenant).sql(" AND (");
        f.push(filter.clone());
        f.sql(")")
    };
    let n: i64 = targets::table.filter(matching()).count().get_result(conn)?;
    if n == 0 {
        return Ok(Error::refused(
            Rule::Constraint,
            "Rollout does not match any existing targets.",
        ));
    }
    let type_ids: Vec<i64> = targets::table
        .filter(matching())
        .select(targets::target_type_id)
        .distinct()
        .load::<Option<i64>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    let types: Vec<String> = target_types::table
        .filter(target_types::id.eq_any(&type_ids))
        .order(target_types::name.asc())
        .select(target_types::name)
        .load(conn)?;
    let (name, version): (String, String) = distribution_sets::table
        .find(ds_id)
        .select((distribution_sets::name, distribution_sets::version))
        .first(conn)?;
    let set_type: String = ds_types::table.find(ds_type).select(ds_types::name).first(conn)?;
    Ok(Error::refused(
        Rule::Constraint,
        sentence(n, &format!("{name} {version}"), &set_type, &types),
    ))
}

/// "2,000 devices match the filter, but none of them can take 'os 1.2' (type OS): their target
/// types (gateway, sensor) do not list OS as compatible. Add OS to those target types or pick
/// another set."
fn sentence(n: i64, set: &str, set_type: &str, types: &[String]) -> String {
    let mut names = types
        .iter()
        .take(NAMES_SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if types.len() > NAMES_SHOWN {
        names = format!("{names} and {} more", types.len() - NAMES_SHOWN);
    }
    let (matches, none) = if n == 1 {
        ("1 device matches".to_owned(), "it cannot")
    } else {
        (format!("{} devices match", thousands(n)), "none of them can")
    };
    let (whose, list, those) = match (n, types.len()) {
        (1, _) => ("its target type", "does not list", "that target type"),
        (_, 1) => ("their target type", "does not list", "that target type"),
        _ => ("their target types", "do not list", "those target types"),
    };
    format!(
        "{matches} the filter, but {none} take '{set}' (type {set_type}): {whose} ({names}) {list} \
         {set_type} as compatible. Add {set_type} to {those} or pick another set."
    )
}

/// `2000` as `2,000`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_names_the_count_the_set_and_the_types() {
        assert_eq!(
            sentence(2000, "os 1.2", "OS", &["gateway".into(), "sensor".into()]),
            "2,000 devices match the filter, but none of them can take 'os 1.2' (type OS): their target \
             types (gateway, sensor) do not list OS as compatible. Add OS to those target types or pick \
             another set."
        );
        assert_eq!(
            sentence(1, "os 1.2", "OS", &["gateway".into()]),
            "1 device matches the filter, but it cannot take 'os 1.2' (type OS): its target type \
             (gateway) does not list OS as compatible. Add OS to that target type or pick another set."
        );
        let many: Vec<String> = (1..=7).map(|i| format!("t{i}")).collect();
        assert!(sentence(12, "s 1", "X", &many).contains("(t1, t2, t3, t4, t5 and 2 more)"));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
