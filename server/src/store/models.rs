//! Row types and the domain enums stored in them (as hawkBit's lower-case wire names).

use diesel::prelude::*;

use super::schema::{
    action_statuses, actions, artifacts, distribution_sets, ds_types, sm_types, software_modules,
    target_types, targets,
};

/// Generates a string-backed enum whose stored and wire form is the given name.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $($variant),+ }

        /// Read from its text column: a value this build does not know is an error, never a default.
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let s = String::from_sql(bytes)?;
                Self::parse(&s).ok_or_else(|| format!("unknown {} {s:?} in the database", stringify!($name)).into())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, &[$($s),+]))
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// hawkBit's `Action.Status`.
    ActionStatus {
        Finished => "finished",
        Error => "error",
        Warning => "warning",
        Running => "running",
        Canceled => "canceled",
        Canceling => "canceling",
        Retrieved => "retrieved",
        Download => "download",
        Scheduled => "scheduled",
        CancelRejected => "cancel_rejected",
        Downloaded => "downloaded",
        WaitForConfirmation => "wait_for_confirmation",
    }
}

impl ActionStatus {
    /// The Java enum name, used in DDI `actionHistory.status`.
    pub fn java_name(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    pub fn is_canceling_or_canceled(self) -> bool {
        matches!(self, Self::Canceling | Self::Canceled)
    }
}

string_enum! {
    /// hawkBit's `Action.ActionType`.
    ActionType {
        Forced => "forced",
        Soft => "soft",
        TimeForced => "timeforced",
        DownloadOnly => "downloadonly",
    }
}

string_enum! {
    /// hawkBit's `TargetUpdateStatus`.
    UpdateStatus {
        Unknown => "unknown",
        Registered => "registered",
        Pending => "pending",
        InSync => "in_sync",
        Error => "error",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = targets)]
pub struct Target {
    pub id: i64,
    pub tenant: String,
    pub controller_id: String,
    pub name: String,
    pub description: Option<String>,
    pub security_token: String,
    pub address: Option<String>,
    pub last_poll: Option<i64>,
    pub update_status: UpdateStatus,
    pub assigned_ds_id: Option<i64>,
    pub installed_ds_id: Option<i64>,
    pub installation_date: Option<i64>,
    pub request_attributes: bool,
    pub target_type_id: Option<i64>,
    pub auto_confirm_at: Option<i64>,
    pub auto_confirm_initiator: Option<String>,
    pub auto_confirm_remark: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    pub target_group: Option<String>,
}

impl Target {
    pub fn status(&self) -> UpdateStatus {
        self.update_status
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = targets)]
pub struct NewTarget<'a> {
    pub tenant: &'a str,
    pub controller_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub security_token: &'a str,
    pub address: Option<&'a str>,
    pub last_poll: Option<i64>,
    pub update_status: &'a str,
    pub request_attributes: bool,
    pub target_type_id: Option<i64>,
    pub created_at: i64,
    pub created_by: &'a str,
    pub last_modified_at: i64,
    pub last_modified_by: &'a str,
    /// New targets are checked against the tenant's auto-assigning filters.
    pub auto_assign_pending: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = actions)]
pub struct Action {
    pub id: i64,
    pub tenant: String,
    pub target_id: i64,
    pub ds_id: i64,
    pub active: bool,
    pub action_type: ActionType,
    pub forced_time: i64,
    pub weight: i32,
    pub status: ActionStatus,
    pub maintenance_schedule: Option<String>,
    pub maintenance_duration: Option<String>,
    pub maintenance_timezone: Option<String>,
    pub initiated_by: String,
    pub last_status_code: Option<i32>,
    pub external_ref: Option<String>,
    pub revision: i32,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    pub rollout_id: Option<i64>,
    pub rollout_group_id: Option<i64>,
}

impl Action {
    pub fn status(&self) -> ActionStatus {
        self.status
    }

    pub fn action_type(&self) -> ActionType {
        self.action_type
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = actions)]
pub struct NewAction<'a> {
    pub tenant: &'a str,
    pub target_id: i64,
    pub ds_id: i64,
    pub active: bool,
    pub action_type: &'a str,
    pub forced_time: i64,
    pub weight: i32,
    pub status: &'a str,
    pub maintenance_schedule: Option<&'a str>,
    pub maintenance_duration: Option<&'a str>,
    pub maintenance_timezone: Option<&'a str>,
    pub initiated_by: &'a str,
    pub revision: i32,
    pub created_at: i64,
    pub created_by: &'a str,
    pub last_modified_at: i64,
    pub last_modified_by: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = action_statuses)]
pub struct ActionStatusRow {
    pub id: i64,
    pub action_id: i64,
    pub status: ActionStatus,
    pub occurred_at: i64,
    pub created_at: i64,
    pub code: Option<i32>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = software_modules)]
pub struct SoftwareModule {
    pub id: i64,
    pub tenant: String,
    pub sm_type_id: i64,
    pub name: String,
    pub version: String,
    pub vendor: Option<String>,
    pub description: Option<String>,
    pub encrypted: bool,
    pub locked: bool,
    pub deleted: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sm_types)]
pub struct SmType {
    pub id: i64,
    pub tenant: String,
    pub type_key: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub max_assignments: i32,
    pub min_artifacts: i32,
    pub deleted: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ds_types)]
pub struct DsType {
    pub id: i64,
    pub tenant: String,
    pub type_key: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub deleted: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = target_types)]
pub struct TargetType {
    pub id: i64,
    pub tenant: String,
    pub type_key: String,
    pub name: String,
    pub description: Option<String>,
    pub colour: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = distribution_sets)]
pub struct DistributionSet {
    pub id: i64,
    pub tenant: String,
    pub ds_type_id: i64,
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub required_migration_step: bool,
    pub locked: bool,
    pub deleted: bool,
    pub valid: bool,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = artifacts)]
pub struct Artifact {
    pub id: i64,
    pub sm_id: i64,
    pub filename: String,
    pub size: i64,
    pub sha1: String,
    pub md5: String,
    pub sha256: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_modified_at: i64,
    pub last_modified_by: String,
    /// SHA-256 of the image this `.swu` installs (its sw-description's `image-sha256`), if known.
    pub image_sha256: Option<String>,
    /// For a per-source patch bundle: SHA-256 of the image it applies to.
    pub patch_source_sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::{ActionStatus, UpdateStatus};

    #[test]
    fn stored_states_read_as_enums_and_unknown_ones_are_errors() {
        let mut c = diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let read = |c: &mut diesel::SqliteConnection, text: &str| {
            diesel::select(diesel::dsl::sql::<Text>(&format!("'{text}'"))).get_result::<ActionStatus>(c)
        };
        assert_eq!(
            read(&mut c, "wait_for_confirmation").ok(),
            Some(ActionStatus::WaitForConfirmation)
        );
        let err = read(&mut c, "exploded").expect_err("an unknown status must not read as a default");
        let cause = std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            cause.contains("unknown ActionStatus \"exploded\""),
            "{err}: {cause}"
        );
        let back: UpdateStatus = diesel::select(UpdateStatus::InSync.into_sql::<Text>())
            .get_result(&mut c)
            .expect("an enum binds as its text");
        assert_eq!(back, UpdateStatus::InSync);
    }
}
