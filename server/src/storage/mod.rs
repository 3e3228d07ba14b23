//! Artifact storage behind a small trait, so an S3 backend can sit beside the filesystem one.
//!
//! Blobs are content-addressed by SHA-256. Uploads stream through the hashers into a temp file which
//! is fsynced and renamed into place; downloads stream from an offset. No whole file is ever held in
//! memory, and no name from a request ever reaches the filesystem: only the hex digest does.

mod fs;

use std::io;
use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;

pub use fs::FsStore;

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

    /// Removes a blob no artifact refers to any more.
    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, io::Result<()>>;

    /// A cheap check that the store can be used (for readiness).
    fn check(&self) -> LocalBoxFuture<'_, io::Result<()>>;
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
