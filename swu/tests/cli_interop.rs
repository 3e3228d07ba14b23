#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Interoperability with the tools SWUpdate's documentation uses to build bundles:
//! `openssl cms -sign`/`-verify` and `cpio -o -H crc`/`cpio -i`.

mod common;

use std::io::Read;

use common::{have_tool, sh, sha256_hex};
use updraft_swu::bundle::{BundleReader, BundleWriter, Manifest, ManifestImage, ReaderOptions};
use updraft_swu::signature::{Signer, Verifier};
use updraft_swu::sw_description::ArtifactKind;

fn image_bytes() -> Vec<u8> {
    (0..300_001u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn bundle_built_with_openssl_and_cpio_cli_verifies_and_reads() {
    if !have_tool("openssl") || !have_tool("cpio") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rootfs = image_bytes();
    std::fs::write(d.join("rootfs.img"), &rootfs).unwrap();
    std::fs::write(d.join("post.sh"), b"#!/bin/sh\necho done\n").unwrap();
    let description = format!(
        r##"software =
{{
	version = "1.2.3";
	hardware-compatibility: [ "1.0", "#RE:^1\\." ];
	images: (
		{{
			filename = "rootfs.img";
			type = "raw";
			device = "/dev/mmcblk0p3";
			sha256 = "{}";
		}}
	);
	scripts: (
		{{ filename = "post.sh"; type = "shellscript"; sha256 = "{}"; }}
	);
}};
"##,
        sha256_hex(&rootfs),
        sha256_hex(b"#!/bin/sh\necho done\n")
    );
    std::fs::write(d.join("sw-description"), description).unwrap();
    // Exactly the commands of swupdate-notes.md section 2 (rsa:2048 to keep the test quick).
    sh(
        d,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout mycert.key.pem \
         -out mycert.cert.pem -subj '/O=SWUpdate /CN=target' 2>/dev/null",
    );
    sh(
        d,
        "openssl cms -sign -in sw-description -out sw-description.sig -signer mycert.cert.pem \
         -inkey mycert.key.pem -outform DER -nosmimecap -binary",
    );
    sh(
        d,
        "printf 'sw-description\\nsw-description.sig\\nrootfs.img\\npost.sh\\n' \
         | cpio -o -H crc --quiet > update.swu",
    );

    let file = std::fs::File::open(d.join("update.swu")).unwrap();
    let verifier = Verifier::from_pem_file(d.join("mycert.cert.pem"))
        .unwrap()
        .with_required_signer_cn("target");
    let mut bundle = BundleReader::open(
        std::io::BufReader::new(file),
        ReaderOptions {
            verifier: Some(verifier),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(bundle.signer().unwrap().common_names, ["target"]);
    assert_eq!(bundle.description().version.as_deref(), Some("1.2.3"));
    assert_eq!(bundle.selection().hardware_compatibility, ["1.0", "#RE:^1\\."]);
    let mut got = Vec::new();
    while let Some(mut img) = bundle.next_image().unwrap() {
        let mut data = Vec::new();
        img.read_to_end(&mut data).unwrap();
        got.push((img.artifact().filename.clone().unwrap(), data));
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "rootfs.img");
    assert_eq!(got[0].1, rootfs);
    assert_eq!(got[1].0, "post.sh");
}

#[test]
fn bundle_written_by_this_crate_is_accepted_by_cpio_and_openssl_cli() {
    if !have_tool("openssl") || !have_tool("cpio") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = common::self_signed("target");
    std::fs::write(d.join("cert.pem"), &cert).unwrap();
    std::fs::write(d.join("key.pem"), &key).unwrap();
    let rootfs = image_bytes();
    std::fs::write(d.join("rootfs.src"), &rootfs).unwrap();
    std::fs::write(d.join("app.conf.src"), b"x=1\n").unwrap();
    let mut conf = ManifestImage::raw(d.join("app.conf.src"), "app.conf", "");
    conf.kind = ArtifactKind::File;
    conf.handler = "rawfile".into();
    conf.device = None;
    conf.path = Some("/etc/app.conf".into());
    let manifest = Manifest {
        version: "2.0.0".into(),
        description: Some("written by \"updraft\"".into()),
        hardware_compatibility: vec!["1.0".into()],
        images: vec![
            ManifestImage::raw(d.join("rootfs.src"), "rootfs.img", "/dev/mmcblk0p2"),
            conf,
        ],
    };
    let writer = BundleWriter::new(manifest).with_signer(Signer::from_pem(&cert, &key).unwrap());
    let swu = writer.write(Vec::new()).unwrap();
    std::fs::write(d.join("update.swu"), &swu).unwrap();

    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    sh(&out, "cpio -i --quiet < ../update.swu");
    assert_eq!(std::fs::read(out.join("rootfs.img")).unwrap(), rootfs);
    assert_eq!(std::fs::read(out.join("app.conf")).unwrap(), b"x=1\n");
    assert_eq!(
        std::fs::read_to_string(out.join("sw-description")).unwrap(),
        writer.sw_description().unwrap()
    );
    // cpio's own checksum verification of the crc format.
    sh(&out, "cpio -i --only-verify-crc --quiet < ../update.swu");
    sh(
        &out,
        "openssl cms -verify -binary -inform DER -in sw-description.sig \
         -content sw-description -CAfile ../cert.pem -out /dev/null 2>/dev/null",
    );

    // And it reads back here, with the rawfile in `files`.
    let mut bundle = BundleReader::open(
        &swu[..],
        ReaderOptions {
            verifier: Some(Verifier::from_pem(&cert).unwrap()),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(bundle.selection().files[0].path.as_deref(), Some("/etc/app.conf"));
    let mut n = 0;
    while let Some(mut img) = bundle.next_image().unwrap() {
        std::io::copy(&mut img, &mut std::io::sink()).unwrap();
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn ca_issued_signer_verifies_against_the_ca_and_purpose_is_checked() {
    if !have_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh(
        d,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
           -subj '/CN=Updraft CA' -addext basicConstraints=critical,CA:TRUE \
           -addext keyUsage=critical,keyCertSign 2>/dev/null && \
         for who in mail code; do \
           openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr \
             -subj /CN=release-$who 2>/dev/null && \
           eku=emailProtection; [ $who = code ] && eku=codeSigning; \
           printf 'basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=%s\\n' $eku > $who.ext && \
           openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out $who.pem -days 1 -extfile $who.ext 2>/dev/null || exit 1; \
         done",
    );
    let content = b"software = { version = \"1\"; };";
    let verifier = || Verifier::from_pem_file(d.join("ca.pem")).unwrap();

    let sig = Signer::from_pem_files(d.join("mail.pem"), d.join("mail.key"))
        .unwrap()
        .sign(content)
        .unwrap();
    let who = verifier()
        .with_required_signer_cn("release-mail")
        .verify(content, &sig)
        .unwrap();
    assert_eq!(who.common_names, ["release-mail"]);
    assert!(
        verifier()
            .with_required_signer_cn("release-code")
            .verify(content, &sig)
            .is_err()
    );

    // SWUpdate's default purpose is emailProtection: a codeSigning-only cert is refused.
    let sig = Signer::from_pem_files(d.join("code.pem"), d.join("code.key"))
        .unwrap()
        .sign(content)
        .unwrap();
    let err = verifier().verify(content, &sig).unwrap_err();
    assert!(err.to_string().contains("verification failed"), "{err}");
}
