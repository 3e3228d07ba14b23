#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `updraft install|status|commit|rollback` end to end: the real binary, signed bundles from
//! `BundleWriter`, the simulated bootloader and file-backed slots in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use updraft_client::slots::Slot;
use updraft_client::slots::sim::{Firmware, SimFirmware};
use updraft_swu::bundle::{BundleWriter, Manifest, ManifestImage};
use updraft_swu::cpio::CpioWriter;
use updraft_swu::signature::Signer;
use updraft_swu::sw_description::{ArtifactKind, Compression};

mod support;

const ACTIVE: &[u8] = b"slot A: the running system\n";
const AES_KEY: &str = "69d54287f856d30e2d9f3d1b8a5f7c0e6b2e4d6f8a0c2e4f6a8b0c2d4e6f8a0b";
const AES_IV: &str = "4e1d2c3b4a5968778695a4b3c2d1e0f1";

struct Device {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
}

impl Device {
    /// A device booted from slot A running 1.0.0 on hardware revision 1.0, trusting `trusted.pem`;
    /// `rogue.pem` is a second, untrusted signer.
    fn new() -> Option<Device> {
        Device::with_config(&Options::default())
    }

    fn with_config(options: &Options) -> Option<Device> {
        if !support::have_openssl() {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        for who in ["trusted", "rogue"] {
            let st = Command::new("openssl")
                .current_dir(&dir)
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"])
                .args(["-keyout", &format!("{who}.key"), "-out", &format!("{who}.pem")])
                .args(["-subj", &format!("/CN=updraft-{who}")])
                .output()
                .unwrap();
            assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        }
        std::fs::write(dir.join("a.img"), ACTIVE).unwrap();
        std::fs::write(dir.join("b.img"), vec![0u8; 4096]).unwrap();
        std::fs::create_dir_all(dir.join("sim")).unwrap();
        let config = dir.join("updraft.toml");
        let p = |name: &str| dir.join(name).display().to_string();
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\n[bootloader]\nbackend = \"sim\"\nstate_dir = {:?}\n\
                 [slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\nfiles_root = {:?}\n\
                 [bundle]\n{}{}\
                 [device]\nboard = \"testboard\"\nhardware_revision = \"1.0\"\nversion = \"1.0.0\"\n\
                 sw_versions_file = {:?}\n",
                p("data"),
                p("sim"),
                p("a.img"),
                p("b.img"),
                p("b-files"),
                if options.no_ca {
                    String::new()
                } else {
                    format!("ca = {:?}\n", p("trusted.pem"))
                },
                options
                    .software_set
                    .map(|set| format!("software_set = {set:?}\n"))
                    .unwrap_or_default()
                    + &if options.aes_key {
                        std::fs::write(dir.join("aes.key"), format!("{AES_KEY} {AES_IV}\n")).unwrap();
                        format!("aes_key_file = {:?}\n", p("aes.key"))
                    } else {
                        String::new()
                    },
                p("sw-versions"),
            ),
        )
        .unwrap();
        if let Some(lines) = options.sw_versions {
            std::fs::write(dir.join("sw-versions"), lines).unwrap();
        }
        let device = Device {
            _tmp: tmp,
            dir,
            config,
        };
        assert_eq!(device.reboot(), Slot::A);
        Some(device)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn reboot(&self) -> Slot {
        SimFirmware {
            dir: self.path("sim"),
        }
        .boot()
        .unwrap()
    }

