//! Streaming artifact check: bytes are hashed as they arrive, so a download never sits in memory.
//!
//! The strongest hash the DDI gives is checked (SHA-256 when present, which hawkBit omits only for
//! artifacts from very old versions, else SHA-1, else MD5), plus the announced size.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use updraft_ddi::Hashes;

enum Hasher {
    Sha256(Sha256),
    Sha1(Sha1),
    Md5(Md5),
}

/// Hashes an artifact chunk by chunk and compares the result with what the deployment announced.
pub struct ArtifactVerifier {
    hasher: Hasher,
    expected_hash: String,
    expected_size: u64,
    size: u64,
}

/// Why a downloaded artifact does not match its announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Size {
        expected: u64,
        actual: u64,
    },
    Hash {
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Size { expected, actual } => write!(f, "size {actual} bytes, announced {expected}"),
            Self::Hash {
                algorithm,
                expected,
                actual,
            } => write!(f, "{algorithm} {actual}, announced {expected}"),
        }
    }
}

impl std::error::Error for Mismatch {}

impl ArtifactVerifier {
    pub fn new(hashes: &Hashes, size: u64) -> Self {
        let (hasher, expected) = match hashes.sha256.as_deref().filter(|h| !h.is_empty()) {
            Some(sha256) => (Hasher::Sha256(Sha256::new()), sha256),
            None if !hashes.sha1.is_empty() => (Hasher::Sha1(Sha1::new()), hashes.sha1.as_str()),
            None => (Hasher::Md5(Md5::new()), hashes.md5.as_str()),
        };
        Self {
            hasher,
            expected_hash: expected.to_ascii_lowercase(),
            expected_size: size,
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn finish(self) -> Result<(), Mismatch> {
        if self.size != self.expected_size {
            return Err(Mismatch::Size {
                expected: self.expected_size,
                actual: self.size,
            });
        }
        let (algorithm, actual) = match self.hasher {
            Hasher::Sha256(h) => ("sha256", hex(&h.finalize())),
            Hasher::Sha1(h) => ("sha1", hex(&h.finalize())),
            Hasher::Md5(h) => ("md5", hex(&h.finalize())),
        };
        if actual == self.expected_hash {
            Ok(())
        } else {
            Err(Mismatch::Hash {
                algorithm,
                expected: self.expected_hash,
                actual,
            })
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    // `printf 'hello world'` hashed with sha256sum, sha1sum and md5sum.
    const SHA256: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    const SHA1: &str = "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed";
    const MD5: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";

    fn hashes(sha256: Option<&str>, sha1: &str, md5: &str) -> Hashes {
        Hashes {
            sha1: sha1.into(),
            md5: md5.into(),
            sha256: sha256.map(Into::into),
        }
    }

    fn check(h: &Hashes, size: u64, chunks: &[&[u8]]) -> Result<(), Mismatch> {
        let mut v = ArtifactVerifier::new(h, size);
        for c in chunks {
            v.update(c);
        }
        v.finish()
    }

    #[test]
    fn matching_content_in_chunks_passes() {
        let h = hashes(Some(SHA256), SHA1, MD5);
        assert_eq!(check(&h, 11, &[b"hello", b" ", b"world"]), Ok(()));
    }

    #[test]
    fn sha256_is_checked_when_given_even_if_sha1_and_md5_match() {
        let wrong = "00".repeat(32);
        let h = hashes(Some(&wrong), SHA1, MD5);
        assert_eq!(
            check(&h, 11, &[b"hello world"]),
            Err(Mismatch::Hash {
                algorithm: "sha256",
                expected: wrong,
                actual: SHA256.into()
            })
        );
    }

    #[test]
    fn tampered_content_of_the_same_size_is_a_hash_mismatch() {
        let h = hashes(Some(SHA256), SHA1, MD5);
        let r = check(&h, 11, &[b"hello World"]);
        assert!(
            matches!(
                r,
                Err(Mismatch::Hash {
                    algorithm: "sha256",
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[test]
    fn without_sha256_sha1_then_md5_is_checked() {
        assert_eq!(check(&hashes(None, SHA1, MD5), 11, &[b"hello world"]), Ok(()));
        let r = check(&hashes(None, SHA1, MD5), 11, &[b"hello wOrld"]);
        assert!(
            matches!(
                r,
                Err(Mismatch::Hash {
                    algorithm: "sha1",
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(check(&hashes(None, "", MD5), 11, &[b"hello world"]), Ok(()));
        let r = check(&hashes(None, "", MD5), 11, &[b"hello wOrld"]);
        assert!(matches!(r, Err(Mismatch::Hash { algorithm: "md5", .. })), "{r:?}");
    }

    #[test]
    fn upper_case_announced_hashes_match() {
        let h = hashes(Some(&SHA256.to_ascii_uppercase()), SHA1, MD5);
        assert_eq!(check(&h, 11, &[b"hello world"]), Ok(()));
    }

    #[test]
    fn truncated_download_is_a_size_mismatch() {
        let h = hashes(Some(SHA256), SHA1, MD5);
        assert_eq!(
            check(&h, 11, &[b"hello"]),
            Err(Mismatch::Size {
                expected: 11,
                actual: 5
            })
        );
    }
}
