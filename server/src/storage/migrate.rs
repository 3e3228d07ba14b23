//! `updraft-server storage migrate --to s3`: copies the filesystem store's blobs into the bucket.
//!
//! Resumable: a blob already in the bucket with its size is skipped (keys are content addresses,
//! and an object only ever appears at its address complete, so a matching size means the same
//! bytes). Verified: each blob is hashed as it streams from disk and must match its file name, and
//! the bucket must then report it at its address with its size. The files are left in place; the
//! operator removes them after switching the server to `storage = "s3"`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::TryStreamExt;

use super::{ArtifactStore, FsStore, S3Store};

/// What a migration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub copied: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// Copies every blob under `source` (a filesystem store's directory) into `dest`, writing one
/// progress line per blob to `out`.
pub async fn to_s3(source: &Path, dest: &S3Store, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let blobs = list_blobs(source)?;
    let fs = FsStore::new(source)?;
    let total_bytes: u64 = blobs.iter().map(|(_, _, size)| size).sum();
    writeln!(
        out,
        "{} artifacts ({}) in {}",
        blobs.len(),
        mib(total_bytes),
        source.display()
    )?;
    let mut outcome = Outcome::default();
    for (i, (sha256, path, size)) in blobs.iter().enumerate() {
        let n = format!("[{}/{}] {sha256}", i + 1, blobs.len());
        let started = Instant::now();
        match copy_one(&fs, dest, sha256, *size).await {
            Ok(true) => {
                outcome.copied += 1;
                let secs = started.elapsed().as_secs_f64().max(0.001);
                writeln!(
                    out,
                    "{n} {}: copied ({:.1} MiB/s)",
                    mib(*size),
                    *size as f64 / secs / 1_048_576.0
                )?;
            }
            Ok(false) => {
                outcome.skipped += 1;
                writeln!(out, "{n} {}: already in the bucket", mib(*size))?;
            }
            Err(why) => {
                outcome.failed += 1;
                writeln!(out, "{n}: not copied: {why} ({})", path.display())?;
            }
        }
    }
    writeln!(
        out,
        "{} copied, {} already there, {} failed",
        outcome.copied, outcome.skipped, outcome.failed
    )?;
    Ok(outcome)
}

/// Copies one blob unless the bucket has it; true when it was copied.
async fn copy_one(fs: &FsStore, dest: &S3Store, sha256: &str, size: u64) -> Result<bool, String> {
    let in_bucket = dest
        .size_of(sha256)
        .await
        .map_err(|e| format!("the bucket could not be asked for it: {e}"))?;
    if in_bucket == Some(size) {
        return Ok(false);
    }
    let stream = fs
        .read(sha256, 0, size)
        .await
        .map_err(|e| format!("the file could not be read: {e}"))?
        .map_err(|e| e.to_string());
    let stored = dest
        .put(Box::pin(stream), u64::MAX)
        .await
        .map_err(|e| format!("the upload failed: {e}"))?;
    if stored.sha256 != sha256 {
        // The file is damaged: what was read is stored under its own digest, which nothing uses.
        let _ = dest.delete(&stored.sha256).await;
        return Err(format!(
            "the file's content has SHA-256 {}, not its name; the file is damaged",
            stored.sha256
        ));
    }
    match dest.size_of(sha256).await {
        Ok(Some(s)) if s == size => Ok(true),
        Ok(other) => Err(format!(
            "the bucket reports {} bytes after the upload instead of {size}",
            other.unwrap_or(0)
        )),
        Err(e) => Err(format!("the upload could not be checked: {e}")),
    }
}

/// `(sha256, path, size)` of every blob file (`<two hex digits>/<sha256>`), sorted by digest.
fn list_blobs(root: &Path) -> anyhow::Result<Vec<(String, PathBuf, u64)>> {
    use anyhow::Context;
    let mut blobs = Vec::new();
    let dirs = std::fs::read_dir(root).with_context(|| {
        format!(
            "cannot read the artifact directory {}; give the data dir of the server whose artifacts \
             should move (UPDRAFT_DATA_DIR or --config)",
            root.display()
        )
    })?;
    for dir in dirs {
        let dir = dir?;
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.len() != 2 || !super::is_lower_hex(&name) || !dir.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let sha = file.file_name().to_string_lossy().into_owned();
            if sha.len() == 64
                && super::is_lower_hex(&sha)
                && sha.starts_with(&name)
                && file.file_type()?.is_file()
            {
                blobs.push((sha, file.path(), file.metadata()?.len()));
            }
        }
    }
    blobs.sort();
    Ok(blobs)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}
