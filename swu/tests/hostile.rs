#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile and broken bundles are refused with clear errors, never a panic.

mod common;

use std::io::Read;

use common::{archive, self_signed, sha256_hex};
use updraft_swu::bundle::{BundleError, BundleReader, ReaderOptions};
use updraft_swu::signature::{SignatureError, Signer, Verifier};

fn description(image: &[u8]) -> String {
    format!(
        "software = {{ version = \"1.0\"; images: ( {{ filename = \"rootfs.img\"; device = \"/dev/sda2\"; sha256 = \"{}\"; }} ); }};",
        sha256_hex(image)
    )
}

fn signed_options(cert: &[u8]) -> ReaderOptions {
    ReaderOptions {
        verifier: Some(Verifier::from_pem(cert).unwrap()),
        ..ReaderOptions::default()
    }
}

/// Opens and reads every image to the end; returns the first error.
/// An error with its whole cause chain, as the `updraft` CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn read_bundle(bytes: &[u8], options: ReaderOptions) -> Result<usize, String> {
    let mut b = BundleReader::open(bytes, options).map_err(|e| chain(&e))?;
    let mut n = 0;
    while let Some(mut img) = b.next_image().map_err(|e| chain(&e))? {
        let mut sink = Vec::new();
        img.read_to_end(&mut sink).map_err(|e| chain(&e))?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn signed_bundle_reads() {
    let (cert, key) = self_signed("target");
    let image = b"image bytes".to_vec();
    let desc = description(&image);
    let sig = Signer::from_pem(&cert, &key)
        .unwrap()
        .sign(desc.as_bytes())
        .unwrap();
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("sw-description.sig", &sig),
        ("rootfs.img", &image),
    ]);
    assert_eq!(read_bundle(&swu, signed_options(&cert)), Ok(1));
    // A device without a trust store reads it too, ignoring the signature like SWUpdate.
    assert_eq!(read_bundle(&swu, ReaderOptions::default()), Ok(1));
}

#[test]
fn unsigned_bundle_is_refused_when_signing_is_required() {
    let (cert, _) = self_signed("target");
    let image = b"img".to_vec();
    let desc = description(&image);
    let swu = archive(&[("sw-description", desc.as_bytes()), ("rootfs.img", &image)]);
    let err = BundleReader::open(&swu[..], signed_options(&cert)).err().unwrap();
    assert!(
        matches!(err, BundleError::MissingSignature(Some(ref n)) if n == "rootfs.img"),
        "{err}"
    );
    // Without a verifier the same bundle is fine.
    assert_eq!(read_bundle(&swu, ReaderOptions::default()), Ok(1));
}

#[test]
fn wrong_signer_is_refused() {
    let (cert, _) = self_signed("target");
    let (other_cert, other_key) = self_signed("target");
    let image = b"img".to_vec();
    let desc = description(&image);
    let sig = Signer::from_pem(&other_cert, &other_key)
        .unwrap()
        .sign(desc.as_bytes())
        .unwrap();
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("sw-description.sig", &sig),
        ("rootfs.img", &image),
    ]);
    let err = BundleReader::open(&swu[..], signed_options(&cert)).err().unwrap();
    assert!(
        matches!(err, BundleError::Signature(SignatureError::Invalid(_))),
        "{err}"
    );
}

#[test]
fn required_signer_cn_is_enforced() {
    let (cert, key) = self_signed("someone-else");
    let desc = description(b"");
    let sig = Signer::from_pem(&cert, &key)
        .unwrap()
        .sign(desc.as_bytes())
        .unwrap();
    let verifier = Verifier::from_pem(&cert)
        .unwrap()
        .with_required_signer_cn("target");
    let err = verifier.verify(desc.as_bytes(), &sig).unwrap_err();
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(
        Verifier::from_pem(&cert)
            .unwrap()
            .verify(desc.as_bytes(), &sig)
            .is_ok()
    );
}

