//! SWUpdate's `rawfile` handler: the artifact becomes the file `path` under the target slot's
//! mounted filesystem, written to a temp file, fsynced and renamed over the old one.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use updraft_swu::bundle::Sha256Check;

/// `path` from sw-description joined under `root`; `..` and the like are refused.
pub fn target(root: &Path, path: &str) -> io::Result<PathBuf> {
    let rel = Path::new(path);
    let mut out = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(p) => out.push(p),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("rawfile path {path:?} must be a plain absolute path"),
                ));
            }
        }
    }
    if out == root {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rawfile path is empty",
        ));
    }
    Ok(out)
}

/// Streams `image` into `dest` through `dest.updraft-tmp`; only an error-free read to EOF (the
/// sha256 is checked there, or by `check` when the caller took it from the reader) renames it
/// into place.
pub fn write(dest: &Path, image: &mut dyn Read, check: Option<Sha256Check>) -> io::Result<u64> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".updraft-tmp");
    let tmp = dest.with_file_name(name);
    let result = (|| {
        let f = File::create(&tmp)?;
        let direct = super::chunked::open_direct(&tmp);
        let n = super::chunked::copy(image, check, &f, direct)?;
        f.sync_all()?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, dest)?;
            File::open(dir)?.sync_all()?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_stay_under_the_root() {
        let root = Path::new("/mnt/b");
        assert_eq!(
            target(root, "/etc/app.conf").unwrap(),
            Path::new("/mnt/b/etc/app.conf")
        );
        assert!(target(root, "/etc/../../x").is_err());
        assert!(target(root, "/").is_err());
    }
}
