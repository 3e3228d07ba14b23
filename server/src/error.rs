//! The one error type of the server, rendered as hawkBit's `ExceptionInfo` body.
//!
//! hawkBit clients and scripts match on `errorCode`, so the codes and classes below are hawkBit's own
//! (`SpServerError`, `RestConfiguration.ResponseExceptionHandler`). Some DDI answers are bare statuses
//! without a body in hawkBit (401, 404 from `ResponseEntity.notFound()`, 405, 406, 410, 412, 416);
//! [`ApiError::bare`] produces those. A 415 comes from Spring itself and carries Spring Boot's error
//! map ([`ApiError::unsupported_media_type`]).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store;

/// hawkBit's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionInfo {
    #[schema(example = "org.eclipse.hawkbit.repository.exception.EntityNotFoundException")]
    pub exception_class: String,
    #[schema(example = "hawkbit.server.error.repo.entityNotFound")]
    pub error_code: String,
    #[schema(example = "Target with given identifier {device-01} does not exist.")]
    pub message: String,
    /// Details some errors add, e.g. the entity and id that was not found.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::mgmt::examples::exception_info_info)]
    pub info: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Option<ExceptionInfo>,
    /// Rendered as Spring Boot's error map (`timestamp`, `status`, `error`) instead: what hawkBit's
    /// server answers for errors Spring raises before hawkBit's handlers run (415).
    spring_error: bool,
}

const REPO_EXC: &str = "org.eclipse.hawkbit.repository.exception.";
const CONCURRENT_MODIFICATION: &str = "hawkbit.server.error.repo.concurrentModification";

