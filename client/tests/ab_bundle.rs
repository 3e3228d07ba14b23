#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 15's first "done when": one `updraft bundle create` call makes a compressed, optionally
//! encrypted A/B bundle from the shipped example manifest (`client/dist/bundle.example.toml`), and
//! both `updraft install` with the shipped example config (`client/dist/updraft.example.toml`,
//! `software_set = "stable"`) and Debian's `swupdate -e stable,copy1|copy2` install it into the
//! right slot. The example files are used as shipped, with only their device paths, trust store,
//! key file and bootloader (the simulated one) pointed into a temp dir.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::{HW_BOARD, HW_REVISION, SigningKey, Swupdate, text, tool_available, updraft};
use updraft_client::slots::Slot;
use updraft_client::slots::sim::{Firmware, SimFirmware};

const EXAMPLE_MANIFEST: &str = include_str!("../dist/bundle.example.toml");
const EXAMPLE_CONFIG: &str = include_str!("../dist/updraft.example.toml");
const OLD_A: &[u8] = b"slot A: the running system\n";
const OLD_B: &[u8] = b"slot B: an old system\n";
const AES_KEY: &str = "390ad54490a4a5f53722291023c19e08ffb5c4677a59e958c96ffa6e641df040";
const AES_IV: &str = "d5d601bacfe13100b149177318ebc7a4";

/// `text` with every `from` replaced by `to`; panics when the shipped file no longer has `from`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the example file no longer contains {from:?}"
    );
    text.replace(from, to)
}

/// A work directory holding the example manifest (with this test's slot files), its rootfs, a
/// signer and an AES key file.
struct Ab {
    dir: tempfile::TempDir,
    signer: SigningKey,
    image: Vec<u8>,
}

