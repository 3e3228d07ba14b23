//! Authentication: devices on the DDI API, users on the Management API.

pub mod device;
pub mod permissions;
pub mod throttle;
pub mod users;

use subtle::ConstantTimeEq;

/// Compares secrets without leaking where they differ through timing.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// 16 random bytes as 32 hex characters, like hawkBit's `SecurityTokenGenerator`.
pub fn random_token() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    hex(&b)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
