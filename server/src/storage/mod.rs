//! Artifact storage behind a small trait: the filesystem store (`fs`) or an S3-compatible bucket
//! (`s3`), chosen by `storage` in the configuration.
//!
//! Blobs are content-addressed by SHA-256. Uploads stream through the hashers into their store
//! (a temp file fsynced and renamed into place, or a bucket object); downloads stream from an
//! offset. No whole file is ever held in memory, and no name from a request ever reaches a path or
//! key: only the hex digest does.

mod fs;
pub mod migrate;
mod s3;
pub mod settings;

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub use fs::FsStore;
pub use s3::S3Store;
pub use settings::{S3Settings, StorageKind};

/// Opens the artifact store the configuration chooses.
pub fn open(config: &crate::config::Config) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    use anyhow::Context;
    Ok(match config.storage {
        StorageKind::Fs => Arc::new(
            FsStore::new(config.data_dir.join("artifacts")).context("cannot open the artifact store")?,
        ),
        StorageKind::S3 => Arc::new(S3Store::new(&config.s3)?),
    })
}

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>;

/// Digests and size of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub sha1: String,
    pub md5: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("the upload exceeds {0} bytes")]
    TooLarge(u64),
    #[error("reading the upload failed: {0}")]
    Input(String),
    #[error("storing the upload failed: {0}")]
    Io(#[from] io::Error),
}

pub trait ArtifactStore: Send + Sync {
    /// Stores a stream of at most `limit` bytes; nothing is left behind if it fails.
    fn put<'a>(
        &'a self,
        input: Pin<Box<dyn Stream<Item = Result<Bytes, String>> + 'a>>,
        limit: u64,
    ) -> LocalBoxFuture<'a, Result<StoredBlob, PutError>>;

    /// Streams `len` bytes of a blob starting at `offset`.
    fn read<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        len: u64,
    ) -> LocalBoxFuture<'a, io::Result<ByteStream>>;

    /// The blob as an open file, for stores that keep files (the filesystem store), so that a
    /// download can be sent by the kernel (`sendfile`); None otherwise.
    fn open_file<'a>(&'a self, _sha256: &'a str) -> LocalBoxFuture<'a, io::Result<Option<std::fs::File>>> {
        Box::pin(async { Ok(None) })
    }

    /// Removes a blob no artifact refers to any more.
    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, io::Result<()>>;

    /// A URL that serves the blob directly for `expires` (an S3 presigned GET), for stores that
    /// have one; None otherwise.
    fn presign<'a>(
        &'a self,
        _sha256: &'a str,
        _expires: Duration,
    ) -> LocalBoxFuture<'a, io::Result<Option<String>>> {
        Box::pin(async { Ok(None) })
    }

    /// A cheap check that the store can be used (for readiness).
    fn check(&self) -> LocalBoxFuture<'_, io::Result<()>>;
}

/// The digests hawkBit records, computed as the bytes stream by.
#[derive(Default)]
pub(crate) struct Digests {
    sha1: Sha1,
    md5: Md5,
    sha256: Sha256,
    pub size: u64,
}

impl Digests {
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha1.update(chunk);
        self.md5.update(chunk);
        self.sha256.update(chunk);
        self.size += chunk.len() as u64;
    }

    pub fn finish(self) -> StoredBlob {
        use crate::auth::hex;
        StoredBlob {
            sha1: hex(&self.sha1.finalize()),
            md5: hex(&self.md5.finalize()),
            sha256: hex(&self.sha256.finalize()),
            size: self.size,
        }
    }
}

/// The name a blob is stored under, `<first two hex digits>/<sha256>`, relative to the store's
/// root directory or key prefix; both stores and `storage migrate` share this layout. Only a
/// lowercase hex SHA-256 digest becomes a name, so nothing from a request reaches a path or key.
pub(crate) fn blob_name(sha256: &str) -> io::Result<String> {
    if sha256.len() != 64 || !is_lower_hex(sha256) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest"));
    }
    Ok(format!("{}/{sha256}", &sha256[..2]))
}

/// True when every byte is a lowercase hex digit.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Writes a small file via a temp name, fsync and rename, with the given mode.
pub fn write_file_atomically(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
