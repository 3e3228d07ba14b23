//! `delta = true` in a bundle manifest: the image becomes a zchunk file (`<file>.zck`, written
//! beside the bundle, to be uploaded as a second artifact of the same software module) and the
//! bundle carries only its header, as SWUpdate's delta handler expects:
//!
//! ```text
//! { filename = "rootfs.ext4.zck.header"; type = "delta"; device = "<slot>"; sha256 = "<header>";
//!   properties: { url = "dynamic"; zckfile = "rootfs.ext4.zck"; chain = "raw";
//!                 image-sha256 = "<whole image>"; }; }
//! ```
//!
//! The header is inside the signed sw-description's hash, so every chunk hash is authenticated.
//! `image-sha256` is Updraft's: the client checks the reassembled image against it (SWUpdate
//! ignores properties it does not know). docs/delta.md has the differences from SWUpdate.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context as _;
use updraft_swu::bundle::ManifestImage;
use updraft_swu::sw_description::{Artifact, to_hex};
use updraft_swu::zchunk::{Written, parse_header, write_zck};

use super::bundle::write_atomically;
use super::bundle_encode::{Staging, chunk_compressor};

use crate::install::delta::{FULL_ABOVE, IMAGE_SHA256, plan};

/// Writes `image`'s chunk file to `zck` (chunks compressed with libzstd at `zstd_level`) and turns
/// `image` into the delta entry carrying its header.
pub fn make(
    image: &mut ManifestImage,
    stage: &Staging,
    zck: &Path,
    zstd_level: i32,
) -> anyhow::Result<Written> {
    let source =
        File::open(&image.source).with_context(|| format!("cannot open {}", image.source.display()))?;
    let scratch_path = stage.path(&format!("{}.chunks", image.filename));
    let mut scratch = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&scratch_path)
        .with_context(|| format!("cannot create {}", scratch_path.display()))?;
    let compress = chunk_compressor(zstd_level).context("cannot start the zstd encoder")?;
    let mut written = None;
    write_atomically(zck, |out| {
        let w = write_zck(
            BufReader::with_capacity(256 * 1024, source),
            &mut scratch,
            out,
            compress,
        )
        .with_context(|| format!("cannot write the chunk file of {}", image.source.display()))?;
        written = Some(w);
        Ok(())
    })?;
    drop(scratch);
    let _ = std::fs::remove_file(&scratch_path);
    let written = written.context("the chunk file was not written")?;
    let zck_name = zck
        .file_name()
        .and_then(|n| n.to_str())
        .context("the chunk file has no UTF-8 name")?
        .to_owned();
    let header_name = format!("{zck_name}.header");
    let header_path = stage.path(&header_name);
    let mut f =
        File::create(&header_path).with_context(|| format!("cannot create {}", header_path.display()))?;
    f.write_all(&written.header)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", header_path.display()))?;
    image.source = header_path;
    image.filename = header_name;
    image.handler = "delta".into();
    image.properties = vec![
        ("url".into(), "dynamic".into()),
        ("zckfile".into(), zck_name),
        ("chain".into(), "raw".into()),
        (IMAGE_SHA256.into(), to_hex(&written.image_sha256)),
    ];
    Ok(written)
}

/// What a device running one image would fetch of one delta entry's chunk file.
pub struct Fetch {
    pub bytes: u64,
    pub requests: usize,
    pub file_bytes: u64,
    /// The plan in words.
    pub sentence: String,
}

/// Plans the delta entry `artifact` (its chunk header `header`) against the image `against`, as
/// `updraft agent` would against its active slot.
pub fn would_fetch(artifact: &Artifact, header: &[u8], against: &Path) -> anyhow::Result<Fetch> {
    let zckfile = artifact
        .properties
        .iter()
        .find(|(k, _)| k == "zckfile")
        .and_then(|(_, v)| v.first())
        .map_or("the chunk file", String::as_str);
    let parsed = parse_header(header).map_err(|e| anyhow::anyhow!("{zckfile}: {e}"))?;
    let source = File::open(against).with_context(|| format!("cannot open {}", against.display()))?;
    let plan = plan(&parsed, &source).with_context(|| format!("cannot read {}", against.display()))?;
    let s = &plan.stats;
    let header_bytes = parsed.len;
    let file_bytes = header_bytes + s.file_bytes;
    let fetch = if s.full {
        Fetch {
            bytes: file_bytes,
            requests: 1,
            file_bytes,
            sentence: format!(
                "against {}: {} of {} chunks are missing, more than {:.0} % of {zckfile}'s bytes, so \
                 the whole file is fetched: {file_bytes} bytes in one request",
                against.display(),
                s.chunks - s.reused,
                s.chunks,
                FULL_ABOVE * 100.0
            ),
        }
    } else {
        let requests = plan.range_requests(&parsed);
        Fetch {
            bytes: s.missing_bytes,
            requests,
            file_bytes,
            sentence: format!(
                "against {}: reuses {} of {} chunks; fetches {} chunks, {} of {file_bytes} bytes of \
                 {zckfile} ({:.1} %), in {requests} range request{}",
                against.display(),
                s.reused,
                s.chunks,
                s.chunks - s.reused,
                s.missing_bytes,
                percent(s.missing_bytes, file_bytes),
                if requests == 1 { "" } else { "s" }
            ),
        }
    };
    Ok(fetch)
}

/// The whole download of a device running `against`: the bundle, then each delta entry's chunks.
pub fn download_summary(against: &Path, bundle_bytes: u64, fetches: &[Fetch]) -> String {
    if fetches.is_empty() {
        return format!(
            "download:    a device running {} downloads {bundle_bytes} bytes: the whole bundle (it \
             has no chunk-delta images)",
            against.display()
        );
    }
    let chunk_bytes: u64 = fetches.iter().map(|f| f.bytes).sum();
    let whole: u64 = fetches.iter().map(|f| f.file_bytes).sum();
    let requests: usize = fetches.iter().map(|f| f.requests).sum();
    format!(
        "download:    a device running {} downloads {} bytes: the bundle ({bundle_bytes}) and \
         {chunk_bytes} bytes of chunk files in {requests} request{} ({:.1} % of the {whole} bytes \
         of whole chunk files; HTTP framing not counted)",
        against.display(),
        bundle_bytes + chunk_bytes,
        if requests == 1 { "" } else { "s" },
        percent(chunk_bytes, whole)
    )
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}