impl ApiError {
    fn with(status: StatusCode, class: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            spring_error: false,
            body: Some(ExceptionInfo {
                exception_class: class.to_owned(),
                error_code: code.to_owned(),
                message: message.into(),
                info: None,
            }),
        }
    }

    /// A status without a body, as hawkBit's DDI resources answer in several places.
    pub fn bare(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            spring_error: false,
        }
    }

    /// A body of a content type the endpoint does not read: Spring raises it before hawkBit sees
    /// the request and answers through its `/error` controller, with Spring Boot's error map.
    pub fn unsupported_media_type() -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            body: None,
            spring_error: true,
        }
    }

    pub fn not_found(entity: &str, id: impl fmt::Display) -> Self {
        let id = id.to_string();
        let mut e = Self::with(
            StatusCode::NOT_FOUND,
            &format!("{REPO_EXC}EntityNotFoundException"),
            "hawkbit.server.error.repo.entityNotFound",
            format!("{entity} with given identifier {{{id}}} does not exist."),
        );
        if let Some(b) = e.body.as_mut() {
            b.info = Some(serde_json::json!({ "type": entity, "entityId": id }));
        }
        e
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::CONFLICT,
            &format!("{REPO_EXC}EntityAlreadyExistsException"),
            "hawkbit.server.error.repo.entityAlreadyExists",
            message,
        )
    }

    /// A body that is not well-formed or misses a required field.
    pub fn body_not_readable() -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.rest.exception.MessageNotReadableException",
            "hawkbit.server.error.rest.body.notReadable",
            "The given request body is not well formed",
        )
    }

    pub fn constraint_violation(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "jakarta.validation.ConstraintViolationException",
            "hawkbit.server.error.repo.constraintViolation",
            message,
        )
    }

    pub fn invalid_target_attributes() -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}InvalidTargetAttributeException"),
            "hawkbit.server.error.repo.invalidTargetAttributes",
            "Target attributes are invalid: keys and values must be at most 128 characters \
             of the allowed set.",
        )
    }

    /// A quota was hit (429 since hawkBit 0.10, 403 before).
    pub fn quota(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("{REPO_EXC}AssignmentQuotaExceededException"),
            "hawkbit.server.error.quota.tooManyEntries",
            message,
        )
    }

    pub fn payload_too_large(limit: u64) -> Self {
        Self::with(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("{REPO_EXC}FileSizeQuotaExceededException"),
            "hawkbit.server.error.quota.fileSizeExceeded",
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    pub fn not_cancelable(action_id: i64) -> Self {
        Self::with(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{REPO_EXC}CancelActionNotAllowedException"),
            "hawkbit.server.error.action.notCancelable",
            format!("Action {action_id} is not active or is already being canceled."),
        )
    }

    pub fn not_force_quitable(action_id: i64) -> Self {
        Self::with(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{REPO_EXC}ForceQuitActionNotAllowedException"),
            "hawkbit.server.error.action.notForceQuitable",
            format!("Action {action_id} can only be force-quit while it is being canceled."),
        )
    }

    pub fn config_key_invalid(key: &str) -> Self {
        Self::config_key(format!("The given configuration key {key} does not exist."))
    }

    fn config_key(message: String) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.tenancy.configuration.TenantConfigurationKeyInvalidException",
            "hawkbit.server.error.configKeyInvalid",
            message,
        )
    }

    pub fn config_value_invalid(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.tenancy.configuration.TenantConfigurationValueInvalidException",
            "hawkbit.server.error.configValueInvalid",
            message,
        )
    }

    pub fn tenant_not_exists(tenant: &str) -> Self {
        Self::tenant_unknown(format!("Tenant {tenant} does not exist."))
    }

    fn tenant_unknown(message: String) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}TenantNotExistException"),
            "hawkbit.server.error.repo.tenantNotExists",
            message,
        )
    }

    pub fn ds_incomplete(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}IncompleteDistributionSetException"),
            "hawkbit.server.error.distributionset.incomplete",
            message,
        )
    }

    pub fn ds_invalid(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}InvalidDistributionSetException"),
            "hawkbit.server.error.distributionset.invalid",
            message,
        )
    }

    pub fn ds_module_unsupported(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}UnsupportedSoftwareModuleForThisDistributionSetException"),
            "hawkbit.server.error.distributionset.modules.unsupported",
            message,
        )
    }

    pub fn locked(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::LOCKED,
            &format!("{REPO_EXC}LockedException"),
            "hawkbit.server.error.locked",
            message,
        )
    }

    pub fn maintenance_schedule_invalid(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}InvalidMaintenanceScheduleException"),
            "hawkbit.server.error.maintenanceScheduleInvalid",
            message,
        )
    }

    pub fn multi_assignment() -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}MultiAssignmentIsNotEnabledException"),
            "hawkbit.server.error.multiAssignmentNotEnabled",
            "The same target appears more than once with different distribution sets.",
        )
    }

    fn auto_confirm_active(message: String) -> Self {
        Self::with(
            StatusCode::CONFLICT,
            &format!("{REPO_EXC}AutoConfirmationAlreadyActiveException"),
            "hawkbit.server.error.repo.autoConfAlreadyActive",
            message,
        )
    }

    pub fn sort_param_invalid_field(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.rest.exception.SortParameterUnsupportedFieldException",
            "hawkbit.server.error.rest.param.invalidField",
            message,
        )
    }

    pub fn sort_param_syntax(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.rest.exception.SortParameterSyntaxErrorException",
            "hawkbit.server.error.rest.param.sortParamSyntax",
            message,
        )
    }

    pub fn sort_param_invalid_direction(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.rest.exception.SortParameterUnsupportedDirectionException",
            "hawkbit.server.error.rest.param.invalidDirection",
            message,
        )
    }

    /// A `q=` that does not parse, or a value of the wrong type for its field.
    pub fn rsql_syntax(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}RSQLParameterSyntaxException"),
            "hawkbit.server.error.rest.param.rsqlParamSyntax",
            message,
        )
    }

    /// A `q=` naming a field the entity does not have.
    pub fn rsql_invalid_field(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}RSQLParameterUnsupportedFieldException"),
            "hawkbit.server.error.rest.param.rsqlInvalidField",
            message,
        )
    }

    pub fn artifact_checksum_mismatch(kind: &str) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}InvalidChecksum{}Exception", kind.to_ascii_uppercase()),
            &format!("hawkbit.server.error.artifact.uploadFailed.checksum.{kind}.match"),
            format!("The uploaded file does not match the given {kind} checksum."),
        )
    }

    pub fn upload_failed(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            "org.eclipse.hawkbit.repository.exception.ArtifactUploadFailedException",
            "hawkbit.server.error.artifact.uploadFailed",
            message,
        )
    }

    pub fn insufficient_permission(missing: impl fmt::Display) -> Self {
        Self::with(
            StatusCode::FORBIDDEN,
            "org.eclipse.hawkbit.repository.exception.InsufficientPermissionException",
            "hawkbit.server.error.insufficientPermission",
            format!("Insufficient permission: this call needs {missing}."),
        )
    }

    /// A capability URL (`download_links`) that is forged, altered, revoked or expired: hawkBit's
    /// body for a refused authorization.
    pub fn download_link_refused(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::FORBIDDEN,
            "org.eclipse.hawkbit.repository.exception.InsufficientPermissionException",
            "hawkbit.server.error.insufficientPermission",
            message,
        )
    }

    /// A change to an entity that its use freezes (a distribution set type's modules once a set has
    /// it, the migration step of an assigned set).
    pub fn entity_read_only(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::FORBIDDEN,
            &format!("{REPO_EXC}EntityReadOnlyException"),
            "hawkbit.server.error.entityReadOnly",
            message,
        )
    }

    pub fn target_type_in_use(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::CONFLICT,
            &format!("{REPO_EXC}TargetTypeInUseException"),
            "hawkbit.server.error.target.type.used",
            message,
        )
    }

    pub fn target_type_incompatible(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}IncompatibleTargetTypeException"),
            "hawkbit.server.error.target.type.incompatible",
            message,
        )
    }

    pub fn target_type_key_or_name_required() -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}TargetTypeKeyOrNameRequiredException"),
            "hawkbit.server.error.target.type.keyOrNameRequired",
            "Key or name of the target type shall be specified!",
        )
    }

    /// A user that must stay: the caller itself, or the last `SYSTEM_ADMIN` (Updraft's own users API).
    pub fn user_not_deletable(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::CONFLICT,
            "io.updraft.server.UserNotDeletableException",
            "updraft.server.error.user.notDeletable",
            message,
        )
    }

    /// The artifact store's disk (or quota) is full: 507, so the operator sees the cause at once.
    pub fn insufficient_storage() -> Self {
        tracing::error!("the artifact store is out of space; an upload was refused");
        Self::with(
            StatusCode::INSUFFICIENT_STORAGE,
            "org.eclipse.hawkbit.repository.exception.ArtifactUploadFailedException",
            "hawkbit.server.error.artifact.uploadFailed",
            "The server's artifact storage is full; nothing of the upload was kept. Free space on \
             the server's data volume and upload again.",
        )
    }

    /// The database cannot be reached right now (down, restarting, its connections cut, or SQLite's
    /// file locked by another process): 503 with `Retry-After`, so clients come back instead of
    /// failing. Logged with its cause.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::warn!(cause = %cause, "database unavailable; answering 503");
        Self::with(
            StatusCode::SERVICE_UNAVAILABLE,
            "io.updraft.server.ServiceUnavailableException",
            "updraft.server.error.unavailable",
            "The database is unavailable right now; nothing was changed. Retry in a few seconds.",
        )
    }

    pub fn is_unavailable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }

    /// A change that kept colliding with concurrent ones (after the store ran it again a few times):
    /// hawkBit's 409 once its `@Retryable` gives up.
    pub fn contended(cause: impl fmt::Display) -> Self {
        tracing::warn!(cause = %cause, "a write kept colliding with concurrent ones; answering 409");
        Self::with(
            StatusCode::CONFLICT,
            &format!("{REPO_EXC}ConcurrentModificationException"),
            CONCURRENT_MODIFICATION,
            "The change collided with concurrent changes to the same entities and was not made. Retry it.",
        )
    }

    /// An unexpected failure: logged with its cause, answered without leaking it.
    pub fn internal(e: impl fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::with(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{REPO_EXC}GenericSpServerException"),
            "hawkbit.server.error.repo.genericError",
            "An internal error occurred; the server log has the details.",
        )
    }

    /// Auto-assignment with `timeforced`, which hawkBit does not allow for target filters.
    pub fn invalid_auto_assign_action_type() -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}InvalidAutoAssignActionTypeException"),
            "hawkbit.server.error.repo.invalidAutoAssignActionType",
            "The given action type for auto-assignment is invalid: allowed values are 'forced', 'soft' \
             and 'downloadonly'.",
        )
    }

    /// A rollout action its current state does not allow (start a running rollout, pause a paused one).
    pub fn rollout_illegal_state(message: impl Into<String>) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &format!("{REPO_EXC}RolloutIllegalStateException"),
            "hawkbit.server.error.rollout.illegalState",
            message,
        )
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body.as_ref().map(|b| b.error_code.as_str())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            Some(b) => write!(f, "{} {}: {}", self.status.as_u16(), b.error_code, b.message),
            None => write!(f, "{}", self.status),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
        }
        if self.spring_error {
            return resp.json(serde_json::json!({
                "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string(),
                "status": self.status.as_u16(),
                "error": self.status.canonical_reason().unwrap_or("Error"),
            }));
        }
        match &self.body {
            Some(body) => resp.json(body),
            None => resp.finish(),
        }
    }
}

