//! CMS signatures of sw-description, as SWUpdate's `CONFIG_SIGALG_CMS` checks them.
//!
//! Trust decisions are OpenSSL's `CMS_verify` (the function SWUpdate calls) against an X509
//! store built from the `-k` PEM file: a self-signed signer cert or a CA chain.

use std::path::Path;

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{X509, X509PurposeId};

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("signature: cannot read {path}")]
    Read { path: String, source: std::io::Error },
    #[error("signature: no certificate in the trust store PEM")]
    EmptyTrustStore,
    #[error("signature: bad certificate or key ({})", summary(.0))]
    BadPem(openssl::error::ErrorStack),
    #[error("signature: sw-description.sig is not a DER CMS structure ({})", summary(.0))]
    Malformed(openssl::error::ErrorStack),
    #[error("signature: verification failed ({})", summary(.0))]
    Invalid(openssl::error::ErrorStack),
    #[error("signature: signer CN {found:?} is not the required {required:?}")]
    WrongSigner { required: String, found: Vec<String> },
    #[error("signature: signing failed: {0}")]
    Sign(openssl::error::ErrorStack),
}

impl SignatureError {
    /// The signature is intact but its signer does not chain to a certificate of the trust store
    /// (OpenSSL's "certificate verify error"), as opposed to content that no longer matches it.
    pub fn untrusted_signer(&self) -> bool {
        matches!(self, SignatureError::Invalid(stack)
            if stack.errors().iter().any(|e| e.reason() == Some("certificate verify error")))
    }

    /// OpenSSL's words for what failed, e.g. `certificate verify error: self-signed certificate`.
    pub fn openssl_reason(&self) -> Option<String> {
        match self {
            SignatureError::BadPem(s)
            | SignatureError::Malformed(s)
            | SignatureError::Invalid(s)
            | SignatureError::Sign(s) => Some(summary(s)),
            _ => None,
        }
    }
}

/// An OpenSSL error stack as its reasons, without library, function and source file names:
/// `certificate verify error: self-signed certificate` rather than `error:17000064:CMS
/// routines:cms_signerinfo_verify_cert:...:../crypto/cms/cms_smime.c:328:Verify error: ...`.
fn summary(stack: &openssl::error::ErrorStack) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in stack.errors() {
        let data = e
            .data()
            .map(|d| d.trim_start_matches("Verify error:").trim().to_owned());
        let part = match (e.reason(), data) {
            (Some(r), Some(d)) if !d.is_empty() => format!("{r}: {d}"),
            (Some(r), _) => r.to_owned(),
            (None, Some(d)) if !d.is_empty() => d,
            _ => format!("OpenSSL error {:#x}", e.code()),
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        "no reason given by OpenSSL".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Verifies detached CMS signatures against a fixed trust store.
pub struct Verifier {
    store: X509Store,
    required_cn: Option<String>,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// Common names of the signer certificates.
    pub common_names: Vec<String>,
}

impl Verifier {
    /// Trust store from a PEM file holding one or more certificates (SWUpdate `-k`).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, SignatureError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| SignatureError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// The signer must pass the S/MIME signing purpose check (SWUpdate's default
    /// `--cert-purpose emailProtection`; a cert without extendedKeyUsage passes). The
    /// `codeSigning` purpose needs OpenSSL 3.2 and is not offered.
    pub fn from_pem(pem: &[u8]) -> Result<Self, SignatureError> {
        let certs = X509::stack_from_pem(pem).map_err(SignatureError::BadPem)?;
        if certs.is_empty() {
            return Err(SignatureError::EmptyTrustStore);
        }
        let mut b = X509StoreBuilder::new().map_err(SignatureError::BadPem)?;
        for c in certs {
            b.add_cert(c).map_err(SignatureError::BadPem)?;
        }
        b.set_purpose(X509PurposeId::SMIME_SIGN)
            .map_err(SignatureError::BadPem)?;
        Ok(Self {
            store: b.build(),
            required_cn: None,
        })
    }

    /// Requires the signer certificate's CN to be `cn` (SWUpdate `--forced-signer-name`).
    #[must_use]
    pub fn with_required_signer_cn(mut self, cn: impl Into<String>) -> Self {
        self.required_cn = Some(cn.into());
        self
    }

    /// Verifies `sig_der` (detached DER CMS) over the exact bytes `content`.
    pub fn verify(&self, content: &[u8], sig_der: &[u8]) -> Result<VerifiedSigner, SignatureError> {
        let mut cms = CmsContentInfo::from_der(sig_der).map_err(SignatureError::Malformed)?;
        let mut out = Vec::new();
        cms.verify(
            None,
            Some(&self.store),
            Some(content),
            Some(&mut out),
            CMSOptions::BINARY,
        )
        .map_err(SignatureError::Invalid)?;
        let common_names = signer_common_names(sig_der).unwrap_or_default();
        if let Some(required) = &self.required_cn
            && !common_names.iter().any(|cn| cn == required)
        {
            return Err(SignatureError::WrongSigner {
                required: required.clone(),
                found: common_names,
            });
        }
        Ok(VerifiedSigner { common_names })
    }
}

/// The signer certs' CNs. CMS SignedData with issuer-and-serial signer ids (what
/// `openssl cms -sign` writes) is also valid PKCS#7, whose API exposes the signers.
fn signer_common_names(sig_der: &[u8]) -> Option<Vec<String>> {
    let p7 = Pkcs7::from_der(sig_der).ok()?;
    let none = Stack::new().ok()?;
    let signers = p7.signers(&none, Pkcs7Flags::empty()).ok()?;
    Some(
        signers
            .iter()
            .flat_map(|c| {
                c.subject_name()
                    .entries_by_nid(Nid::COMMONNAME)
                    .filter_map(|e| e.data().to_string().ok())
                    .collect::<Vec<_>>()
            })
            .collect(),
    )
}

/// Signs like `openssl cms -sign -outform DER -nosmimecap -binary` (detached, signer cert
/// embedded).
pub struct Signer {
    cert: X509,
    key: PKey<Private>,
}

impl Signer {
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, SignatureError> {
        Ok(Self {
            cert: X509::from_pem(cert_pem).map_err(SignatureError::BadPem)?,
            key: PKey::private_key_from_pem(key_pem).map_err(SignatureError::BadPem)?,
        })
    }

    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, SignatureError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| SignatureError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        Self::from_pem(&read(cert.as_ref())?, &read(key.as_ref())?)
    }

    /// Detached DER CMS signature over `content`.
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            None,
            Some(content),
            CMSOptions::BINARY | CMSOptions::DETACHED | CMSOptions::NOSMIMECAP,
        )
        .map_err(SignatureError::Sign)?;
        cms.to_der().map_err(SignatureError::Sign)
    }
}
