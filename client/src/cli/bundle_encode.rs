//! What `updraft bundle create` does to an image on its way into the bundle: compress it (zstd or
//! gzip, SWUpdate's `compressed = "zstd"` / `"zlib"`) and encrypt it (AES-CBC with SWUpdate's key
//! file and a fresh per-image IV, its `ivt`), in that order, the inverse of what an install does
//! ([`crate::install::decode`]).
//!
//! zstd is libzstd at a high level (`--zstd-level`, 19 by default), for the full images and for
//! the chunks of chunk files alike, with the window capped ([`STREAM_WINDOW_LOG`],
//! [`CHUNK_WINDOW_LOG`]): a device decodes with ruzstd, which holds one window in memory.
//!
//! The encoded image is streamed into a staging file next to the output (the bundle's
//! sw-description, written first, needs the sha256 of the stored bytes), so no image is ever held
//! in memory: compression works block by block, encryption 64 KiB at a time.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use openssl::symm::Crypter;
use updraft_swu::zchunk::Chunker;
use zstd::zstd_safe::{CCtx, CParameter};

use crate::install::decode::AesKey;

/// How to compress an image while building the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// zstd (libzstd at `--zstd-level`, window [`STREAM_WINDOW_LOG`]), SWUpdate's
    /// `compressed = "zstd"`.
    Zstd,
    /// gzip (level 6), SWUpdate's `compressed = "zlib"` (SWUpdate inflates gzip and zlib).
    Gzip,
}

