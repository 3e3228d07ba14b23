//! Capability URLs for artifacts: time-limited download links signed with a per-tenant key, so a
//! client that cannot send a device token (SWUpdate's delta downloader fetching the `.zck` named in
//! `sw-description`) can still fetch one artifact, with `Range`, like an S3 presigned URL.
//!
//! A link names the tenant, the artifact id, its file name and an expiry (Unix seconds); its
//! signature is HMAC-SHA256 over those under the tenant's key (`download_link_keys`, 32 random
//! bytes made at the first link). Replacing the key ([`rotate`]) revokes every link signed before.
//! The signature is checked before anything is looked up, so a forged link learns nothing about
//! which artifacts exist; artifacts never change their bytes, so the id binds the content.

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::models::Artifact;
use crate::store::schema::{artifacts, download_link_keys, software_modules};
use crate::store::{AnyConnection, Error, Result, Rule};

/// The shortest and longest lifetime a link may be given, and the default (seconds).
pub const MIN_EXPIRY_SECS: i64 = 60;
pub const MAX_EXPIRY_SECS: i64 = 366 * 24 * 3600;
pub const DEFAULT_EXPIRY_SECS: i64 = 7 * 24 * 3600;

/// A tenant's signing key. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// A key from 32 random bytes (the caller draws them, so a retried transaction stays pure).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn from_hex(s: &str) -> Result<Self> {
        let bad = || {
            Error::internal(format!(
                "a download link key is not 64 hex digits ({} characters)",
                s.len()
            ))
        };
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// What a link grants: one artifact of one tenant, by id and file name, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The tenant, as stored (upper case).
    pub tenant: String,
    pub artifact_id: i64,
    pub filename: String,
    /// Unix seconds after which the link is refused.
    pub expires: i64,
}

impl Grant {
    /// The signed text: a fixed label, then each field, NUL-separated (no field can hold a NUL:
    /// tenants and file names are checked, the rest are numbers).
    fn message(&self) -> Vec<u8> {
        format!(
            "updraft-download-link/v1\0{}\0{}\0{}\0{}",
            self.tenant, self.artifact_id, self.filename, self.expires
        )
        .into_bytes()
    }

    /// The link's signature under `key`, as lowercase hex.
    pub fn sign(&self, key: &SigningKey) -> String {
        hex(&hmac_sha256(&key.0, &self.message()))
    }

