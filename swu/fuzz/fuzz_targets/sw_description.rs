#![no_main]
//! Any bytes as sw-description (libconfig or JSON), then a few selections.

use libfuzzer_sys::fuzz_target;
use updraft_swu::sw_description::SwDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = SwDescription::parse(data) {
        let _ = d.select(None, None);
        let _ = d.select(Some("board"), Some("stable,copy1"));
    }
});
