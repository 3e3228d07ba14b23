#![no_main]
//! Any bytes as an unsigned .swu: open, then stream every image.

use libfuzzer_sys::fuzz_target;
use updraft_swu::bundle::{BundleReader, ReaderOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut b) = BundleReader::open(data, ReaderOptions::default()) {
        while let Ok(Some(mut img)) = b.next_image() {
            if std::io::copy(&mut img, &mut std::io::sink()).is_err() {
                break;
            }
        }
    }
});
