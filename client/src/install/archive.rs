//! SWUpdate's `archive` (and `tar`) handler: a tar stream unpacked under `path` in the target
//! slot's mounted filesystem, entry by entry as it arrives.
//!
//! Like the raw handler, it writes into the inactive slot, which stays unbootable until every
//! image's sha256 verified at its end; a tampered archive fails the install and is never armed.
//! Entries that would land outside the directory (`..`, absolute paths, links leading out) are
//! refused by `tar`'s `unpack_in`, and that refusal fails the install.

use std::io::{self, Read};
use std::path::Path;

/// Unpacks the tar stream `image` into `dir`; answers the number of entries.
pub fn unpack(dir: &Path, image: &mut dyn Read) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut archive = tar::Archive::new(image);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let mut count = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.display().to_string();
        if !entry.unpack_in(dir)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("archive entry {name:?} would land outside {}", dir.display()),
            ));
        }
        count += 1;
    }
    // Whatever follows the archive's end marker still goes through the hash.
    io::copy(&mut archive.into_inner(), &mut io::sink())?;
    sync_fs(dir)?;
    Ok(count)
}

/// `syncfs(2)` of the filesystem holding `dir` (through coreutils' `sync -f`): every unpacked
/// file is on disk before the slot is armed.
fn sync_fs(dir: &Path) -> io::Result<()> {
    let status = std::process::Command::new("sync").arg("-f").arg(dir).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("sync -f {} failed", dir.display())))
    }
}
