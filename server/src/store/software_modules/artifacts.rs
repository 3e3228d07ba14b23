//! A module's artifacts as operators manage them: recording an upload whose bytes are already in the
//! artifact store, reading and deleting them. The bytes themselves are the front door's (`storage`).

use diesel::prelude::*;

pub use super::artifact_rules::{NewArtifact, valid_filename};
use super::artifact_rules::{Refusal, check};
use super::find_module;
use crate::store::models::{Artifact, SoftwareModule};
use crate::store::schema::artifacts;
use crate::store::{AnyConnection, Error, Result, Rule};

/// The module's artifacts, oldest first.
pub fn artifacts_of(c: &mut AnyConnection, sm_id: i64) -> Result<Vec<Artifact>> {
    Ok(artifacts::table
        .filter(artifacts::sm_id.eq(sm_id))
        .order(artifacts::id.asc())
        .select(Artifact::as_select())
        .load(c)?)
}

/// The module's artifact called `filename`.
pub fn artifact_named(c: &mut AnyConnection, sm_id: i64, filename: &str) -> Result<Option<Artifact>> {
    Ok(artifacts::table
        .filter(artifacts::sm_id.eq(sm_id).and(artifacts::filename.eq(filename)))
        .select(Artifact::as_select())
        .first(c)
        .optional()?)
}

/// The tenant's module `sm` if its artifacts may change; locked (it was assigned) otherwise.
pub fn writable_module(c: &mut AnyConnection, tenant: &str, sm: i64) -> Result<SoftwareModule> {
    let module = find_module(c, tenant, sm)?;
    if module.locked {
        return Err(Error::refused(
            Rule::Locked,
            format!("Software module {sm} is locked: it was assigned."),
        ));
    }
    Ok(module)
}

/// The artifacts of the tenant's module `sm`, oldest first.
pub fn list(c: &mut AnyConnection, tenant: &str, sm: i64) -> Result<Vec<Artifact>> {
    find_module(c, tenant, sm)?;
    artifacts_of(c, sm)
}

/// The artifact `aid` of the tenant's module `sm`; not found otherwise.
pub fn find(c: &mut AnyConnection, tenant: &str, sm: i64, aid: i64) -> Result<Artifact> {
    find_module(c, tenant, sm)?;
    artifacts::table
        .filter(artifacts::id.eq(aid).and(artifacts::sm_id.eq(sm)))
        .select(Artifact::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| Error::not_found("Artifact", aid))
}

/// Deletes the artifact `aid` of the tenant's module `sm` (refused while the module is locked); its
/// digest, whose blob may now be unused.
pub fn delete(c: &mut AnyConnection, tenant: &str, sm: i64, aid: i64) -> Result<String> {
    let a = find(c, tenant, sm, aid)?;
    writable_module(c, tenant, sm)?;
    diesel::delete(artifacts::table.find(a.id)).execute(c)?;
    Ok(a.sha256)
}

/// Whether an artifact still refers to the blob `sha256` (content addressing shares blobs).
pub fn blob_in_use(c: &mut AnyConnection, sha256: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        artifacts::table.filter(artifacts::sha256.eq(sha256)),
    ))
    .get_result(c)?)
}

/// Records the upload `a` as an artifact of the tenant's module `sm`: refused for a missing or
/// unsafe file name, a checksum that does not match, a locked module or a name the module has.
pub fn add(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    a: &NewArtifact,
    by: &str,
    now: i64,
) -> Result<Artifact> {
    let filename = check(a).map_err(|r| match r {
        Refusal::Filename => Error::refused(
            Rule::UploadFailed,
            "The file name is missing or invalid (no path separators, `.`/`..` or control characters).",
        ),
        Refusal::Checksum(kind) => Error::refused(
            Rule::ChecksumMismatch { kind },
            format!("The uploaded file does not match the given {kind} checksum."),
        ),
    })?;
    writable_module(c, tenant, sm)?;
    let id: i64 = diesel::insert_into(artifacts::table)
        .values((
            artifacts::sm_id.eq(sm),
            artifacts::filename.eq(filename),
            artifacts::size.eq(a.size),
            artifacts::sha1.eq(&a.sha1),
            artifacts::md5.eq(&a.md5),
            artifacts::sha256.eq(&a.sha256),
            artifacts::created_at.eq(now),
            artifacts::created_by.eq(by),
            artifacts::last_modified_at.eq(now),
            artifacts::last_modified_by.eq(by),
            artifacts::image_sha256.eq(&a.image_sha256),
            artifacts::patch_source_sha256.eq(&a.patch_source_sha256),
        ))
        .returning(artifacts::id)
        .get_result(c)
        .map_err(|e| {
            Error::taken(e, || {
                format!("Software module {sm} already has an artifact named {filename}.")
            })
        })?;
    Ok(artifacts::table.find(id).select(Artifact::as_select()).first(c)?)
}
