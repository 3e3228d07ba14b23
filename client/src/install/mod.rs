//! Installing a bundle into the inactive slot: check everything that can be checked up front
//! (signature, hardware, version, what each artifact would write), then stream each image
//! straight from the bundle into its place and arm the slot only after every image verified.
//!
//! Nothing is staged: the slot is made unbootable (`prepare_install`) before the first byte is
//! written, and the sha256 is checked by `updraft-swu` at the end of each image.

pub mod archive;
pub mod chunked;
pub mod decode;
pub mod delta;
pub mod patch;
pub mod raw;
pub mod rawfile;
pub mod scripts;

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};
use updraft_swu::bundle::{BundleError, BundleReader, ReaderOptions};
use updraft_swu::signature::{SignatureError, Verifier};
use updraft_swu::sw_description::{Artifact, ArtifactKind};

use crate::config::Config;
use crate::journal::{Phase, RollbackReason, now};
use crate::slots::{RealFs, Slot, SlotBackend, Storage, Updater};

/// The outcome of the last `updraft install`, kept next to the journal as `last-install.json`.
/// The journal's phases only know rollback reasons of a started update; this records why a bundle
/// was refused, too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    pub at: u64,
    pub bundle: String,
    pub version: Option<String>,
    pub slot: Option<Slot>,
    /// `armed` or `refused`.
    pub result: String,
    pub reason: Option<String>,
}

pub const RECORD_FILE: &str = "last-install.json";

/// The boot id (in the data dir) at the moment an update was armed.
pub const ARMED_BOOT_FILE: &str = "armed-boot-id";

pub fn load_record(config: &Config) -> Option<InstallRecord> {
    let raw = std::fs::read(config.data_dir.join(RECORD_FILE)).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// A successful install.
#[derive(Debug)]
pub struct Installed {
    pub slot: Slot,
    pub version: String,
    /// Images written.
    pub images: usize,
    /// Images skipped by `install-if-different` / `install-if-higher`.
    pub skipped: usize,
    /// Whether `slot` was armed for a trial boot; `false` when every image was already installed
    /// and nothing was written (SWUpdate reports that as success, too).
    pub armed: bool,
}

/// A bundle refused for its version. The device's wording offers `--force`; the server's
/// ([`VersionRefused::for_operator`]) says what an operator can do instead.
#[derive(Debug, thiserror::Error)]
pub enum VersionRefused {
    #[error(
        "bundle version {version} is not newer than the running version {running}; install a newer \
         bundle, or pass --force to install this one anyway"
    )]
    NotNewer { version: String, running: String },
    #[error(
        "the bundle has no version and the device does not know the version it runs; build the \
         bundle with a `version`, set [device] version, or pass --force"
    )]
    NoVersion,
}

impl VersionRefused {
    /// The refusal as the server shows it to an operator, who cannot pass `--force` on the device.
    pub fn for_operator(&self) -> String {
        match self {
            VersionRefused::NotNewer { version, running } => format!(
                "the device refused version {version}: it is not newer than the version it runs, \
                 {running}, and the device installs only newer versions; assign a distribution set \
                 whose bundle has a higher version"
            ),
            VersionRefused::NoVersion => "the device refused the bundle: its sw-description has no \
                version and the device does not know the version it runs; rebuild the bundle with a \
                `version`"
                .to_owned(),
        }
    }
}

/// Where one artifact goes.
enum Destination {
    Raw(PathBuf),
    File(PathBuf),
    /// A tar archive unpacked into this directory.
    Archive(PathBuf),
    /// SWUpdate's `delta` handler chained to `raw`: the image rebuilt from the active slot's
    /// chunks and fetched ones, written to the inactive slot's device.
    Delta {
        device: PathBuf,
        source: PathBuf,
        zckfile: String,
        url: String,
        image_sha256: Option<[u8; 32]>,
    },
    /// Updraft's per-source patch (`type = "patch"`, chained to `raw`): the image rebuilt from the
    /// active slot `source` (checked to hold the patch's source image already) and the patch,
    /// written to the inactive slot's device.
    Patch {
        device: PathBuf,
        source: PathBuf,
        patch: patch::PatchSource,
    },
    /// A script, with its handler.
    Script(String),
    /// Already installed (`install-if-different` / `install-if-higher`): read and verified, not
    /// written.
    Skip,
}

