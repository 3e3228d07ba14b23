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

// OpenSSL's SHA-256 (already linked for CMS): as fast as the sha2 crate on an install (both use
// SHA-NI here; 0.94-1.07 s for 1 GiB either way), and one crate fewer in the device binary.
use openssl::sha::Sha256;

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
    #[error(
        "bundle: it is not signed (its second entry is {}, not sw-description.sig), and this device \
         requires a signature: sign the bundle",
        .0.as_deref().map_or_else(|| "missing".to_owned(), |n| format!("{n:?}"))
    )]
    MissingSignature(Option<String>),
    #[error("bundle: {name} larger than {limit} bytes")]
    TooLarge { name: &'static str, limit: u64 },
    #[error(
        "bundle: this device's hardware revision {revision:?} is not in the bundle's \
         hardware-compatibility ({}); build the bundle for this hardware",
        accepted.join(", ")
    )]
    IncompatibleHardware { revision: String, accepted: Vec<String> },
    #[error("bundle: {0:?} has no sha256 (required for signed bundles)")]
    MissingSha256(String),
    #[error("bundle: entry {0:?} is not described in sw-description")]
    Undescribed(String),
    #[error("bundle: entry {0:?} appears twice")]
    DuplicateEntry(String),
    #[error(
        "bundle: sw-description lists images the archive does not hold ({}); build the bundle again",
        .0.join(", ")
    )]
    MissingImages(Vec<String>),
    #[error(
        "image {filename:?} is damaged: its sha256 is {actual}, but sw-description says {expected}; \
         the bundle was changed after it was built or broke in transit: build or download it again"
    )]
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
            hasher: Some(Sha256::new()),
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
    /// `None` once [`ImageReader::take_sha256_check`] handed the sha256 to the caller.
    hasher: Option<Sha256>,
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

    /// Hands the sha256 over to the caller, so that it can run on another thread while this one
    /// reads (the sha256 alone is about as slow as writing the image: on one thread with the
    /// reads it is an install's bottleneck). From then on `read` answers the stored bytes with
    /// only the cpio checksum checked at their end, and the caller must feed the returned check
    /// every byte read from here on, in order, and [`Sha256Check::finish`] it before it commits
    /// anything it wrote. Bytes read before the call are in the check already. `None` when
    /// sw-description gives the image no sha256 (nothing to check), or the check was taken.
    pub fn take_sha256_check(&mut self) -> Option<Sha256Check> {
        let hasher = self.hasher.take()?;
        self.checked = true;
        Some(Sha256Check {
            hasher,
            expected: self.artifact.sha256?,
            filename: self.artifact.filename.clone().unwrap_or_default(),
        })
    }
}

impl<R: Read> Read for ImageReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.entry.read(buf)?;
        let Some(hasher) = self.hasher.as_mut() else {
            return Ok(n);
        };
        hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if let Some(expected) = self.artifact.sha256 {
                Sha256Check {
                    hasher: hasher.clone(),
                    expected,
                    filename: self.artifact.filename.clone().unwrap_or_default(),
                }
                .finish()?;
            }
        }
        Ok(n)
    }
}

/// An image's sha256 taken over by the caller ([`ImageReader::take_sha256_check`]): feed it the
/// image's stored bytes in order, then [`Sha256Check::finish`] it. Dropping it unfinished checks
/// nothing, so whatever was written from those bytes must stay uncommitted.
#[must_use = "an unfinished check verifies nothing"]
pub struct Sha256Check {
    hasher: Sha256,
    expected: [u8; 32],
    filename: String,
}

impl Sha256Check {
    /// Hashes the next bytes of the image.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Compares the hash of every byte fed with sw-description's; a mismatch is
    /// [`BundleError::HashMismatch`].
    pub fn finish(self) -> Result<(), BundleError> {
        let actual: [u8; 32] = self.hasher.finish();
        if actual != self.expected {
            return Err(BundleError::HashMismatch {
                filename: self.filename,
                expected: to_hex(&self.expected),
                actual: to_hex(&actual),
            });
        }
        Ok(())
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
    /// SWUpdate's `install-if-different`: skip the image when `name` is installed at `version`.
    pub install_if_different: bool,
    /// SWUpdate's `install-if-higher`: skip the image unless `version` is higher than the
    /// installed one.
    pub install_if_higher: bool,
    /// SWUpdate's per-image `properties` (string values), e.g. the delta handler's `url`,
    /// `zckfile` and `chain`.
    pub properties: Vec<(String, String)>,
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
            install_if_different: false,
            install_if_higher: false,
            properties: Vec::new(),
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

/// One slot's copy in a [`SoftwareSet`]: where that slot's images go and the boot environment
/// SWUpdate sets when it installs this copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotCopy {
    /// The slot's device: the `device` of every `raw` image (and every image with a
    /// `filesystem`) that names none.
    pub device: String,
    /// `bootenv` name/value pairs of this copy (an empty value unsets the variable).
    pub bootenv: Vec<(String, String)>,
}

/// An A/B software collection: `software.<name>.copy1` for slot A and `.copy2` for slot B, the
/// way SWUpdate's documentation builds dual-copy updates. The device picks its copy with
/// `-e <name>,copy1|copy2` (Updraft: `[bundle] software_set = "<name>"`), so one bundle serves
/// both slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwareSet {
    pub name: String,
    /// Slot A (`copy1`) and slot B (`copy2`).
    pub copies: [SlotCopy; 2],
}

