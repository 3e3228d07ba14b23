//! `updraft bundle create|inspect`.
//!
//! `create` turns a small TOML manifest into a signed `.swu` through
//! [`updraft_swu::bundle::BundleWriter`]; `inspect` reads a bundle the way `SWUpdate` does
//! (signature first, then each selected image streamed through its sha256).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;
use updraft_swu::bundle::{
    BundleError, BundleReader, BundleWriter, Manifest, ManifestImage, ReaderOptions, SlotCopy, SoftwareSet,
};
use updraft_swu::signature::{Signer, Verifier};
use updraft_swu::sw_description::{Artifact, ArtifactKind, Compression, KNOWN_TYPES, to_hex};

use super::bundle_encode::{Compress, DEFAULT_ZSTD_LEVEL, Staging};
use crate::install::decode::AesKey;
use crate::install::delta::IMAGE_SHA256;

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Build a .swu bundle from a TOML manifest, signed with a CMS signature.
    #[command(long_about = CREATE_LONG_ABOUT)]
    Create(CreateArgs),
    /// Show what a .swu bundle holds and check its signature and image hashes.
    #[command(long_about = INSPECT_LONG_ABOUT)]
    Inspect(InspectArgs),
    /// Build a signed per-source patch bundle (*.patch.swu) turning one old image into a new one.
    #[command(long_about = super::bundle_patch::DELTA_LONG_ABOUT)]
    Delta(super::bundle_patch::DeltaArgs),
}

const CREATE_LONG_ABOUT: &str = "\
Build a .swu bundle from a TOML manifest, signed with a CMS signature.

The bundle is a cpio \"crc\" archive: sw-description first, sw-description.sig second
(a detached DER CMS signature, what `openssl cms -sign -binary -nosmimecap` writes and
`swupdate -k CERT` checks), then the images. Every image's sha256 is computed and written
into sw-description. The output is written to a temporary file, synced and renamed, so a
failed run never leaves a partial bundle under the output name.