/// Installs the bundle file `bundle` into the inactive slot and arms it for one trial boot.
pub fn install(config: &Config, bundle: &Path, force: bool) -> anyhow::Result<Installed> {
    let file = File::open(bundle).with_context(|| format!("opening {}", bundle.display()))?;
    install_from(config, file, &bundle.display().to_string(), force, None)
}

/// Installs a bundle streamed from `source` (a file, or a download that resumes itself), named
/// `label` in the record; `action_id` is the server's action, kept in the journal.
pub fn install_from(
    config: &Config,
    source: impl std::io::Read,
    label: &str,
    force: bool,
    action_id: Option<&str>,
) -> anyhow::Result<Installed> {
    install_from_with(config, source, label, force, action_id, &mut || Ok(()))
}

/// [`install_from`], calling `before_arm` once every image is written and verified, before the trial
/// is armed (the agent's state scripts); its error fails the install like a bad image.
pub fn install_from_with(
    config: &Config,
    source: impl std::io::Read,
    label: &str,
    force: bool,
    action_id: Option<&str>,
    before_arm: &mut dyn FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Installed> {
    install_from_remote(config, source, label, force, action_id, before_arm, None)
}

/// [`install_from_with`] for bundles that may hold chunk-delta images: `remote` fetches their
/// chunk files (without it such a bundle is refused before anything is written).
pub fn install_from_remote(
    config: &Config,
    source: impl std::io::Read,
    label: &str,
    force: bool,
    action_id: Option<&str>,
    before_arm: &mut dyn FnMut() -> anyhow::Result<()>,
    remote: Option<&dyn delta::DeltaRemote>,
) -> anyhow::Result<Installed> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let mut record = InstallRecord {
        at: now(),
        bundle: label.to_owned(),
        version: None,
        slot: None,
        result: "refused".into(),
        reason: None,
    };
    let result = run(config, source, force, action_id, &mut record, before_arm, remote);
    match &result {
        Ok(_) => record.result = "armed".into(),
        Err(e) => record.reason = Some(format!("{e:#}")),
    }
    let bytes = serde_json::to_vec_pretty(&record)?;
    RealFs
        .replace(&config.data_dir.join(RECORD_FILE), &bytes)
        .context("writing the install record")?;
    result
}

