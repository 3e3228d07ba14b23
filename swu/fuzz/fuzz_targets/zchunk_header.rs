#![no_main]
//! Any bytes: the zchunk header parser (the `.zck` header a delta install trusts once its signed
//! hash matches, and a `.zck` a server may be handed) returns a header or an error, never panics or
//! over-allocates; both entry points agree.

use libfuzzer_sys::fuzz_target;
use updraft_swu::zchunk::{parse_header, read_header};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_header(data);
    let read = read_header(data);
    assert_eq!(parsed.is_ok(), read.is_ok());
    if let (Ok(a), Ok(b)) = (parsed, read) {
        assert_eq!(a, b);
        let _ = a.image_len();
    }
});
