//! The DDI document. Device requests are routed by hand (`super::dispatch`) for speed, so each
//! operation is described here on a function that exists only for the document.
#![allow(dead_code, clippy::unused_async)]

use updraft_ddi as w;

use crate::error::ExceptionInfo;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Updraft device API (hawkBit DDI v1)",
        description = "What devices speak: poll the root resource, fetch the deployment, download \
                       artifacts (with HTTP Range), report feedback. Authenticate with \
                       `Authorization: TargetToken <token>` or `GatewayToken <key>`, or a client \
                       certificate through a proxy; the same paths also answer under `/DEFAULT/...` for \
                       any tenant name."
    ),
    paths(
        root,
        deployment_base,
        deployment_feedback,
        cancel_action,
        cancel_feedback,
        config_data,
        confirmation_base,
        activate_auto_confirm,
        deactivate_auto_confirm,
        confirmation_action,
        confirmation_feedback,
        installed_base_report,
        installed_base,
        artifacts,
        download,
        download_md5
    ),
    components(schemas(ExceptionInfo))
)]
pub struct Document;

const TAG: &str = "DDI";

/// The root resource a device polls: the polling interval and links to what it has to do.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}", tag = TAG,
    params(
        ("tenant" = String, Path, description = "The tenant, e.g. DEFAULT"),
        ("controllerId" = String, Path, description = "The device's controller id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of the last answer"),
    ),
    responses(
        (status = 200, description = "Polling config and links", body = w::ControllerBase),
        (status = 304, description = "Unchanged since the given ETag"),
        (status = 401, description = "Missing or wrong token"),
        (status = 429, description = "Too many requests from this client address"),
    ))]
async fn root() {}

/// The deployment of an action: download/update handling, maintenance window and the chunks.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/deploymentBase/{actionId}", tag = TAG,
    params(
        ("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path),
        ("c" = Option<String>, Query, description = "Cache-busting hash from the poll link"),
        ("actionHistory" = Option<i64>, Query, description = "Include this many status messages (-1: all)"),
    ),
    responses(
        (status = 200, description = "The deployment", body = w::DeploymentBase),
        (status = 401, description = "Missing or wrong token"),
        (status = 404, description = "No such open action for this device", body = ExceptionInfo),
    ))]
async fn deployment_base() {}

/// Progress and result of a deployment.
#[utoipa::path(post, path = "/{tenant}/controller/v1/{controllerId}/deploymentBase/{actionId}/feedback",
    tag = TAG, params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    request_body = w::ActionFeedback,
    responses(
        (status = 200, description = "Recorded"),
        (status = 400, description = "Malformed feedback", body = ExceptionInfo),
        (status = 404, description = "No such action", body = ExceptionInfo),
        (status = 410, description = "The action is closed"),
        (status = 429, description = "Quota of status entries reached", body = ExceptionInfo),
    ))]
async fn deployment_feedback() {}

/// A cancellation the device must acknowledge.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/cancelAction/{actionId}", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    responses(
        (status = 200, description = "The cancel action", body = w::CancelActionBase),
        (status = 404, description = "No such cancellation", body = ExceptionInfo),
    ))]
async fn cancel_action() {}

/// The device's answer to a cancellation.
#[utoipa::path(post, path = "/{tenant}/controller/v1/{controllerId}/cancelAction/{actionId}/feedback",
    tag = TAG, params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    request_body = w::ActionFeedback,
    responses(
        (status = 200, description = "Recorded"),
        (status = 400, description = "Malformed feedback", body = ExceptionInfo),
        (status = 404, description = "No such cancellation", body = ExceptionInfo),
    ))]
async fn cancel_feedback() {}

/// Device attributes, merged into, replacing or removed from the stored ones.
#[utoipa::path(put, path = "/{tenant}/controller/v1/{controllerId}/configData", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path)),
    request_body = w::ConfigData,
    responses(
        (status = 200, description = "Stored"),
        (status = 400, description = "Malformed or too many attributes", body = ExceptionInfo),
        (status = 429, description = "Attribute quota reached", body = ExceptionInfo),
    ))]
async fn config_data() {}

/// The confirmation state: auto-confirm and actions waiting for the user's consent.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/confirmationBase", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path)),
    responses((status = 200, description = "Confirmation state", body = w::ConfirmationBase)))]