    fn updraft(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        eprintln!(
            "updraft {args:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn install(&self, bundle: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["install", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.updraft(&args)
    }

    fn status(&self) -> String {
        let out = self.updraft(&["status"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    /// Writes `image` and a bundle of it (version, hardware, signer, raw target device).
    fn bundle(&self, name: &str, spec: &Spec) -> PathBuf {
        let source = self.path(&format!("{name}.rootfs"));
        std::fs::write(&source, &spec.image).unwrap();
        let mut writer = BundleWriter::new(Manifest {
            version: spec.version.into(),
            description: None,
            hardware_compatibility: vec![spec.hardware.into()],
            images: vec![ManifestImage::raw(
                &source,
                "rootfs.img",
                self.path(spec.device).to_str().unwrap(),
            )],
        });
        if let Some(who) = spec.signer {
            writer = writer.with_signer(
                Signer::from_pem_files(self.path(&format!("{who}.pem")), self.path(&format!("{who}.key")))
                    .unwrap(),
            );
        }
        let path = self.path(&format!("{name}.swu"));
        writer.write(std::fs::File::create(&path).unwrap()).unwrap();
        path
    }

    /// The refusal left slot A and the bootloader alone and says why.
    fn assert_refused(&self, out: &Output, why: &str) {
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "expected {why:?} in {stderr}");
        assert_eq!(std::fs::read(self.path("a.img")).unwrap(), ACTIVE);
        let status = self.status();
        assert!(status.contains(", refused: "), "{status}");
        assert!(status.contains(why), "{status}");
        assert!(!status.contains("armed for a trial boot"), "{status}");
        assert_eq!(self.reboot(), Slot::A, "nothing may be armed");
    }
}

#[derive(Default)]
struct Options {
    /// `[bundle] software_set`.
    software_set: Option<&'static str>,
    /// `[bundle] aes_key_file = <dir>/aes.key`, holding [`AES_KEY`] and [`AES_IV`].
    aes_key: bool,
    /// No `[bundle] ca`: unsigned bundles are accepted (development mode).
    no_ca: bool,
    /// The device's `sw-versions` file (`[device] sw_versions_file`).
    sw_versions: Option<&'static str>,
}

/// `stderr` is exactly `error: <sentence>` and a line end, with no Rust Debug output in it. Hex
/// digests (64 digits) read as `<sha256>`, cpio checksums as `<crc>`.
fn assert_error_sentence(out: &Output, sentence: &str) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_no_debug(&stderr);
    let mut shaped = String::new();
    let mut rest = stderr.as_ref();
    while let Some(c) = rest.chars().next() {
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if rest.starts_with("0x") && rest[2..].bytes().take_while(u8::is_ascii_hexdigit).count() == 8 {
            shaped.push_str("<crc>");
            rest = &rest[10..];
        } else if hex == 64 {
            shaped.push_str("<sha256>");
            rest = &rest[64..];
        } else {
            shaped.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    assert_eq!(shaped, format!("error: {sentence}\n"));
}

/// No Rust Debug shapes (`Armed { slot: B }`, `Custom { kind: .. }`, `BlockContentReadError(..)`).
fn assert_no_debug(text: &str) {
    for shape in ["{ ", " }", "(Custom", "Error(", "Some(", "\\\""] {
        assert!(!text.contains(shape), "Debug output ({shape:?}) in: {text}");
    }
}

struct Spec {
    version: &'static str,
    hardware: &'static str,
    signer: Option<&'static str>,
    device: &'static str,
    image: Vec<u8>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            version: "1.1.0",
            hardware: "1.0",
            signer: Some("trusted"),
            device: "b.img",
            image: (0..10_000u32).map(|i| (i % 251) as u8).collect(),
        }
    }
}

#[test]
fn good_bundle_installs_into_the_inactive_slot_and_commits_after_a_trial_boot() {
    let Some(dev) = Device::new() else { return };
    let spec = Spec::default();
    let bundle = dev.bundle("good", &spec);

    let out = dev.install(&bundle, &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("reboot to try slot B"));
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), spec.image);
    assert_eq!(std::fs::read(dev.path("a.img")).unwrap(), ACTIVE);
    let status = dev.status();
    assert!(status.contains("running:     slot A,"), "{status}");
    assert!(
        status.contains("in flight:   version 1.1.0 is installed in slot B and armed for a trial boot"),
        "{status}"
    );
    assert!(
        status.contains("slot B:      inactive, updates go here, version 1.1.0"),
        "{status}"
    );

    // Nothing to commit before the trial boot.
    assert!(!dev.updraft(&["commit"]).status.success());

    assert_eq!(dev.reboot(), Slot::B);
    let status = dev.status();
    assert!(
        status.contains("running:     slot B on a trial boot (not committed yet)"),
        "{status}"
    );
    let out = dev.updraft(&["commit"]);
    assert!(out.status.success());
    let status = dev.status();
    assert!(
        status.contains("slot B:      booted and committed, version 1.1.0"),
        "{status}"
    );
    assert!(
        status.contains(
            "last trial:  version 1.1.0 in slot B booted, passed its health check and was committed"
        ),
        "{status}"
    );
    assert_eq!(dev.reboot(), Slot::B, "B is the default now");
}

