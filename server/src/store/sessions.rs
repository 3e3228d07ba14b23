//! The web UI's login sessions: each stored as the SHA-256 of its token, so every server behind a
//! load balancer knows it, and tied to a user row, so deleting the user ends its sessions.

use diesel::prelude::*;

use super::schema::{ui_sessions, users};
use super::{AnyConnection, Result};

/// The user a live session belongs to: name, tenant and stored permission list.
#[derive(Debug, Clone, Queryable)]
pub struct SessionUser {
    pub username: String,
    pub tenant: String,
    pub permissions: String,
}

/// The user of the session whose token hashes to `token_sha256`, unless it expired by `now`.
pub fn user_of(c: &mut AnyConnection, token_sha256: &str, now: i64) -> Result<Option<SessionUser>> {
    Ok(ui_sessions::table
        .inner_join(users::table)
        .filter(ui_sessions::token_sha256.eq(token_sha256))
        .filter(ui_sessions::expires_at.gt(now))
        .select((users::username, users::tenant, users::permissions))
        .first(c)
        .optional()?)
}

/// Starts a session of `username` until `expires_at`, and drops the sessions that expired.
pub fn start(
    c: &mut AnyConnection,
    username: &str,
    token_sha256: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    diesel::delete(ui_sessions::table.filter(ui_sessions::expires_at.le(now))).execute(c)?;
    let user_id: i64 = users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first(c)?;
    diesel::insert_into(ui_sessions::table)
        .values((
            ui_sessions::token_sha256.eq(token_sha256),
            ui_sessions::user_id.eq(user_id),
            ui_sessions::created_at.eq(now),
            ui_sessions::expires_at.eq(expires_at),
        ))
        .execute(c)?;
    Ok(())
}

/// Ends the session whose token hashes to `token_sha256` (logging out).
pub fn end(c: &mut AnyConnection, token_sha256: &str) -> Result<()> {
    diesel::delete(ui_sessions::table.filter(ui_sessions::token_sha256.eq(token_sha256))).execute(c)?;
    Ok(())
}