Manifest (paths are relative to the manifest's directory; client/dist/bundle.example.toml is
one):

    version = \"1.4.0\"                      # software version (required)
    description = \"nightly build\"          # optional
    hardware-compatibility = [\"1.0\"]       # required: SWUpdate refuses a bundle
                                           # without a matching revision; \"#RE:^1\\\\.\" too

    # One bundle for both A/B slots (optional): the images are described twice, as SWUpdate's
    # collection `stable.copy1` (slot A) and `stable.copy2` (slot B), each copy with its slot's
    # device; the device picks one (`-e stable,copy2`, Updraft's `software_set = \"stable\"`).
    software-set = \"stable\"
    [slots.a]
    device = \"/dev/mmcblk0p2\"              # the device of raw images without their own
    bootenv = { rootpart = \"2\" }           # optional: set by SWUpdate with this copy
    [slots.b]
    device = \"/dev/mmcblk0p3\"

    [[images]]
    file = \"rootfs.ext4\"                   # required; stored under its file name
    type = \"raw\"                           # SWUpdate handler: raw, rawfile, archive, ...
    # device = \"/dev/mmcblk0p3\"            # raw: without it, the slot's device (Updraft
                                           # installs a raw image without device into the
                                           # inactive slot; SWUpdate needs a software set)
    # path = \"/opt/app\"                    # for rawfile (required) / archive
    # filesystem = \"ext4\"                  # optional, with device + path
    compress = \"zstd\"                      # optional: compress while building, \"zstd\" or
                                           # \"gzip\" (sw-description: compressed = zstd/zlib)
    # encrypt = true                       # optional: AES-CBC with --aes-key and a fresh
                                           # per-image IV (sw-description: encrypted, ivt)
    # compressed = \"zstd\"                  # instead: the file is already zlib/zstd data
    # encrypted = true                     # instead: already AES-256-CBC encrypted
    # ivt = \"<32 hex digits>\"              # optional: its IV, if not the key file's
    # installed-directly = true            # optional: stream to the target, no TMPDIR copy
    # name = \"rootfs\"                      # optional: SWUpdate's per-image name and
    # version = \"1.4.0\"                    # version (compared with sw-versions on the device)
    # install-if-different = true          # optional: skip when the device has name at version
    # install-if-higher = true             # optional: skip unless version is higher
    # delta = true                         # optional, raw only: a chunk delta; writes
                                           # <file>.zck beside the bundle (upload it to the
                                           # same software module) and puts its header into
                                           # the bundle as SWUpdate's type = \"delta\" entry
                                           # (docs/delta.md)

Script handlers (lua, shellscript, preinstall, postinstall, postfailure) go into the
`scripts` list of sw-description, everything else into `images`. Signing needs --cert and
--key; an unsigned bundle (which the Debian swupdate refuses) needs --unsigned. Compressed and
encrypted images are streamed through a staging directory next to the output (removed
afterwards), never held in memory.";

const INSPECT_LONG_ABOUT: &str = "\
Show what a .swu bundle holds and check its signature and image hashes.

Prints the version, the hardware compatibility and the selected images (type, target,
size, sha256). Without --select it also lists the software sets the bundle offers
(`software.<set>.<mode>`, e.g. `stable,copy1` and `stable,copy2` of an A/B bundle) with their
images; the hashes checked are then those of the top level. With --ca the signature of sw-description must verify against that PEM
file (SWUpdate's -k: a self-signed signer certificate or a CA chain) and the signer's CN
is shown. Every selected image is streamed through its sha256 (never held in memory).
Exits non-zero when the signature or any image hash does not verify.";

#[derive(Args)]
pub struct CreateArgs {
    /// The bundle manifest (TOML; see the long help).
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// Signer certificate (PEM).
    #[arg(long, value_name = "PEM", required_unless_present = "unsigned")]
    pub cert: Option<PathBuf>,
    /// Signer private key (PEM, unencrypted).
    #[arg(long, value_name = "PEM", required_unless_present = "unsigned")]
    pub key: Option<PathBuf>,
    /// Write a bundle without sw-description.sig (only for SWUpdate builds without signing).
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub unsigned: bool,
    /// SWUpdate's AES key file (`<key hex> <iv hex>`, what `swupdate -K` and Updraft's
    /// `aes_key_file` read) for images with `encrypt = true`.
    #[arg(long, value_name = "FILE")]
    pub aes_key: Option<PathBuf>,
    /// Where to write the .swu.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// zstd level (1-22) of `compress = "zstd"` images and of the chunks of `delta = true`
    /// images. Higher is smaller and slower to build; any level decodes on the device in the
    /// same memory (the window is capped at 2 MiB, 128 KiB for chunks).
    #[arg(long, value_name = "LEVEL", default_value_t = DEFAULT_ZSTD_LEVEL,
          value_parser = clap::value_parser!(i32).range(1..=22))]
    pub zstd_level: i32,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The .swu bundle.
    pub file: PathBuf,
    /// Trust store (PEM) the signature must verify against; without it the signature is
    /// not checked.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// Board name for `software.<board>` lookups (SWUpdate's `-H board:rev`).
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    /// Selection `set,mode` (SWUpdate's `-e`), e.g. `stable,copy1`.
    #[arg(long, value_name = "SET,MODE")]
    pub select: Option<String>,
    /// The image a device runs now (a copy of its active slot): shows what that device would
    /// download, chunk deltas planned against it exactly as `updraft agent` plans them.
    #[arg(long, value_name = "IMAGE")]
    pub against: Option<PathBuf>,
}

pub fn run(cmd: BundleCommand) -> anyhow::Result<()> {
    match cmd {
        BundleCommand::Create(args) => create(&args),
        BundleCommand::Inspect(args) => inspect(&args),
        BundleCommand::Delta(args) => super::bundle_patch::run(&args),
    }
}

/// The manifest file `updraft bundle create` reads.
///
/// ```toml
/// version = "1.4.0"
/// description = "nightly build"          # optional
/// hardware-compatibility = ["1.0"]
///
/// [[images]]
/// file = "rootfs.ext4"                   # relative to the manifest
/// type = "raw"                           # SWUpdate handler
/// device = "/dev/mmcblk0p3"              # or `path`; optional `filesystem`,
///                                        # `compressed` ("zlib"/"zstd"), `installed-directly`
/// name = "rootfs"                        # optional per-image name and version
/// version = "1.4.0"
/// ```
///
/// The sha256 of each file is computed; the bundle name of an image is its file name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BundleManifest {
    pub version: String,
    pub description: Option<String>,
    #[serde(default)]
    pub hardware_compatibility: Vec<String>,
    /// Describe the images as the A/B collection `<set>.copy1` / `<set>.copy2`.
    pub software_set: Option<String>,
    /// The slots' devices and boot environments, with `software-set`.
    pub slots: Option<ManifestSlots>,
    #[serde(default)]
    pub images: Vec<ManifestEntry>,
}

