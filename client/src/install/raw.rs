//! SWUpdate's `raw` handler: the image is copied byte for byte onto the slot's block device or
//! image file, in place, in 512 KiB writes around the page cache where it can (`chunked`), then
//! fsynced once.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::path::Path;

use updraft_swu::bundle::Sha256Check;

/// Streams `image` onto `device` from offset 0. The caller has made the slot unbootable first; a
/// hash mismatch surfaces as the error of the last read, after which the slot stays unbootable.
/// `check` is the image's sha256 when the caller took it from the reader; it is finished before
/// the fsync.
pub fn write(device: &Path, image: &mut dyn Read, check: Option<Sha256Check>) -> io::Result<u64> {
    let is_file = std::fs::metadata(device).map(|m| m.is_file())?;
    let out = OpenOptions::new().write(true).open(device)?;
    let direct = super::chunked::open_direct(device);
    let written = super::chunked::copy(image, check, &out, direct)?;
    if is_file {
        // A regular-file slot may have held a longer image; what is past the new one is stale.
        out.set_len(written)?;
    }
    // The one fsync: the slot is marked only after it returned (Updater::finish_install).
    out.sync_all()?;
    Ok(written)
}
