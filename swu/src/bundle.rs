//! Reading and writing whole `.swu` bundles.
//!
//! Reading follows SWUpdate's stream parser: `sw-description` first, `sw-description.sig`
//! second when signatures are required, the signature checked before any image is handed
//! out, and each image's SHA-256 (over the stored bytes) checked at its end.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::cpio::{self, CpioError, CpioReader, CpioWriter, Limits};
use crate::libconfig::quote;
use crate::signature::{SignatureError, Signer, VerifiedSigner, Verifier};
use crate::sw_description::{
    Artifact, ArtifactKind, Compression, Selection, SwDescription, SwDescriptionError, to_hex,
};

pub const SW_DESCRIPTION: &str = "sw-description";
pub const SW_DESCRIPTION_SIG: &str = "sw-description.sig";
/// Largest accepted `sw-description` (SWUpdate reads it into memory, too).
pub const MAX_SW_DESCRIPTION: u64 = 1024 * 1024;
const MAX_SIGNATURE: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Cpio(#[from] CpioError),
    #[error("bundle: I/O error")]
    Io(#[from] io::Error),
    #[error(transparent)]
    SwDescription(#[from] SwDescriptionError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("bundle: empty archive")]
    Empty,
    #[error("bundle: first entry is {0:?}, expected sw-description")]
    DescriptionNotFirst(String),
    #[error("bundle: signature required but the second entry is {0:?}, not sw-description.sig")]
    MissingSignature(Option<String>),
    #[error("bundle: {name} larger than {limit} bytes")]
    TooLarge { name: &'static str, limit: u64 },
    #[error("bundle: hardware revision {revision:?} is not in hardware-compatibility {accepted:?}")]
    IncompatibleHardware { revision: String, accepted: Vec<String> },
    #[error("bundle: {0:?} has no sha256 (required for signed bundles)")]
    MissingSha256(String),
    #[error("bundle: entry {0:?} is not described in sw-description")]
    Undescribed(String),
    #[error("bundle: entry {0:?} appears twice")]
    DuplicateEntry(String),
    #[error("bundle: described images missing from the archive: {0:?}")]
    MissingImages(Vec<String>),
    #[error("bundle: sha256 mismatch for {filename:?}: sw-description {expected}, data {actual}")]
    HashMismatch {
        filename: String,
        expected: String,
        actual: String,
    },
}

impl From<BundleError> for io::Error {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::Io(e) => e,
            BundleError::Cpio(e) => e.into(),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// How to read a bundle.
#[derive(Default)]
pub struct ReaderOptions {
    /// When set, `sw-description.sig` is required and verified (SWUpdate `-k`).
    pub verifier: Option<Verifier>,
    /// Board name (`-H board:rev`) for `software.<board>` lookups.
    pub board: Option<String>,
    /// `set,mode` (`-e stable,copy2`); `None` uses the top level.
    pub selection: Option<String>,
    /// The device's hardware revision; when set, the selected `hardware-compatibility` must
    /// accept it (SWUpdate's check, enabled in the Debian build).
    pub hardware_revision: Option<String>,
    /// Handler types accepted besides [`crate::sw_description::KNOWN_TYPES`].
    pub extra_handler_types: Vec<String>,
    /// Skip archive entries that sw-description does not mention instead of refusing them.
    pub allow_undescribed: bool,
    pub limits: Limits,
}

/// Streams a `.swu`: metadata first, then the selected images one by one.
pub struct BundleReader<R> {
    cpio: CpioReader<R>,
    raw_description: Vec<u8>,
    description: SwDescription,
    selection: Selection,
    signer: Option<VerifiedSigner>,
    allow_undescribed: bool,
    seen: BTreeSet<String>,
    finished: bool,
}

impl<R: Read> BundleReader<R> {
    /// Reads and checks `sw-description` (and its signature). No image data is read yet.
    pub fn open(reader: R, options: ReaderOptions) -> Result<Self, BundleError> {
        let mut cpio = CpioReader::with_limits(reader, options.limits);
        let raw_description = {
            let entry = cpio.next_entry()?.ok_or(BundleError::Empty)?;
            if entry.header().name != SW_DESCRIPTION {
                return Err(BundleError::DescriptionNotFirst(entry.header().name.clone()));
            }
            read_limited(entry, SW_DESCRIPTION, MAX_SW_DESCRIPTION)?
        };
        let signer = match &options.verifier {
            None => None,
            Some(verifier) => {
                let sig = match cpio.next_entry()? {
                    Some(e) if e.header().name == SW_DESCRIPTION_SIG => {
                        read_limited(e, SW_DESCRIPTION_SIG, MAX_SIGNATURE)?
                    }
                    other => {
                        return Err(BundleError::MissingSignature(
                            other.map(|e| e.header().name.clone()),
                        ));
                    }
                };
                Some(verifier.verify(&raw_description, &sig)?)
            }
        };
        // Parse only what is authenticated.
        let description = SwDescription::parse_with_handlers(&raw_description, &options.extra_handler_types)?;
        let selection = description.select(options.board.as_deref(), options.selection.as_deref())?;
        if let Some(rev) = &options.hardware_revision
            && !selection.is_hardware_compatible(rev)?
        {
            return Err(BundleError::IncompatibleHardware {
                revision: rev.clone(),
                accepted: selection.hardware_compatibility.clone(),
            });
        }
        if signer.is_some() {
            for a in selection.artifacts() {
                if let Some(f) = &a.filename
                    && a.sha256.is_none()
                {
                    return Err(BundleError::MissingSha256(f.clone()));
                }
            }
        }
        let mut seen = BTreeSet::new();
        seen.insert(SW_DESCRIPTION.to_owned());
        if signer.is_some() {
            seen.insert(SW_DESCRIPTION_SIG.to_owned());
        }
        Ok(Self {
            cpio,
            raw_description,
            description,
            selection,
            signer,
            allow_undescribed: options.allow_undescribed,
            seen,
            finished: false,
        })
    }

    /// The exact (verified) sw-description bytes.
    pub fn raw_description(&self) -> &[u8] {
        &self.raw_description
    }

    pub fn description(&self) -> &SwDescription {
        &self.description
    }

    /// The images, files and scripts selected for this device.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The verified signer, when a signature was required.
    pub fn signer(&self) -> Option<&VerifiedSigner> {
        self.signer.as_ref()
    }

    /// The next selected artifact in archive order, or `None` at the end (after checking that
    /// every selected artifact was present). Entries described only for other selections are
    /// skipped, as SWUpdate does.
    pub fn next_image(&mut self) -> Result<Option<ImageReader<'_, R>>, BundleError> {
        if self.finished {
            return Ok(None);
        }
        let artifact = loop {
            let name = match self.cpio.next_entry()? {
                Some(e) => e.header().name.clone(),
                None => {
                    self.finished = true;
                    let missing: Vec<String> = self
                        .selection
                        .artifacts()
                        .filter_map(|a| a.filename.clone())
                        .filter(|f| !self.seen.contains(f))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    if missing.is_empty() {
                        return Ok(None);
                    }
                    return Err(BundleError::MissingImages(missing));
                }
            };
            if !self.seen.insert(name.clone()) {
                return Err(BundleError::DuplicateEntry(name));
            }
            // A signed bundle read without a trust store: SWUpdate ignores the signature then.
            if name == SW_DESCRIPTION_SIG && self.signer.is_none() {
                continue;
            }
            if let Some(a) = self
                .selection
                .artifacts()
                .find(|a| a.filename.as_deref() == Some(&name))
            {
                break a.clone();
            }
            if !self.allow_undescribed && !self.description.referenced_filenames().contains(&name) {
                return Err(BundleError::Undescribed(name));
            }
        };
        let entry = self
            .cpio
            .current_entry()
            .ok_or(BundleError::Io(io::ErrorKind::UnexpectedEof.into()))?;
        Ok(Some(ImageReader {
            entry,
            artifact,
            hasher: Sha256::new(),
            checked: false,
        }))
    }
}

fn read_limited(entry: impl Read, name: &'static str, limit: u64) -> Result<Vec<u8>, BundleError> {
    let mut buf = Vec::new();
    entry.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(BundleError::TooLarge { name, limit });
    }
    Ok(buf)
}

/// One image's stored bytes. Reading to the end checks the cpio checksum and the
/// sw-description `sha256`; a mismatch is an `InvalidData` error wrapping
/// [`BundleError::HashMismatch`]. Data read before the end is unverified: install into a
/// place that is only committed after EOF was reached without error.
pub struct ImageReader<'a, R> {
    entry: cpio::Entry<'a, R>,
    artifact: Artifact,
    hasher: Sha256,
    checked: bool,
}

impl<R> ImageReader<'_, R> {
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// Size stored in the archive.
    pub fn size(&self) -> u64 {
        self.entry.header().size
    }
}

