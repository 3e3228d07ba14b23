//! A module's artifacts: each streamed from the source into the artifact store (never whole in
//! memory) and checked against the digests the source computed at upload before it is recorded.

use std::io::Read;

use bytes::Bytes;

use super::wire::{Artifact, Module};
use super::{Ctx, ImportError};
use crate::artifact_upload::swu_facts::{self, SwuFacts};
use crate::storage::{PutError, StoredBlob};
use crate::store::import::Outcome;
use crate::store::import::repository::{self as store, ArtifactIn};
use crate::store::software_modules::artifacts::blob_in_use;

const LABEL: &str = "artifacts";
const CHUNK: usize = 256 * 1024;

/// Imports the artifacts of the source's module `m` (local id `sm_id`); whether any was new.
pub fn of_module(cx: &mut Ctx<'_>, m: &Module, sm_id: i64) -> Result<bool, ImportError> {
    let list: Vec<Artifact> = cx
        .src
        .get_optional(&format!("/rest/v1/softwaremodules/{}/artifacts", m.id))?
        .unwrap_or_default();
    let mut changed = false;
    for a in &list {
        let known = match &a.hashes.sha256 {
            Some(sha256) => {
                let (name, sha) = (a.provided_filename.clone(), sha256.to_ascii_lowercase());
                cx.write(|c| store::has_artifact(c, sm_id, &name, &sha))?
            }
            None => false,
        };
        if known {
            cx.report.tally(LABEL).count(Outcome::Unchanged);
            continue;
        }
        if cx.dry() {
            // What a run would download, unchecked: an artifact of this name is replaced.
            let name = a.provided_filename.clone();
            let replaces = cx.write(|c| store::has_artifact_named(c, sm_id, &name))?;
            cx.report.artifact_bytes += a.size.unwrap_or(0).max(0) as u64;
            cx.report.tally(LABEL).count(if replaces {
                Outcome::Updated
            } else {
                Outcome::Added
            });
            changed = true;
            continue;
        }
        let (blob, facts) = match fetch(cx, m, a) {
            Ok(fetched) => fetched,
            Err(Fetch::Skip(why)) => {
                cx.report.tally(LABEL).skipped.push(format!(
                    "{} of module {} {}: {why}",
                    a.provided_filename, m.name, m.version
                ));
                continue;
            }
            Err(Fetch::Stop(e)) => return Err(e),
        };
        cx.report.artifact_bytes += blob.size;
        let input = ArtifactIn {
            filename: a.provided_filename.clone(),
            size: blob.size as i64,
            sha1: blob.sha1,
            md5: blob.md5,
            sha256: blob.sha256,
            audit: a.audited.audit(cx.now),
            image_sha256: facts.image_sha256,
            patch_source_sha256: facts.patch_source_sha256,
        };
        let outcome = cx.write(|c| store::artifact(c, sm_id, &input))?;
        changed |= outcome != Outcome::Unchanged;
        cx.report.tally(LABEL).count(outcome);
    }
    Ok(changed)
}

enum Fetch {
    /// This artifact cannot be imported; the others can.
    Skip(String),
    /// The run cannot go on (the source went away, the local store failed).
    Stop(ImportError),
}

/// Streams the artifact's bytes into the artifact store and checks size and digests.
fn fetch(cx: &Ctx<'_>, m: &Module, a: &Artifact) -> Result<(StoredBlob, SwuFacts), Fetch> {
    let path = a.links.get("download").map_or_else(
        || format!("/rest/v1/softwaremodules/{}/artifacts/{}/download", m.id, a.id),
        |l| cx.src.path_of(&l.href),
    );
    let mut response = cx.src.download(&path).map_err(|e| match e {
        ImportError::Empty => Fetch::Skip("the source has no bytes for it (404)".into()),
        e => Fetch::Stop(e),
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Fetch::Stop(ImportError::Local(format!(
                "starting the artifact writer failed: {e}"
            )))
        })?;
    // The blocking HTTP client reads on a thread of its own (it must not run inside the runtime);
    // the store takes the chunks as they come, a few at most in flight.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(8);
    let base = cx.src.base().to_owned();
    let reader = std::thread::spawn(move || {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let chunk = match response.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(format!("the download from {base} broke off: {e}")),
            };
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let stored = runtime.block_on(
        cx.state
            .store
            .put(Box::pin(chunks), cx.state.config.max_artifact_size),
    );
    let _ = reader.join();
    let blob = match stored {
        Ok(blob) => blob,
        Err(PutError::TooLarge(limit)) => {
            return Err(Fetch::Skip(format!(
                "it is larger than UPDRAFT_MAX_ARTIFACT_SIZE ({limit} bytes)"
            )));
        }
        Err(PutError::Input(why)) => return Err(Fetch::Stop(ImportError::Source(why))),
        Err(PutError::Io(e)) => {
            return Err(Fetch::Stop(ImportError::Local(format!(
                "writing into the artifact store failed: {e}"
            ))));
        }
    };
    let expected = [
        ("SHA-256", a.hashes.sha256.as_deref(), &blob.sha256),
        ("SHA-1", a.hashes.sha1.as_deref(), &blob.sha1),
        ("MD5", a.hashes.md5.as_deref(), &blob.md5),
    ];
    let size_ok = a.size.is_none_or(|s| s == blob.size as i64);
    let bad = expected
        .iter()
        .find(|(_, want, got)| want.is_some_and(|w| !w.eq_ignore_ascii_case(got)));
    if bad.is_none() && size_ok {
        let facts = runtime.block_on(swu_facts::read(
            cx.state.store.as_ref(),
            &a.provided_filename,
            &blob.sha256,
            blob.size,
        ));
        return Ok((blob, facts));
    }
    // The bytes are not what the source recorded: drop them unless another artifact has them.
    let sha = blob.sha256.clone();
    if let Ok(false) = cx.state.db.write_blocking(|c| blob_in_use(c, &sha)) {
        let _ = runtime.block_on(cx.state.store.delete(&sha));
    }
    Err(Fetch::Skip(match bad {
        Some((kind, want, got)) => format!(
            "the downloaded bytes have {kind} {got}, the source recorded {}",
            want.unwrap_or_default()
        ),
        None => format!(
            "the download has {} bytes, the source recorded {}",
            blob.size,
            a.size.unwrap_or_default()
        ),
    }))
}
