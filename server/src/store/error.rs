//! What a domain operation can fail with, in the domain's words.
//!
//! Front doors turn these into their own answers: the Management API and DDI into hawkBit's error
//! bodies and statuses (`crate::error`), the web UI into a message on the page, the AMQP transport into
//! "dead-letter" (refused, not found) or "requeue" (unavailable). Nothing here knows HTTP.

use std::fmt;

/// A domain operation's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An entity the operation names does not exist for the tenant.
    NotFound { entity: &'static str, id: String },
    /// The operation would break one of the domain's rules; nothing was changed.
    Refused { rule: Rule, message: String },
    /// The database cannot be reached right now; nothing was changed and trying again later may work.
    Unavailable(String),
    /// The transaction ran into a concurrent one (PostgreSQL found a deadlock or could not serialize
    /// it) and was rolled back: nothing was changed, and running it again will most likely work.
    /// [`crate::store::Db`] runs a write again a few times before it reports this.
    Contended(String),
    /// Anything else: a bug or a broken invariant. The message is for the log, not for a client.
    Internal(String),
}

/// How a refusal is meant: what the caller did wrong, in categories every front door can map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input breaks a rule (a malformed query, an incomplete set, a field too long).
    Invalid,
    /// The entity exists already, or the state does not allow the change.
    Conflict,
    /// The entity is locked (a distribution set or module that assignments depend on).
    Locked,
    /// A quota would be exceeded.
    Quota,
}

/// Each rule the domain enforces, so a front door can answer each the way its clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A unique key (name and version, controller id, key) is taken.
    AlreadyExists,
    /// A value breaks a constraint (length, range, required field, a reference still in use).
    Constraint,
    /// Target attributes with keys or values of the wrong size or characters.
    TargetAttributes,
    Quota,
    Locked,
    /// Canceling an action that is not open or is already being canceled.
    NotCancelable {
        action: i64,
    },
    /// Feedback on an action that is already closed.
    ActionClosed,
    /// An operator's confirmation for an action that is not waiting for one.
    NotWaitingForConfirmation,
    /// Force-quitting an action that is not being canceled.
    NotForceQuitable {
        action: i64,
    },
    /// A tenant configuration key hawkBit does not define.
    ConfigKey,
    ConfigValue,
    /// A tenant that does not exist.
    TenantUnknown,
    /// A distribution set lacks a mandatory module type.
    DsIncomplete,
    /// A distribution set that was invalidated, or is otherwise unusable for the operation.
    DsInvalid,
    /// A module whose type the set's type does not allow.
    ModuleUnsupported,
    MaintenanceSchedule,
    /// One target given different sets while multi-assignment is off.
    MultiAssignment,
    AutoConfirmActive,
    /// An RSQL/FIQL query that does not parse.
    QuerySyntax,
    /// An RSQL/FIQL query naming a field the entity does not have.
    QueryField,
    SortSyntax,
    SortField,
    SortDirection,
    /// An entity that cannot be changed (a soft-deleted one, a built-in).
    ReadOnly,
    TargetTypeInUse,
    TargetTypeKeyOrName,
    /// Targets whose type does not list the set's type as compatible.
    TargetTypeIncompatible,
    UserNotDeletable,
    AutoAssignActionType,
    /// A rollout operation its current state does not allow.
    RolloutState,
    /// An artifact upload that cannot be taken (no file, an unsafe file name, encryption asked for).
    UploadFailed,
    /// An uploaded artifact that does not match the `kind` (`md5`, `sha1`, `sha256`) checksum given.
    ChecksumMismatch {
        kind: &'static str,
    },
}

impl Rule {
    pub fn kind(self) -> Kind {
        match self {
            Self::AlreadyExists
            | Self::NotCancelable { .. }
            | Self::NotForceQuitable { .. }
            | Self::ActionClosed
            | Self::NotWaitingForConfirmation
            | Self::AutoConfirmActive
            | Self::ReadOnly
            | Self::TargetTypeInUse
            | Self::UserNotDeletable
            | Self::RolloutState => Kind::Conflict,
            Self::Quota => Kind::Quota,
            Self::Locked => Kind::Locked,
            _ => Kind::Invalid,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub fn refused(rule: Rule, message: impl Into<String>) -> Self {
        Self::Refused {
            rule,
            message: message.into(),
        }
    }

    pub fn not_cancelable(action: i64) -> Self {
        Self::refused(
            Rule::NotCancelable { action },
            format!("Action {action} is not active or is already being canceled."),
        )
    }

    /// `e` as a store error; a unique violation (something taken) worded by `message`, which names
    /// what is taken.
    pub fn taken(e: diesel::result::Error, message: impl FnOnce() -> String) -> Self {
        match Self::from(e) {
            e if e.rule() == Some(Rule::AlreadyExists) => Self::refused(Rule::AlreadyExists, message()),
            e => e,
        }
    }

    pub fn internal(e: impl fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// The rule a refusal names.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            Self::Refused { rule, .. } => Some(*rule),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { entity, id } => {
                write!(f, "{entity} with given identifier {{{id}}} does not exist.")
            }
            Self::Refused { message, .. } => f.write_str(message),
            Self::Unavailable(cause) => write!(f, "the database is unavailable: {cause}"),
            Self::Contended(cause) => write!(f, "the change collided with a concurrent one: {cause}"),
            Self::Internal(cause) => write!(f, "internal error: {cause}"),
        }
    }
}

impl std::error::Error for Error {}

/// What the pool needs of the error type its callers work in: to make one from a store error, and to
/// tell a dead connection (worth one more try on a fresh one) from everything else.
pub trait Failure: From<Error> + From<diesel::result::Error> {
    fn is_unavailable(&self) -> bool;
    /// Whether this is [`Error::Contended`]: the transaction was rolled back and may run again.
    fn is_contended(&self) -> bool;
}

impl Failure for Error {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn is_contended(&self) -> bool {
        matches!(self, Self::Contended(_))
    }
}

/// Whether PostgreSQL aborted the transaction because it collided with a concurrent one: a
/// deadlock (40P01) or a serialization failure (40001). Either way it was rolled back whole.
pub fn is_contention(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("deadlock detected") || m.contains("could not serialize access")
        }
        _ => false,
    }
}

/// Whether a query failed because the connection or the server went away (or SQLite's file is locked
/// by another process), rather than because of the query.
pub fn is_connection_failure(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "could not receive data",
                "could not send data",
                "connection to server",
                "the database system is",
                "database is locked",
                "database table is locked",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        _ => false,
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as E};
        if is_connection_failure(&e) {
            return Self::Unavailable(e.to_string());
        }
        if is_contention(&e) {
            return Self::Contended(e.to_string());
        }
        match e {
            E::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Self::refused(
                Rule::AlreadyExists,
                format!("The entity already exists: {}", info.message()),
            ),
            E::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => Self::refused(
                Rule::Constraint,
                format!("The entity is still referenced: {}", info.message()),
            ),
            other => Self::Internal(other.to_string()),
        }
    }
}
