//! Users of the Management API and the web UI: the rules for a new user's fields, and the list of
//! users. Password hashing and the checking of credentials are `crate::auth::users`'.

use diesel::prelude::*;

use super::schema::users;
use super::{AnyConnection, Error, Result, Rule};
use crate::auth::permissions::{Permission, Permissions};

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

/// A role preset: a name and the permissions it grants, hawkBit's names exactly as the endpoints
/// check them. The console offers these besides single permissions; the stored list is the names.
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub permissions: &'static [Permission],
}

use Permission as P;

const VIEWER: &[P] = &[
    P::ReadTarget,
    P::ReadTargetType,
    P::ReadSoftwareModule,
    P::ReadSoftwareModuleType,
    P::ReadDistributionSet,
    P::ReadDistributionSetType,
    P::ReadRollout,
    P::ReadAutoAssignment,
];

const OPERATOR: &[P] = &[
    P::ReadTarget,
    P::ReadTargetType,
    P::ReadSoftwareModule,
    P::ReadSoftwareModuleType,
    P::ReadDistributionSet,
    P::ReadDistributionSetType,
    P::ReadRollout,
    P::ReadAutoAssignment,
    P::CreateTarget,
    P::UpdateTarget,
    P::DeleteTarget,
    P::ReadTargetSecurityToken,
    P::HandleRollout,
];

const RELEASE_MANAGER: &[P] = &[
    P::ReadTarget,
    P::UpdateTarget,
    P::ReadTargetType,
    P::CreateSoftwareModule,
    P::ReadSoftwareModule,
    P::UpdateSoftwareModule,
    P::DeleteSoftwareModule,
    P::ReadSoftwareModuleArtifact,
    P::CreateSoftwareModuleType,
    P::ReadSoftwareModuleType,
    P::UpdateSoftwareModuleType,
    P::DeleteSoftwareModuleType,
    P::CreateDistributionSet,
    P::ReadDistributionSet,
    P::UpdateDistributionSet,
    P::DeleteDistributionSet,
    P::CreateDistributionSetType,
    P::ReadDistributionSetType,
    P::UpdateDistributionSetType,
    P::DeleteDistributionSetType,
    P::CreateRollout,
    P::ReadRollout,
    P::UpdateRollout,
    P::DeleteRollout,
    P::HandleRollout,
    P::ApproveRollout,
    P::CreateAutoAssignment,
    P::ReadAutoAssignment,
    P::UpdateAutoAssignment,
    P::DeleteAutoAssignment,
    P::HandleAutoAssignment,
    P::ApproveAutoAssignment,
];

/// The role presets, least to most.
pub const PRESETS: &[Preset] = &[
    Preset {
        id: "viewer",
        label: "Viewer",
        description: "Reads devices, software, distribution sets and rollouts; changes nothing.",
        permissions: VIEWER,
    },
    Preset {
        id: "operator",
        label: "Operator",
        description: "A viewer who also registers, edits and deletes devices, assigns sets to them and starts, pauses and resumes rollouts.",
        permissions: OPERATOR,
    },
    Preset {
        id: "release_manager",
        label: "Release manager",
        description: "Uploads software, builds distribution sets, creates and approves rollouts and auto-assignments, and assigns sets to devices.",
        permissions: RELEASE_MANAGER,
    },
    Preset {
        id: "admin",
        label: "Admin",
        description: "Every permission, including the tenant configuration and the users and tenants of the whole server (SYSTEM_ADMIN).",
        permissions: Permission::ALL,
    },
];

impl Preset {
    /// The stored form: the permission names, comma-separated.
    pub fn names(&self) -> String {
        self.permissions
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What a user with this preset holds, hawkBit's implications included.
    pub fn set(&self) -> Permissions {
        Permissions::parse(&self.names()).unwrap_or_default()
    }
}

/// The preset granting exactly `p`, if one does.
pub fn preset_of(p: Permissions) -> Option<&'static Preset> {
    PRESETS.iter().find(|s| s.set() == p)
}

/// Stores a new permission list for `username`: refused when the name is unknown, when a
/// permission name is unknown, and when it would take `SYSTEM_ADMIN` from the last user holding it.
pub fn set_permissions(c: &mut AnyConnection, username: &str, permissions: &str) -> Result<()> {
    let new = Permissions::parse(permissions).map_err(|e| Error::refused(Rule::Constraint, e.to_string()))?;
    let all: Vec<(String, String)> = users::table
        .select((users::username, users::permissions))
        .load(c)?;
    let Some((_, old)) = all.iter().find(|(u, _)| u == username) else {
        return Err(Error::not_found("User", username));
    };
    let is_admin = |p: &str| Permissions::parse(p).is_ok_and(|p| p.has(Permission::SystemAdmin));
    if is_admin(old)
        && !new.has(Permission::SystemAdmin)
        && all.iter().filter(|(_, p)| is_admin(p)).count() == 1
    {
        return Err(Error::refused(
            Rule::Constraint,
            format!("{username} is the last user with SYSTEM_ADMIN; give it to another user first."),
        ));
    }
    diesel::update(users::table.filter(users::username.eq(username)))
        .set(users::permissions.eq(permissions))
        .execute(c)?;
    Ok(())
}