impl<R: Read> Read for ImageReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.entry.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if let Some(expected) = self.artifact.sha256 {
                let actual: [u8; 32] = self.hasher.clone().finalize().into();
                if actual != expected {
                    return Err(BundleError::HashMismatch {
                        filename: self.artifact.filename.clone().unwrap_or_default(),
                        expected: to_hex(&expected),
                        actual: to_hex(&actual),
                    }
                    .into());
                }
            }
        }
        Ok(n)
    }
}

/// One artifact of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestImage {
    /// Where the bytes come from (stored as-is, already compressed if `compressed` is set).
    pub source: PathBuf,
    /// Name inside the bundle.
    pub filename: String,
    pub kind: ArtifactKind,
    /// SWUpdate handler (`type`).
    pub handler: String,
    pub device: Option<String>,
    pub path: Option<String>,
    pub filesystem: Option<String>,
    pub compressed: Option<Compression>,
    /// The file is already AES-256-CBC encrypted (SWUpdate's `encrypted = true`).
    pub encrypted: bool,
    /// Per-image IV, 32 hex digits (SWUpdate's `ivt`); without it the device's key file IV.
    pub ivt: Option<String>,
    pub installed_directly: bool,
    /// SWUpdate's per-image `name` and `version`: what the image is, compared with the device's
    /// `sw-versions` by `install-if-different` / `install-if-higher`.
    pub name: Option<String>,
    pub version: Option<String>,
}