#[test]
fn tampered_sw_description_is_refused() {
    let (cert, key) = self_signed("target");
    let image = b"img".to_vec();
    let desc = description(&image);
    let sig = Signer::from_pem(&cert, &key)
        .unwrap()
        .sign(desc.as_bytes())
        .unwrap();
    let tampered = desc.replace("/dev/sda2", "/dev/sda1");
    // A consistent cpio (valid crc) around a changed sw-description: only the signature can tell.
    let swu = archive(&[
        ("sw-description", tampered.as_bytes()),
        ("sw-description.sig", &sig),
        ("rootfs.img", &image),
    ]);
    let err = read_bundle(&swu, signed_options(&cert)).unwrap_err();
    assert!(err.contains("verification failed"), "{err}");
    // Garbage instead of a signature.
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("sw-description.sig", b"not DER"),
        ("rootfs.img", &image),
    ]);
    let err = read_bundle(&swu, signed_options(&cert)).unwrap_err();
    assert!(err.contains("not a DER CMS"), "{err}");
}

#[test]
fn tampered_image_fails_its_hash_at_the_end() {
    let image = b"the real image".to_vec();
    let desc = description(&image);
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("rootfs.img", b"the evil image"),
    ]);
    let err = read_bundle(&swu, ReaderOptions::default()).unwrap_err();
    assert!(
        err.contains("image \"rootfs.img\" is damaged: its sha256 is"),
        "{err}"
    );
}

/// The sha256 taken over by the caller (to hash on another thread) judges the same bytes as the
/// reader would: the reader then checks only the cpio sum, and the check catches the tampering.
#[test]
fn a_sha256_check_taken_from_the_reader_judges_the_bytes_read() {
    let image = b"the real image".to_vec();
    let desc = description(&image);
    for (stored, ok) in [(&b"the real image"[..], true), (&b"the evil image"[..], false)] {
        let swu = archive(&[("sw-description", desc.as_bytes()), ("rootfs.img", stored)]);
        let mut b = BundleReader::open(&swu[..], ReaderOptions::default()).unwrap();
        let mut img = b.next_image().unwrap().unwrap();
        // The first bytes read before the check was taken are in it already.
        let mut head = [0u8; 4];
        img.read_exact(&mut head).unwrap();
        let mut check = img.take_sha256_check().expect("the image has a sha256");
        assert!(img.take_sha256_check().is_none(), "taken once");
        let mut rest = Vec::new();
        img.read_to_end(&mut rest).unwrap();
        assert_eq!([&head[..], &rest[..]].concat(), stored);
        check.update(&rest);
        match check.finish() {
            Ok(()) => assert!(ok),
            Err(e) => {
                assert!(!ok, "{e}");
                assert!(matches!(e, BundleError::HashMismatch { .. }), "{e}");
            }
        }
    }
}

#[test]
fn signed_bundle_needs_sha256_for_every_image() {
    let (cert, key) = self_signed("target");
    let desc = "software = { version = \"1\"; images: ( { filename = \"a\"; } ); };";
    let sig = Signer::from_pem(&cert, &key)
        .unwrap()
        .sign(desc.as_bytes())
        .unwrap();
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("sw-description.sig", &sig),
        ("a", b"x"),
    ]);
    let err = read_bundle(&swu, signed_options(&cert)).unwrap_err();
    assert!(err.contains("has no sha256"), "{err}");
}

#[test]
fn entry_order_and_membership_are_enforced() {
    let image = b"img".to_vec();
    let desc = description(&image);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            archive(&[("rootfs.img", &image), ("sw-description", desc.as_bytes())]),
            "first entry",
        ),
        (archive(&[]), "empty archive"),
        (
            archive(&[
                ("sw-description", desc.as_bytes()),
                ("rootfs.img", &image),
                ("evil", b"x"),
            ]),
            "not described",
        ),
        (
            archive(&[("sw-description", desc.as_bytes())]),
            "lists images the archive does not hold (rootfs.img)",
        ),
        (
            archive(&[
                ("sw-description", desc.as_bytes()),
                ("rootfs.img", &image),
                ("rootfs.img", &image),
            ]),
            "appears twice",
        ),
        (
            archive(&[(
                "sw-description",
                b"software = { images = ( { filename = 1; } ); };",
            )]),
            "must be a string",
        ),
        (archive(&[("sw-description", b"software = {")]), "missing '}'"),
    ];
    for (swu, what) in cases {
        let err = read_bundle(&swu, ReaderOptions::default()).unwrap_err();
        assert!(err.contains(what), "{what}: {err}");
    }
    let swu = archive(&[
        ("sw-description", desc.as_bytes()),
        ("rootfs.img", &image),
        ("extra", b"x"),
    ]);
    let allow = ReaderOptions {
        allow_undescribed: true,
        ..ReaderOptions::default()
    };
    assert_eq!(read_bundle(&swu, allow), Ok(1));
}