fn run(
    config: &Config,
    source: impl std::io::Read,
    force: bool,
    action_id: Option<&str>,
    record: &mut InstallRecord,
    before_arm: &mut dyn FnMut() -> anyhow::Result<()>,
    remote: Option<&dyn delta::DeltaRemote>,
) -> anyhow::Result<Installed> {
    let backend = config.backend()?;
    let journal = config.journal();
    let status = backend.status()?;
    if status.trial {
        bail!(
            "slot {} runs an uncommitted trial boot; run `updraft commit` to keep it or \
             `updraft rollback` to go back, then install again",
            status.booted
        );
    }
    if let Some(why) = crate::slots::machine::in_flight(&journal.load()?.phase) {
        bail!(why);
    }
    let active = status.booted;
    let target = active.other();
    record.slot = Some(target);

    let mut reader = open_bundle(config, source, target)?;

    let version = reader.description().version.clone().unwrap_or_default();
    record.version = Some(version.clone());
    if let Some(current) = config.current_version()? {
        if !force && compare_versions(&version, &current) != Ordering::Greater {
            return Err(VersionRefused::NotNewer {
                version,
                running: current,
            }
            .into());
        }
    } else if version.is_empty() && !force {
        return Err(VersionRefused::NoVersion.into());
    }

    // Plan every artifact before touching the slot.
    let installed = config.installed_images()?;
    let mut plan = Vec::new();
    for artifact in reader.selection().artifacts() {
        let name = artifact.filename.clone().unwrap_or_default();
        let dest = if let Some(why) = already_installed(artifact, &installed) {
            tracing::info!(image = %name, "skipped: {why}");
            Destination::Skip
        } else {
            destination(config, artifact, active, target)?
        };
        if matches!(dest, Destination::Delta { .. }) && remote.is_none() {
            bail!(
                "{name:?} is a chunk delta: it is installed from a server by `updraft agent`, \
                 which fetches its chunk file from the deployment; `updraft install` cannot"
            );
        }
        plan.push((name, dest));
    }
    let skipped = plan
        .iter()
        .filter(|(_, d)| matches!(d, Destination::Skip))
        .count();
    if skipped > 0
        && plan
            .iter()
            .all(|(_, d)| matches!(d, Destination::Skip | Destination::Script(_)))
    {
        // Every image is installed already: as SWUpdate, succeed without writing (and without
        // running the bundle's scripts); the inactive slot stays as it was.
        return Ok(Installed {
            slot: target,
            version,
            images: 0,
            skipped,
            armed: false,
        });
    }

    let updater = Updater::new(backend.as_ref(), &journal);
    let slot = updater.begin_install(action_id, &version)?;
    if slot != target {
        bail!("the state machine chose slot {slot}, expected {target}");
    }
    let key = match &config.bundle.aes_key_file {
        Some(path) => Some(decode::AesKey::load(path)?),
        None => None,
    };
    let mut scripts = scripts::Scripts::new(&config.data_dir, target, &config.slots.get(target).device);
    match stream(&mut reader, &plan, key.as_ref(), &mut scripts, remote)
        .and_then(|n| scripts.run_after().map(|()| n))
        .and_then(|n| before_arm().map(|()| n))
    {
        Ok(images) => {
            // Which boot armed the trial: the agent tells "not rebooted yet" from "rebooted and the
            // old slot came up" by it.
            let file = config.data_dir.join(ARMED_BOOT_FILE);
            match std::fs::read_to_string(&config.agent.boot_id_file) {
                Ok(id) => RealFs.replace(&file, id.trim().as_bytes()),
                // Unknown: no stale id from an earlier install may pass for this one.
                Err(_) => RealFs.remove(&file),
            }
            .context("writing the boot id of the install")?;
            updater.finish_install()?;
            Ok(Installed {
                slot: target,
                version,
                images,
                skipped,
                armed: true,
            })
        }
        Err(e) => {
            // The slot is half written: keep it unbootable and close the journal entry.
            backend.rollback()?;
            if matches!(journal.load()?.phase, Phase::Installing { .. }) {
                journal.advance(Phase::RolledBack {
                    slot: target,
                    version,
                    reason: RollbackReason::InstallInterrupted,
                })?;
            }
            Err(e.context(format!(
                "install into slot {target} failed, slot {active} untouched"
            )))
        }
    }
}

/// Opens a bundle as an install into `target` would: signature, hardware and software set checked.
fn open_bundle<R: std::io::Read>(
    config: &Config,
    source: R,
    target: Slot,
) -> anyhow::Result<BundleReader<BufReader<R>>> {
    let verifier = match &config.bundle.ca {
        Some(ca) => {
            let v = Verifier::from_pem_file(ca).with_context(|| format!("loading {}", ca.display()))?;
            Some(match &config.bundle.signer_cn {
                Some(cn) => v.with_required_signer_cn(cn),
                None => v,
            })
        }
        None => None,
    };
    let (board, hardware_revision) = config.hardware();
    BundleReader::open(
        // Reads of whole image chunks (`chunked::CHUNK`) pass this buffer by; it serves only the
        // cpio headers and the bytes around them, so it stays small (peak RSS, BENCHMARKS.md).
        BufReader::with_capacity(64 * 1024, source),
        ReaderOptions {
            verifier,
            board,
            selection: config.selection_for(target),
            hardware_revision,
            ..ReaderOptions::default()
        },
    )
    .map_err(|e| refused(config, e))
}