/// `[slots.a]` and `[slots.b]` of a [`BundleManifest`] with a software set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSlots {
    pub a: ManifestSlot,
    pub b: ManifestSlot,
}

/// One slot: the device its copy writes raw images to, and the bootenv SWUpdate sets with it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSlot {
    pub device: String,
    #[serde(default)]
    pub bootenv: std::collections::BTreeMap<String, String>,
}

/// A loaded manifest: the bundle's content, its software set, and how to encode each image.
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub set: Option<SoftwareSet>,
    /// Per image (in order): compress and/or encrypt it while building.
    pub encode: Vec<(Option<Compress>, bool)>,
    /// Per image (in order): ship it as a chunk delta (`delta = true`).
    pub delta: Vec<bool>,
}

/// One `[[images]]` table of a [`BundleManifest`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestEntry {
    pub file: PathBuf,
    #[serde(rename = "type")]
    pub handler: String,
    pub device: Option<String>,
    pub path: Option<String>,
    pub filesystem: Option<String>,
    pub compressed: Option<String>,
    /// Compress while building: "zstd" or "gzip" ("zlib" is accepted as SWUpdate's name for it).
    pub compress: Option<String>,
    /// Encrypt while building, with `--aes-key` and a fresh IV.
    #[serde(default)]
    pub encrypt: bool,
    /// The file is already AES-256-CBC encrypted (`openssl enc -aes-256-cbc -K .. -iv ..`).
    #[serde(default)]
    pub encrypted: bool,
    /// Per-image IV (32 hex digits) when it differs from the device key file's.
    pub ivt: Option<String>,
    #[serde(default)]
    pub installed_directly: bool,
    /// SWUpdate's per-image `name` and `version` (sw-description image attributes).
    pub name: Option<String>,
    pub version: Option<String>,
    /// Skip the image on a device whose sw-versions has `name` at `version` (SWUpdate's flag).
    #[serde(default)]
    pub install_if_different: bool,
    /// Skip the image unless `version` is higher than the device's sw-versions entry for `name`.
    #[serde(default)]
    pub install_if_higher: bool,
    /// Ship a raw image as a chunk delta: `<file>.zck` beside the bundle, its header in the bundle
    /// as SWUpdate's `type = "delta"` entry.
    #[serde(default)]
    pub delta: bool,
}

/// Handlers SWUpdate runs from the `scripts` list.
const SCRIPT_TYPES: [&str; 5] = ["lua", "shellscript", "preinstall", "postinstall", "postfailure"];

impl BundleManifest {
    /// Reads and checks the manifest at `path`, resolving image files against its directory.
    pub fn load(path: &Path) -> anyhow::Result<LoadedManifest> {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read manifest {}", path.display()))?;
        let parsed: Self =
            toml::from_str(&text).with_context(|| format!("manifest {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        parsed
            .into_manifest(base)
            .with_context(|| format!("manifest {}", path.display()))
    }

    fn into_manifest(self, base: &Path) -> anyhow::Result<LoadedManifest> {
        if self.version.trim().is_empty() {
            bail!("`version` is empty");
        }
        if self.hardware_compatibility.is_empty() {
            // Debian's swupdate (hardware check on) refuses a bundle without the list.
            bail!("`hardware-compatibility` is missing or empty (e.g. [\"1.0\"])");
        }
        if self.images.is_empty() {
            bail!("no [[images]]");
        }
        let set = match (self.software_set, self.slots) {
            (None, None) => None,
            (Some(_), None) => {
                bail!("`software-set` needs [slots.a] and [slots.b] with each slot's `device`")
            }
            (None, Some(_)) => bail!("[slots] is only used with `software-set` (e.g. \"stable\")"),
            (Some(name), Some(slots)) => {
                let copy = |slot: ManifestSlot| SlotCopy {
                    device: slot.device,
                    bootenv: slot.bootenv.into_iter().collect(),
                };
                let set = SoftwareSet {
                    name,
                    copies: [copy(slots.a), copy(slots.b)],
                };
                set.check().map_err(|e| anyhow::anyhow!("`software-set`: {e}"))?;
                Some(set)
            }
        };
        let delta: Vec<bool> = self.images.iter().map(|e| e.delta).collect();
        let mut names = BTreeSet::new();
        let (images, encode) = self
            .images
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let image = entry
                    .into_image(base, set.is_some())
                    .with_context(|| format!("images[{i}]"))?;
                if !names.insert(image.0.filename.clone()) {
                    bail!(
                        "images[{i}].file: a second image named {:?} (bundle names are file names)",
                        image.0.filename
                    );
                }
                Ok(image)
            })
            .collect::<anyhow::Result<(Vec<_>, Vec<_>)>>()?;
        Ok(LoadedManifest {
            manifest: Manifest {
                version: self.version,
                description: self.description,
                hardware_compatibility: self.hardware_compatibility,
                images,
            },
            set,
            encode,
            delta,
        })
    }
}