#[test]
fn rollback_during_a_trial_returns_to_the_committed_slot() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle("good", &Spec::default());
    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.updraft(&["rollback"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rolled back the update as asked; slot A stays the default\nnext: reboot to go back to slot A\n"
    );
    assert_no_debug(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(dev.reboot(), Slot::A);
    assert!(dev.status().contains("in slot B was rolled back"));

    // Nothing left to commit: the refusal is a sentence too.
    let out = dev.updraft(&["commit"]);
    assert_error_sentence(&out, "nothing to commit: slot A is not booted on trial");
}

#[test]
fn an_install_refused_for_the_update_in_flight_says_what_to_do() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle("good", &Spec::default());
    assert!(dev.install(&bundle, &[]).status.success());
    let out = dev.install(&bundle, &["--force"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("version 1.1.0 is installed in slot B and armed for a trial boot; reboot to try it"),
        "{stderr}"
    );
    assert!(!stderr.contains("Armed {"), "no Debug output: {stderr}");
    assert_eq!(dev.reboot(), Slot::B);
    let out = dev.install(&bundle, &["--force"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("slot B runs an uncommitted trial boot; run `updraft commit` to keep it"),
        "{stderr}"
    );
}

#[test]
fn unsigned_bundle_is_refused() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle(
        "unsigned",
        &Spec {
            signer: None,
            ..Spec::default()
        },
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "not sw-description.sig");
}

#[test]
fn bundle_from_an_untrusted_signer_is_refused() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle(
        "rogue",
        &Spec {
            signer: Some("rogue"),
            ..Spec::default()
        },
    );
    let out = dev.install(&bundle, &[]);
    assert_error_sentence(
        &out,
        &format!(
            "bundle refused: its signer is not trusted by the trust store {} ([bundle] ca): \
             certificate verify error: self-signed certificate; sign the bundle with a certificate \
             issued by a CA in that file, or add the signer's CA certificate to it",
            dev.path("trusted.pem").display()
        ),
    );
    dev.assert_refused(&out, "not trusted by the trust store");
}

#[test]
fn tampered_image_is_refused_by_its_sha256_and_not_armed() {
    let Some(dev) = Device::new() else { return };
    let spec = Spec::default();
    let bundle = dev.bundle("tampered", &spec);
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(spec.image.len())
        .position(|w| w == spec.image.as_slice())
        .unwrap();
    // +1 and -1 keep the cpio `crc` byte sum, so only the sha256 can catch it.
    bytes[at + 100] = bytes[at + 100].wrapping_add(1);
    bytes[at + 200] = bytes[at + 200].wrapping_sub(1);
    std::fs::write(&bundle, bytes).unwrap();
    let out = dev.install(&bundle, &[]);
    assert_error_sentence(
        &out,
        "install into slot B failed, slot A untouched: image \"rootfs.img\" is damaged: its sha256 \
         is <sha256>, but sw-description says <sha256>; the bundle was changed after it was built or \
         broke in transit: build or download it again",
    );
    dev.assert_refused(&out, "is damaged: its sha256 is");
    assert!(
        dev.status()
            .contains("was rolled back: the install was interrupted")
    );
}

#[test]
fn bundle_for_other_hardware_is_refused() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle(
        "hw",
        &Spec {
            hardware: "2.0",
            ..Spec::default()
        },
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "hardware revision");
}

#[test]
fn image_for_the_active_slot_is_refused() {
    let Some(dev) = Device::new() else { return };
    let bundle = dev.bundle(
        "active",
        &Spec {
            device: "a.img",
            ..Spec::default()
        },
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "active slot A");
}

#[test]
fn older_version_is_refused_unless_forced() {
    let Some(dev) = Device::new() else { return };
    let spec = Spec {
        version: "0.9.0",
        ..Spec::default()
    };
    let bundle = dev.bundle("old", &spec);
    let out = dev.install(&bundle, &[]);
    assert_error_sentence(
        &out,
        "bundle version 0.9.0 is not newer than the running version 1.0.0; install a newer bundle, \
         or pass --force to install this one anyway",
    );
    dev.assert_refused(&out, "not newer than the running version");

    let out = dev.install(&bundle, &["--force"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), spec.image);
    assert!(dev.status().contains("armed for a trial boot"));
}

#[test]
fn software_set_selects_copy2_for_slot_b() {
    let Some(dev) = Device::with_config(&Options {
        software_set: Some("stable"),
        ..Options::default()
    }) else {
        return;
    };
    let spec = Spec::default();
    // BundleWriter writes no selections: take its sha256 line and build the SWUpdate-style
    // `stable.copy1`/`stable.copy2` description by hand.
    let source = dev.path("plain.rootfs");
    std::fs::write(&source, &spec.image).unwrap();
    let described = BundleWriter::new(Manifest {
        version: "1.1.0".into(),
        images: vec![ManifestImage::raw(&source, "rootfs.img", "/x")],
        ..Manifest::default()
    })
    .sw_description()
    .unwrap();
    let sha = described
        .split("sha256 = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let entry = |slot: &str| {
        format!(
            "{{ images: ( {{ filename = \"rootfs.img\"; type = \"raw\"; sha256 = \"{sha}\"; device = {:?}; }} ); }}",
            dev.path(slot).display().to_string()
        )
    };
    let description = format!(
        "software = {{ version = \"1.1.0\"; hardware-compatibility = [ \"1.0\" ]; \
         stable = {{ copy1 = {}; copy2 = {}; }}; }};\n",
        entry("a.img"),
        entry("b.img")
    );
    let signer = Signer::from_pem_files(dev.path("trusted.pem"), dev.path("trusted.key")).unwrap();
    let mut w = CpioWriter::new(Vec::new());
    w.append_bytes("sw-description", description.as_bytes()).unwrap();
    w.append_bytes(
        "sw-description.sig",
        &signer.sign(description.as_bytes()).unwrap(),
    )
    .unwrap();
    w.append_bytes("rootfs.img", &spec.image).unwrap();
    let bundle = dev.path("sets.swu");
    std::fs::write(&bundle, w.finish().unwrap()).unwrap();

    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), spec.image);
    assert_eq!(std::fs::read(dev.path("a.img")).unwrap(), ACTIVE);
}

