//! Users of the Management API and the web UI: the rules for a new user's fields, and the list of
//! users. Password hashing and the checking of credentials are `crate::auth::users`'.

use diesel::prelude::*;

use super::schema::users;
use super::{AnyConnection, Error, Result, Rule};
use crate::auth::permissions::Permissions;

const MIN_PASSWORD_LEN: usize = 12;

/// A user as listed: name, tenant and the stored permission list (comma-separated names).
#[derive(Debug, Clone, Queryable)]
pub struct UserRow {
    pub username: String,
    pub tenant: String,
    pub permissions: String,
}

/// Every user of every tenant, by name.
pub fn list(c: &mut AnyConnection) -> Result<Vec<UserRow>> {
    Ok(users::table
        .order(users::username.asc())
        .select((users::username, users::tenant, users::permissions))
        .load(c)?)
}

/// Checks a new user's fields; the same rules for the API, the web UI and the CLI.
pub fn validate_new_user(username: &str, password: &str, permissions: &str) -> Result<()> {
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(Error::refused(
            Rule::Constraint,
            "username must be 1 to 64 characters of letters, digits and . _ - @",
        ));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::refused(
            Rule::Constraint,
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    Permissions::parse(permissions).map_err(|e| Error::refused(Rule::Constraint, e.to_string()))?;
    Ok(())
}