/// Why `BundleReader::open` refused, as a sentence; a signature failure names the trust store.
fn refused(config: &Config, e: BundleError) -> anyhow::Error {
    if let (BundleError::Signature(sig), Some(ca)) = (&e, &config.bundle.ca) {
        let reason = sig.openssl_reason().unwrap_or_default();
        if sig.untrusted_signer() {
            return anyhow!(
                "bundle refused: its signer is not trusted by the trust store {} ([bundle] ca): \
                 {reason}; sign the bundle with a certificate issued by a CA in that file, or add the \
                 signer's CA certificate to it",
                ca.display()
            );
        }
        if matches!(sig, SignatureError::Invalid(_)) {
            return anyhow!(
                "bundle refused: sw-description does not match its signature ({reason}); the bundle \
                 was changed after it was signed or broke in transit: build or download it again"
            );
        }
    }
    if matches!(e, BundleError::Io(_)) {
        return anyhow::Error::new(e).context("cannot read the bundle");
    }
    let text = e.to_string();
    anyhow!(
        "bundle refused: {}",
        text.strip_prefix("bundle: ").unwrap_or(&text)
    )
}

/// Why SWUpdate would skip `artifact` given the device's `sw-versions` (`installed`), if it would:
/// `install-if-different` skips an image whose `name` is installed at the same `version`,
/// `install-if-higher` one whose `version` is not higher than the installed one. An image whose
/// name is not installed is always installed.
pub fn already_installed(
    artifact: &Artifact,
    installed: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let (name, version) = (artifact.name.as_deref()?, artifact.version.as_deref()?);
    let current = installed.get(name)?;
    if artifact.install_if_different && version == current {
        return Some(format!("install-if-different, and {name} {version} is installed"));
    }
    if artifact.install_if_higher && compare_versions(version, current) != Ordering::Greater {
        return Some(format!(
            "install-if-higher, and {name} {version} is not higher than the installed {current}"
        ));
    }
    None
}

/// Reads a whole bundle as an install into the inactive slot would, writing nothing: the signature,
/// hardware and every image's sha256 are checked (hawkBit's `downloadonly`). Answers the image count.
pub fn verify_only(config: &Config, source: impl std::io::Read) -> anyhow::Result<usize> {
    let target = config.backend()?.booted()?.other();
    let mut reader = open_bundle(config, source, target)?;
    let mut count = 0;
    while let Some(mut image) = reader.next_image()? {
        std::io::copy(&mut image, &mut std::io::sink()).context("reading an image")?;
        count += 1;
    }
    Ok(count)
}

fn stream<R: std::io::Read>(
    reader: &mut BundleReader<R>,
    plan: &[(String, Destination)],
    key: Option<&decode::AesKey>,
    scripts: &mut scripts::Scripts,
    remote: Option<&dyn delta::DeltaRemote>,
) -> anyhow::Result<usize> {
    let mut count = 0;
    while let Some(mut image) = reader.next_image()? {
        let artifact = image.artifact().clone();
        let name = artifact.filename.clone().unwrap_or_default();
        let (_, dest) = plan
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| anyhow!("{name:?} was not planned"))?;
        if matches!(dest, Destination::Skip) {
            std::io::copy(&mut image, &mut std::io::sink()).map_err(damaged)?;
            continue;
        }
        // Stored bytes that go straight into their place (no decoder between) are hashed on a
        // thread of their own beside the reads and writes (`chunked`); the copy finishes the check
        // before it returns, so before the slot is fsynced.
        let mut check = if artifact.compressed.is_none()
            && !artifact.encrypted
            && matches!(dest, Destination::Raw(_) | Destination::File(_))
        {
            image.take_sha256_check()
        } else {
            None
        };
        let mut stored = decode::Tap::new(&mut image);
        let written = decode::decoded(&mut stored, &artifact, key).and_then(|mut data| {
            match dest {
                Destination::Raw(device) => raw::write(device, &mut data, check.take()).map(|_| None),
                Destination::File(path) => rawfile::write(path, &mut data, check.take()).map(|_| None),
                Destination::Archive(dir) => archive::unpack(dir, &mut data).map(|_| None),
                Destination::Script(handler) => {
                    Ok(Some((handler, scripts::Scripts::read(&mut data, &name)?)))
                }
                Destination::Delta {
                    device,
                    source,
                    zckfile,
                    url,
                    image_sha256,
                } => {
                    // The header is trusted only once the bundle's sha256 of it checked out, at
                    // the end of its stored bytes: read it whole first.
                    let mut header = Vec::new();
                    std::io::Read::take(&mut *data, updraft_swu::zchunk::MAX_HEADER + 1024)
                        .read_to_end(&mut header)?;
                    std::io::copy(&mut *data, &mut std::io::sink())?;
                    let remote = remote.ok_or_else(|| anyhow!("no server to fetch {zckfile} from"))?;
                    let fetch = remote.open(zckfile, url)?;
                    let mut rebuilt =
                        delta::DeltaReader::new(zckfile, &header, source, fetch, *image_sha256)?;
                    raw::write(device, &mut rebuilt, None)?;
                    tracing::info!(
                        zckfile = %zckfile,
                        received = rebuilt.received(),
                        reused = rebuilt.stats.reused,
                        chunks = rebuilt.stats.chunks,
                        "chunk delta installed"
                    );
                    Ok(None)
                }
                Destination::Patch {
                    device,
                    source,
                    patch,
                } => {
                    patch::apply(&mut *data, source, device, patch)?;
                    Ok(None)
                }
                Destination::Skip => Ok(None),
            }
            .with_context(|| format!("writing {name:?}"))
        });
        let script = match written {
            Ok(script) => script,
            // A damaged image fails its checksum or sha256 in the stored stream, which a decoder
            // reports in its own words around ours (ruzstd's Debug text, three levels deep): the
            // stored stream's error is the cause, and says it alone.
            Err(e) => {
                return Err(stored
                    .take_error()
                    .or_else(|| hash_mismatch(&e))
                    .map_or(e, damaged));
            }
        };
        // A decoder may stop at the end of its stream: read the stored bytes to their end, where
        // the image's sha256 is checked. Only then may a script run.
        std::io::copy(&mut image, &mut std::io::sink()).map_err(damaged)?;
        match script {
            Some((handler, body)) => scripts.take(&name, handler, &body, count)?,
            None => count += 1,
        }
    }
    Ok(count)
}