#[test]
fn rawfile_lands_under_the_target_slots_files_root() {
    let Some(dev) = Device::new() else { return };
    let config = dev.path("app.conf.src");
    std::fs::write(&config, b"setting = 2\n").unwrap();
    let rootfs = Spec::default();
    let source = dev.path("rootfs.src");
    std::fs::write(&source, &rootfs.image).unwrap();
    let bundle = dev.path("files.swu");
    BundleWriter::new(Manifest {
        version: "1.1.0".into(),
        description: None,
        hardware_compatibility: vec!["1.0".into()],
        images: vec![
            ManifestImage::raw(&source, "rootfs.img", dev.path("b.img").to_str().unwrap()),
            ManifestImage {
                kind: ArtifactKind::File,
                handler: "rawfile".into(),
                device: None,
                path: Some("/etc/app.conf".into()),
                ..ManifestImage::raw(&config, "app.conf", "")
            },
        ],
    })
    .with_signer(Signer::from_pem_files(dev.path("trusted.pem"), dev.path("trusted.key")).unwrap())
    .write(std::fs::File::create(&bundle).unwrap())
    .unwrap();
    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(
        std::fs::read(dev.path("b-files/etc/app.conf")).unwrap(),
        b"setting = 2\n"
    );
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), rootfs.image);
}

#[test]
fn config_path_comes_from_updraft_config_too() {
    let Some(dev) = Device::new() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .arg("status")
        .env("UPDRAFT_CONFIG", &dev.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("running:     slot A,"));
}