/// The mode names of a [`SoftwareSet`]'s copies, slot A first.
pub const COPY_MODES: [&str; 2] = ["copy1", "copy2"];

/// Keys SWUpdate reads in a `software` group; a set may not be named like one of them.
const RESERVED_KEYS: &[&str] = &[
    "version",
    "description",
    "hardware-compatibility",
    "images",
    "files",
    "scripts",
    "bootenv",
    "uboot",
    "partitions",
    "embedded-script",
    "reboot",
    "ref",
    "bootloader_transaction_marker",
    "bootloader_state_marker",
];

impl SoftwareSet {
    /// Checks what would make a sw-description SWUpdate cannot read: the set's name must be a
    /// libconfig setting name and no reserved key, each device non-empty, each bootenv name
    /// plain.
    pub fn check(&self) -> Result<(), String> {
        let mut chars = self.name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "software set {:?} is not a plain name (a letter, then letters, digits, `_` or `-`)",
                self.name
            ));
        }
        if RESERVED_KEYS.contains(&self.name.as_str()) {
            return Err(format!(
                "software set {:?} is a sw-description key; pick another name",
                self.name
            ));
        }
        for (copy, mode) in self.copies.iter().zip(COPY_MODES) {
            if copy.device.trim().is_empty() {
                return Err(format!("{}.{mode}: the slot device is empty", self.name));
            }
            for (name, _) in &copy.bootenv {
                if name.is_empty() || name.contains(['=', '\0']) || name.chars().any(char::is_whitespace) {
                    return Err(format!(
                        "{}.{mode}: bootenv name {name:?} is not a plain name",
                        self.name
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Writes a `.swu`: `sw-description`, optionally `sw-description.sig`, then the images.
pub struct BundleWriter {
    manifest: Manifest,
    signer: Option<Signer>,
    set: Option<SoftwareSet>,
}

struct Prepared {
    size: u64,
    cpio_sum: u32,
    sha256: [u8; 32],
}

impl BundleWriter {
    pub fn new(manifest: Manifest) -> Self {
        Self {
            manifest,
            signer: None,
            set: None,
        }
    }

    #[must_use]
    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Describes the images once per slot, as the A/B collection `set` (each image stored once).
    #[must_use]
    pub fn with_software_set(mut self, set: SoftwareSet) -> Self {
        self.set = Some(set);
        self
    }

    /// Renders sw-description (libconfig) and hashes the sources.
    fn prepare(&self) -> Result<(String, Vec<Prepared>), BundleError> {
        let mut names = BTreeSet::new();
        let mut prepared = Vec::new();
        for img in &self.manifest.images {
            cpio::check_name(&img.filename)?;
            if [SW_DESCRIPTION, SW_DESCRIPTION_SIG].contains(&img.filename.as_str())
                || !names.insert(img.filename.clone())
            {
                return Err(BundleError::DuplicateEntry(img.filename.clone()));
            }
            let (size, cpio_sum, sha256) = hash_file(&img.source)?;
            prepared.push(Prepared {
                size,
                cpio_sum,
                sha256,
            });
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
        match &self.set {
            None => out.push_str(&self.render_lists(&prepared, None, None, 1)),
            Some(set) => {
                set.check().map_err(|message| SwDescriptionError::Field {
                    path: format!("software.{}", set.name),
                    message,
                })?;
                let _ = writeln!(out, "\t{} =\n\t{{", set.name);
                for (i, (copy, mode)) in set.copies.iter().zip(COPY_MODES).enumerate() {
                    let _ = writeln!(out, "\t\t{mode} =\n\t\t{{");
                    let other = &set.copies[1 - i].device;
                    out.push_str(&self.render_lists(&prepared, Some(&copy.device), Some(other), 3));
                    if !copy.bootenv.is_empty() {
                        let vars: Vec<String> = copy
                            .bootenv
                            .iter()
                            .map(|(k, v)| format!("{{ name = {}; value = {}; }}", quote(k), quote(v)))
                            .collect();
                        let _ = writeln!(
                            out,
                            "\t\t\tbootenv: (\n\t\t\t\t{}\n\t\t\t);",
                            vars.join(",\n\t\t\t\t")
                        );
                    }
                    out.push_str("\t\t};\n");
                }
                out.push_str("\t};\n");
            }
        }
        out.push_str("};\n");
        // What we write must be what we read.
        let parsed = SwDescription::parse(out.as_bytes())?;
        if let Some(set) = &self.set {
            for mode in COPY_MODES {
                parsed.select(None, Some(&format!("{},{mode}", set.name)))?;
            }
        }
        Ok((out, prepared))
    }

    /// The `images`, `files` and `scripts` lists, indented by `depth` tabs; `slot_device` is the
    /// device of images that name none (a copy of a [`SoftwareSet`]), `other_device` the other
    /// slot's: the `source` a delta image is compared with (SWUpdate's delta handler property).
    fn render_lists(
        &self,
        prepared: &[Prepared],
        slot_device: Option<&str>,
        other_device: Option<&str>,
        depth: usize,
    ) -> String {
        let tab = "\t".repeat(depth);
        let mut sections: [(ArtifactKind, &str, String); 3] = [
            (ArtifactKind::Image, "images", String::new()),
            (ArtifactKind::File, "files", String::new()),
            (ArtifactKind::Script, "scripts", String::new()),
        ];
        for (img, p) in self.manifest.images.iter().zip(prepared) {
            let device = img.device.as_deref().or_else(|| {
                // SWUpdate's delta handler hands the reassembled image to its chained handler
                // (`raw`), which writes to the entry's `device`.
                let takes_slot = img.kind == ArtifactKind::Image
                    && (matches!(img.handler.as_str(), "raw" | "delta" | "patch")
                        || img.filesystem.is_some());
                slot_device.filter(|_| takes_slot)
            });
            let mut e = format!(
                "{tab}\t{{\n{tab}\t\tfilename = {};\n{tab}\t\ttype = {};\n{tab}\t\tsha256 = \"{}\";\n",
                quote(&img.filename),
                quote(&img.handler),
                to_hex(&p.sha256)
            );
            for (k, v) in [
                ("name", img.name.as_deref()),
                ("version", img.version.as_deref()),
                ("device", device),
                ("path", img.path.as_deref()),
                ("filesystem", img.filesystem.as_deref()),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(e, "{tab}\t\t{k} = {};", quote(v));
                }
            }
            match img.compressed {
                Some(Compression::Zlib) => {
                    let _ = writeln!(e, "{tab}\t\tcompressed = \"zlib\";");
                }
                Some(Compression::Zstd) => {
                    let _ = writeln!(e, "{tab}\t\tcompressed = \"zstd\";");
                }
                None => {}
            }
            if img.encrypted {
                let _ = writeln!(e, "{tab}\t\tencrypted = true;");
            }
            if let Some(ivt) = &img.ivt {
                let _ = writeln!(e, "{tab}\t\tivt = {};", quote(ivt));
            }
            for (key, on) in [
                ("installed-directly", img.installed_directly),
                ("install-if-different", img.install_if_different),
                ("install-if-higher", img.install_if_higher),
            ] {
                if on {
                    let _ = writeln!(e, "{tab}\t\t{key} = true;");
                }
            }
            let mut properties: Vec<(&str, &str)> = img
                .properties
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if img.handler == "delta"
                && !img.properties.iter().any(|(k, _)| k == "source")
                && let Some(other) = other_device
            {
                properties.push(("source", other));
            }
            if !properties.is_empty() {
                let _ = writeln!(e, "{tab}\t\tproperties: {{");
                for (k, v) in properties {
                    let _ = writeln!(e, "{tab}\t\t\t{k} = {};", quote(v));
                }
                let _ = writeln!(e, "{tab}\t\t}};");
            }
            let _ = write!(e, "{tab}\t}}");
            if let Some((_, _, section)) = sections.iter_mut().find(|(k, _, _)| *k == img.kind) {
                if !section.is_empty() {
                    section.push_str(",\n");
                }
                section.push_str(&e);
            }
        }
        let mut out = String::new();
        for (_, key, body) in &sections {
            if !body.is_empty() {
                let _ = writeln!(out, "{tab}{key}: (\n{body}\n{tab});");
            }
        }
        out
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
            return Ok((size, sum, sha.finish()));
        }
        size += n as u64;
        sum = cpio::checksum_update(sum, &buf[..n]);
        sha.update(&buf[..n]);
    }
}