impl Ab {
    fn new() -> Option<Ab> {
        if !tool_available("openssl", "version") {
            return None;
        }
        // Short path: swupdate binds Unix sockets under its TMPDIR here.
        let dir = tempfile::Builder::new().prefix("uab").tempdir_in("/tmp").unwrap();
        let signer = SigningKey::generate(dir.path(), "updraft-ab-test");
        // Compressible, but not trivially: a log-like text of 1 MiB.
        let mut image = Vec::new();
        let mut i = 0u32;
        while image.len() < 1024 * 1024 {
            image.extend_from_slice(format!("block {i:08} of the root file system {}\n", i % 97).as_bytes());
            i += 1;
        }
        fs::write(dir.path().join("rootfs.ext4"), &image).unwrap();
        fs::write(dir.path().join("aes.key"), format!("{AES_KEY} {AES_IV}\n")).unwrap();
        let ab = Ab { dir, signer, image };
        ab.reset_slots();
        Some(ab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn reset_slots(&self) {
        fs::write(self.path("a.img"), OLD_A).unwrap();
        fs::write(self.path("b.img"), OLD_B).unwrap();
    }

    fn slots(&self) -> (Vec<u8>, Vec<u8>) {
        (
            fs::read(self.path("a.img")).unwrap(),
            fs::read(self.path("b.img")).unwrap(),
        )
    }

    /// One `updraft bundle create` call on the example manifest, compressing with `compress`
    /// and, with `encrypt`, encrypting with the key file.
    fn create(&self, name: &str, compress: &str, encrypt: bool) -> PathBuf {
        let mut manifest = edit(
            EXAMPLE_MANIFEST,
            "/dev/mmcblk0p2",
            &self.path("a.img").display().to_string(),
        );
        manifest = edit(
            &manifest,
            "/dev/mmcblk0p3",
            &self.path("b.img").display().to_string(),
        );
        manifest = edit(
            &manifest,
            "compress = \"zstd\"",
            &format!("compress = \"{compress}\""),
        );
        if encrypt {
            manifest = edit(&manifest, "# encrypt = true", "encrypt = true");
        }
        let manifest_path = self.path(&format!("{name}.toml"));
        fs::write(&manifest_path, manifest).unwrap();
        let output = self.path(&format!("{name}.swu"));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "bundle".as_ref(),
            "create".as_ref(),
            "--manifest".as_ref(),
            manifest_path.as_os_str(),
            "--cert".as_ref(),
            self.signer.cert.as_os_str(),
            "--key".as_ref(),
            self.signer.key.as_os_str(),
            "--output".as_ref(),
            output.as_os_str(),
        ];
        let key = self.path("aes.key");
        if encrypt {
            args.extend(["--aes-key".as_ref(), key.as_os_str()]);
        }
        let out = updraft(&args);
        assert!(out.status.success(), "bundle create failed: {}", text(&out));
        output
    }

    /// The example config on the simulated bootloader, with this test's slots, signer and key.
    fn config(&self) -> PathBuf {
        let p = |name: &str| format!("{:?}", self.path(name).display().to_string());
        let mut config = edit(EXAMPLE_CONFIG, "\"/var/lib/updraft\"", &p("data"));
        config = edit(&config, "backend = \"uboot\"", "backend = \"sim\"");
        config = edit(
            &config,
            "fw_env_config = \"/etc/fw_env.config\"",
            &format!("state_dir = {}", p("sim")),
        );
        config = edit(&config, "\"/dev/mmcblk0p2\"", &p("a.img"));
        config = edit(&config, "\"/dev/mmcblk0p3\"", &p("b.img"));
        config = edit(
            &config,
            "ca = \"/etc/updraft/ca.pem\"",
            &format!("ca = {:?}", self.signer.cert.display().to_string()),
        );
        config = edit(
            &config,
            "# aes_key_file = \"/etc/updraft/aes.key\"",
            &format!("aes_key_file = {}", p("aes.key")),
        );
        config = edit(
            &config,
            "# board = \"myboard\"",
            &format!("board = \"{HW_BOARD}\""),
        );
        config = edit(
            &config,
            "# hardware_revision = \"1.0\"",
            &format!("hardware_revision = \"{HW_REVISION}\""),
        );
        config = edit(
            &config,
            "version_file = \"/etc/updraft/version\"",
            "version = \"1.0.0\"",
        );
        assert!(config.contains("software_set = \"stable\""), "{config}");
        fs::create_dir_all(self.path("sim")).unwrap();
        let path = self.path("updraft.toml");
        fs::write(&path, config).unwrap();
        path
    }

    fn device(config: &Path, args: &[&str]) -> Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft"))
            .args(args)
            .arg("--config")
            .arg(config)
            .env_remove("UPDRAFT_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "updraft {args:?} failed: {}", text(&out));
        out
    }

    fn boot(&self) -> Slot {
        SimFirmware {
            dir: self.path("sim"),
        }
        .boot()
        .unwrap()
    }
}

/// The sw-description of `bundle` (the first cpio entry).
fn sw_description(bundle: &Path) -> String {
    let reader = updraft_swu::bundle::BundleReader::open(
        fs::File::open(bundle).unwrap(),
        updraft_swu::bundle::ReaderOptions::default(),
    )
    .unwrap();
    String::from_utf8(reader.raw_description().to_vec()).unwrap()
}

#[test]
fn example_config_installs_the_example_ab_bundle_into_either_slot() {
    let Some(ab) = Ab::new() else { return };
    for (name, compress, encrypt) in [("zstd", "zstd", false), ("gzip-aes", "gzip", true)] {
        ab.reset_slots();
        let _ = fs::remove_dir_all(ab.path("sim"));
        let _ = fs::remove_dir_all(ab.path("data"));
        let bundle = ab.create(name, compress, encrypt);
        let size = fs::metadata(&bundle).unwrap().len();
        // Stored once, compressed: smaller than the image it carries for two slots.
        assert!(size < ab.image.len() as u64 / 2, "{name}: bundle of {size} bytes");
        let description = sw_description(&bundle);
        for needle in [
            "stable =",
            "copy1 =",
            "copy2 =",
            "name = \"rootpart\"; value = \"3\";",
        ] {
            assert!(
                description.contains(needle),
                "{name}: {needle:?} in\n{description}"
            );
        }
        let compressed = if compress == "zstd" { "zstd" } else { "zlib" };
        assert!(
            description.contains(&format!("compressed = \"{compressed}\";")),
            "{description}"
        );
        assert_eq!(
            description.contains("encrypted = true;"),
            encrypt,
            "{description}"
        );
        assert_eq!(description.contains("ivt = \""), encrypt, "{description}");

        let config = ab.config();
        assert_eq!(ab.boot(), Slot::A);
        let out = Ab::device(&config, &["install", bundle.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("slot B"),
            "{}",
            text(&out)
        );
        let (a, b) = ab.slots();
        assert!(
            a == OLD_A && b == ab.image,
            "{name}: from slot A the bundle goes into slot B"
        );

        assert_eq!(ab.boot(), Slot::B);
        Ab::device(&config, &["commit"]);
        Ab::device(&config, &["install", bundle.to_str().unwrap()]);
        let (a, b) = ab.slots();
        assert!(
            a == ab.image && b == ab.image,
            "{name}: from slot B the bundle goes into slot A"
        );
        assert_eq!(ab.boot(), Slot::A);
    }
}

#[test]
fn debian_swupdate_installs_each_copy_of_the_ab_bundle() {
    let Some(ab) = Ab::new() else { return };
    if !tool_available("swupdate", "-h") {
        return;
    }
    for (name, compress, encrypt) in [
        ("zstd", "zstd", false),
        ("gzip-aes", "gzip", true),
        ("zstd-aes", "zstd", true),
    ] {
        let bundle = ab.create(name, compress, encrypt);
        let key = ab.path("aes.key");
        for (mode, slot) in [("copy1", Slot::A), ("copy2", Slot::B)] {
            ab.reset_slots();
            let (ok, log) = Swupdate::install_retrying_known_flake_with_key(
                &ab.path(&format!("swupdate-{name}-{mode}")),
                &bundle,
                &ab.signer.cert,
                encrypt.then_some(key.as_path()),
                Some(&format!("stable,{mode}")),
            );
            assert!(
                ok,
                "swupdate -e stable,{mode} failed for the {name} bundle\n{log}"
            );
            let (a, b) = ab.slots();
            let expected = match slot {
                Slot::A => (ab.image.as_slice(), OLD_B),
                Slot::B => (OLD_A, ab.image.as_slice()),
            };
            assert!(
                (a.as_slice(), b.as_slice()) == expected,
                "swupdate -e stable,{mode} ({name}) did not write exactly slot {slot}\n{log}"
            );
        }
    }
}

#[test]
fn manifest_mistakes_are_explained() {
    let Some(ab) = Ab::new() else { return };
    let base = edit(
        EXAMPLE_MANIFEST,
        "/dev/mmcblk0p2",
        &ab.path("a.img").display().to_string(),
    );
    let cases: [(&str, &str, &[&str], &str); 6] = [
        ("[slots.a]", "[other]", &[], "unknown field `other`"),
        (
            "software-set = \"stable\"",
            "",
            &[],
            "[slots] is only used with `software-set`",
        ),
        (
            "software-set = \"stable\"",
            "software-set = \"images\"",
            &[],
            "is a sw-description key",
        ),
        (
            "compress = \"zstd\"",
            "compress = \"zstd\"\ncompressed = \"zstd\"",
            &[],
            "use one of them",
        ),
        (
            "compress = \"zstd\"",
            "compress = \"xz\"",
            &[],
            "expected \"zstd\" or \"gzip\"",
        ),
        (
            "# encrypt = true",
            "encrypt = true",
            &[],
            "pass the key file with --aes-key",
        ),
    ];
    for (from, to, extra, expected) in cases {
        let manifest = ab.path("broken.toml");
        fs::write(&manifest, edit(&base, from, to)).unwrap();
        let out = ab.path("broken.swu");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "bundle".as_ref(),
            "create".as_ref(),
            "--unsigned".as_ref(),
            "--manifest".as_ref(),
            manifest.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let result = updraft(&args);
        assert!(!result.status.success(), "{}", text(&result));
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "want {expected:?}: {}", text(&result));
        assert!(!out.exists());
        // No staging directory is left behind.
        let leftovers: Vec<_> = fs::read_dir(ab.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".stage-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // Without a software set a raw image may leave out `device`: `updraft install` writes it to
    // the inactive slot.
    let plain = "version = \"1.0.1\"\nhardware-compatibility = [\"1.0\"]\n\n[[images]]\nfile = \"rootfs.ext4\"\ntype = \"raw\"\n";
    fs::write(ab.path("plain.toml"), plain).unwrap();
    let out = updraft(&[
        "bundle".as_ref(),
        "create".as_ref(),
        "--unsigned".as_ref(),
        "--manifest".as_ref(),
        ab.path("plain.toml").as_os_str(),
        "--output".as_ref(),
        ab.path("plain.swu").as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!sw_description(&ab.path("plain.swu")).contains("device"));
}
