//! Streaming an upload into the bucket under its SHA-256, which is known only at the end.
//!
//! Up to [`PART`] bytes stay in memory and are PUT straight to their content address. A larger
//! upload becomes a multipart upload to a temp key (`<prefix>/uploads/<random>`, two parts in
//! flight) that is completed, copied to its address server-side and removed. The alternative,
//! hashing into a local temp file first and uploading after, would need local disk as large as the
//! largest artifact on every node and write each byte twice; S3 nodes are meant to be stateless.
//! On any failure the multipart upload is aborted and the temp object removed before the error is
//! returned; if the request is dropped midway, the same clean-up runs on the store's runtime.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload, UploadPart};

use super::{S3Store, UPLOADS, io_error};
use crate::storage::{Digests, PutError, StoredBlob};

/// Part size of multipart uploads (S3 wants at least 5 MiB but the last), and the largest upload
/// sent as one PUT.
pub(super) const PART: usize = 8 << 20;
/// Parts uploaded at once: enough to keep the link busy while the next part fills.
const IN_FLIGHT: usize = 2;

pub(super) async fn put(
    store: &S3Store,
    mut input: Pin<Box<dyn Stream<Item = Result<Bytes, String>> + '_>>,
    limit: u64,
) -> Result<StoredBlob, PutError> {
    let mut digests = Digests::default();
    let mut buf = BytesMut::new();
    let mut multipart: Option<Multipart> = None;
    let result = async {
        while let Some(chunk) = input.next().await {
            let chunk = chunk.map_err(PutError::Input)?;
            digests.update(&chunk);
            if digests.size > limit {
                return Err(PutError::TooLarge(limit));
            }
            buf.extend_from_slice(&chunk);
            while buf.len() >= PART {
                if multipart.is_none() {
                    multipart = Some(Multipart::start(store).await?);
                }
                if let Some(m) = &mut multipart {
                    m.send(buf.split_to(PART).freeze()).await?;
                }
            }
        }
        let blob = std::mem::take(&mut digests).finish();
        let dest = store.key(&blob.sha256)?;
        match &mut multipart {
            None => {
                if store.size_of(&blob.sha256).await? != Some(blob.size) {
                    store
                        .s3
                        .put(&dest, PutPayload::from(buf.split().freeze()))
                        .await
                        .map_err(io_error)?;
                }
            }
            Some(m) => {
                if !buf.is_empty() {
                    m.send(buf.split().freeze()).await?;
                }
                m.complete_at(store, &dest, &blob).await?;
            }
        }
        Ok(blob)
    }
    .await;
    if result.is_err()
        && let Some(m) = &mut multipart
    {
        m.clean_up().await;
    }
    result
}

/// A multipart upload to a temp key; whatever it left in the bucket goes when it is dropped.
struct Multipart {
    s3: std::sync::Arc<object_store::aws::AmazonS3>,
    handle: tokio::runtime::Handle,
    temp: Path,
    upload: Option<Box<dyn MultipartUpload>>,
    parts: FuturesUnordered<UploadPart>,
    /// The temp object exists (the upload was completed) and is not yet removed.
    temp_exists: bool,
}

impl Multipart {
    async fn start(store: &S3Store) -> Result<Self, PutError> {
        let temp = store.under_prefix(&format!("{UPLOADS}/{}", crate::auth::random_token()));
        let upload = store.s3.put_multipart(&temp).await.map_err(io_error)?;
        Ok(Self {
            s3: std::sync::Arc::clone(&store.s3),
            handle: store.handle.clone(),
            temp,
            upload: Some(upload),
            parts: FuturesUnordered::new(),
            temp_exists: false,
        })
    }

    async fn send(&mut self, part: Bytes) -> Result<(), PutError> {
        while self.parts.len() >= IN_FLIGHT {
            if let Some(done) = self.parts.next().await {
                done.map_err(io_error)?;
            }
        }
        if let Some(u) = &mut self.upload {
            self.parts.push(u.put_part(PutPayload::from(part)));
        }
        Ok(())
    }

    /// Completes the upload and moves it to `dest` (unless the same blob is already there).
    async fn complete_at(&mut self, store: &S3Store, dest: &Path, blob: &StoredBlob) -> Result<(), PutError> {
        while let Some(done) = self.parts.next().await {
            done.map_err(io_error)?;
        }
        if let Some(mut u) = self.upload.take() {
            if let Err(e) = u.complete().await {
                self.upload = Some(u);
                return Err(io_error(e).into());
            }
            self.temp_exists = true;
        }
        if store.size_of(&blob.sha256).await? != Some(blob.size) {
            self.s3.copy(&self.temp, dest).await.map_err(io_error)?;
        }
        self.s3.delete(&self.temp).await.map_err(io_error)?;
        self.temp_exists = false;
        Ok(())
    }

    /// Aborts the upload or removes the temp object, whichever is left; failures are logged (the
    /// stale-upload sweep and the bucket's lifecycle rule are the backstops).
    async fn clean_up(&mut self) {
        self.parts = FuturesUnordered::new();
        if let Some(mut u) = self.upload.take()
            && let Err(e) = u.abort().await
        {
            tracing::warn!(error = %e, key = %self.temp, "could not abort a failed multipart upload");
        }
        if std::mem::take(&mut self.temp_exists)
            && let Err(e) = self.s3.delete(&self.temp).await
        {
            tracing::warn!(error = %e, key = %self.temp, "could not remove a failed upload");
        }
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        if self.upload.is_none() && !self.temp_exists {
            return;
        }
        // The request went away midway: clean up on the store's runtime, which outlives it.
        let mut orphan = Self {
            s3: std::sync::Arc::clone(&self.s3),
            handle: self.handle.clone(),
            temp: self.temp.clone(),
            upload: self.upload.take(),
            parts: FuturesUnordered::new(),
            temp_exists: std::mem::take(&mut self.temp_exists),
        };
        self.handle.clone().spawn(async move { orphan.clean_up().await });
    }
}