/// Builds the stored form of `plain` with the CLI tools a build pipeline uses, and a bundle of it.
fn encoded_bundle(dev: &Device, name: &str, plain: &[u8], steps: &[&str], image: ManifestImage) -> PathBuf {
    let mut stored = dev.path(&format!("{name}.img"));
    std::fs::write(&stored, plain).unwrap();
    for step in steps {
        let next = dev.path(&format!("{name}.{step}"));
        let mut cmd = match *step {
            "gz" => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("gzip -9 -c {} > {}", stored.display(), next.display()));
                c
            }
            "zst" => {
                let mut c = Command::new("zstd");
                c.args(["-q", "-19", "-f", "-o"]).arg(&next).arg(&stored);
                c
            }
            "enc" => {
                let mut c = Command::new("openssl");
                c.args(["enc", "-aes-256-cbc", "-K", AES_KEY, "-iv", AES_IV, "-in"])
                    .arg(&stored)
                    .arg("-out")
                    .arg(&next);
                c
            }
            other => panic!("unknown step {other}"),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stored = next;
    }
    let bundle = dev.path(&format!("{name}.swu"));
    BundleWriter::new(Manifest {
        version: "1.1.0".into(),
        description: None,
        hardware_compatibility: vec!["1.0".into()],
        images: vec![ManifestImage {
            source: stored,
            ..image
        }],
    })
    .with_signer(Signer::from_pem_files(dev.path("trusted.pem"), dev.path("trusted.key")).unwrap())
    .write(std::fs::File::create(&bundle).unwrap())
    .unwrap();
    bundle
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{tool}` is required under CI=true"
        );
        eprintln!("skipping: `{tool}` not found");
    }
    ok
}

#[test]
fn compressed_images_are_inflated_into_the_slot() {
    if !have("gzip") || !have("zstd") {
        return;
    }
    for (compression, step) in [(Compression::Zlib, "gz"), (Compression::Zstd, "zst")] {
        let Some(dev) = Device::new() else { return };
        let plain: Vec<u8> = (0..2_000_000u32).map(|i| (i / 7 % 251) as u8).collect();
        let image = ManifestImage {
            compressed: Some(compression),
            ..ManifestImage::raw(
                dev.path("unused"),
                "rootfs.img",
                dev.path("b.img").to_str().unwrap(),
            )
        };
        let bundle = encoded_bundle(&dev, "packed", &plain, &[step], image);
        assert!(std::fs::metadata(&bundle).unwrap().len() < plain.len() as u64 / 4);
        assert!(dev.install(&bundle, &[]).status.success(), "{compression:?}");
        assert_eq!(
            std::fs::read(dev.path("b.img")).unwrap(),
            plain,
            "{compression:?}"
        );
    }
}

#[test]
fn encrypted_images_are_decrypted_with_the_key_file_and_the_images_iv() {
    if !have("gzip") {
        return;
    }
    let Some(dev) = Device::with_config(&Options {
        aes_key: true,
        ..Options::default()
    }) else {
        return;
    };
    let plain: Vec<u8> = (0..500_000u32).map(|i| (i % 241) as u8).collect();
    // Compressed, then encrypted, as SWUpdate's documentation builds them; the IV is the image's.
    let image = ManifestImage {
        compressed: Some(Compression::Zlib),
        encrypted: true,
        ivt: Some(AES_IV.into()),
        ..ManifestImage::raw(
            dev.path("unused"),
            "rootfs.img",
            dev.path("b.img").to_str().unwrap(),
        )
    };
    let bundle = encoded_bundle(&dev, "secret", &plain, &["gz", "enc"], image);
    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), plain);
}

/// The other direction of the Debian `swupdate` test in `bundle_cli.rs`: a bundle built only with the
/// commands of SWUpdate's `encrypted_images.rst` and `signed_images.rst` (`openssl enc
/// -aes-256-cbc`, a hand-written sw-description with `encrypted = true;`, an upper-case `ivt` and
/// the sha256 of the encrypted file, `openssl cms -sign`, `cpio -o -H crc`) installs with the
/// device's `KEY IV` key file, the same file `swupdate -K` reads.
#[test]
fn encrypted_bundle_built_as_swupdate_documents_installs() {
    const IMAGE_IVT: &str = "65D793B87B6724BB27954C7664F15FF3";
    if !have("cpio") {
        return;
    }
    let Some(dev) = Device::with_config(&Options {
        aes_key: true,
        ..Options::default()
    }) else {
        return;
    };
    let plain: Vec<u8> = (0..300_001u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let work = dev.path("swu");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("rootfs.img"), &plain).unwrap();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-ec", script])
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let sha256 = sh(&format!(
        "openssl enc -aes-256-cbc -in rootfs.img -out rootfs.img.enc -K {AES_KEY} -iv {IMAGE_IVT}
         openssl dgst -sha256 -r rootfs.img.enc | cut -d' ' -f1"
    ));
    let description = format!(
        "software =\n{{\n\tversion = \"1.1.0\";\n\thardware-compatibility: [ \"1.0\" ];\n\timages: (\n\
         \t\t{{\n\t\t\tfilename = \"rootfs.img.enc\";\n\t\t\ttype = \"raw\";\n\t\t\tdevice = \"{}\";\n\
         \t\t\tencrypted = true;\n\t\t\tivt = \"{IMAGE_IVT}\";\n\t\t\tsha256 = \"{}\";\n\t\t}}\n\t);\n}}\n",
        dev.path("b.img").display(),
        sha256.trim()
    );
    std::fs::write(work.join("sw-description"), description).unwrap();
    sh("openssl cms -sign -in sw-description -out sw-description.sig -signer ../trusted.pem \
        -inkey ../trusted.key -outform DER -nosmimecap -binary
        printf 'sw-description\\nsw-description.sig\\nrootfs.img.enc\\n' | cpio -o -H crc --quiet > update.swu");
    assert!(dev.install(&work.join("update.swu"), &[]).status.success());
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), plain);
}

#[test]
fn an_encrypted_image_without_the_right_key_is_refused_and_not_armed() {
    let Some(dev) = Device::new() else { return };
    let plain = vec![42u8; 100_000];
    let image = ManifestImage {
        encrypted: true,
        ..ManifestImage::raw(
            dev.path("unused"),
            "rootfs.img",
            dev.path("b.img").to_str().unwrap(),
        )
    };
    let bundle = encoded_bundle(&dev, "nokey", &plain, &["enc"], image);
    // No key file configured: refused before anything is written.
    dev.assert_refused(&dev.install(&bundle, &[]), "aes_key_file");

    // A wrong key: the decryption fails, the half-written slot is never armed.
    let Some(dev) = Device::with_config(&Options {
        aes_key: true,
        ..Options::default()
    }) else {
        return;
    };
    std::fs::write(dev.path("aes.key"), format!("{} {AES_IV}\n", "00".repeat(32))).unwrap();
    let image = ManifestImage {
        encrypted: true,
        ..ManifestImage::raw(
            dev.path("unused"),
            "rootfs.img",
            dev.path("b.img").to_str().unwrap(),
        )
    };
    let bundle = encoded_bundle(&dev, "wrongkey", &plain, &["enc"], image);
    dev.assert_refused(&dev.install(&bundle, &[]), "decryption failed");
}

