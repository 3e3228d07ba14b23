#![no_main]
//! Any bytes: the cpio reader returns entries or an error, never panics or over-allocates.

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use updraft_swu::cpio::CpioReader;

fuzz_target!(|data: &[u8]| {
    let mut r = CpioReader::new(data);
    while let Ok(Some(mut e)) = r.next_entry() {
        let mut buf = [0u8; 512];
        loop {
            match e.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
});