impl ManifestEntry {
    fn into_image(
        self,
        base: &Path,
        in_set: bool,
    ) -> anyhow::Result<(ManifestImage, (Option<Compress>, bool))> {
        let source = base.join(&self.file);
        let meta =
            fs::metadata(&source).with_context(|| format!("`file` {}: cannot read", source.display()))?;
        if !meta.is_file() {
            bail!("`file` {} is not a regular file", source.display());
        }
        let filename = self
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("`file` {}: no UTF-8 file name", self.file.display()))?
            .to_owned();
        if !KNOWN_TYPES.contains(&self.handler.as_str()) {
            bail!(
                "`type` {:?} is not a SWUpdate handler (raw, rawfile, archive, ...)",
                self.handler
            );
        }
        let kind = if SCRIPT_TYPES.contains(&self.handler.as_str()) {
            ArtifactKind::Script
        } else {
            ArtifactKind::Image
        };
        // What `updraft install` accepts without `device`: a raw image goes into the inactive
        // slot, an archive is unpacked into its files_root; a rawfile needs its `path`.
        match self.handler.as_str() {
            "raw" if self.device.is_none() && !in_set => {}
            "raw" | "archive" | "tar" => {}
            "rawfile" if self.path.is_none() => bail!("a rawfile image needs `path` (where the file goes)"),
            _ if kind == ArtifactKind::Image && self.device.is_none() && self.path.is_none() => bail!(
                "needs `device` or `path` (where the {} handler installs it)",
                self.handler
            ),
            _ => {}
        }
        if self.delta
            && (self.handler != "raw"
                || self.compress.is_some()
                || self.compressed.is_some()
                || self.encrypt
                || self.encrypted)
        {
            bail!(
                "`delta = true` needs a plain raw image: the .zck compresses its chunks itself, and \
                 SWUpdate's delta handler reads neither `compressed` nor `encrypted`"
            );
        }
        let compress = match self.compress.as_deref() {
            None => None,
            Some("zstd") => Some(Compress::Zstd),
            Some("gzip" | "zlib") => Some(Compress::Gzip),
            Some(other) => bail!("`compress` {other:?}: expected \"zstd\" or \"gzip\""),
        };
        if compress.is_some() && self.compressed.is_some() {
            bail!("`compress` compresses the file, `compressed` says it already is: use one of them");
        }
        if self.encrypt && (self.encrypted || self.ivt.is_some()) {
            bail!("`encrypt` encrypts the file with a fresh IV; leave out `encrypted` and `ivt`");
        }
        let compressed = match self.compressed.as_deref() {
            None => None,
            Some("zlib") => Some(Compression::Zlib),
            Some("zstd") => Some(Compression::Zstd),
            Some(other) => bail!("`compressed` {other:?}: expected \"zlib\" or \"zstd\""),
        };
        for (key, value) in [("name", &self.name), ("version", &self.version)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                bail!("`{key}` is empty (leave it out instead)");
            }
        }
        let image = ManifestImage {
            source,
            filename,
            kind,
            handler: self.handler,
            device: self.device,
            path: self.path,
            filesystem: self.filesystem,
            compressed,
            encrypted: self.encrypted,
            ivt: self.ivt,
            installed_directly: self.installed_directly,
            name: self.name,
            version: self.version,
            install_if_different: self.install_if_different,
            install_if_higher: self.install_if_higher,
            properties: Vec::new(),
        };
        Ok((image, (compress, self.encrypt)))
    }
}