fn script(dev: &Device, name: &str, handler: &str, body: &str) -> ManifestImage {
    std::fs::write(dev.path(name), body).unwrap();
    ManifestImage {
        kind: ArtifactKind::Script,
        handler: handler.into(),
        device: None,
        ..ManifestImage::raw(dev.path(name), name, "")
    }
}

fn bundle_with(dev: &Device, name: &str, images: Vec<ManifestImage>, signed: bool) -> PathBuf {
    let mut writer = BundleWriter::new(Manifest {
        version: "1.1.0".into(),
        description: None,
        hardware_compatibility: vec!["1.0".into()],
        images,
    });
    if signed {
        writer = writer
            .with_signer(Signer::from_pem_files(dev.path("trusted.pem"), dev.path("trusted.key")).unwrap());
    }
    let bundle = dev.path(&format!("{name}.swu"));
    writer.write(std::fs::File::create(&bundle).unwrap()).unwrap();
    bundle
}

#[test]
fn signed_scripts_run_before_and_after_the_images() {
    let Some(dev) = Device::new() else { return };
    let image: Vec<u8> = (0..50_000u32).map(|i| (i % 199) as u8).collect();
    std::fs::write(dev.path("new.rootfs"), &image).unwrap();
    let log = dev.path("script.log");
    let b = dev.path("b.img");
    let bundle = bundle_with(
        &dev,
        "scripted",
        vec![
            script(
                &dev,
                "pre.sh",
                "preinstall",
                &format!("echo \"pre $UPDRAFT_TARGET_SLOT\" >> {}\n", log.display()),
            ),
            script(
                &dev,
                "both.sh",
                "shellscript",
                &format!("echo \"both $1\" >> {}\n", log.display()),
            ),
            ManifestImage::raw(dev.path("new.rootfs"), "rootfs.img", b.to_str().unwrap()),
            script(
                &dev,
                "post.sh",
                "postinstall",
                // After the images: the new image is already in slot B.
                &format!(
                    "cmp -s {} {} && echo post-sees-image >> {}\n",
                    dev.path("new.rootfs").display(),
                    b.display(),
                    log.display()
                ),
            ),
        ],
        true,
    );
    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "pre B\nboth preinst\nboth postinst\npost-sees-image\n"
    );
    assert_eq!(std::fs::read(&b).unwrap(), image);
}

#[test]
fn scripts_are_refused_without_a_trusted_signer_and_a_failing_one_arms_nothing() {
    // Development mode (no [bundle] ca) accepts unsigned bundles, but never runs their scripts.
    let Some(dev) = Device::with_config(&Options {
        no_ca: true,
        ..Options::default()
    }) else {
        return;
    };
    let marker = dev.path("ran");
    let bundle = bundle_with(
        &dev,
        "unsigned",
        vec![script(
            &dev,
            "pre.sh",
            "preinstall",
            &format!("touch {}\n", marker.display()),
        )],
        false,
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "scripts run only from signed bundles");
    assert!(!marker.exists(), "the script ran");

    let Some(dev) = Device::new() else { return };
    std::fs::write(dev.path("new.rootfs"), b"new system").unwrap();
    let bundle = bundle_with(
        &dev,
        "failing",
        vec![
            script(
                &dev,
                "check.sh",
                "preinstall",
                "echo 'battery too low' >&2; exit 3\n",
            ),
            ManifestImage::raw(
                dev.path("new.rootfs"),
                "rootfs.img",
                dev.path("b.img").to_str().unwrap(),
            ),
        ],
        true,
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "battery too low");

    // A before-install script after the images cannot run in time: refused, nothing armed.
    let bundle = bundle_with(
        &dev,
        "late",
        vec![
            ManifestImage::raw(
                dev.path("new.rootfs"),
                "rootfs.img",
                dev.path("b.img").to_str().unwrap(),
            ),
            script(&dev, "late.sh", "preinstall", "true\n"),
        ],
        true,
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "must come before the images");
}

/// A tar stream holding `entries` (name, content); names are written as given, `..` included.
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn archives_unpack_under_their_path_in_the_target_slot() {
    let Some(dev) = Device::new() else { return };
    let tarball = tar_of(&[
        ("bin/app", b"#!/bin/sh\necho v2\n"),
        ("share/app.conf", b"level = 2\n"),
    ]);
    std::fs::write(dev.path("app.tar"), &tarball).unwrap();
    std::fs::write(dev.path("new.rootfs"), b"new rootfs").unwrap();
    let bundle = bundle_with(
        &dev,
        "withapp",
        vec![
            ManifestImage::raw(
                dev.path("new.rootfs"),
                "rootfs.img",
                dev.path("b.img").to_str().unwrap(),
            ),
            ManifestImage {
                kind: ArtifactKind::File,
                handler: "archive".into(),
                device: None,
                path: Some("/opt/app".into()),
                ..ManifestImage::raw(dev.path("app.tar"), "app.tar", "")
            },
        ],
        true,
    );
    assert!(dev.install(&bundle, &[]).status.success());
    assert_eq!(
        std::fs::read(dev.path("b-files/opt/app/bin/app")).unwrap(),
        b"#!/bin/sh\necho v2\n"
    );
    assert_eq!(
        std::fs::read(dev.path("b-files/opt/app/share/app.conf")).unwrap(),
        b"level = 2\n"
    );
}

