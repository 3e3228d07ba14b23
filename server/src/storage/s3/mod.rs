//! The S3 artifact store: `<prefix>/<first two hex digits>/<sha256>` in an S3-compatible bucket.
//!
//! Built on `object_store` (Apache Arrow's, as crates.io uses it) rather than the AWS SDK: it adds
//! about 20 crates to this workspace against about 80 for `aws-sdk-s3` + `aws-config`, and compiles
//! in a fraction of the time. Its crypto is `ring` (already needed by rustls) instead of the default
//! `aws-lc-rs`, whose C build would be the slowest step of the whole build; TLS is rustls with the
//! system's certificates. It signs every request with SigV4 including the payload's SHA-256, so the
//! bucket rejects a part that arrives altered; it covers presigned URLs, multipart uploads with
//! abort, ranged GETs and the AWS credential chain (environment, web identity, ECS, EC2 metadata).
//!
//! Requests run on a small runtime of their own, so the store works the same from actix's
//! per-thread runtimes, the CLI and tests.

mod upload;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use sha2::{Digest, Sha256};

use super::{ArtifactStore, ByteStream, PutError, S3Settings, StoredBlob};

/// Uploads of the unfinished multipart kind are kept under this name below the prefix until they
/// are complete and copied to their content address.
const UPLOADS: &str = "uploads";

pub struct S3Store {
    s3: Arc<AmazonS3>,
    prefix: String,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3Store {
    /// Connects to the `[s3]` bucket (no request is made yet; see [`ArtifactStore::check`]).
    pub fn new(settings: &S3Settings) -> anyhow::Result<Self> {
        crate::tls::use_ring();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("updraft-s3")
            .enable_all()
            .build()
            .context("cannot start the S3 client's threads")?;
        let handle = runtime.handle().clone();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_http_connector(object_store::client::SpawnedReqwestConnector::new(handle.clone()))
            // No overall timeout: a download streams as slowly as the device reads it.
            .with_client_options(
                ClientOptions::new()
                    .with_timeout_disabled()
                    .with_connect_timeout(Duration::from_secs(5)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(region) = &settings.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &settings.endpoint {
            let endpoint = if settings.path_style {
                endpoint.trim_end_matches('/').to_owned()
            } else {
                virtual_host(endpoint, &settings.bucket)
            };
            b = b
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        if let Some((key, secret)) = &settings.credentials {
            b = b.with_access_key_id(key).with_secret_access_key(secret);
        }
        let s3 = b
            .build()
            .with_context(|| format!("invalid S3 settings for bucket {:?}", settings.bucket))?;
        let store = Self {
            s3: Arc::new(s3),
            prefix: settings.prefix.trim_matches('/').to_owned(),
            handle,
            runtime: Some(runtime),
        };
        store.sweep_stale_uploads();
        Ok(store)
    }

    fn under_prefix(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// The object key of a blob; only a lowercase hex digest becomes one.
    fn key(&self, sha256: &str) -> io::Result<Path> {
        Ok(self.under_prefix(&super::blob_name(sha256)?))
    }

    /// Size of the stored blob, None when absent.
    pub async fn size_of(&self, sha256: &str) -> io::Result<Option<u64>> {
        match self.s3.head(&self.key(sha256)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Temp objects of uploads that died with their process (finished multipart uploads not yet
    /// copied) are removed once a day old; a younger one may be another node's upload in flight.
    /// Parts of multipart uploads that were never completed are the bucket's lifecycle rule's
    /// (`AbortIncompleteMultipartUpload`), as S3 lists them only through an API object_store lacks.
    fn sweep_stale_uploads(&self) {
        let s3 = Arc::clone(&self.s3);
        let prefix = self.under_prefix(UPLOADS);
        self.handle.spawn(async move {
            let cutoff = chrono::Utc::now() - chrono::Duration::days(1);
            let mut list = s3.list(Some(&prefix));
            while let Some(item) = list.next().await {
                match item {
                    Ok(meta) if meta.last_modified < cutoff => {
                        if let Err(e) = s3.delete(&meta.location).await {
                            tracing::warn!(error = %e, key = %meta.location, "could not remove a stale upload");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "could not list stale uploads in the bucket");
                        break;
                    }
                }
            }
        });
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a runtime thread (the last owner may be one) must not.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// `https://host:port` → `https://<bucket>.host:port` for virtual-hosted-style requests.
fn virtual_host(endpoint: &str, bucket: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    match endpoint.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
        None => endpoint.to_owned(),
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

impl ArtifactStore for S3Store {
    fn put<'a>(
        &'a self,
        input: Pin<Box<dyn Stream<Item = Result<Bytes, String>> + 'a>>,
        limit: u64,
    ) -> LocalBoxFuture<'a, Result<StoredBlob, PutError>> {
        Box::pin(upload::put(self, input, limit))
    }

    fn read<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        len: u64,
    ) -> LocalBoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let key = self.key(sha256)?;
            if len == 0 {
                return Ok(Box::pin(futures_util::stream::empty()) as ByteStream);
            }
            let options = GetOptions::new().with_range(Some(offset..offset + len));
            let got = self.s3.get_opts(&key, options).await.map_err(io_error)?;
            // A whole-blob read is checked against its address as it streams: a blob altered in
            // the bucket ends the download with an error instead of reaching a device.
            let verify = (offset == 0 && got.meta.size == len).then(|| sha256.to_owned());
            Ok(checked(got.into_stream(), len, verify))
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.s3.delete(&self.key(sha256)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(io_error(e)),
            }
        })
    }

    fn presign<'a>(
        &'a self,
        sha256: &'a str,
        expires: Duration,
    ) -> LocalBoxFuture<'a, io::Result<Option<String>>> {
        Box::pin(async move {
            let url = self
                .s3
                .signed_url(object_store::signer::Method::GET, &self.key(sha256)?, expires)
                .await
                .map_err(io_error)?;
            Ok(Some(url.to_string()))
        })
    }

    fn check(&self) -> LocalBoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            // Lists the (nearly always empty) uploads prefix: proves the bucket, the credentials and
            // the signature in one small request.
            self.s3
                .list_with_delimiter(Some(&self.under_prefix(UPLOADS)))
                .await
                .map(|_| ())
                .map_err(io_error)
        })
    }
}