fn create(args: &CreateArgs) -> anyhow::Result<()> {
    let LoadedManifest {
        mut manifest,
        set,
        encode,
        delta,
    } = BundleManifest::load(&args.manifest)?;
    let key = match (&args.aes_key, encode.iter().any(|(_, encrypt)| *encrypt)) {
        (Some(path), true) => {
            Some(AesKey::load(path).with_context(|| format!("--aes-key {}", path.display()))?)
        }
        (None, true) => {
            bail!("the manifest has images with `encrypt = true`: pass the key file with --aes-key")
        }
        (Some(path), false) => bail!(
            "--aes-key {}: no image of the manifest has `encrypt = true`",
            path.display()
        ),
        (None, false) => None,
    };
    // Every plain raw image says which image it installs (`image-sha256`, the uncompressed
    // image's sha256), so a server can tell which source a device runs (docs/delta.md).
    for (image, (_, encrypt)) in manifest.images.iter_mut().zip(&encode) {
        if image.handler == "raw"
            && image.compressed.is_none()
            && !image.encrypted
            && !*encrypt
            && !image.properties.iter().any(|(k, _)| k == IMAGE_SHA256)
        {
            let sha = sha256_of(&image.source)?;
            image.properties.push((IMAGE_SHA256.into(), to_hex(&sha)));
        }
    }
    // Keeps the encoded images until the bundle is written.
    let mut staging = None;
    for (image, (compress, encrypt)) in manifest.images.iter_mut().zip(encode) {
        if compress.is_none() && !encrypt {
            continue;
        }
        if staging.is_none() {
            staging = Some(Staging::next_to(&args.output)?);
        }
        let Some(stage) = &staging else { continue };
        let (staged, ivt) = stage
            .encode(
                &image.source,
                &image.filename,
                compress,
                args.zstd_level,
                key.as_ref().filter(|_| encrypt),
            )
            .with_context(|| format!("cannot encode {}", image.source.display()))?;
        image.source = staged;
        if let Some(c) = compress {
            image.compressed = Some(match c {
                Compress::Zstd => Compression::Zstd,
                Compress::Gzip => Compression::Zlib,
            });
        }
        if encrypt {
            image.encrypted = true;
            image.ivt = ivt;
        }
    }
    // Chunk deltas: each `<file>.zck` is written beside the bundle now; the bundle carries its
    // header in place of the image.
    let mut chunk_files = Vec::new();
    for (image, _) in manifest.images.iter_mut().zip(delta).filter(|(_, d)| *d) {
        if staging.is_none() {
            staging = Some(Staging::next_to(&args.output)?);
        }
        let Some(stage) = &staging else { continue };
        let zck = zck_path(&args.output, &image.filename);
        let written = super::bundle_delta::make(image, stage, &zck, args.zstd_level)?;
        chunk_files.push((zck, written));
    }
    let mut writer = BundleWriter::new(manifest);
    if let Some(set) = set {
        writer = writer.with_software_set(set);
    }
    match (&args.cert, &args.key, args.unsigned) {
        (_, _, true) => {}
        (Some(cert), Some(key), false) => {
            let signer = Signer::from_pem_files(cert, key)
                .with_context(|| format!("cannot load signer {} / {}", cert.display(), key.display()))?;
            writer = writer.with_signer(signer);
        }
        _ => bail!("signing needs --cert and --key (or pass --unsigned)"),
    }
    write_atomically(&args.output, |out| {
        writer.write(out).context("cannot build the bundle")?;
        Ok(())
    })?;
    drop(staging);
    outln!("wrote {}", args.output.display());
    for (zck, w) in &chunk_files {
        outln!(
            "wrote {} ({} chunks, {} of {} image bytes): upload it to the same software module as the \
             bundle",
            zck.display(),
            w.chunks,
            w.file_len,
            w.image_len
        );
    }
    Ok(())
}

/// The sha256 of a file, read in 1 MiB pieces.
fn sha256_of(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hash = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n =
            io::Read::read(&mut f, &mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(hash.finish());
        }
        hash.update(&buf[..n]);
    }
}

/// Where the chunk file of image `filename` goes: beside the bundle.
fn zck_path(output: &Path, filename: &str) -> PathBuf {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    dir.join(format!("{filename}.zck"))
}

/// Writes `path` through a temporary file in the same directory: write, fsync, rename, fsync
/// the directory. The temporary file is removed on failure.
pub(super) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--output {} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut out = BufWriter::new(&file);
        write(&mut out)?;
        out.flush()
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

