//! Undoing what the bundle's build did to an image: AES-256-CBC decryption (SWUpdate's
//! `encrypted`, with the device's key file and the image's `ivt`) and gzip/zlib or zstd
//! decompression (`compressed`), as streams, so nothing is buffered beyond a block.
//!
//! The image's sha256 covers the stored (encrypted, compressed) bytes; the caller drains the
//! stored stream to its end after the decoded one, which is where the hash is checked.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use openssl::symm::{Cipher, Crypter, Mode};
use updraft_swu::sw_description::{Artifact, Compression};

/// The device's AES key file: one line `<64 hex digits key> <32 hex digits iv>`, as SWUpdate's `-K`.
#[derive(Clone)]
pub struct AesKey {
    key: [u8; 32],
    iv: [u8; 16],
}

fn hex_bytes<const N: usize>(s: &str, what: &str) -> anyhow::Result<[u8; N]> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{what} must be {} hex digits", N * 2);
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).map_err(|e| anyhow!("{what}: {e}"))?;
    }
    Ok(out)
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    pub fn load(path: &Path) -> anyhow::Result<AesKey> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut words = text.split_whitespace();
        let (Some(key), Some(iv)) = (words.next(), words.next()) else {
            bail!("{}: expected `<key hex> <iv hex>`", path.display());
        };
        Ok(AesKey {
            key: hex_bytes(key, "the AES-256 key")?,
            iv: hex_bytes(iv, "the IV")?,
        })
    }
}

/// Decrypts AES-256-CBC (PKCS#7 padding) while reading.
struct AesCbcReader<R> {
    inner: R,
    crypter: Crypter,
    input: Vec<u8>,
    output: Vec<u8>,
    pos: usize,
    finished: bool,
}

impl<R: Read> AesCbcReader<R> {
    fn new(inner: R, key: &[u8; 32], iv: &[u8; 16]) -> anyhow::Result<Self> {
        let crypter = Crypter::new(Cipher::aes_256_cbc(), Mode::Decrypt, key, Some(iv))
            .context("setting up AES-256-CBC")?;
        Ok(AesCbcReader {
            inner,
            crypter,
            input: vec![0; 64 * 1024],
            output: Vec::new(),
            pos: 0,
            finished: false,
        })
    }
}

impl<R: Read> Read for AesCbcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.output.len() {
            if self.finished {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.input)?;
            self.output.resize(n + 32, 0);
            self.pos = 0;
            let produced = if n == 0 {
                self.finished = true;
                self.crypter.finalize(&mut self.output).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("decryption failed (wrong key or IV?): {e}"),
                    )
                })?
            } else {
                self.crypter
                    .update(&self.input[..n], &mut self.output)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            };
            self.output.truncate(produced);
        }
        let n = buf.len().min(self.output.len() - self.pos);
        buf[..n].copy_from_slice(&self.output[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The decoded bytes of `stored` (one image as it is in the bundle).
pub fn decoded<'a>(
    stored: &'a mut dyn Read,
    artifact: &Artifact,
    key: Option<&AesKey>,
) -> anyhow::Result<Box<dyn Read + 'a>> {
    let name = artifact.filename.as_deref().unwrap_or("<unnamed>");
    let mut stage: Box<dyn Read + 'a> = Box::new(stored);
    if artifact.encrypted {
        let key = key.ok_or_else(|| {
            anyhow!("{name:?} is encrypted: set [bundle] aes_key_file to the device's key file")
        })?;
        let iv = match &artifact.ivt {
            Some(ivt) => hex_bytes::<16>(ivt, "ivt")?,
            None => key.iv,
        };
        stage = Box::new(AesCbcReader::new(stage, &key.key, &iv)?);
    }
    Ok(match artifact.compressed {
        None => stage,
        Some(Compression::Zlib) => {
            // SWUpdate's "zlib" images are gzip files in practice; raw zlib streams work too.
            let mut buffered = BufReader::with_capacity(64 * 1024, stage);
            let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
            if gzip {
                Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
            } else {
                Box::new(flate2::bufread::ZlibDecoder::new(buffered))
            }
        }
        Some(Compression::Zstd) => Box::new(
            ruzstd::decoding::StreamingDecoder::new(BufReader::with_capacity(64 * 1024, stage))
                .map_err(|e| anyhow!("{name:?}: not zstd data: {e}"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_cbc_round_trips_through_openssl() {
        let key = [7u8; 32];
        let iv = [9u8; 16];
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let enc = openssl::symm::encrypt(Cipher::aes_256_cbc(), &key, Some(&iv), &plain).unwrap();
        let mut out = Vec::new();
        AesCbcReader::new(&enc[..], &key, &iv)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain);
        let mut wrong = Vec::new();
        let err = AesCbcReader::new(&enc[..], &[8u8; 32], &iv)
            .unwrap()
            .read_to_end(&mut wrong)
            .unwrap_err();
        assert!(err.to_string().contains("decryption failed"), "{err}");
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, format!("{} {}\n", "ab".repeat(32), "cd".repeat(16))).unwrap();
        assert_eq!(AesKey::load(&f).unwrap().iv, [0xcd; 16]);
        std::fs::write(&f, "abc def\n").unwrap();
        assert!(
            AesKey::load(&f)
                .unwrap_err()
                .to_string()
                .contains("64 hex digits")
        );
    }
}
