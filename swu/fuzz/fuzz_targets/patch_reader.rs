#![no_main]
//! Any bytes as a per-source patch (`zstd-window-v1`) applied to a small fixed source: the
//! reader must refuse or decode them without panicking and within its memory bounds.

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use updraft_swu::patch::PatchReader;

fuzz_target!(|data: &[u8]| {
    let source: &[u8] = &[0x5a; 256 * 1024];
    if let Ok(mut reader) = PatchReader::new(data, source, None) {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || total > 64 << 20 {
                break;
            }
            total += n as u64;
        }
    }
});