/// Seconds a client is asked to wait after a 503.
const RETRY_AFTER_SECS: &str = "2";

/// Whether a database error means "cannot reach the database now" rather than "this request is
/// wrong": a lost or closed connection, a server shutting down or starting, SQLite's busy lock.
impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        store::Error::from(e).into()
    }
}

impl store::Failure for ApiError {
    fn is_unavailable(&self) -> bool {
        ApiError::is_unavailable(self)
    }

    fn is_contended(&self) -> bool {
        self.body
            .as_ref()
            .is_some_and(|b| b.error_code == CONCURRENT_MODIFICATION)
    }
}

/// The domain's refusals as hawkBit answers them.
impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        use store::Rule;
        let (rule, message) = match e {
            store::Error::NotFound { entity, id } => return Self::not_found(entity, id),
            store::Error::Unavailable(cause) => return Self::unavailable(cause),
            store::Error::Contended(cause) => return Self::contended(cause),
            store::Error::Internal(cause) => return Self::internal(cause),
            store::Error::Refused { rule, message } => (rule, message),
        };
        match rule {
            Rule::AlreadyExists => Self::already_exists(message),
            Rule::Constraint => Self::constraint_violation(message),
            Rule::TargetAttributes => Self::invalid_target_attributes(),
            Rule::Quota => Self::quota(message),
            Rule::Locked => Self::locked(message),
            Rule::NotCancelable { action } => Self::not_cancelable(action),
            Rule::NotForceQuitable { action } => Self::not_force_quitable(action),
            // hawkBit answers feedback on a closed action with a bare 410.
            Rule::ActionClosed => Self::bare(StatusCode::GONE),
            // hawkBit answers a confirmation for an action not waiting for one with a bare 409.
            Rule::NotWaitingForConfirmation => Self::bare(StatusCode::CONFLICT),
            Rule::ConfigKey => Self::config_key(message),
            Rule::ConfigValue => Self::config_value_invalid(message),
            Rule::TenantUnknown => Self::tenant_unknown(message),
            Rule::DsIncomplete => Self::ds_incomplete(message),
            Rule::DsInvalid => Self::ds_invalid(message),
            Rule::ModuleUnsupported => Self::ds_module_unsupported(message),
            Rule::MaintenanceSchedule => Self::maintenance_schedule_invalid(message),
            Rule::MultiAssignment => Self::multi_assignment(),
            Rule::AutoConfirmActive => Self::auto_confirm_active(message),
            Rule::QuerySyntax => Self::rsql_syntax(message),
            Rule::QueryField => Self::rsql_invalid_field(message),
            Rule::SortSyntax => Self::sort_param_syntax(message),
            Rule::SortField => Self::sort_param_invalid_field(message),
            Rule::SortDirection => Self::sort_param_invalid_direction(message),
            Rule::ReadOnly => Self::entity_read_only(message),
            Rule::TargetTypeInUse => Self::target_type_in_use(message),
            Rule::TargetTypeKeyOrName => Self::target_type_key_or_name_required(),
            Rule::TargetTypeIncompatible => Self::target_type_incompatible(message),
            Rule::UserNotDeletable => Self::user_not_deletable(message),
            Rule::AutoAssignActionType => Self::invalid_auto_assign_action_type(),
            Rule::RolloutState => Self::rollout_illegal_state(message),
            Rule::UploadFailed => Self::upload_failed(message),
            Rule::ChecksumMismatch { kind } => Self::artifact_checksum_mismatch(kind),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Database access in hawkBit's error type, for handlers that still run their own closures; domain
/// operations in `crate::store` use [`store::Db::read`] and [`store::Db::write`].
impl store::Db {
    /// [`store::Db::read`], failing with [`ApiError`].
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: Fn(&mut store::AnyConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.off_runtime(false, f).await
    }

    pub fn run_blocking<T>(&self, f: impl Fn(&mut store::AnyConnection) -> ApiResult<T>) -> ApiResult<T> {
        self.read_blocking(f)
    }

    /// [`store::Db::write`], failing with [`ApiError`].
    pub async fn tx<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: Fn(&mut store::AnyConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.off_runtime(true, f).await
    }

    pub fn tx_blocking<T>(&self, f: impl Fn(&mut store::AnyConnection) -> ApiResult<T>) -> ApiResult<T> {
        self.write_blocking(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_body_is_hawkbits() {
        let e = ApiError::not_found("Target", "dev1");
        let json = serde_json::to_value(e.body.unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "exceptionClass": "org.eclipse.hawkbit.repository.exception.EntityNotFoundException",
                "errorCode": "hawkbit.server.error.repo.entityNotFound",
                "message": "Target with given identifier {dev1} does not exist.",
                "info": { "type": "Target", "entityId": "dev1" }
            })
        );
    }

    #[test]
    fn unreadable_body_has_exactly_three_fields() {
        let json = serde_json::to_value(ApiError::body_not_readable().body.unwrap()).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 3);
        assert_eq!(json["errorCode"], "hawkbit.server.error.rest.body.notReadable");
    }
}
