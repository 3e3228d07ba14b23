//! The filesystem artifact store: `<root>/<first two hex digits>/<sha256>`.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{ArtifactStore, ByteStream, Digests, PutError, StoredBlob};

pub struct FsStore {
    root: PathBuf,
}

/// Removes a temp file unless it was renamed into place.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl FsStore {
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        // Temp files of a crashed upload are garbage.
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(Self { root })
    }

    /// The directory holding the blobs (for `storage migrate`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, sha256: &str) -> io::Result<PathBuf> {
        Ok(self.root.join(super::blob_name(sha256)?))
    }

    async fn put_inner(
        &self,
        mut input: Pin<Box<dyn Stream<Item = Result<Bytes, String>> + '_>>,
        limit: u64,
    ) -> Result<StoredBlob, PutError> {
        let tmp = self
            .root
            .join("tmp")
            .join(format!("upload-{}", crate::auth::random_token()));
        let mut guard = TempGuard(Some(tmp.clone()));
        // Artifacts are the operator's firmware: readable by the server's user only.
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .await?;
        let mut digests = Digests::default();
        while let Some(chunk) = input.next().await {
            let chunk = chunk.map_err(PutError::Input)?;
            digests.update(&chunk);
            if digests.size > limit {
                return Err(PutError::TooLarge(limit));
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        drop(file);
        let blob = digests.finish();
        let dest = self.blob_path(&blob.sha256)?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::rename(&tmp, &dest).await?;
        guard.0 = None;
        tokio::fs::File::open(dir).await?.sync_all().await?;
        Ok(blob)
    }
}

const CHUNK: usize = 64 * 1024;

impl ArtifactStore for FsStore {
    fn put<'a>(
        &'a self,
        input: Pin<Box<dyn Stream<Item = Result<Bytes, String>> + 'a>>,
        limit: u64,
    ) -> LocalBoxFuture<'a, Result<StoredBlob, PutError>> {
        Box::pin(self.put_inner(input, limit))
    }

    fn read<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        len: u64,
    ) -> LocalBoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.blob_path(sha256)?).await?;
            file.seek(io::SeekFrom::Start(offset)).await?;
            let stream = futures_util::stream::unfold((file, len), |(mut file, left)| async move {
                if left == 0 {
                    return None;
                }
                let mut buf = vec![0u8; CHUNK.min(left as usize)];
                match file.read(&mut buf).await {
                    Ok(0) => Some((
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "artifact shorter than recorded",
                        )),
                        (file, 0),
                    )),
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (file, left - n as u64)))
                    }
                    Err(e) => Some((Err(e), (file, 0))),
                }
            });
            Ok(Box::pin(stream) as ByteStream)
        })
    }

    fn open_file<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, io::Result<Option<std::fs::File>>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(self.blob_path(sha256)?).await?;
            Ok(Some(file.into_std().await))
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> LocalBoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.blob_path(sha256)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn check(&self) -> LocalBoxFuture<'_, io::Result<()>> {
        Box::pin(async move { tokio::fs::metadata(self.root.join("tmp")).await.map(|_| ()) })
    }
}