#[test]
fn an_archive_entry_leaving_its_directory_fails_the_install() {
    let Some(dev) = Device::new() else { return };
    std::fs::write(dev.path("evil.tar"), tar_of(&[("../../escaped", b"owned")])).unwrap();
    let bundle = bundle_with(
        &dev,
        "evil",
        vec![ManifestImage {
            kind: ArtifactKind::File,
            handler: "archive".into(),
            device: None,
            path: Some("/opt/app".into()),
            ..ManifestImage::raw(dev.path("evil.tar"), "evil.tar", "")
        }],
        true,
    );
    dev.assert_refused(&dev.install(&bundle, &[]), "outside");
    assert!(!dev.path("b-files/escaped").exists() && !dev.path("escaped").exists());
}

#[test]
fn a_damaged_compressed_image_is_reported_once_in_plain_words() {
    if !have("zstd") {
        return;
    }
    let Some(dev) = Device::new() else { return };
    let plain: Vec<u8> = (0..2_000_000u32).map(|i| (i / 7 % 251) as u8).collect();
    let image = ManifestImage {
        compressed: Some(Compression::Zstd),
        ..ManifestImage::raw(
            dev.path("unused"),
            "rootfs.img",
            dev.path("b.img").to_str().unwrap(),
        )
    };
    let bundle = encoded_bundle(&dev, "packed", &plain, &["zst"], image);
    // One byte near the end of the compressed image: the cpio checksum fails where the zstd decoder
    // reads its last block (it used to show as `BlockContentReadError(Custom { .. })`, three deep).
    let stored = std::fs::read(dev.path("packed.zst")).unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(stored.len())
        .position(|w| w == stored.as_slice())
        .unwrap();
    bytes[at + stored.len() - 20] ^= 0x40;
    std::fs::write(&bundle, bytes).unwrap();
    let out = dev.install(&bundle, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.matches("rootfs.img").count(), 1, "said once: {stderr}");
    assert_error_sentence(
        &out,
        "install into slot B failed, slot A untouched: image \"rootfs.img\" is damaged: its cpio \
         checksum is <crc>, but the archive header says <crc>; the bundle was changed after it was \
         built or broke in transit: build or download it again",
    );
    dev.assert_refused(&out, "is damaged");
}

/// A bundle of two raw images in slot B's files (`boot.img`, `rootfs.img`) with SWUpdate's
/// per-image `name`, `version` and skip flags.
fn versioned_bundle(dev: &Device, name: &str, images: &[(&str, &str, bool, bool)]) -> PathBuf {
    std::fs::create_dir_all(dev.path("b-files")).unwrap();
    let images = images
        .iter()
        .map(|&(image, version, if_different, if_higher)| {
            std::fs::write(dev.path(image), format!("{image} {version}")).unwrap();
            ManifestImage {
                handler: "rawfile".into(),
                device: None,
                path: Some(format!("/{image}")),
                name: Some(image.trim_end_matches(".img").into()),
                version: Some(version.into()),
                install_if_different: if_different,
                install_if_higher: if_higher,
                ..ManifestImage::raw(dev.path(image), image, "")
            }
        })
        .collect();
    bundle_with(dev, name, images, true)
}

