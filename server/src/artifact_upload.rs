//! Artifact uploads as the Management API and the web UI both take them: a multipart form whose
//! `file` streams into the artifact store, recorded by `store::software_modules::artifacts::add`;
//! and removing blobs no artifact refers to any more.
//!
//! Request plumbing shared by two front doors (like `auth/`): the bytes go to `crate::storage`, every
//! rule (lock, file name, checksums, a taken name) is the store's.

use actix_multipart::{Field, Multipart};
use futures_util::{StreamExt, TryStreamExt};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::{PutError, StoredBlob};
use crate::store::models::Artifact;
use crate::store::software_modules::artifacts::{self, NewArtifact};

pub mod form;
pub mod swu_facts;

use form::Part;

/// The parts of an upload form: `file` (stored as it arrives) and the text fields ([`form::Form`]).
#[derive(Default)]
struct Form {
    blob: Option<StoredBlob>,
    fields: form::Form,
}

/// Takes the upload `form` as an artifact of the tenant's module `sm` (which must exist and not be
/// locked before anything is read), recorded as `by`. Nothing remains if any check fails.
pub async fn receive(
    state: &AppState,
    tenant: &str,
    by: &str,
    sm: i64,
    form: Multipart,
) -> ApiResult<Artifact> {
    let t = tenant.to_owned();
    state
        .db
        .read(move |c| artifacts::writable_module(c, &t, sm))
        .await?;
    let mut parts = Form::default();
    let outcome = read_form(state, form, &mut parts).await;
    let result = async {
        outcome?;
        let b = parts
            .blob
            .clone()
            .ok_or_else(|| ApiError::upload_failed("The multipart field `file` is missing."))?;
        let name = parts.fields.filename.clone().unwrap_or_default();
        let facts = swu_facts::read(state.store.as_ref(), &name, &b.sha256, b.size).await;
        let new = NewArtifact {
            filename: parts.fields.filename.clone(),
            size: i64::try_from(b.size).map_err(ApiError::internal)?,
            md5: b.md5,
            sha1: b.sha1,
            sha256: b.sha256,
            given_md5: parts.fields.md5.clone(),
            given_sha1: parts.fields.sha1.clone(),
            given_sha256: parts.fields.sha256.clone(),
            image_sha256: facts.image_sha256,
            patch_source_sha256: facts.patch_source_sha256,
        };
        let (t, by, now) = (tenant.to_owned(), by.to_owned(), state.now());
        Ok(state
            .db
            .write(move |c| artifacts::add(c, &t, sm, &new, &by, now))
            .await?)
    }
    .await;
    if result.is_err()
        && let Some(b) = parts.blob
    {
        release_blobs(state, vec![b.sha256]).await;
    }
    result
}

/// Reads the form into `parts`, storing `file` as it streams by; `parts` keeps what was read even
/// when this fails, so the caller can remove a stored blob.
async fn read_form(state: &AppState, mut form: Multipart, parts: &mut Form) -> ApiResult<()> {
    let limit = state.config.max_artifact_size;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| ApiError::upload_failed(format!("Malformed multipart body: {e}")))?;
        let part = parts.fields.classify(field.name().unwrap_or_default());
        match part {
            Part::File => {
                parts
                    .fields
                    .file_started(field.content_disposition().and_then(|d| d.get_filename()));
                let stream = (&mut field).map_err(|e| e.to_string());
                let stored = state
                    .store
                    .put(Box::pin(stream), limit)
                    .await
                    .map_err(|e| match e {
                        PutError::TooLarge(l) => ApiError::payload_too_large(l),
                        PutError::Input(m) => {
                            ApiError::upload_failed(format!("Reading the upload failed: {m}"))
                        }
                        // ENOSPC, EDQUOT
                        PutError::Io(e) if matches!(e.raw_os_error(), Some(28 | 122)) => {
                            ApiError::insufficient_storage()
                        }
                        PutError::Io(e) => ApiError::internal(e),
                    })?;
                parts.blob = Some(stored);
            }
            Part::Ignored => while field.next().await.is_some() {},
            text => {
                let value = text_field(&mut field).await?;
                parts.fields.set_text(text, value);
            }
        }
    }
    Ok(())
}

async fn text_field(field: &mut Field) -> ApiResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| ApiError::body_not_readable())?;
        form::push_text(&mut buf, &chunk).map_err(|_| ApiError::body_not_readable())?;
    }
    form::finish_text(buf).map_err(|_| ApiError::body_not_readable())
}

/// Removes the blobs `digests` that no artifact refers to any more (content addressing shares them).
pub async fn release_blobs(state: &AppState, digests: Vec<String>) {
    for sha in digests {
        let s = sha.clone();
        let used = state.db.read(move |c| artifacts::blob_in_use(c, &s)).await;
        if matches!(used, Ok(false))
            && let Err(e) = state.store.delete(&sha).await
        {
            tracing::warn!(error = %e, sha256 = %sha, "could not remove an unused artifact blob");
        }
    }
}
