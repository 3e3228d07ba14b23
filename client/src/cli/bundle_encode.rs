//! What `updraft bundle create` does to an image on its way into the bundle: compress it (zstd or
//! gzip, SWUpdate's `compressed = "zstd"` / `"zlib"`) and encrypt it (AES-CBC with SWUpdate's key
//! file and a fresh per-image IV, its `ivt`), in that order, the inverse of what an install does
//! ([`crate::install::decode`]).
//!
//! The encoded image is streamed into a staging file next to the output (the bundle's
//! sw-description, written first, needs the sha256 of the stored bytes), so no image is ever held
//! in memory: compression works block by block, encryption 64 KiB at a time.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use openssl::symm::Crypter;

use crate::install::decode::AesKey;

/// How to compress an image while building the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// zstd (ruzstd's fastest level, about zstd -1), SWUpdate's `compressed = "zstd"`.
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

    /// Encodes `source` into the staging directory as `name`; answers the staged file and the IV
    /// used (hex), when encrypting.
    pub fn encode(
        &self,
        source: &Path,
        name: &str,
        compress: Option<Compress>,
        key: Option<&AesKey>,
    ) -> anyhow::Result<(PathBuf, Option<String>)> {
        let staged = self.dir.join(name);
        let input = File::open(source).with_context(|| format!("cannot open {}", source.display()))?;
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
            Some(Compress::Zstd) => zstd(input, sink)?,
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

/// ruzstd's frame compressor, which panics on I/O errors: the source and the drain are wrapped so
/// that they never fail towards it; the first error is kept and reported afterwards.
fn zstd(input: impl Read, sink: Box<dyn Finish>) -> anyhow::Result<Box<dyn Finish>> {
    struct Source<R> {
        inner: R,
        error: Option<io::Error>,
    }
    impl<R: Read> Read for Source<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.error.is_some() {
                return Ok(0);
            }
            match self.inner.read(buf) {
                Ok(n) => Ok(n),
                Err(e) => {
                    self.error = Some(e);
                    Ok(0)
                }
            }
        }
    }
    struct Drain<W> {
        inner: W,
        error: Option<io::Error>,
    }
    impl<W: Write> Write for Drain<W> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.error.is_none()
                && let Err(e) = self.inner.write_all(buf)
            {
                self.error = Some(e);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut compressor = ruzstd::encoding::FrameCompressor::new(ruzstd::encoding::CompressionLevel::Fastest);
    compressor.set_source(Source {
        inner: input,
        error: None,
    });
    compressor.set_drain(Drain {
        inner: sink,
        error: None,
    });
    compressor.compress();
    let source = compressor
        .take_source()
        .ok_or_else(|| anyhow!("the zstd encoder lost its input"))?;
    let drain = compressor
        .take_drain()
        .ok_or_else(|| anyhow!("the zstd encoder lost its output"))?;
    if let Some(e) = source.error {
        return Err(anyhow!(e).context("cannot read the image"));
    }
    if let Some(e) = drain.error {
        return Err(anyhow!(e).context("cannot write the compressed image"));
    }
    Ok(drain.inner)
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
                .encode(&source, &format!("img{i}"), compress, encrypt.then_some(&key))
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
}