    /// Whether `signature` is this grant's under `key`, compared in constant time.
    pub fn verify(&self, key: &SigningKey, signature: &str) -> bool {
        let expected = self.sign(key);
        expected.len() == signature.len() && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// HMAC-SHA256 (RFC 2104), on the `sha2` the server already has.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut pad = [0u8; BLOCK];
    pad[..key.len()].copy_from_slice(key);
    let inner_key: Vec<u8> = pad.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = pad.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The tenant's signing key, if a link was ever made.
pub fn signing_key(c: &mut AnyConnection, tenant: &str) -> Result<Option<SigningKey>> {
    download_link_keys::table
        .find(tenant)
        .select(download_link_keys::secret)
        .first::<String>(c)
        .optional()?
        .map(|s| SigningKey::from_hex(&s))
        .transpose()
}

/// The tenant's signing key; `fresh` becomes it when the tenant has none yet (two nodes making the
/// first link at once agree on one key).
pub fn signing_key_or(
    c: &mut AnyConnection,
    tenant: &str,
    fresh: &SigningKey,
    now: i64,
) -> Result<SigningKey> {
    let row = (
        download_link_keys::tenant.eq(tenant),
        download_link_keys::secret.eq(fresh.to_hex()),
        download_link_keys::created_at.eq(now),
    );
    let insert = diesel::insert_into(download_link_keys::table).values(row);
    match c {
        AnyConnection::Postgresql(pg) => insert.on_conflict_do_nothing().execute(pg)?,
        AnyConnection::Sqlite(s) => insert.on_conflict_do_nothing().execute(s)?,
    };
    signing_key(c, tenant)?.ok_or_else(|| Error::internal("the download link key vanished"))
}

/// Replaces the tenant's signing key with `fresh`: every link signed before is refused from now on.
pub fn rotate(c: &mut AnyConnection, tenant: &str, fresh: &SigningKey, now: i64) -> Result<()> {
    diesel::delete(download_link_keys::table.find(tenant)).execute(c)?;
    signing_key_or(c, tenant, fresh, now)?;
    Ok(())
}

/// Checks a requested lifetime: `None` is the default, others must lie within the bounds.
pub fn expiry_secs(requested: Option<i64>) -> Result<i64> {
    let secs = requested.unwrap_or(DEFAULT_EXPIRY_SECS);
    if !(MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
        return Err(Error::refused(
            Rule::Constraint,
            format!("expiresInSeconds must be between {MIN_EXPIRY_SECS} and {MAX_EXPIRY_SECS} (366 days)."),
        ));
    }
    Ok(secs)
}

/// A link to the artifact `aid` of the tenant's module `sm` for `secs` seconds from `now_ms`: the
/// artifact, its grant and the signature (the tenant's key is made from `fresh` if it has none).
pub fn mint(
    c: &mut AnyConnection,
    tenant: &str,
    sm: i64,
    aid: i64,
    secs: i64,
    fresh: &SigningKey,
    now_ms: i64,
) -> Result<(Artifact, Grant, String)> {
    let artifact = super::software_modules::artifacts::find(c, tenant, sm, aid)?;
    let key = signing_key_or(c, tenant, fresh, now_ms)?;
    let grant = Grant {
        tenant: tenant.to_owned(),
        artifact_id: artifact.id,
        filename: artifact.filename.clone(),
        expires: now_ms.div_euclid(1000) + secs,
    };
    let signature = grant.sign(&key);
    Ok((artifact, grant, signature))
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not signed with the tenant's current key (forged, altered, or revoked by a rotation).
    BadSignature,
    /// Signed, but past its expiry.
    Expired,
    /// Signed and in time, but the artifact (or its module) is gone.
    Gone,
}

/// The artifact `grant` names if `signature` is valid for it and it has not expired at `now_ms`.
pub fn redeem(
    c: &mut AnyConnection,
    grant: &Grant,
    signature: &str,
    now_ms: i64,
) -> Result<std::result::Result<Artifact, Refusal>> {
    let Some(key) = signing_key(c, &grant.tenant)? else {
        return Ok(Err(Refusal::BadSignature));
    };
    if !grant.verify(&key, signature) {
        return Ok(Err(Refusal::BadSignature));
    }
    if now_ms.div_euclid(1000) > grant.expires {
        return Ok(Err(Refusal::Expired));
    }
    let artifact = artifacts::table
        .inner_join(software_modules::table)
        .filter(artifacts::id.eq(grant.artifact_id))
        .filter(software_modules::tenant.eq(&grant.tenant))
        .filter(software_modules::deleted.eq(false))
        .filter(artifacts::filename.eq(&grant.filename))
        .select(Artifact::as_select())
        .first(c)
        .optional()?;
    Ok(artifact.ok_or(Refusal::Gone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_openssl() {
        // printf 'Hi There' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0b0b…(32 bytes)
        let key = [0x0b_u8; 32];
        let mac = hmac_sha256(&key, b"Hi There");
        assert_eq!(
            hex(&mac),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn a_grant_verifies_only_unchanged_and_under_its_key() {
        let key = SigningKey::from_bytes([7; 32]);
        let grant = Grant {
            tenant: "DEFAULT".into(),
            artifact_id: 4,
            filename: "rootfs.zck".into(),
            expires: 1_800_000_000,
        };
        let sig = grant.sign(&key);
        assert!(grant.verify(&key, &sig));
        assert!(!grant.verify(&SigningKey::from_bytes([8; 32]), &sig));
        for other in [
            Grant {
                artifact_id: 5,
                ..grant.clone()
            },
            Grant {
                expires: 1_800_000_001,
                ..grant.clone()
            },
            Grant {
                tenant: "OTHER".into(),
                ..grant.clone()
            },
            Grant {
                filename: "rootfs.swu".into(),
                ..grant.clone()
            },
        ] {
            assert!(!other.verify(&key, &sig), "{other:?}");
        }
        assert!(!grant.verify(&key, &sig[..63]));
        assert!(!grant.verify(&key, ""));
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let key = SigningKey::from_bytes([0xab; 32]);
        assert_eq!(SigningKey::from_hex(&key.to_hex()).unwrap().0, key.0);
        assert!(SigningKey::from_hex("zz").is_err());
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(expiry_secs(None).unwrap(), DEFAULT_EXPIRY_SECS);
        assert_eq!(expiry_secs(Some(60)).unwrap(), 60);
        assert!(expiry_secs(Some(59)).is_err());
        assert!(expiry_secs(Some(MAX_EXPIRY_SECS + 1)).is_err());
    }
}
