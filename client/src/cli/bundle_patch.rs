//! `updraft bundle delta --from OLD --to NEW`: a signed per-source patch bundle (`*.patch.swu`,
//! docs/delta.md "Per-source patches").
//!
//! The patch (format [`updraft_swu::patch`], `zstd-window-v1`) cuts the new image into windows
//! and compresses each with libzstd against a dictionary of old-image regions that the window's
//! 4 KiB blocks vote for (where its unchanged blocks moved to). Memory stays bounded: the old
//! image's block index (~30 bytes per 4 KiB), and per worker one window, its dictionary and a
//! zstd context. The device needs only ruzstd to apply it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use openssl::sha::Sha256;
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage, SoftwareSet};
use updraft_swu::patch::{self, PatchHeader, Segment, SourceIndex, WindowHeader};
use updraft_swu::signature::Signer;
use updraft_swu::sw_description::{ArtifactKind, to_hex};
use zstd::zstd_safe::{CCtx, CParameter};

use super::bundle::{BundleManifest, write_atomically};
use super::bundle_encode::Staging;

pub const DELTA_LONG_ABOUT: &str = "\
Build a signed per-source patch bundle (*.patch.swu): the new image as a patch against
one exact old image, for devices whose active slot holds that old image.

The patch cuts NEW into windows (--window-mib) and compresses each with zstd, using as
dictionary the regions of OLD that the window's 4 KiB blocks are found at (data moves
between two builds of a file system; --dict-mib bounds the regions per window). The bundle's
sw-description has one image entry of type \"patch\" with the patch's sha256 and the
properties format (\"zstd-window-v1\"), source-sha256 and source-size (OLD), image-sha256
and image-size (NEW) and chain = \"raw\".

A device applies it only if the first source-size bytes of its active slot have
source-sha256; it writes the result into the inactive slot and checks image-sha256 before
arming it. Upload the patch bundle beside the full bundle (same software module): the agent
takes the patch when it fits and the full bundle otherwise.

Version, hardware compatibility and software set (A/B copies) come from --manifest (the
new image's bundle manifest; its images are ignored) or from --version and
--hardware-compatibility.

Example:
    updraft bundle delta --from rootfs-1.0.ext4 --to rootfs-1.1.ext4 \\
        --manifest bundle.toml --cert signer.pem --key signer.key -o rootfs-1.1-from-1.0.patch.swu";

#[derive(Args)]
pub struct DeltaArgs {
    /// The old image: what the device's active slot holds.
    #[arg(long, value_name = "IMAGE")]
    pub from: PathBuf,
    /// The new image, to be written into the inactive slot.
    #[arg(long, value_name = "IMAGE")]
    pub to: PathBuf,
    /// The new image's bundle manifest: version, hardware-compatibility, software-set, slots.
    #[arg(long, value_name = "FILE", required_unless_present = "version")]
    pub manifest: Option<PathBuf>,
    /// The bundle's version (instead of --manifest).
    #[arg(long, conflicts_with = "manifest", requires = "hardware_compatibility")]
    pub version: Option<String>,
    /// A hardware revision the bundle fits (repeatable; instead of --manifest).
    #[arg(long, value_name = "REV", conflicts_with = "manifest")]
    pub hardware_compatibility: Vec<String>,
    /// Signer certificate (PEM).
    #[arg(long, value_name = "PEM", required_unless_present = "unsigned")]
    pub cert: Option<PathBuf>,
    /// Signer private key (PEM, unencrypted).
    #[arg(long, value_name = "PEM", required_unless_present = "unsigned")]
    pub key: Option<PathBuf>,
    /// Write a bundle without sw-description.sig.
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub unsigned: bool,
    /// Where to write the bundle; its name must end with .patch.swu.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Target window (MiB): the device holds one decoded window and its compressed frame.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub window_mib: u32,
    /// Old-image bytes per window's dictionary (MiB): the device holds it while decoding the window.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub dict_mib: u32,
    /// zstd level (1-22).
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub level: i32,
    /// Windows compressed at once (default: the number of CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// What [`encode`] wrote.
pub struct Encoded {
    pub source_size: u64,
    pub source_sha256: [u8; 32],
    pub target_size: u64,
    pub target_sha256: [u8; 32],
    pub patch_len: u64,
}

/// Options of [`encode`].
#[derive(Clone, Copy)]
pub struct EncodeOptions {
    pub window: u32,
    pub dict: u32,
    pub level: i32,
    pub threads: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            window: 4 << 20,
            dict: 12 << 20,
            level: 19,
            threads: 1,
        }
    }
}

/// Writes the patch turning `from` into `to` to `out`.
pub fn encode(from: &Path, to: &Path, opts: EncodeOptions, out: &mut impl Write) -> anyhow::Result<Encoded> {
    let source = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let mut source_hash = Sha256::new();
    let (index, source_size) = SourceIndex::build(HashingReader {
        inner: BufReader::with_capacity(1 << 20, &source),
        hash: &mut source_hash,
    })
    .with_context(|| format!("cannot read {}", from.display()))?;
    let source_sha256 = source_hash.finish();
    let target = File::open(to).with_context(|| format!("cannot open {}", to.display()))?;
    let target_size = target
        .metadata()
        .with_context(|| format!("cannot read {}", to.display()))?
        .len();
    let header = PatchHeader::new(opts.window, source_size, target_size)?;
    out.write_all(&header.to_bytes())?;
    let mut patch_len = patch::HEADER_LEN as u64;
    let mut target_hash = Sha256::new();
    let mut target = BufReader::with_capacity(1 << 20, target);
    let threads = opts.threads.max(1);
    let mut index_no = 0u32;
    while index_no < header.windows {
        // A batch of windows, one per worker, compressed side by side and written in order.
        let mut batch = Vec::new();
        while batch.len() < threads && index_no < header.windows {
            let mut w = vec![0u8; header.window_len(index_no)];
            let n = patch::read_full(&mut target, &mut w)?;
            if n != w.len() {
                bail!("{} changed while it was read", to.display());
            }
            target_hash.update(&w);
            batch.push((index_no, w));
            index_no += 1;
        }
        let results: Vec<anyhow::Result<(Vec<Segment>, Vec<u8>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(i, w)| {
                    let (index, source) = (&index, &source);
                    s.spawn(move || {
                        let start = u64::from(*i) * u64::from(opts.window);
                        let segments = index.plan(w, start, source_size, opts.dict);
                        let frame = compress_window(source, &segments, w, opts.level)?;
                        Ok((segments, frame))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a compression worker panicked")))
                })
                .collect()
        });
        for r in results {
            let (segments, frame) = r?;
            let mut head = Vec::new();
            WindowHeader {
                frame_len: u32::try_from(frame.len()).context("a window's frame is over 4 GiB")?,
                segments,
            }
            .write(&mut head);
            out.write_all(&head)?;
            out.write_all(&frame)?;
            patch_len += (head.len() + frame.len()) as u64;
        }
    }
    let mut extra = [0u8; 1];
    if target.read(&mut extra)? != 0 {
        bail!("{} grew while it was read", to.display());
    }
    Ok(Encoded {
        source_size,
        source_sha256,
        target_size,
        target_sha256: target_hash.finish(),
        patch_len,
    })
}

/// One window as a single-segment zstd frame with the source regions as raw-content dictionary
/// (`ZSTD_CCtx_refPrefix`, what `zstd --patch-from` does).
fn compress_window(
    source: &File,
    segments: &[Segment],
    window: &[u8],
    level: i32,
) -> anyhow::Result<Vec<u8>> {
    let mut dict = vec![0u8; segments.iter().map(|s| s.len as usize).sum()];
    let mut at = 0;
    for s in segments {
        let end = at + s.len as usize;
        std::os::unix::fs::FileExt::read_exact_at(source, &mut dict[at..end], s.offset)
            .context("cannot read the old image")?;
        at = end;
    }
    let zerr =
        |what: &str, code: usize| anyhow::anyhow!("zstd {what}: {}", zstd::zstd_safe::get_error_name(code));
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(|c| zerr("level", c))?;
    // The window must reach back over the whole dictionary.
    let reach = (dict.len() + window.len())
        .next_power_of_two()
        .trailing_zeros()
        .max(20);
    cctx.set_parameter(CParameter::WindowLog(reach))
        .map_err(|c| zerr("window", c))?;
    cctx.set_parameter(CParameter::ContentSizeFlag(true))
        .map_err(|c| zerr("content size", c))?;
    cctx.set_pledged_src_size(Some(window.len() as u64))
        .map_err(|c| zerr("size", c))?;
    if !dict.is_empty() {
        cctx.ref_prefix(&dict).map_err(|c| zerr("prefix", c))?;
    }
    let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(window.len()));
    cctx.compress2(&mut frame, window)
        .map_err(|c| zerr("compress", c))?;
    Ok(frame)
}

