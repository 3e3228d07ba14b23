//! hawkBit's permissions and roles (`SpPermission`, `SpRole`), as a bit set per user.
//!
//! A user's stored `permissions` is a comma-separated list of names: the fine-grained permissions of
//! hawkBit ≥ 0.10 (`READ_TARGET`, `CREATE_DISTRIBUTION_SET`, ...), its roles (`TENANT_ADMIN`,
//! `ROLE_TARGET_ADMIN`, ...), the legacy ≤ 0.9 names (`READ_REPOSITORY`, `DOWNLOAD_REPOSITORY_ARTIFACT`,
//! ...) or `ALL`. [`Permissions::parse`] expands them, with hawkBit's implications, into the set that
//! the endpoints check.

use std::fmt;

use crate::error::{ApiError, ApiResult};

macro_rules! permissions {
    ($($variant:ident = $name:literal,)*) => {
        /// One permission an endpoint can require.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Permission {
            $($variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)*
                }
            }

            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Permission::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

permissions! {
    CreateTarget = "CREATE_TARGET",
    ReadTarget = "READ_TARGET",
    UpdateTarget = "UPDATE_TARGET",
    DeleteTarget = "DELETE_TARGET",
    ReadTargetSecurityToken = "READ_TARGET_SECURITY_TOKEN",
    CreateTargetType = "CREATE_TARGET_TYPE",
    ReadTargetType = "READ_TARGET_TYPE",
    UpdateTargetType = "UPDATE_TARGET_TYPE",
    DeleteTargetType = "DELETE_TARGET_TYPE",
    CreateSoftwareModule = "CREATE_SOFTWARE_MODULE",
    ReadSoftwareModule = "READ_SOFTWARE_MODULE",
    UpdateSoftwareModule = "UPDATE_SOFTWARE_MODULE",
    DeleteSoftwareModule = "DELETE_SOFTWARE_MODULE",
    ReadSoftwareModuleArtifact = "READ_SOFTWARE_MODULE_ARTIFACT",
    CreateSoftwareModuleType = "CREATE_SOFTWARE_MODULE_TYPE",
    ReadSoftwareModuleType = "READ_SOFTWARE_MODULE_TYPE",
    UpdateSoftwareModuleType = "UPDATE_SOFTWARE_MODULE_TYPE",
    DeleteSoftwareModuleType = "DELETE_SOFTWARE_MODULE_TYPE",
    CreateDistributionSet = "CREATE_DISTRIBUTION_SET",
    ReadDistributionSet = "READ_DISTRIBUTION_SET",
    UpdateDistributionSet = "UPDATE_DISTRIBUTION_SET",
    DeleteDistributionSet = "DELETE_DISTRIBUTION_SET",
    CreateDistributionSetType = "CREATE_DISTRIBUTION_SET_TYPE",
    ReadDistributionSetType = "READ_DISTRIBUTION_SET_TYPE",
    UpdateDistributionSetType = "UPDATE_DISTRIBUTION_SET_TYPE",
    DeleteDistributionSetType = "DELETE_DISTRIBUTION_SET_TYPE",
    CreateRollout = "CREATE_ROLLOUT",
    ReadRollout = "READ_ROLLOUT",
    UpdateRollout = "UPDATE_ROLLOUT",
    DeleteRollout = "DELETE_ROLLOUT",
    HandleRollout = "HANDLE_ROLLOUT",
    ApproveRollout = "APPROVE_ROLLOUT",
    CreateAutoAssignment = "CREATE_AUTO_ASSIGNMENT",
    ReadAutoAssignment = "READ_AUTO_ASSIGNMENT",
    UpdateAutoAssignment = "UPDATE_AUTO_ASSIGNMENT",
    DeleteAutoAssignment = "DELETE_AUTO_ASSIGNMENT",
    HandleAutoAssignment = "HANDLE_AUTO_ASSIGNMENT",
    ApproveAutoAssignment = "APPROVE_AUTO_ASSIGNMENT",
    CreateTenantConfiguration = "CREATE_TENANT_CONFIGURATION",
    ReadTenantConfiguration = "READ_TENANT_CONFIGURATION",
    UpdateTenantConfiguration = "UPDATE_TENANT_CONFIGURATION",
    DeleteTenantConfiguration = "DELETE_TENANT_CONFIGURATION",
    ReadGatewaySecurityToken = "READ_GATEWAY_SECURITY_TOKEN",
    // Manage users and tenants across the whole server (hawkBit's legacy `SYSTEM_ADMIN`).
    SystemAdmin = "SYSTEM_ADMIN",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Permission`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions(u64);

use Permission as P;

const TARGET: &[P] = &[P::CreateTarget, P::ReadTarget, P::UpdateTarget, P::DeleteTarget];
const TARGET_TYPE: &[P] = &[
    P::CreateTargetType,
    P::ReadTargetType,
    P::UpdateTargetType,
    P::DeleteTargetType,
];
const TENANT_CONFIGURATION: &[P] = &[
    P::CreateTenantConfiguration,
    P::ReadTenantConfiguration,
    P::UpdateTenantConfiguration,
    P::DeleteTenantConfiguration,
    P::ReadGatewaySecurityToken,
];
const ROLLOUT: &[P] = &[
    P::CreateRollout,
    P::ReadRollout,
    P::UpdateRollout,
    P::DeleteRollout,
    P::HandleRollout,
    P::ApproveRollout,
];
const REPOSITORY: &[P] = &[
    P::CreateSoftwareModule,
    P::ReadSoftwareModule,
    P::UpdateSoftwareModule,
    P::DeleteSoftwareModule,
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
    P::ReadSoftwareModuleArtifact,
];

/// Names that stand for several permissions: roles, the ≤ 0.9 repository names, `TENANT_CONFIGURATION`.
fn expand_alias(name: &str) -> Option<Vec<P>> {
    let legacy_repository = |verb: &str| -> Vec<P> {
        [
            "SOFTWARE_MODULE",
            "SOFTWARE_MODULE_TYPE",
            "DISTRIBUTION_SET",
            "DISTRIBUTION_SET_TYPE",
        ]
        .iter()
        .filter_map(|e| P::from_name(&format!("{verb}_{e}")))
        .collect()
    };
    let target_admin = || {
        let mut v = TARGET.to_vec();
        v.extend_from_slice(TARGET_TYPE);
        v.extend_from_slice(&[
            P::ReadTargetSecurityToken,
            P::CreateAutoAssignment,
            P::ReadAutoAssignment,
            P::UpdateAutoAssignment,
            P::DeleteAutoAssignment,
            P::HandleAutoAssignment,
            P::ApproveAutoAssignment,
        ]);
        v
    };
    Some(match name {
        "ALL" => P::ALL.to_vec(),
        "TENANT_CONFIGURATION" => TENANT_CONFIGURATION.to_vec(),
        "READ_REPOSITORY" => legacy_repository("READ"),
        "CREATE_REPOSITORY" => legacy_repository("CREATE"),
        "UPDATE_REPOSITORY" => legacy_repository("UPDATE"),
        "DELETE_REPOSITORY" => legacy_repository("DELETE"),
        "DOWNLOAD_REPOSITORY_ARTIFACT" => vec![P::ReadSoftwareModuleArtifact],
        "TARGET_ADMIN" => target_admin(),
        "REPOSITORY_ADMIN" => REPOSITORY.to_vec(),
        "ROLLOUT_ADMIN" => ROLLOUT.to_vec(),
        "TENANT_ADMIN" => {
            let mut v = target_admin();
            v.extend_from_slice(REPOSITORY);
            v.extend_from_slice(ROLLOUT);
            v.extend_from_slice(TENANT_CONFIGURATION);
            v
        }
        _ => return None,
    })
}

/// A name that is neither a permission nor a role.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownPermission(pub String);

impl fmt::Display for UnknownPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown permission or role {:?}; use a hawkBit permission such as READ_TARGET, a role such as \
             TENANT_ADMIN, or ALL",
            self.0
        )
    }
}

impl std::error::Error for UnknownPermission {}

impl Permissions {
    pub fn all() -> Self {
        P::ALL.iter().fold(Self::default(), |s, &p| s.with(p))
    }

    #[must_use]
    pub fn with(self, p: P) -> Self {
        Self(self.0 | 1 << (p as u8))
    }

    #[must_use]
    pub fn without(self, p: P) -> Self {
        Self(self.0 & !(1 << (p as u8)))
    }

    pub fn has(self, p: P) -> bool {
        self.0 & (1 << (p as u8)) != 0
    }

    /// Expands a comma-separated list of permission and role names (case-insensitive, `ROLE_` prefix
    /// optional) and adds hawkBit's implied permissions.
    pub fn parse(list: &str) -> Result<Self, UnknownPermission> {
        let mut set = Self::default();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let upper = raw.to_ascii_uppercase();
            let name = upper.strip_prefix("ROLE_").unwrap_or(&upper);
            if let Some(p) = P::from_name(name) {
                set = set.with(p);
            } else if let Some(ps) = expand_alias(name) {
                set = ps.into_iter().fold(set, Self::with);
            } else {
                return Err(UnknownPermission(raw.to_owned()));
            }
        }
        Ok(set.with_implied())
    }

    /// hawkBit's `SpPermission` implications: working with an entity lets you read its types.
    fn with_implied(mut self) -> Self {
        if TARGET.iter().any(|&p| self.has(p)) {
            self = self.with(P::ReadTargetType);
        }
        if self.has(P::ReadTarget) {
            self = self.with(P::ReadAutoAssignment);
        }
        if self.has(P::UpdateTarget) {
            self = self
                .with(P::CreateAutoAssignment)
                .with(P::UpdateAutoAssignment)
                .with(P::DeleteAutoAssignment);
        }
        let sm = [
            P::CreateSoftwareModule,
            P::ReadSoftwareModule,
            P::UpdateSoftwareModule,
            P::DeleteSoftwareModule,
        ];
        if sm.iter().any(|&p| self.has(p)) {
            self = self.with(P::ReadSoftwareModuleType);
        }
        let ds = [
            P::CreateDistributionSet,
            P::ReadDistributionSet,
            P::UpdateDistributionSet,
            P::DeleteDistributionSet,
        ];
        if ds.iter().any(|&p| self.has(p)) {
            self = self.with(P::ReadDistributionSetType);
        }
        self
    }

    pub fn iter(self) -> impl Iterator<Item = P> {
        P::ALL.iter().copied().filter(move |&p| self.has(p))
    }

    /// `Ok` when the set holds `p`, else hawkBit's 403 `insufficientPermission`.
    pub fn require(self, p: P) -> ApiResult<()> {
        if self.has(p) {
            Ok(())
        } else {
            Err(ApiError::insufficient_permission(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_expand_and_imply() {
        let admin = Permissions::parse("TENANT_ADMIN").unwrap();
        assert!(admin.has(P::ReadTargetSecurityToken));
        assert!(admin.has(P::DeleteDistributionSetType));
        assert!(admin.has(P::ReadGatewaySecurityToken));
        assert!(!admin.has(P::SystemAdmin));

        let reader = Permissions::parse("read_target").unwrap();
        assert!(reader.has(P::ReadTarget) && reader.has(P::ReadTargetType));
        assert!(reader.has(P::ReadAutoAssignment));
        assert!(!reader.has(P::UpdateTarget));

        let role = Permissions::parse("ROLE_REPOSITORY_ADMIN").unwrap();
        assert!(role.has(P::ReadSoftwareModuleArtifact) && !role.has(P::ReadTarget));
    }

    #[test]
    fn legacy_names_are_aliases() {
        let legacy = Permissions::parse("READ_REPOSITORY, DOWNLOAD_REPOSITORY_ARTIFACT").unwrap();
        for p in [
            P::ReadSoftwareModule,
            P::ReadSoftwareModuleType,
            P::ReadDistributionSet,
            P::ReadDistributionSetType,
            P::ReadSoftwareModuleArtifact,
        ] {
            assert!(legacy.has(p), "{p}");
        }
        assert!(!legacy.has(P::CreateSoftwareModule));
        let conf = Permissions::parse("TENANT_CONFIGURATION").unwrap();
        assert!(conf.has(P::UpdateTenantConfiguration) && conf.has(P::ReadGatewaySecurityToken));
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            Permissions::parse("READ_TARGET,FLY"),
            Err(UnknownPermission("FLY".into()))
        );
        assert_eq!(Permissions::parse("ALL").unwrap(), Permissions::all());
        assert_eq!(Permissions::parse("").unwrap(), Permissions::default());
    }

    #[test]
    fn require_answers_403() {
        let e = Permissions::parse("READ_TARGET")
            .unwrap()
            .require(P::DeleteTarget)
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 403);
        let body = e.body.unwrap();
        assert_eq!(body.error_code, "hawkbit.server.error.insufficientPermission");
        assert!(body.message.contains("DELETE_TARGET"));
    }
}
