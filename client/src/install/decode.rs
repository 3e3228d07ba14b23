//! Undoing what the bundle's build did to an image: AES-CBC decryption (SWUpdate's
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

/// The device's AES key file, as SWUpdate's `-K` reads it: `<key hex> <iv hex>` separated by
/// whitespace. The key's length picks the cipher, AES-128/192/256-CBC (32, 48 or 64 hex digits), as
/// in SWUpdate's `set_aes_key`; a third word (the salt of SWUpdate before 2020) is ignored, as
/// SWUpdate's `fscanf("%ms %ms")` does.
#[derive(Clone)]
pub struct AesKey {
    key: Vec<u8>,
    iv: [u8; 16],
}

fn hex_bytes<const N: usize>(s: &str, what: &str) -> anyhow::Result<[u8; N]> {
    if s.len() != N * 2 {
        bail!("{what} must be {} hex digits", N * 2);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(&hex_vec(s, what)?);
    Ok(out)
}

fn hex_vec(s: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{what} is not an even number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| anyhow!("{what}: {e}")))
        .collect()
}

/// AES-CBC with the key's length, as SWUpdate picks it.
fn cbc_cipher(key: &[u8]) -> Option<Cipher> {
    match key.len() {
        16 => Some(Cipher::aes_128_cbc()),
        24 => Some(Cipher::aes_192_cbc()),
        32 => Some(Cipher::aes_256_cbc()),
        _ => None,
    }
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
        let key = hex_vec(key, "the AES key")?;
        if cbc_cipher(&key).is_none() {
            bail!(
                "{}: the AES key must be 32, 48 or 64 hex digits (AES-128/192/256), not {}",
                path.display(),
                key.len() * 2
            );
        }
        Ok(AesKey {
            key,
            iv: hex_bytes(iv, "the IV")?,
        })
    }

    /// An AES-CBC encrypter (PKCS#7 padding) with this key and `iv`: what `updraft bundle create`
    /// encrypts images with, the inverse of what installs decrypt.
    pub(crate) fn encrypter(&self, iv: &[u8; 16]) -> anyhow::Result<Crypter> {
        let cipher =
            cbc_cipher(&self.key).ok_or_else(|| anyhow!("an AES key of {} bytes", self.key.len()))?;
        Crypter::new(cipher, Mode::Encrypt, &self.key, Some(iv)).context("setting up AES-CBC")
    }
}

/// Decrypts AES-CBC (PKCS#7 padding) while reading.
struct AesCbcReader<R> {
    inner: R,
    crypter: Crypter,
    input: Vec<u8>,
    output: Vec<u8>,
    pos: usize,
    finished: bool,
}

impl<R: Read> AesCbcReader<R> {
    fn new(inner: R, key: &[u8], iv: &[u8; 16]) -> anyhow::Result<Self> {
        let cipher = cbc_cipher(key).ok_or_else(|| anyhow!("an AES key of {} bytes", key.len()))?;
        let crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).context("setting up AES-CBC")?;
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

/// A reader that remembers the first error of the stream it reads (the stored image, whose errors
/// are the checksum and sha256 verdicts), so the caller can report that cause rather than what a
/// decoder made of it. The decoder gets a copy with the same kind and text.
pub struct Tap<'a> {
    inner: &'a mut dyn Read,
    error: Option<io::Error>,
}

impl<'a> Tap<'a> {
    pub fn new(inner: &'a mut dyn Read) -> Self {
        Tap { inner, error: None }
    }

    /// The first error the stream returned, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if self.error.is_none() {
                self.error = Some(io::Error::new(e.kind(), e.to_string()));
            }
        })
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
    fn key_length_picks_aes_128_192_or_256_as_swupdate_does() {
        let iv = [9u8; 16];
        let plain: Vec<u8> = (0..70_001u32).map(|i| (i % 253) as u8).collect();
        for (len, cipher) in [
            (16, Cipher::aes_128_cbc()),
            (24, Cipher::aes_192_cbc()),
            (32, Cipher::aes_256_cbc()),
        ] {
            let key = vec![7u8; len];
            let enc = openssl::symm::encrypt(cipher, &key, Some(&iv), &plain).unwrap();
            let mut out = Vec::new();
            AesCbcReader::new(&enc[..], &key, &iv)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain, "AES-{}", len * 8);
        }
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, format!("{} {}\n", "ab".repeat(32), "cd".repeat(16))).unwrap();
        assert_eq!(AesKey::load(&f).unwrap().iv, [0xcd; 16]);
        // AES-128, on two lines (SWUpdate reads two whitespace-separated words), with the third
        // word (a salt) that old SWUpdate key files carry.
        std::fs::write(
            &f,
            format!("{}\n{} {}\n", "AB".repeat(16), "cd".repeat(16), "ef".repeat(8)),
        )
        .unwrap();
        assert_eq!(AesKey::load(&f).unwrap().key, [0xab; 16]);
        std::fs::write(&f, format!("{} {}\n", "ab".repeat(20), "cd".repeat(16))).unwrap();
        assert!(
            AesKey::load(&f)
                .unwrap_err()
                .to_string()
                .contains("32, 48 or 64 hex digits")
        );
        std::fs::write(&f, "abc def\n").unwrap();
        assert!(
            AesKey::load(&f)
                .unwrap_err()
                .to_string()
                .contains("the AES key is not an even number of hex digits")
        );
        std::fs::write(&f, format!("{} {}\n", "ab".repeat(32), "cd".repeat(15))).unwrap();
        assert!(
            AesKey::load(&f)
                .unwrap_err()
                .to_string()
                .contains("the IV must be 32 hex digits")
        );
    }
}