impl ManifestImage {
    /// A `raw` image written to `device`.
    pub fn raw(source: impl Into<PathBuf>, filename: &str, device: &str) -> Self {
        Self {
            source: source.into(),
            filename: filename.to_owned(),
            kind: ArtifactKind::Image,
            handler: "raw".to_owned(),
            device: Some(device.to_owned()),
            path: None,
            filesystem: None,
            compressed: None,
            encrypted: false,
            ivt: None,
            installed_directly: false,
            name: None,
            version: None,
        }
    }
}

/// What a bundle holds; [`BundleWriter`] derives sw-description from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    pub version: String,
    pub description: Option<String>,
    pub hardware_compatibility: Vec<String>,
    pub images: Vec<ManifestImage>,
}

/// Writes a `.swu`: `sw-description`, optionally `sw-description.sig`, then the images.
pub struct BundleWriter {
    manifest: Manifest,
    signer: Option<Signer>,
}

struct Prepared {
    size: u64,
    cpio_sum: u32,
}

impl BundleWriter {
    pub fn new(manifest: Manifest) -> Self {
        Self {
            manifest,
            signer: None,
        }
    }

    #[must_use]
    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Renders sw-description (libconfig) and hashes the sources.
    fn prepare(&self) -> Result<(String, Vec<Prepared>), BundleError> {
        let mut names = BTreeSet::new();
        let mut prepared = Vec::new();
        let mut sections: [(ArtifactKind, &str, String); 3] = [
            (ArtifactKind::Image, "images", String::new()),
            (ArtifactKind::File, "files", String::new()),
            (ArtifactKind::Script, "scripts", String::new()),
        ];
        for img in &self.manifest.images {
            cpio::check_name(&img.filename)?;
            if [SW_DESCRIPTION, SW_DESCRIPTION_SIG].contains(&img.filename.as_str())
                || !names.insert(img.filename.clone())
            {
                return Err(BundleError::DuplicateEntry(img.filename.clone()));
            }
            let (size, cpio_sum, sha) = hash_file(&img.source)?;
            prepared.push(Prepared { size, cpio_sum });
            let mut e = format!(
                "\t\t{{\n\t\t\tfilename = {};\n\t\t\ttype = {};\n\t\t\tsha256 = \"{}\";\n",
                quote(&img.filename),
                quote(&img.handler),
                to_hex(&sha)
            );
            for (k, v) in [
                ("name", &img.name),
                ("version", &img.version),
                ("device", &img.device),
                ("path", &img.path),
                ("filesystem", &img.filesystem),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(e, "\t\t\t{k} = {};", quote(v));
                }
            }
            match img.compressed {
                Some(Compression::Zlib) => e.push_str("\t\t\tcompressed = \"zlib\";\n"),
                Some(Compression::Zstd) => e.push_str("\t\t\tcompressed = \"zstd\";\n"),
                None => {}
            }
            if img.encrypted {
                e.push_str("\t\t\tencrypted = true;\n");
            }
            if let Some(ivt) = &img.ivt {
                let _ = writeln!(e, "\t\t\tivt = {};", quote(ivt));
            }
            if img.installed_directly {
                e.push_str("\t\t\tinstalled-directly = true;\n");
            }
            e.push_str("\t\t}");
            let section = sections
                .iter_mut()
                .find(|(k, _, _)| *k == img.kind)
                .map(|(_, _, s)| s)
                .ok_or(BundleError::Empty)?;
            if !section.is_empty() {
                section.push_str(",\n");
            }
            section.push_str(&e);
        }
        let m = &self.manifest;
        let mut out = format!("software =\n{{\n\tversion = {};\n", quote(&m.version));
        if let Some(d) = &m.description {
            let _ = writeln!(out, "\tdescription = {};", quote(d));
        }
        if !m.hardware_compatibility.is_empty() {
            let hw: Vec<String> = m.hardware_compatibility.iter().map(|h| quote(h)).collect();
            let _ = writeln!(out, "\thardware-compatibility = [ {} ];", hw.join(", "));
        }
        for (_, key, body) in &sections {
            if !body.is_empty() {
                let _ = writeln!(out, "\t{key}: (\n{body}\n\t);");
            }
        }
        out.push_str("};\n");
        // What we write must be what we read.
        SwDescription::parse(out.as_bytes())?;
        Ok((out, prepared))
    }

    /// The sw-description this writer would put into the bundle.
    pub fn sw_description(&self) -> Result<String, BundleError> {
        Ok(self.prepare()?.0)
    }

    /// Writes the bundle (a `070702` cpio) to `out` and returns it.
    pub fn write<W: Write>(&self, out: W) -> Result<W, BundleError> {
        let (description, prepared) = self.prepare()?;
        let mut w = CpioWriter::new(out);
        w.append_bytes(SW_DESCRIPTION, description.as_bytes())?;
        if let Some(signer) = &self.signer {
            w.append_bytes(SW_DESCRIPTION_SIG, &signer.sign(description.as_bytes())?)?;
        }
        for (img, p) in self.manifest.images.iter().zip(&prepared) {
            let file = BufReader::new(File::open(&img.source)?);
            // A source that changed since hashing fails here (size) or on the device (hash).
            w.append_reader(&img.filename, p.size, p.cpio_sum, file)?;
        }
        Ok(w.finish()?)
    }
}

fn hash_file(path: &std::path::Path) -> io::Result<(u64, u32, [u8; 32])> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut size, mut sum, mut sha) = (0u64, 0u32, Sha256::new());
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((size, sum, sha.finalize().into()));
        }
        size += n as u64;
        sum = cpio::checksum_update(sum, &buf[..n]);
        sha.update(&buf[..n]);
    }
}