/// A directory of encoded images, removed (with its contents) on drop.
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// Creates `.<output name>.stage-<pid>` next to `output`, on the same file system.
    pub fn next_to(output: &Path) -> anyhow::Result<Staging> {
        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = output
            .file_name()
            .with_context(|| format!("--output {} has no file name", output.display()))?;
        let dir = dir.join(format!(
            ".{}.stage-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::create_dir(&dir)
            .with_context(|| format!("cannot create the staging directory {}", dir.display()))?;
        Ok(Staging { dir })
    }

    /// A path inside the staging directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Encodes `source` into the staging directory as `name` (zstd at `zstd_level`); answers the
    /// staged file and the IV used (hex), when encrypting.
    pub fn encode(
        &self,
        source: &Path,
        name: &str,
        compress: Option<Compress>,
        zstd_level: i32,
        key: Option<&AesKey>,
    ) -> anyhow::Result<(PathBuf, Option<String>)> {
        let staged = self.dir.join(name);
        let input = File::open(source).with_context(|| format!("cannot open {}", source.display()))?;
        // A regular file's length lets libzstd write it into the frame and shrink the window of a
        // small image (a device or pipe has none).
        let size = input
            .metadata()
            .ok()
            .filter(fs::Metadata::is_file)
            .map(|m| m.len());
        let output = File::create(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
        let iv = match key {
            Some(_) => {
                let mut iv = [0u8; 16];
                openssl::rand::rand_bytes(&mut iv).context("cannot draw a random IV")?;
                Some(iv)
            }
            None => None,
        };
        let mut sink: Box<dyn Finish> = Box::new(BufWriter::with_capacity(256 * 1024, output));
        if let (Some(key), Some(iv)) = (key, &iv) {
            sink = Box::new(AesCbcWriter::new(sink, key.encrypter(iv)?));
        }
        let input = BufReader::with_capacity(256 * 1024, input);
        let sink = match compress {
            None => copy_into(input, sink)?,
            Some(Compress::Gzip) => {
                let mut gz = flate2::write::GzEncoder::new(sink, flate2::Compression::default());
                copy_into(input, &mut gz)?;
                gz.finish()?
            }
            Some(Compress::Zstd) => zstd(input, sink, zstd_level, size)?,
        };
        sink.finish()
            .with_context(|| format!("cannot write {}", staged.display()))?;
        Ok((staged, iv.map(|iv| updraft_swu::sw_description::to_hex(&iv))))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A writer that must be finished (padding, flushing) and says whether that worked.
trait Finish: Write {
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write> Finish for BufWriter<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()
    }
}

fn copy_into<W: Write>(mut input: impl Read, mut sink: W) -> anyhow::Result<W> {
    io::copy(&mut input, &mut sink).context("cannot encode the image")?;
    Ok(sink)
}

/// The window of a full image's zstd stream: 2^21 = 2 MiB. The device's decoder (ruzstd) keeps
/// the window in a ring buffer of the next power of two above window and block (4 MiB here), so
/// this bounds what a `compressed = "zstd"` install adds to the agent's memory. zstd -19's own
/// 8 MiB window makes a Debian root file system 9 % smaller but costs the device 16 MiB
/// (BENCHMARKS.md, issue 18).
pub const STREAM_WINDOW_LOG: u32 = 21;

/// The window of a chunk's zstd frame: 2^17 = 128 KiB, the largest chunk ([`Chunker::MAX`]), so no
/// level limits it below what a chunk needs. libzstd writes each chunk as one single-segment frame
/// of its own length; a device decodes a chunk in that much memory.
pub const CHUNK_WINDOW_LOG: u32 = 17;
const _: () = assert!(Chunker::<&[u8]>::MAX <= 1 << CHUNK_WINDOW_LOG);

/// The default of `--zstd-level`.
pub const DEFAULT_ZSTD_LEVEL: i32 = 19;

fn zstd_error(what: &str, code: usize) -> io::Error {
    io::Error::other(format!("zstd {what}: {}", zstd::zstd_safe::get_error_name(code)))
}

/// The image as one zstd frame at `level`, its window [`STREAM_WINDOW_LOG`] at most; `size`, when
/// known, goes into the frame header.
fn zstd(
    input: impl Read,
    sink: Box<dyn Finish>,
    level: i32,
    size: Option<u64>,
) -> anyhow::Result<Box<dyn Finish>> {
    let mut encoder =
        zstd::stream::write::Encoder::new(sink, level).context("cannot start the zstd encoder")?;
    encoder
        .window_log(STREAM_WINDOW_LOG)
        .and_then(|()| encoder.include_contentsize(true))
        .and_then(|()| encoder.set_pledged_src_size(size))
        .context("cannot set up the zstd encoder")?;
    let encoder = copy_into(input, encoder)?;
    encoder.finish().context("cannot write the compressed image")
}

/// The chunk compressor of `bundle create`'s chunk files ([`updraft_swu::zchunk::write_zck`]):
/// each chunk one libzstd frame at `level` with its length in the header, window
/// [`CHUNK_WINDOW_LOG`]. One compression context serves every chunk.
pub fn chunk_compressor(level: i32) -> io::Result<impl FnMut(&[u8]) -> io::Result<Vec<u8>>> {
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(|c| zstd_error("level", c))?;
    cctx.set_parameter(CParameter::WindowLog(CHUNK_WINDOW_LOG))
        .map_err(|c| zstd_error("window", c))?;
    cctx.set_parameter(CParameter::ContentSizeFlag(true))
        .map_err(|c| zstd_error("content size", c))?;
    Ok(move |chunk: &[u8]| {
        let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(chunk.len()));
        cctx.compress2(&mut frame, chunk)
            .map_err(|c| zstd_error("compress", c))?;
        Ok(frame)
    })
}

/// Encrypts AES-CBC (PKCS#7 padding) while writing; [`Finish::finish`] writes the last block.
struct AesCbcWriter {
    inner: Box<dyn Finish>,
    crypter: Crypter,
    output: Vec<u8>,
}

impl AesCbcWriter {
    fn new(inner: Box<dyn Finish>, crypter: Crypter) -> Self {
        AesCbcWriter {
            inner,
            crypter,
            output: Vec::new(),
        }
    }
}

impl Write for AesCbcWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = &buf[..buf.len().min(64 * 1024)];
        self.output.resize(chunk.len() + 32, 0);
        let n = self
            .crypter
            .update(chunk, &mut self.output)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.output[..n])?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Finish for AesCbcWriter {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.output.resize(32, 0);
        let n = self
            .crypter
            .finalize(&mut self.output)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.output[..n])?;
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::decode;
    use updraft_swu::sw_description::{Artifact, Compression};

    fn artifact(compressed: Option<Compression>, ivt: Option<String>) -> Artifact {
        let mut text = String::from("software = { images = ( { filename = \"img\"; ");
        match compressed {
            Some(Compression::Zstd) => text.push_str("compressed = \"zstd\"; "),
            Some(Compression::Zlib) => text.push_str("compressed = \"zlib\"; "),
            None => {}
        }
        if let Some(ivt) = ivt {
            text.push_str("encrypted = true; ivt = \"");
            text.push_str(&ivt);
            text.push_str("\"; ");
        }
        text.push_str("} ); };");
        let description = updraft_swu::sw_description::SwDescription::parse(text.as_bytes()).unwrap();
        description.select(None, None).unwrap().images.remove(0)
    }

    /// Every combination round-trips through the installer's decoder.
    #[test]
    fn encoded_images_decode_as_installs_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let plain: Vec<u8> = (0..300_001u32)
            .map(|i| ((i * 7 + i / 1000) % 251) as u8)
            .collect();
        let source = dir.path().join("plain");
        fs::write(&source, &plain).unwrap();
        let key_file = dir.path().join("aes.key");
        fs::write(&key_file, format!("{} {}\n", "ab".repeat(32), "cd".repeat(16))).unwrap();
        let key = AesKey::load(&key_file).unwrap();
        let staging = Staging::next_to(&dir.path().join("out.swu")).unwrap();
        for (i, (compress, encrypt)) in [
            (None, true),
            (Some(Compress::Zstd), false),
            (Some(Compress::Gzip), false),
            (Some(Compress::Zstd), true),
            (Some(Compress::Gzip), true),
        ]
        .into_iter()
        .enumerate()
        {
            let (staged, ivt) = staging
                .encode(
                    &source,
                    &format!("img{i}"),
                    compress,
                    DEFAULT_ZSTD_LEVEL,
                    encrypt.then_some(&key),
                )
                .unwrap();
            assert_eq!(ivt.is_some(), encrypt);
            let stored = fs::read(&staged).unwrap();
            assert!(
                compress.is_none() || stored.len() < plain.len() / 2,
                "{compress:?}"
            );
            let compressed = compress.map(|c| match c {
                Compress::Zstd => Compression::Zstd,
                Compress::Gzip => Compression::Zlib,
            });
            let mut reader = &stored[..];
            let mut decoded = Vec::new();
            decode::decoded(&mut reader, &artifact(compressed, ivt), Some(&key))
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert!(decoded == plain, "{compress:?} encrypt={encrypt}");
        }
        let staged_dir = staging.dir.clone();
        drop(staging);
        assert!(!staged_dir.exists());
    }

    /// The window a zstd frame asks its decoder for (RFC 8878 3.1.1.1): the content size of a
    /// single-segment frame, else its window descriptor.
    fn window_of(frame: &[u8]) -> u64 {
        assert_eq!(frame[..4], [0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame");
        let descriptor = frame[4];
        if descriptor & 0x20 != 0 {
            let (at, len) = (
                5 + [0, 1, 2, 4][usize::from(descriptor & 3)],
                [1, 2, 4, 8][usize::from(descriptor >> 6)],
            );
            let mut size = [0u8; 8];
            size[..len].copy_from_slice(&frame[at..at + len]);
            return u64::from_le_bytes(size) + if len == 2 { 256 } else { 0 };
        }
        let w = frame[5];
        let base = 1u64 << (10 + (w >> 3));
        base + base / 8 * u64::from(w & 7)
    }

    /// libzstd at the highest level still asks the device for no more than the capped windows:
    /// 2 MiB for a whole image, one chunk for a chunk; and ruzstd decodes both.
    #[test]
    fn high_levels_keep_the_windows_small_and_decode_with_ruzstd() {
        let dir = tempfile::tempdir().unwrap();
        // 6 MB of text-like data with repeats far apart (beyond any capped window).
        let plain: Vec<u8> = (0..6_000_000u32)
            .map(|i| ((i % 3_000_000) * 31 / 7 % 253) as u8 ^ (i / 4096 % 7) as u8)
            .collect();
        let source = dir.path().join("plain");
        fs::write(&source, &plain).unwrap();
        let staging = Staging::next_to(&dir.path().join("out.swu")).unwrap();
        for level in [DEFAULT_ZSTD_LEVEL, 22] {
            let (staged, _) = staging
                .encode(&source, &format!("img{level}"), Some(Compress::Zstd), level, None)
                .unwrap();
            let stored = fs::read(&staged).unwrap();
            assert!(window_of(&stored) <= 1 << STREAM_WINDOW_LOG, "level {level}");
            let mut decoded = Vec::new();
            decode::decoded(&mut &stored[..], &artifact(Some(Compression::Zstd), None), None)
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert!(decoded == plain, "level {level}");

            let mut compress = chunk_compressor(level).unwrap();
            for len in [1, 8 * 1024, 100_000, Chunker::<&[u8]>::MAX] {
                let chunk = &plain[len / 2..len / 2 + len];
                let frame = compress(chunk).unwrap();
                assert_eq!(window_of(&frame), len as u64, "level {level}, {len} bytes");
                let mut back = Vec::new();
                ruzstd::decoding::StreamingDecoder::new(&frame[..])
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
                assert!(back == chunk, "level {level}, {len} bytes");
            }
        }
    }
}