#[test]
fn install_if_different_and_install_if_higher_skip_what_sw_versions_has() {
    let Some(dev) = Device::with_config(&Options {
        sw_versions: Some("# name version\nboot 2.0\nrootfs 1.0.0\n"),
        ..Options::default()
    }) else {
        return;
    };
    let written = |image: &str| std::fs::read_to_string(dev.path("b-files").join(image)).ok();

    // boot 2.0 is installed: skipped when different is asked and when higher is asked; rootfs
    // 1.1.0 is higher than the installed 1.0.0.
    let bundle = versioned_bundle(
        &dev,
        "skip",
        &[
            ("boot.img", "2.0", true, false),
            ("rootfs.img", "1.1.0", false, true),
        ],
    );
    let out = dev.install(&bundle, &[]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("(1 image(s), 1 already installed and skipped) into slot B"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(written("boot.img"), None, "boot 2.0 is installed already");
    assert_eq!(written("rootfs.img").as_deref(), Some("rootfs.img 1.1.0"));
    assert!(dev.updraft(&["rollback"]).status.success());
    assert_eq!(dev.reboot(), Slot::A);

    // A different boot version installs; an equal or lower rootfs does not, by version order
    // (1.0.0 is not higher than 1.0.0, 0.9 is lower): SWUpdate's rules.
    std::fs::remove_dir_all(dev.path("b-files")).unwrap();
    let bundle = versioned_bundle(
        &dev,
        "mixed",
        &[
            ("boot.img", "2.1", true, false),
            ("rootfs.img", "1.0.0", false, true),
        ],
    );
    assert!(dev.install(&bundle, &["--force"]).status.success());
    assert_eq!(written("boot.img").as_deref(), Some("boot.img 2.1"));
    assert_eq!(written("rootfs.img"), None);
    assert!(dev.updraft(&["rollback"]).status.success());
    assert_eq!(dev.reboot(), Slot::A);

    // Every image installed already: success, nothing written, nothing armed.
    std::fs::remove_dir_all(dev.path("b-files")).unwrap();
    let bundle = versioned_bundle(
        &dev,
        "nothing",
        &[
            ("boot.img", "2.0", true, true),
            ("rootfs.img", "0.9", false, true),
        ],
    );
    let out = dev.install(&bundle, &["--force"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "nothing to install: every image of version 1.1.0 is installed already (2 skipped by \
         install-if-different or install-if-higher); slot B was not touched\n"
    );
    assert!(!dev.path("b-files").join("boot.img").exists());
    assert_eq!(dev.reboot(), Slot::A, "nothing was armed");

    // Without the flags (or for a name sw-versions does not list) every image installs.
    let bundle = versioned_bundle(
        &dev,
        "plain",
        &[
            ("boot.img", "2.0", false, false),
            ("kernel.img", "0.1", true, true),
        ],
    );
    assert!(dev.install(&bundle, &["--force"]).status.success());
    assert_eq!(written("boot.img").as_deref(), Some("boot.img 2.0"));
    assert_eq!(written("kernel.img").as_deref(), Some("kernel.img 0.1"));
}

/// Serves `bundle` over plain HTTP the awkward way: `/start` redirects to `/update.swu`, whose
/// first answer is chunked and breaks off mid-chunk after `cut` bytes; a request with `Range`
/// gets the rest (206). Answers the start URL and the request lines it saw.
fn awkward_server(bundle: Vec<u8>, cut: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let mut sock = sock.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8];
            while !head.ends_with(b"\r\n\r\n") && sock.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let first = head.lines().next().unwrap_or_default().to_owned();
            let range = head
                .lines()
                .find_map(|l| l.strip_prefix("range: bytes="))
                .map(|r| r.trim_end_matches('-').parse::<usize>().unwrap());
            log.lock().unwrap().push(format!(
                "{first}{}",
                range.map(|r| format!(" from {r}")).unwrap_or_default()
            ));
            let mut out = Vec::new();
            if first.starts_with("GET /start ") {
                out.extend_from_slice(
                    b"HTTP/1.1 302 Found\r\nlocation: /update.swu\r\ncontent-length: 0\r\n\r\n",
                );
            } else if let Some(from) = range {
                out.extend_from_slice(
                    format!(
                        "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {from}-{}/{}\r\n\
                         content-length: {}\r\n\r\n",
                        bundle.len() - 1,
                        bundle.len(),
                        bundle.len() - from
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&bundle[from..]);
            } else {
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
                let mut sent = 0;
                for part in bundle.chunks(50_000) {
                    out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    let take = part.len().min(cut - sent);
                    out.extend_from_slice(&part[..take]);
                    sent += take;
                    if sent == cut {
                        break;
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
            let _ = sock.write_all(&out);
        }
    });
    (format!("{base}/start"), seen)
}

#[test]
fn a_bundle_over_http_follows_a_redirect_reads_chunks_and_resumes_a_broken_download() {
    let Some(dev) = Device::new() else { return };
    let spec = Spec {
        image: (0..300_000u32).map(|i| (i % 249) as u8).collect(),
        ..Spec::default()
    };
    let bundle = std::fs::read(dev.bundle("good", &spec)).unwrap();
    let (url, seen) = awkward_server(bundle, 120_000);
    let out = dev.updraft(&["install", &url]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(dev.path("b.img")).unwrap(), spec.image);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "GET /start HTTP/1.1",
            "GET /update.swu HTTP/1.1",
            // The resumption asks the URL it was given again, as reqwest did.
            "GET /start HTTP/1.1 from 120000",
            "GET /update.swu HTTP/1.1 from 120000"
        ]
    );
    let status = dev.status();
    assert!(
        status.contains("in flight:   version 1.1.0 is installed in slot B and armed for a trial boot"),
        "{status}"
    );
}
