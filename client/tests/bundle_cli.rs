#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `updraft bundle create|inspect`, run as the built binary, and the interoperability
//! promise: a bundle built by `updraft bundle create` installs with the real `SWUpdate`
//! (Debian's `swupdate`, CMS signatures and hardware check on).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{HW_REVISION, SigningKey, Swupdate, run, text, tool_available, updraft};

const SIGNER_CN: &str = "updraft-bundle-test";

/// A work directory with a signer, an image and a manifest writing it to a stand-in slot.
struct Fixture {
    dir: tempfile::TempDir,
    signer: SigningKey,
    image: Vec<u8>,
    slot: PathBuf,
}

impl Fixture {
    /// `None` when openssl is missing (and not on CI).
    fn new() -> Option<Self> {
        if !tool_available("openssl", "version") {
            return None;
        }
        // Short path: swupdate binds Unix sockets (108-byte sun_path) under its TMPDIR here.
        let dir = tempfile::Builder::new()
            .prefix("upd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let signer = SigningKey::generate(dir.path(), SIGNER_CN);
        // Not a multiple of 4 or 512, and a pattern that appears once in the bundle.
        let image: Vec<u8> = (0..70_001u32)
            .map(|i| u8::try_from((i * 7 + i / 251) % 256).unwrap())
            .collect();
        fs::create_dir(dir.path().join("images")).unwrap();
        fs::write(dir.path().join("images/rootfs.img"), &image).unwrap();
        let slot = dir.path().join("slot-b");
        fs::write(&slot, b"the old slot contents").unwrap();
        let manifest = format!(
            r#"version = "2.1.0"
description = "updraft bundle_cli test"
hardware-compatibility = ["{HW_REVISION}"]

[[images]]
file = "images/rootfs.img"
type = "raw"
device = "{}"
"#,
            slot.display()
        );
        fs::write(dir.path().join("bundle.toml"), manifest).unwrap();
        Some(Self {
            dir,
            signer,
            image,
            slot,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `updraft bundle create` with the fixture's manifest and signer.
    fn create(&self, output: &str) -> PathBuf {
        let out = self.path(output);
        let result = updraft(&[
            "bundle".as_ref(),
            "create".as_ref(),
            "--manifest".as_ref(),
            self.path("bundle.toml").as_os_str(),
            "--cert".as_ref(),
            self.signer.cert.as_os_str(),
            "--key".as_ref(),
            self.signer.key.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ]);
        assert!(result.status.success(), "bundle create failed: {}", text(&result));
        out
    }
}

/// `updraft bundle inspect BUNDLE --ca CA`.
fn inspect(bundle: &Path, ca: &Path) -> Output {
    updraft(&[
        "bundle".as_ref(),
        "inspect".as_ref(),
        bundle.as_os_str(),
        "--ca".as_ref(),
        ca.as_os_str(),
    ])
}

/// Flips one byte of the first occurrence of `needle` in `file`.
fn tamper(file: &Path, needle: &[u8]) {
    let mut bytes = fs::read(file).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in bundle");
    bytes[at + needle.len() / 2] ^= 0x01;
    fs::write(file, bytes).unwrap();
}

/// Rewrites the `c_chksum` of the first cpio "crc" entry (`sw-description`) to match its data.
fn reseal_first_entry(file: &Path) {
    let mut bytes = fs::read(file).unwrap();
    let field =
        |at: usize| usize::from_str_radix(std::str::from_utf8(&bytes[at..at + 8]).unwrap(), 16).unwrap();
    assert_eq!(&bytes[..6], b"070702");
    let (size, name_size) = (field(54), field(94));
    let data = (110 + name_size).next_multiple_of(4);
    let sum = bytes[data..data + size]
        .iter()
        .fold(0u32, |s, b| s.wrapping_add(u32::from(*b)));
    bytes[102..110].copy_from_slice(format!("{sum:08x}").as_bytes());
    fs::write(file, bytes).unwrap();
}

#[test]
fn created_bundle_inspects_as_verified() {
    let Some(fx) = Fixture::new() else { return };
    let bundle = fx.create("out.swu");
    let out = inspect(&bundle, &fx.signer.cert);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("version:     2.1.0"), "{report}");
    assert!(stdout.contains("hardware-compatibility: 1.0"), "{report}");
    assert!(stdout.contains(&format!("signer CN: {SIGNER_CN}")), "{report}");
    assert!(
        stdout.contains(&format!(
            "rootfs.img  type=raw  device={}  size={}",
            fx.slot.display(),
            fx.image.len()
        )),
        "{report}"
    );
    assert!(stdout.contains("all 1 image(s) match"), "{report}");
    // No temporary file is left next to the output.
    let leftovers: Vec<_> = fs::read_dir(fx.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn tampered_image_fails_inspect() {
    let Some(fx) = Fixture::new() else { return };
    let bundle = fx.create("out.swu");
    tamper(&bundle, &fx.image[1000..1064]);
    let out = inspect(&bundle, &fx.signer.cert);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed verification"), "{}", text(&out));
}

#[test]
fn tampered_sw_description_fails_inspect() {
    let Some(fx) = Fixture::new() else { return };
    let bundle = fx.create("out.swu");
    tamper(&bundle, b"updraft bundle_cli test");
    // An attacker would fix the cpio checksum too; only the signature can catch that.
    reseal_first_entry(&bundle);
    let out = inspect(&bundle, &fx.signer.cert);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("signature verification against"),
        "{}",
        text(&out)
    );
}

#[test]
fn bundle_signed_by_another_key_fails_inspect() {
    let Some(fx) = Fixture::new() else { return };
    let bundle = fx.create("out.swu");
    let stranger = SigningKey::generate(fx.dir.path(), "stranger");
    let out = inspect(&bundle, &stranger.cert);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn unsigned_bundle_needs_explicit_flag() {
    let Some(fx) = Fixture::new() else { return };
    let manifest = fx.path("bundle.toml");
    let out = fx.path("unsigned.swu");
    let refused = updraft(&[
        "bundle".as_ref(),
        "create".as_ref(),
        "--manifest".as_ref(),
        manifest.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(!out.exists());
    let made = updraft(&[
        "bundle".as_ref(),
        "create".as_ref(),
        "--unsigned".as_ref(),
        "--manifest".as_ref(),
        manifest.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    // A trust store demands the signature.
    let checked = inspect(&out, &fx.signer.cert);
    assert!(!checked.status.success(), "{}", text(&checked));
}

#[test]
fn manifest_errors_name_the_field() {
    let Some(fx) = Fixture::new() else { return };
    let cases = [
        ("type = \"raw\"", "type = \"rwa\"", "images[0]: `type` \"rwa\""),
        ("images/rootfs.img", "images/missing.img", "missing.img"),
        ("hardware-compatibility = [\"1.0\"]", "", "hardware-compatibility"),
        ("device = ", "devise = ", "devise"),
        ("device = ", "name = \"\"\ndevice = ", "`name` is empty"),
    ];
    let original = fs::read_to_string(fx.path("bundle.toml")).unwrap();
    for (from, to, expected) in cases {
        let manifest = fx.path("broken.toml");
        fs::write(&manifest, original.replacen(from, to, 1)).unwrap();
        let out = fx.path("broken.swu");
        let result = updraft(&[
            "bundle".as_ref(),
            "create".as_ref(),
            "--manifest".as_ref(),
            manifest.as_os_str(),
            "--cert".as_ref(),
            fx.signer.cert.as_os_str(),
            "--key".as_ref(),
            fx.signer.key.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ]);
        assert!(!result.status.success(), "{}", text(&result));
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "want {expected:?}: {}", text(&result));
        assert!(!out.exists());
    }
}

/// SWUpdate's per-image `name` and `version` go into sw-description, read back with our reader and
/// `updraft bundle inspect`, and Debian's swupdate installs the bundle.
#[test]
fn image_name_and_version_round_trip() {
    let Some(fx) = Fixture::new() else { return };
    let manifest = fs::read_to_string(fx.path("bundle.toml")).unwrap().replacen(
        "type = \"raw\"\n",
        "type = \"raw\"\nname = \"rootfs\"\nversion = \"2.1.0-rc.1\"\n",
        1,
    );
    fs::write(fx.path("bundle.toml"), manifest).unwrap();
    let bundle = fx.create("named.swu");

    let description = updraft_swu::bundle::BundleReader::open(
        fs::File::open(&bundle).unwrap(),
        updraft_swu::bundle::ReaderOptions {
            verifier: Some(updraft_swu::signature::Verifier::from_pem_file(&fx.signer.cert).unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    let image = &description.selection().images[0];
    assert_eq!(image.name.as_deref(), Some("rootfs"));
    assert_eq!(image.version.as_deref(), Some("2.1.0-rc.1"));
    let raw = String::from_utf8_lossy(description.raw_description()).into_owned();
    assert!(
        raw.contains("name = \"rootfs\";") && raw.contains("version = \"2.1.0-rc.1\";"),
        "{raw}"
    );

    let out = inspect(&bundle, &fx.signer.cert);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("rootfs.img  type=raw  name=rootfs  version=2.1.0-rc.1  device="),
        "{}",
        text(&out)
    );

    if !tool_available("swupdate", "-h") {
        return;
    }
    let (ok, log) = Swupdate::install_retrying_known_flake(&fx.path("swupdate"), &bundle, &fx.signer.cert);
    assert!(ok, "swupdate -i failed\n{log}");
    assert!(fs::read(&fx.slot).unwrap() == fx.image, "{log}");
}

#[test]
fn created_bundle_installs_with_debian_swupdate() {
    let Some(fx) = Fixture::new() else { return };
    if !tool_available("swupdate", "-h") {
        return;
    }
    let bundle = fx.create("out.swu");
    let (ok, log) = Swupdate::install_retrying_known_flake(&fx.path("swupdate"), &bundle, &fx.signer.cert);
    assert!(ok, "swupdate -i failed\n{log}");
    assert!(
        fs::read(&fx.slot).unwrap() == fx.image,
        "the stand-in slot does not hold the image\n{log}"
    );
}

#[test]
fn tampered_bundle_is_refused_by_debian_swupdate() {
    let Some(fx) = Fixture::new() else { return };
    if !tool_available("swupdate", "-h") {
        return;
    }
    let bundle = fx.create("out.swu");
    tamper(&bundle, &fx.image[1000..1064]);
    let (ok, log) = Swupdate::install_retrying_known_flake(&fx.path("swupdate"), &bundle, &fx.signer.cert);
    assert!(!ok, "swupdate installed a tampered bundle\n{log}");
    assert!(log.contains("HASH mismatch"), "refused for another reason\n{log}");
    // SWUpdate checks the copy in its TMPDIR before the raw handler touches the slot.
    assert_eq!(fs::read(&fx.slot).unwrap(), b"the old slot contents");
}

#[test]
fn compressed_bundles_install_with_debian_swupdate() {
    let Some(fx) = Fixture::new() else { return };
    if !tool_available("swupdate", "-h")
        || !tool_available("gzip", "--version")
        || !tool_available("zstd", "--version")
    {
        return;
    }
    for (kind, compress) in [("zlib", "gzip -9 -c"), ("zstd", "zstd -q -19 -c")] {
        fs::write(&fx.slot, b"the old slot contents").unwrap();
        let packed = fx.path(&format!("images/rootfs.{kind}"));
        run(Command::new("sh").arg("-c").arg(format!(
            "{compress} {} > {}",
            fx.path("images/rootfs.img").display(),
            packed.display()
        )));
        let manifest = format!(
            "version = \"2.1.0\"\nhardware-compatibility = [\"{HW_REVISION}\"]\n\n[[images]]\n\
             file = \"images/rootfs.{kind}\"\ntype = \"raw\"\ncompressed = \"{kind}\"\ndevice = \"{}\"\n",
            fx.slot.display()
        );
        fs::write(fx.path("bundle.toml"), manifest).unwrap();
        let bundle = fx.create(&format!("{kind}.swu"));
        let (ok, log) = Swupdate::install_retrying_known_flake(
            &fx.path(&format!("swupdate-{kind}")),
            &bundle,
            &fx.signer.cert,
        );
        assert!(ok, "swupdate -i failed for a {kind} image\n{log}");
        assert!(
            fs::read(&fx.slot).unwrap() == fx.image,
            "swupdate did not inflate the {kind} image into the slot\n{log}"
        );
    }
}

/// The device's AES-256 key and key-file IV, and a per-image IV (`ivt`) that differs from it.
const AES_KEY: &str = "390ad54490a4a5f53722291023c19e08ffb5c4677a59e958c96ffa6e641df040";
const AES_IV: &str = "d5d601bacfe13100b149177318ebc7a4";
const IMAGE_IVT: &str = "65D793B87B6724BB27954C7664F15FF3";

/// SWUpdate's encrypted images (`doc/source/encrypted_images.rst`): the file is encrypted with
/// `openssl enc -aes-256-cbc -K KEY -iv IV` (compressed first if it is compressed), the device
/// gets `KEY IV` on one line via `-K`, and an image's `ivt` overrides the key file's IV. The
/// sha256 in sw-description is over the stored, encrypted bytes (2022.12 `copyfile` hashes in
/// `input_step`, before `decrypt_step`).
#[test]
fn encrypted_bundles_install_with_debian_swupdate() {
    let Some(fx) = Fixture::new() else { return };
    if !tool_available("swupdate", "-h") || !tool_available("gzip", "--version") {
        return;
    }
    let key_file = fx.path("aes.key");
    fs::write(&key_file, format!("{AES_KEY} {AES_IV}\n")).unwrap();
    let plain = fx.path("images/rootfs.img");
    // (name, shell command making the stored file from `plain`, extra manifest lines)
    let cases = [
        (
            "ivt",
            format!("openssl enc -aes-256-cbc -K {AES_KEY} -iv {IMAGE_IVT}"),
            format!("ivt = \"{IMAGE_IVT}\"\n"),
        ),
        (
            "zlib-keyfile-iv",
            format!("gzip -9 -c | openssl enc -aes-256-cbc -K {AES_KEY} -iv {AES_IV}"),
            "compressed = \"zlib\"\n".to_owned(),
        ),
    ];
    for (case, encrypt, extra) in cases {
        fs::write(&fx.slot, b"the old slot contents").unwrap();
        let stored = fx.path(&format!("images/rootfs.{case}.enc"));
        run(Command::new("sh").arg("-c").arg(format!(
            "({encrypt}) < {} > {}",
            plain.display(),
            stored.display()
        )));
        let manifest = format!(
            "version = \"2.1.0\"\nhardware-compatibility = [\"{HW_REVISION}\"]\n\n[[images]]\n\
             file = \"images/rootfs.{case}.enc\"\ntype = \"raw\"\nencrypted = true\n{extra}\
             device = \"{}\"\n",
            fx.slot.display()
        );
        fs::write(fx.path("bundle.toml"), manifest).unwrap();
        let bundle = fx.create(&format!("{case}.swu"));
        let bytes = fs::read(&bundle).unwrap();
        assert!(
            !bytes.windows(64).any(|w| w == &fx.image[1000..1064]),
            "{case}: the bundle holds plaintext"
        );
        let description = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
        assert!(description.contains("encrypted = true;"), "{case}: {description}");

        // Without the key swupdate cannot install it; the slot keeps its contents.
        if case == "ivt" {
            let (ok, log) = Swupdate::install_retrying_known_flake(
                &fx.path(&format!("swupdate-{case}-nokey")),
                &bundle,
                &fx.signer.cert,
            );
            assert!(!ok, "swupdate installed an encrypted image without -K\n{log}");
            assert!(
                log.contains("no key provided for decryption"),
                "refused for another reason\n{log}"
            );
            assert_eq!(fs::read(&fx.slot).unwrap(), b"the old slot contents");
        }

        let (ok, log) = Swupdate::install_retrying_known_flake_with_key(
            &fx.path(&format!("swupdate-{case}")),
            &bundle,
            &fx.signer.cert,
            Some(&key_file),
            None,
        );
        assert!(ok, "swupdate -i -K failed for the {case} image\n{log}");
        assert!(
            fs::read(&fx.slot).unwrap() == fx.image,
            "swupdate did not decrypt the {case} image into the slot\n{log}"
        );
    }
}