struct HashingReader<'a, R> {
    inner: R,
    hash: &'a mut Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// `updraft bundle delta`.
pub fn run(args: &DeltaArgs) -> anyhow::Result<()> {
    let out_name = args
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !out_name.ends_with(".patch.swu") || out_name.len() == ".patch.swu".len() {
        bail!(
            "--output {}: a patch bundle's name must end with .patch.swu (the agent and the server \
             tell patches from full bundles by it)",
            args.output.display()
        );
    }
    let (mut manifest, set): (Manifest, Option<SoftwareSet>) = match &args.manifest {
        Some(path) => {
            let loaded = BundleManifest::load(path)?;
            (loaded.manifest, loaded.set)
        }
        None => (
            Manifest {
                version: args.version.clone().unwrap_or_default(),
                hardware_compatibility: args.hardware_compatibility.clone(),
                ..Manifest::default()
            },
            None,
        ),
    };
    if manifest.hardware_compatibility.is_empty() {
        bail!(
            "the bundle needs a hardware revision: pass --hardware-compatibility (SWUpdate refuses bundles without one)"
        );
    }
    let signer = match (&args.cert, &args.key, args.unsigned) {
        (_, _, true) => None,
        (Some(cert), Some(key), false) => Some(
            Signer::from_pem_files(cert, key)
                .with_context(|| format!("cannot load signer {} / {}", cert.display(), key.display()))?,
        ),
        _ => bail!("signing needs --cert and --key (or pass --unsigned)"),
    };
    let stage = Staging::next_to(&args.output)?;
    let target_name = args
        .to
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("--to {} has no UTF-8 file name", args.to.display()))?;
    let patch_name = format!("{target_name}.patch");
    let patch_path = stage.path(&patch_name);
    let opts = EncodeOptions {
        window: args.window_mib << 20,
        dict: args.dict_mib << 20,
        level: args.level,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
    };
    let file =
        File::create(&patch_path).with_context(|| format!("cannot create {}", patch_path.display()))?;
    let mut w = BufWriter::new(&file);
    let enc = encode(&args.from, &args.to, opts, &mut w)?;
    w.flush()
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", patch_path.display()))?;
    drop(w);
    let mut image = ManifestImage::raw(&patch_path, &patch_name, "");
    image.device = None;
    image.kind = ArtifactKind::Image;
    image.handler = "patch".into();
    image.properties = patch_properties(&enc);
    manifest.images = vec![image];
    let mut writer = BundleWriter::new(manifest);
    if let Some(set) = set {
        writer = writer.with_software_set(set);
    }
    if let Some(signer) = signer {
        writer = writer.with_signer(signer);
    }
    write_atomically(&args.output, |out| {
        writer.write(out).context("cannot build the bundle")?;
        Ok(())
    })?;
    drop(stage);
    outln!(
        "wrote {}: a patch of {} bytes turning {} ({} bytes) into {} ({} bytes); it installs only \
         on a device whose active slot starts with {}",
        args.output.display(),
        enc.patch_len,
        args.from.display(),
        enc.source_size,
        args.to.display(),
        enc.target_size,
        args.from.display()
    );
    Ok(())
}