/// Ends `inner` with an error when it yields other than `len` bytes, or (with `verify`) bytes whose
/// SHA-256 differs from that digest.
fn checked(
    inner: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
    len: u64,
    verify: Option<String>,
) -> ByteStream {
    struct State {
        inner: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
        left: u64,
        hasher: Option<(Sha256, String)>,
        done: bool,
    }
    let state = State {
        inner,
        left: len,
        hasher: verify.map(|v| (Sha256::new(), v)),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let fail = |mut s: State, e: io::Error| {
            s.done = true;
            Some((Err(e), s))
        };
        match s.inner.next().await {
            Some(Ok(bytes)) => {
                let n = bytes.len() as u64;
                if n > s.left {
                    return fail(s, io::Error::other("the bucket sent more bytes than asked for"));
                }
                s.left -= n;
                if let Some((h, _)) = &mut s.hasher {
                    h.update(&bytes);
                }
                Some((Ok(bytes), s))
            }
            Some(Err(e)) => fail(s, io_error(e)),
            None if s.left > 0 => fail(
                s,
                io::Error::new(io::ErrorKind::UnexpectedEof, "artifact shorter than recorded"),
            ),
            None => match s.hasher.take() {
                Some((h, want)) if crate::auth::hex(&h.clone().finalize()) != want => fail(
                    s,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the bucket's copy of artifact {want} does not match its SHA-256"),
                    ),
                ),
                _ => None,
            },
        }
    }))
}
