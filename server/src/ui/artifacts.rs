//! A software module's artifacts on its page: the table with each file's full SHA-256 (selectable
//! with one click, and a copy button where the script runs), a download link and a delete button;
//! and the two routes behind them. Download streams the file from the artifact store exactly as
//! the Management API's download does (`crate::ddi::serve_artifact`, with `Range` support); delete
//! is the Management API's `artifacts::delete` followed by the same blob release.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use super::error::{UiError, UiResult};
use super::layout::{self, size, when};
use super::session::Ctx;
use crate::artifact_upload::release_blobs;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::models::Artifact;
use crate::store::software_modules::artifacts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/software/{id}/artifacts/{aid}/download", web::get().to(download))
        .route("/software/{id}/artifacts/{aid}/delete", web::post().to(delete));
}

/// The artifact table of module `sm`; `locked` modules offer no delete.
pub fn listing(ctx: &Ctx, sm: i64, locked: bool, arts: &[Artifact]) -> Markup {
    let may_download = ctx.can(Permission::ReadSoftwareModuleArtifact);
    let may_delete = ctx.can(Permission::DeleteSoftwareModule) && !locked;
    html! {
        @if arts.is_empty() { p.muted { "No artifacts yet." } }
        @else { div.table-wrap { table.artifacts {
            thead { tr {
                th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "SHA-256" }
                th.opt scope="col" { "Uploaded" }
                @if may_delete { th scope="col" { span.sr { "Actions" } } }
            } }
            tbody { @for a in arts {
                @let base = format!("/ui/software/{sm}/artifacts/{}", a.id);
                tr data-artifact=(a.filename) {
                    td.name {
                        @if may_download {
                            a href={ (base) "/download" } download=(a.filename) {
                                (a.filename) span.sr { " (download)" }
                            }
                        } @else { (a.filename) }
                    }
                    td { (size(a.size)) }
                    td {
                        code.hash id={ "sha-" (a.id) } { (a.sha256) }
                        " "
                        button.secondary.copy type="button" hidden data-copy={ "sha-" (a.id) } {
                            "Copy" span.sr { " the SHA-256 of " (a.filename) }
                        }
                    }
                    td.opt { (when(a.created_at)) }
                    @if may_delete { td {
                        form.inline method="post" action={ (base) "/delete" }
                            data-confirm={ "Delete " (a.filename) "? Devices can no longer download it." } {
                            button.danger type="submit" { "Delete" span.sr { " " (a.filename) } }
                        }
                    } }
                }
            } }
        } } }
    }
}

/// The artifact's bytes, as the Management API's download sends them.
pub async fn download(
    req: HttpRequest,
    ctx: Ctx,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UiError> {
    ctx.require(Permission::ReadSoftwareModuleArtifact)?;
    let (sm, aid) = path.into_inner();
    let tenant = ctx.tenant();
    let a = state
        .db
        .read(move |c| artifacts::find(c, &tenant, sm, aid))
        .await?;
    Ok(crate::artifact_download::serve_artifact(&req, &state, &a).await?)
}

/// Deletes an artifact of an unlocked module (a locked one is refused, as in the Management API).
pub async fn delete(ctx: Ctx, path: web::Path<(i64, i64)>, state: web::Data<AppState>) -> UiResult {
    ctx.require(Permission::DeleteSoftwareModule)?;
    let (sm, aid) = path.into_inner();
    let tenant = ctx.tenant();
    let (name, digest) = state
        .db
        .write(move |c| {
            let a = artifacts::find(c, &tenant, sm, aid)?;
            Ok((a.filename, artifacts::delete(c, &tenant, sm, aid)?))
        })
        .await?;
    release_blobs(&state, vec![digest]).await;
    Ok(layout::see_other(
        &format!("/ui/software/{sm}"),
        Some(&format!("Deleted {name}.")),
    ))
}