/// sw-description's properties of a patch entry (the contract with the server, docs/delta.md).
pub fn patch_properties(enc: &Encoded) -> Vec<(String, String)> {
    vec![
        ("format".into(), patch::FORMAT.into()),
        ("source-sha256".into(), to_hex(&enc.source_sha256)),
        ("source-size".into(), enc.source_size.to_string()),
        (
            crate::install::delta::IMAGE_SHA256.into(),
            to_hex(&enc.target_sha256),
        ),
        ("image-size".into(), enc.target_size.to_string()),
        ("chain".into(), "raw".into()),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests panic on unexpected failures by design.

    use std::io::Write as _;

    use super::*;
    use crate::install::patch::decode_window as libzstd_decode;

    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    /// A window compressed against regions of the source decodes to itself both with the agent's
    /// libzstd decoder (which references the dictionary) and with ruzstd's; the agent's decoder
    /// refuses a frame with bytes after it or of another length, as ruzstd's does.
    #[test]
    fn a_window_decodes_alike_with_libzstd_and_ruzstd() {
        let source = noise(3 << 20, 7);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&source).unwrap();
        // The window: a stretch of the source with edits, then a region from its start, then new bytes.
        let mut window = source[(1 << 20)..(1 << 20) + (600 << 10)].to_vec();
        for i in (0..window.len()).step_by(5000) {
            window[i] ^= 0x5a;
        }
        window.extend_from_slice(&source[..64 << 10]);
        window.extend(noise(100 << 10, 11));
        let segments = [
            Segment {
                offset: (1 << 20) - 4096,
                len: 700 << 10,
            },
            Segment {
                offset: 0,
                len: 64 << 10,
            },
        ];
        let frame = compress_window(&file, &segments, &window, 3).unwrap();
        assert!(
            frame.len() < 200 << 10,
            "{} bytes: the dictionary was not used",
            frame.len()
        );
        let dict: Vec<u8> = segments
            .iter()
            .flat_map(|s| source[s.offset as usize..][..s.len as usize].iter().copied())
            .collect();
        for decode in [libzstd_decode, updraft_swu::patch::decode_window] {
            let mut out = b"before".to_vec();
            decode(&frame, dict.clone(), window.len(), &mut out).unwrap();
            assert!(
                out[..6] == *b"before" && out[6..] == window[..],
                "the window differs"
            );
            let mut longer = frame.clone();
            longer.extend_from_slice(&frame);
            assert!(decode(&longer, dict.clone(), window.len(), &mut Vec::new()).is_err());
            assert!(decode(&frame, dict.clone(), window.len() - 1, &mut Vec::new()).is_err());
        }
    }
}