#[test]
fn truncated_bundles_are_refused_at_every_cut() {
    let image = vec![5u8; 2000];
    let desc = description(&image);
    let swu = archive(&[("sw-description", desc.as_bytes()), ("rootfs.img", &image)]);
    // Everything up to the trailer is meaningful; cutting anywhere before must fail.
    let trailer = swu.windows(10).position(|w| w == b"TRAILER!!!").unwrap() - 110;
    for cut in (0..trailer).step_by(7) {
        let err = read_bundle(&swu[..cut], ReaderOptions::default()).unwrap_err();
        assert!(
            err.contains("truncated") || err.contains("empty") || err.contains("sw-description"),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn path_traversal_names_are_refused() {
    let desc = b"software = { version = \"1\"; };";
    let mut swu = archive(&[("sw-description", desc), ("xxxxxxxxxxxxxx", b"x")]);
    let pos = swu.windows(14).position(|w| w == b"xxxxxxxxxxxxxx").unwrap();
    swu[pos..pos + 14].copy_from_slice(b"../../etc/pass");
    let err = read_bundle(&swu, ReaderOptions::default()).unwrap_err();
    assert!(err.contains("refusing entry name \"../../etc/pass\""), "{err}");
}

#[test]
fn ab_selection_picks_the_images_of_the_inactive_slot() {
    let a = b"slot a image".to_vec();
    let desc = format!(
        "software = {{ version = \"1\"; stable = {{ \
           copy1 = {{ images: ( {{ filename = \"rootfs.img\"; device = \"/dev/sda2\"; sha256 = \"{h}\"; }} ); bootenv: ( {{ name = \"part\"; value = \"2\"; }} ); }}; \
           copy2 = {{ images: ( {{ filename = \"rootfs.img\"; device = \"/dev/sda3\"; sha256 = \"{h}\"; }} ); bootenv: ( {{ name = \"part\"; value = \"3\"; }} ); }}; }}; }};",
        h = sha256_hex(&a)
    );
    let swu = archive(&[("sw-description", desc.as_bytes()), ("rootfs.img", &a)]);
    let mut b = BundleReader::open(
        &swu[..],
        ReaderOptions {
            selection: Some("stable,copy2".into()),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    assert_eq!(b.selection().bootenv, [("part".to_owned(), "3".to_owned())]);
    let img = b.next_image().unwrap().unwrap();
    assert_eq!(img.artifact().device.as_deref(), Some("/dev/sda3"));
    drop(img);
    assert!(b.next_image().unwrap().is_none());
    // Top level has nothing to install: no images, nothing handed out.
    let mut b = BundleReader::open(&swu[..], ReaderOptions::default()).unwrap();
    assert!(b.selection().images.is_empty());
    assert!(b.next_image().unwrap().is_none());
}

#[test]
fn incompatible_hardware_is_refused() {
    let desc = b"software = { version = \"1\"; hardware-compatibility = [ \"1.0\", \"#RE:^2\\\\.\" ]; };";
    let swu = archive(&[("sw-description", desc)]);
    let with_rev = |rev: &str| ReaderOptions {
        hardware_revision: Some(rev.into()),
        ..ReaderOptions::default()
    };
    assert_eq!(read_bundle(&swu, with_rev("1.0")), Ok(0));
    assert_eq!(read_bundle(&swu, with_rev("2.5")), Ok(0));
    let err = read_bundle(&swu, with_rev("3.0")).unwrap_err();
    assert!(err.contains("hardware revision \"3.0\" is not in"), "{err}");
}