async fn confirmation_base() {}

/// Turns auto-confirmation on.
#[utoipa::path(post, path = "/{tenant}/controller/v1/{controllerId}/confirmationBase/activateAutoConfirm",
    tag = TAG, params(("tenant" = String, Path), ("controllerId" = String, Path)),
    request_body = w::ActivateAutoConfirmation,
    responses(
        (status = 200, description = "Activated"),
        (status = 409, description = "Already active", body = ExceptionInfo),
    ))]
async fn activate_auto_confirm() {}

/// Turns auto-confirmation off.
#[utoipa::path(post, path = "/{tenant}/controller/v1/{controllerId}/confirmationBase/deactivateAutoConfirm",
    tag = TAG, params(("tenant" = String, Path), ("controllerId" = String, Path)),
    responses((status = 200, description = "Deactivated")))]
async fn deactivate_auto_confirm() {}

/// An action waiting for confirmation.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/confirmationBase/{actionId}", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    responses(
        (status = 200, description = "The action", body = w::ConfirmationBaseAction),
        (status = 404, description = "No such action", body = ExceptionInfo),
    ))]
async fn confirmation_action() {}

/// Confirms or denies an action.
#[utoipa::path(post, path = "/{tenant}/controller/v1/{controllerId}/confirmationBase/{actionId}/feedback",
    tag = TAG, params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    request_body = w::ConfirmationFeedback,
    responses(
        (status = 200, description = "Recorded"),
        (status = 404, description = "No such action", body = ExceptionInfo),
        (status = 410, description = "The action no longer waits for confirmation"),
    ))]
async fn confirmation_feedback() {}

/// Reports a version installed outside the server (offline update).
#[utoipa::path(put, path = "/{tenant}/controller/v1/{controllerId}/installedBase", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path)),
    request_body = w::InstalledBaseReport,
    responses(
        (status = 200, description = "Recorded"),
        (status = 400, description = "No such distribution set", body = ExceptionInfo),
    ))]
async fn installed_base_report() {}

/// The last installed deployment.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/installedBase/{actionId}", tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path), ("actionId" = i64, Path)),
    responses(
        (status = 200, description = "The installed deployment", body = w::DeploymentBase),
        (status = 404, description = "No such installed action", body = ExceptionInfo),
    ))]
async fn installed_base() {}

/// The artifacts of a software module assigned to the device.
#[utoipa::path(get, path = "/{tenant}/controller/v1/{controllerId}/softwaremodules/{softwareModuleId}/artifacts",
    tag = TAG,
    params(("tenant" = String, Path), ("controllerId" = String, Path), ("softwareModuleId" = i64, Path)),
    responses(
        (status = 200, description = "Artifacts with hashes and download links", body = Vec<w::Artifact>),
        (status = 404, description = "No such module for this device", body = ExceptionInfo),
    ))]
async fn artifacts() {}

/// Downloads an artifact; `Range` requests resume interrupted downloads.
#[utoipa::path(get,
    path = "/{tenant}/controller/v1/{controllerId}/softwaremodules/{softwareModuleId}/artifacts/{fileName}",
    tag = TAG,
    params(
        ("tenant" = String, Path), ("controllerId" = String, Path), ("softwareModuleId" = i64, Path),
        ("fileName" = String, Path), ("Range" = Option<String>, Header, description = "bytes=from-to"),
    ),
    responses(
        (status = 200, description = "The artifact", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range", content_type = "application/octet-stream"),
        (status = 404, description = "No such artifact for this device"),
        (status = 416, description = "Range not satisfiable"),
    ))]
async fn download() {}

/// The artifact's MD5 in `md5sum` format.
#[utoipa::path(get,
    path = "/{tenant}/controller/v1/{controllerId}/softwaremodules/{softwareModuleId}/artifacts/{fileName}.MD5SUM",
    tag = TAG,
    params(
        ("tenant" = String, Path), ("controllerId" = String, Path), ("softwareModuleId" = i64, Path),
        ("fileName" = String, Path),
    ),
    responses(
        (status = 200, description = "`<md5>  <fileName>`", content_type = "text/plain"),
        (status = 404, description = "No such artifact for this device"),
    ))]
async fn download_md5() {}
