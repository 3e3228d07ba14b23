#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the U-Boot and GRUB env codecs.

use proptest::prelude::*;
use updraft_client::slots::grub;
use updraft_client::slots::uboot::{self, EnvVars};

fn uboot_vars() -> impl Strategy<Value = EnvVars> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_.]{0,15}", "[ -~]{0,40}", 0..20)
}

fn grub_vars() -> impl Strategy<Value = grub::GrubVars> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", "[ -~\n]{0,12}", 0..12)
}

proptest! {
    #[test]
    fn uboot_env_round_trips(vars in uboot_vars(), redundant in any::<bool>(), flags in any::<u8>()) {
        let bytes = uboot::encode(&vars, 0x1000, redundant.then_some(flags)).unwrap();
        prop_assert_eq!(bytes.len(), 0x1000);
        let (got_flags, got) = uboot::decode(&bytes, redundant).unwrap();
        prop_assert_eq!(got, vars);
        prop_assert_eq!(got_flags, redundant.then_some(flags));
    }

    #[test]
    fn uboot_env_detects_any_flipped_data_byte(vars in uboot_vars(), at in 4usize..0x1000, bit in 0u8..8) {
        let mut bytes = uboot::encode(&vars, 0x1000, None).unwrap();
        bytes[at] ^= 1 << bit;
        prop_assert!(uboot::decode(&bytes, false).is_err());
    }

    #[test]
    fn grubenv_round_trips(vars in grub_vars()) {
        if let Ok(bytes) = grub::encode(&vars) {
            prop_assert_eq!(bytes.len(), 1024);
            prop_assert_eq!(grub::decode(&bytes).unwrap(), vars);
        }
    }
}

#[test]
fn uboot_env_matches_the_bytes_u_boot_wrote_in_qemu() {
    // rpi-slots.md 2.3: `a6 05 9d 98 | BOOT_A_LEFT=2\0BOOT_B_LEFT=3\0BOOT_ORDER=A B\0\0 00 ...` (0x4000 bytes).
    let vars: EnvVars = [("BOOT_A_LEFT", "2"), ("BOOT_B_LEFT", "3"), ("BOOT_ORDER", "A B")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let bytes = uboot::encode(&vars, 0x4000, None).unwrap();
    assert_eq!(&bytes[..4], &[0xa6, 0x05, 0x9d, 0x98]);
    assert_eq!(&bytes[4..48], b"BOOT_A_LEFT=2\0BOOT_B_LEFT=3\0BOOT_ORDER=A B\0\0");
}

#[test]
fn uboot_env_rejects_what_does_not_fit_or_is_invalid() {
    let big: EnvVars = [("x".to_owned(), "y".repeat(100))].into_iter().collect();
    assert!(uboot::encode(&big, 64, None).is_err());
    let bad: EnvVars = [("a=b".to_owned(), "c".to_owned())].into_iter().collect();
    assert!(uboot::encode(&bad, 64, None).is_err());
}

#[test]
fn redundant_copy_with_flags_0_beats_255_like_u_boot() {
    use std::sync::Arc;
    use updraft_client::slots::RealFs;
    use updraft_client::slots::uboot::{EnvLayout, EnvStore};
    let dir = tempfile::tempdir().unwrap();
    let (e1, e2) = (dir.path().join("e1"), dir.path().join("e2"));
    let one = |v: &str| -> EnvVars { [("v".to_owned(), v.to_owned())].into_iter().collect() };
    std::fs::write(&e1, uboot::encode(&one("old"), 0x400, Some(255)).unwrap()).unwrap();
    std::fs::write(&e2, uboot::encode(&one("new"), 0x400, Some(0)).unwrap()).unwrap();
    let store = EnvStore::new(Arc::new(RealFs), EnvLayout::redundant(&e1, &e2, 0x400));
    assert_eq!(store.load(), one("new"));
    // The next write goes to e1 with flags 1.
    store.save(&one("newer")).unwrap();
    assert_eq!(std::fs::read(&e1).unwrap()[4], 1);
    assert_eq!(store.load(), one("newer"));
    // Equal flags: copy 1 wins.
    std::fs::write(&e2, uboot::encode(&one("second"), 0x400, Some(1)).unwrap()).unwrap();
    assert_eq!(store.load(), one("newer"));
}