fn inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let verifier = args
        .ca
        .as_ref()
        .map(|ca| Verifier::from_pem_file(ca).with_context(|| format!("cannot load --ca {}", ca.display())))
        .transpose()?;
    let file = File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut bundle = BundleReader::open(
        BufReader::new(file),
        ReaderOptions {
            verifier,
            board: args.board.clone(),
            selection: args.select.clone(),
            ..ReaderOptions::default()
        },
    )
    .map_err(|e| {
        let what = match (&e, &args.ca) {
            (BundleError::Signature(_) | BundleError::MissingSignature(_), Some(ca)) => {
                format!(
                    "{}: signature verification against {} failed",
                    args.file.display(),
                    ca.display()
                )
            }
            _ => args.file.display().to_string(),
        };
        anyhow::Error::new(e).context(what)
    })?;

    let description = bundle.description();
    outln!("bundle:      {}", args.file.display());
    outln!(
        "version:     {}",
        description.version.as_deref().unwrap_or("(none)")
    );
    if let Some(d) = &description.description {
        outln!("description: {d}");
    }
    if let Some(sel) = &args.select {
        outln!("selection:   {sel}");
    }
    outln!(
        "hardware-compatibility: {}",
        bundle.selection().hardware_compatibility.join(", ")
    );
    let mut sets_listed = false;
    if args.select.is_none() {
        let sets = super::bundle_sets::software_sets(description);
        sets_listed = !sets.is_empty();
        if sets_listed {
            outln!("software sets (pick one with --select SET,MODE, SWUpdate's -e):");
            for set in &sets {
                let board = set
                    .board
                    .as_ref()
                    .map(|b| format!(" (board {b}, with --board {b})"))
                    .unwrap_or_default();
                match &set.images {
                    Ok(images) => outln!("  {}{board}: {}", set.selection, images.join(", ")),
                    Err(e) => outln!("  {}{board}: cannot be selected: {e}", set.selection),
                }
            }
        }
    }
    match (bundle.signer(), &args.ca) {
        (Some(signer), Some(ca)) => outln!(
            "signature:   verified against {} (signer CN: {})",
            ca.display(),
            signer.common_names.join(", ")
        ),
        _ => outln!("signature:   not checked (pass --ca)"),
    }

    outln!("images:");
    let mut checked = 0usize;
    let mut failures = Vec::new();
    let mut fetches = Vec::new();
    while let Some(mut image) = bundle
        .next_image()
        .with_context(|| format!("{}: cannot read the next image", args.file.display()))?
    {
        let artifact = image.artifact().clone();
        let line = describe(&artifact, image.size());
        // Streams the stored bytes; reaching EOF without error proves cpio checksum and sha256.
        // A delta entry's bytes are its chunk header, kept to plan against `--against`.
        let keep = args.against.is_some() && artifact.handler == "delta";
        let read = if keep {
            let mut header = Vec::new();
            io::Read::read_to_end(&mut image, &mut header).map(|_| Some(header))
        } else {
            io::copy(&mut image, &mut io::sink()).map(|_| None)
        };
        match read {
            Ok(header) => {
                outln!("  {line}  ok");
                if let (Some(header), Some(against)) = (header, &args.against) {
                    let fetch = super::bundle_delta::would_fetch(&artifact, &header, against)?;
                    outln!("    {}", fetch.sentence);
                    fetches.push(fetch);
                }
            }
            Err(e) => {
                outln!("  {line}  FAILED: {e}");
                failures.push(e.to_string());
            }
        }
        checked += 1;
    }
    if !failures.is_empty() {
        bail!(
            "{}: {} of {checked} image(s) failed verification: {}",
            args.file.display(),
            failures.len(),
            failures.join("; ")
        );
    }
    if checked == 0 && sets_listed {
        outln!("  (none at the top level)");
        outln!("hashes:      nothing checked; pass --select SET,MODE to check a set's images");
        return Ok(());
    }
    outln!("hashes:      all {checked} image(s) match");
    if let Some(against) = &args.against {
        let bundle_bytes = fs::metadata(&args.file)
            .with_context(|| format!("cannot read the size of {}", args.file.display()))?
            .len();
        outln!(
            "{}",
            super::bundle_delta::download_summary(against, bundle_bytes, &fetches)
        );
    }
    Ok(())
}

fn describe(a: &Artifact, size: u64) -> String {
    let mut line = format!(
        "{}  type={}",
        a.filename.as_deref().unwrap_or("(no file)"),
        a.handler
    );
    for (key, value) in [
        ("name", &a.name),
        ("version", &a.version),
        ("device", &a.device),
        ("volume", &a.volume),
        ("path", &a.path),
    ] {
        if let Some(v) = value {
            let _ = write!(line, "  {key}={v}");
        }
    }
    let _ = write!(
        line,
        "  size={size}  sha256={}",
        a.sha256
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), |s| to_hex(s))
    );
    line
}
