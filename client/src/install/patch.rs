//! Updraft's per-source patch (`type = "patch"`, docs/delta.md "Per-source patches"): the new
//! image rebuilt from the active slot and a patch made against exactly that slot's image
//! ([`updraft_swu::patch`], `zstd-window-v1`), streamed into the inactive slot through the `raw`
//! writer.
//!
//! Before anything is written the active slot's first `source-size` bytes must hash to the signed
//! `source-sha256`: a patch for another source is refused while the inactive slot is untouched.
//! While applying, the device holds one dictionary (regions of the active slot, at most
//! `--dict-mib`), one window's frame and the window it decodes to: libzstd references the
//! dictionary where it lies and writes the window in place. The rebuilt image must match
//! `image-sha256` before the slot is armed.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use openssl::sha::Sha256;
use updraft_swu::patch::{FORMAT, PatchReader, is_single_segment};
use updraft_swu::sw_description::{Artifact, parse_sha256, to_hex};

use crate::slots::Slot;

/// What a patch entry's signed properties say.
#[derive(Debug, Clone)]
pub struct PatchSource {
    pub source_size: u64,
    pub source_sha256: [u8; 32],
    pub image_size: u64,
    pub image_sha256: [u8; 32],
}

/// The active slot does not hold the image the patch was made from.
#[derive(Debug, thiserror::Error)]
#[error(
    "{name:?} is a patch for a slot whose first {size} bytes have sha256 {expected}, but slot \
     {slot}'s have sha256 {actual}: it holds another image; install the full bundle instead"
)]
pub struct WrongSource {
    pub name: String,
    pub slot: Slot,
    pub size: u64,
    pub expected: String,
    pub actual: String,
}

impl PatchSource {
    /// Reads the entry's properties and checks that the active slot `source` holds the source
    /// image, byte for byte (by its sha256).
    pub fn check(artifact: &Artifact, name: &str, source: &Path, active: Slot) -> anyhow::Result<Self> {
        let p = Self::from_artifact(artifact, name)?;
        let actual = hash_prefix(source, p.source_size)
            .with_context(|| format!("{name:?}: reading slot {active} ({})", source.display()))?;
        if actual.as_ref() != Some(&p.source_sha256) {
            return Err(WrongSource {
                name: name.to_owned(),
                slot: active,
                size: p.source_size,
                expected: to_hex(&p.source_sha256),
                actual: actual.map_or_else(|| "none (the slot is shorter)".to_owned(), |a| to_hex(&a)),
            }
            .into());
        }
        Ok(p)
    }

    /// The entry's properties, checked for form.
    pub fn from_artifact(artifact: &Artifact, name: &str) -> anyhow::Result<Self> {
        let property = |key: &str| {
            artifact
                .properties
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.first().cloned())
        };
        let required =
            |key: &str| property(key).ok_or_else(|| anyhow!("{name:?}: a patch needs properties.{key}"));
        if artifact.compressed.is_some() || artifact.encrypted {
            bail!("{name:?}: a patch is neither compressed nor encrypted (its windows are zstd frames)");
        }
        let format = required("format")?;
        if format != FORMAT {
            bail!("{name:?}: patch format {format:?} is not known to this client (it applies {FORMAT:?})");
        }
        if let Some(chain) = property("chain")
            && chain != "raw"
        {
            bail!("{name:?}: a patch chains only to \"raw\" here, not {chain:?}");
        }
        let sha = |key: &str| -> anyhow::Result<[u8; 32]> {
            parse_sha256(&required(key)?)
                .ok_or_else(|| anyhow!("{name:?}: properties.{key} is not 64 hex digits"))
        };
        let size = |key: &str| -> anyhow::Result<u64> {
            required(key)?
                .parse()
                .map_err(|_| anyhow!("{name:?}: properties.{key} is not a byte count"))
        };
        Ok(Self {
            source_size: size("source-size")?,
            source_sha256: sha("source-sha256")?,
            image_size: size("image-size")?,
            image_sha256: sha(super::delta::IMAGE_SHA256)?,
        })
    }
}

/// The sha256 of the first `size` bytes of `path`; `None` if it is shorter.
pub fn hash_prefix(path: &Path, size: u64) -> anyhow::Result<Option<[u8; 32]>> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file).take(size);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total == size).then(|| hash.finish()))
}

/// Rebuilds the image from `patch` (the entry's stored bytes) and the active slot `source`, into
/// `device`; fails (slot left unbootable by the caller) on a damaged or truncated patch or a
/// rebuilt image that does not match `image-sha256`.
pub fn apply(patch: &mut dyn Read, source: &Path, device: &Path, p: &PatchSource) -> anyhow::Result<()> {
    let source = File::open(source).with_context(|| format!("cannot open {}", source.display()))?;
    let mut rebuilt = PatchReader::new(patch, source, Some(p.image_sha256))?.with_decoder(decode_window);
    let h = *rebuilt.header();
    if h.source_size != p.source_size || h.target_size != p.image_size {
        bail!(
            "the patch's header says {} source and {} image bytes, sw-description {} and {}",
            h.source_size,
            h.target_size,
            p.source_size,
            p.image_size
        );
    }
    let written = super::raw::write(device, &mut rebuilt, None)?;
    tracing::info!(bytes = written, windows = h.windows, "patch applied");
    Ok(())
}

/// Decodes one window with libzstd (the [`updraft_swu::patch::WindowDecoder`] the agent uses): the
/// dictionary is referenced as the frame's prefix, not copied as ruzstd's decoder does, and the
/// window is decoded straight into `out`. The frame must be single-segment and state exactly `len`
/// bytes, so it cannot expand beyond the window whatever it claims inside.
pub(crate) fn decode_window(
    frame: &[u8],
    dict: Vec<u8>,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    use zstd::zstd_safe::{DCtx, find_frame_compressed_size, get_error_name, get_frame_content_size};
    if !is_single_segment(frame) || get_frame_content_size(frame).ok().flatten() != Some(len as u64) {
        return Err(format!("its frame is not a single-segment frame of {len} bytes"));
    }
    // libzstd would go on to a second frame; the format has one per window.
    if find_frame_compressed_size(frame) != Ok(frame.len()) {
        return Err("it is not exactly one zstd frame".into());
    }
    let mut dctx = DCtx::create();
    if !dict.is_empty() {
        dctx.ref_prefix(&dict[..])
            .map_err(|c| get_error_name(c).to_owned())?;
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = dctx
        .decompress(&mut out[start..], frame)
        .map_err(|c| get_error_name(c).to_owned())?;
    if written != len {
        out.truncate(start);
        return Err(format!("it decodes to {written} bytes, not {len}"));
    }
    Ok(())
}
