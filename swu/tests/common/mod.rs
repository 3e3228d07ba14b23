//! Fixtures shared by the integration tests: real keys and real archives, no mocks.
#![allow(dead_code)]

use std::process::Command;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use updraft_swu::cpio::CpioWriter;

/// A self-signed certificate and key (PEM) with the given CN.
pub fn self_signed(cn: &str) -> (Vec<u8>, Vec<u8>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "SWUpdate").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (
        b.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

/// A `070702` archive of the given entries, in order, written by this crate's writer.
pub fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = CpioWriter::new(Vec::new());
    for (name, data) in entries {
        w.append_bytes(name, data).unwrap();
    }
    w.finish().unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    updraft_swu::sw_description::to_hex(&sha2::Sha256::digest(data))
}

/// Whether a CLI tool exists. Missing tools fail the test under `CI=true`, else skip it.
pub fn have_tool(name: &str) -> bool {
    let ok = Command::new(name).arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{name}` is required under CI=true"
        );
        eprintln!("skipping: `{name}` not found on PATH");
    }
    ok
}

/// Runs a shell command line in `dir`, asserting success; returns stdout.
pub fn sh(dir: &std::path::Path, cmd: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
