//! CMS-signed `.swu` bundles, built the way `SWUpdate` documents it (`doc/source/signed_images.rst`):
//! `openssl cms -sign` for a detached DER signature over `sw-description`, then
//! `cpio -o -H crc` with `sw-description` first and `sw-description.sig` second.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Board and revision the device claims with `-H`; bundles list the revision in
/// `hardware-compatibility` (Debian's swupdate refuses bundles without a matching entry).
pub const HW_BOARD: &str = "updraft-board";
pub const HW_REVISION: &str = "1.0";

/// Name of the single image inside the bundles.
const IMAGE_NAME: &str = "payload.img";

/// A self-signed certificate and its key. The device trusts the certificate via `-k`.
pub struct SigningKey {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SigningKey {
    pub fn generate(dir: &Path, name: &str) -> Self {
        let cert = dir.join(format!("{name}.cert.pem"));
        let key = dir.join(format!("{name}.key.pem"));
        // A certificate without extendedKeyUsage passes SWUpdate's default
        // `--cert-purpose emailProtection` check.
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
            .arg("-subj")
            .arg(format!("/O=Updraft compat tests/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        Self { cert, key }
    }
}

/// Builds a signed bundle whose only image is a `raw` image written to `device` (a plain
/// file standing in for the inactive partition). `work_dir` must be empty or absent.
pub fn signed_raw_bundle(work_dir: &Path, signer: &SigningKey, image: &[u8], device: &Path) -> Vec<u8> {
    fs::create_dir_all(work_dir).expect("create bundle work dir");
    fs::write(work_dir.join(IMAGE_NAME), image).expect("write image");
    let image_sha256 = sha256_hex(&work_dir.join(IMAGE_NAME));
    // Every image of a signed bundle needs its sha256; the signature covers sw-description only.
    let sw_description = format!(
        r#"software =
{{
	version = "1.0.0";
	description = "updraft compat test bundle";
	hardware-compatibility: [ "{HW_REVISION}" ];
	images: (
		{{
			filename = "{IMAGE_NAME}";
			type = "raw";
			device = "{device}";
			sha256 = "{image_sha256}";
		}}
	);
}}
"#,
        device = device.display(),
    );
    fs::write(work_dir.join("sw-description"), sw_description).expect("write sw-description");
    run(Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-in",
            "sw-description",
            "-out",
            "sw-description.sig",
            "-signer",
        ])
        .arg(&signer.cert)
        .arg("-inkey")
        .arg(&signer.key)
        .args(["-outform", "DER", "-nosmimecap", "-binary"])
        .current_dir(work_dir));
    cpio_crc(work_dir, &["sw-description", "sw-description.sig", IMAGE_NAME])
}

/// Packs `names` (relative to `dir`, in this order) as a cpio "crc" (070702) archive.
fn cpio_crc(dir: &Path, names: &[&str]) -> Vec<u8> {
    let archive = dir.join("bundle.swu");
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "crc", "--quiet", "-F"])
        .arg(&archive)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cpio");
    {
        let mut stdin = cpio.stdin.take().expect("cpio stdin");
        for name in names {
            writeln!(stdin, "{name}").expect("write file list to cpio");
        }
    }
    let output = cpio.wait_with_output().expect("wait for cpio");
    assert!(
        output.status.success(),
        "cpio failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::read(&archive).expect("read bundle")
}

fn sha256_hex(file: &Path) -> String {
    // `openssl dgst -r` prints "<hex> *<file>".
    let out = run(Command::new("openssl").args(["dgst", "-sha256", "-r"]).arg(file));
    out.split_whitespace()
        .next()
        .expect("openssl dgst output")
        .to_owned()
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