/// Where `artifact` goes for an install into `target`, or why it is refused.
fn destination(
    config: &Config,
    artifact: &Artifact,
    active: Slot,
    target: Slot,
) -> anyhow::Result<Destination> {
    let name = artifact.filename.as_deref().unwrap_or("<unnamed>");
    if artifact.encrypted && config.bundle.aes_key_file.is_none() {
        bail!("{name:?} is encrypted: set [bundle] aes_key_file to the device's key file");
    }
    if artifact.kind == ArtifactKind::Script {
        scripts::check(name, &artifact.handler, config.bundle.ca.is_some())?;
        return Ok(Destination::Script(artifact.handler.clone()));
    }
    match artifact.handler.as_str() {
        "raw" => {
            let target_dev = &config.slots.get(target).device;
            let Some(device) = artifact.device.as_deref() else {
                // Updraft extension: a raw image without `device` is the inactive slot's image.
                return Ok(Destination::Raw(target_dev.clone()));
            };
            let device = Path::new(device);
            if same_path(device, &config.slots.get(active).device) {
                bail!(
                    "{name:?}: refusing to write to {} of the active slot {active}",
                    device.display()
                );
            }
            if !same_path(device, target_dev) {
                bail!(
                    "{name:?}: device {} is not slot {target}'s {}",
                    device.display(),
                    target_dev.display()
                );
            }
            Ok(Destination::Raw(target_dev.clone()))
        }
        "rawfile" => {
            let path = artifact
                .path
                .as_deref()
                .ok_or_else(|| anyhow!("{name:?}: rawfile without path"))?;
            let root = config.slots.get(target).files_root.as_deref().ok_or_else(|| {
                anyhow!(
                    "{name:?}: rawfile needs slots.{}.files_root",
                    target.as_str().to_lowercase()
                )
            })?;
            Ok(Destination::File(rawfile::target(root, path)?))
        }
        "archive" | "tar" => {
            let path = artifact.path.as_deref().unwrap_or("/");
            let root = config.slots.get(target).files_root.as_deref().ok_or_else(|| {
                anyhow!(
                    "{name:?}: archive needs slots.{}.files_root",
                    target.as_str().to_lowercase()
                )
            })?;
            let dir = if path.trim_matches('/').is_empty() {
                root.to_path_buf()
            } else {
                rawfile::target(root, path)?
            };
            Ok(Destination::Archive(dir))
        }
        "delta" => delta_destination(config, artifact, name, active, target),
        "patch" => {
            let device = chained_raw_device(config, artifact, name, active, target)?;
            let source = config.slots.get(active).device.clone();
            let patch = patch::PatchSource::check(artifact, name, &source, active)?;
            Ok(Destination::Patch {
                device,
                source,
                patch,
            })
        }
        other => bail!("{name:?}: handler {other:?} is not supported"),
    }
}

/// The slot device a handler chained to `raw` (delta, patch) writes: where the entry would go as
/// a plain `raw` image (its `device`, or the inactive slot).
fn chained_raw_device(
    config: &Config,
    artifact: &Artifact,
    name: &str,
    active: Slot,
    target: Slot,
) -> anyhow::Result<PathBuf> {
    let raw = Artifact {
        handler: "raw".into(),
        ..artifact.clone()
    };
    match destination(config, &raw, active, target)? {
        Destination::Raw(device) => Ok(device),
        _ => bail!("{name:?}: no slot device for the {} image", artifact.handler),
    }
}

/// Where a `delta` image goes: like `raw` (its `device`, or the inactive slot), rebuilt against
/// the active slot (SWUpdate's `source` property names it; Updraft knows its slots).
fn delta_destination(
    config: &Config,
    artifact: &Artifact,
    name: &str,
    active: Slot,
    target: Slot,
) -> anyhow::Result<Destination> {
    let property = |key: &str| {
        artifact
            .properties
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.first().cloned())
    };
    if artifact.compressed.is_some() || artifact.encrypted {
        bail!("{name:?}: a delta header is neither compressed nor encrypted");
    }
    if let Some(chain) = property("chain")
        && chain != "raw"
    {
        bail!("{name:?}: the delta handler chains only to \"raw\" here, not {chain:?}");
    }
    let zckfile =
        property("zckfile").ok_or_else(|| anyhow!("{name:?}: a delta image needs properties.zckfile"))?;
    let url = property("url").unwrap_or_else(|| "dynamic".to_owned());
    let image_sha256 = match property(delta::IMAGE_SHA256) {
        None => None,
        Some(hex) => Some(
            updraft_swu::sw_description::parse_sha256(&hex)
                .ok_or_else(|| anyhow!("{name:?}: properties.image-sha256 is not 64 hex digits"))?,
        ),
    };
    let device = chained_raw_device(config, artifact, name, active, target)?;
    Ok(Destination::Delta {
        device,
        source: config.slots.get(active).device.clone(),
        zckfile,
        url,
        image_sha256,
    })
}

/// An error of the stored image stream: a checksum or sha256 mismatch is already the sentence to
/// show (it names the image); anything else (a truncated bundle, a broken download) gets context.
fn damaged(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::InvalidData {
        anyhow!("{e}")
    } else {
        anyhow::Error::new(e).context("reading the bundle")
    }
}

/// The sha256 verdict of a copy that hashed beside its writes, as the stored stream's own error
/// (a sentence naming the image), not as a write error.
fn hash_mismatch(e: &anyhow::Error) -> Option<std::io::Error> {
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    let mismatch = inner.downcast_ref::<BundleError>()?;
    matches!(mismatch, BundleError::HashMismatch { .. })
        .then(|| std::io::Error::new(std::io::ErrorKind::InvalidData, mismatch.to_string()))
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Compares versions as SWUpdate users write them (`1.10.2`, `2024.05-rc1`): dot/dash separated
/// parts, numeric parts numerically, others as text; a longer version with an equal prefix is newer.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

/// For `status`: the backend's view.
pub fn describe(backend: &dyn SlotBackend) -> String {
    match backend.status() {
        Ok(s) => format!(
            "booted: {}\nother: {}\ncommitted: {}\ntrial: {}",
            s.booted,
            s.booted.other(),
            s.committed,
            s.trial
        ),
        Err(e) => format!("bootloader: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("1.10.0", "1.9.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.2", "1.2.0"), Ordering::Less);
        assert_eq!(compare_versions("2.0", "2.0"), Ordering::Equal);
    }
}
