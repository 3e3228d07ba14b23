//! Power-cut safe file operations, and a wrapper that cuts the power after the Nth write.
//!
//! Two kinds of write exist, matching what the bootloaders can tolerate:
//! - [`Storage::replace`]: temp file, fsync, rename, fsync of the directory. After a cut the path holds
//!   either the old or the new content (ext4 renames are atomic; on FAT this is what Rugix does).
//! - [`Storage::write_at`]: in place, then fsync. Only used where a second copy stays valid while this one
//!   is torn (the redundant U-Boot env, written the way libubootenv does).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub trait Storage: Send + Sync {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Atomically replaces the whole file: temp + fsync + rename + fsync(dir).
    fn replace(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Writes `data` at `offset` in place (creating the file if needed), then fsyncs.
    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Removes the file (missing is fine), then fsyncs the directory.
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".updraft-tmp");
    path.with_file_name(name)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

impl RealFs {
    fn write_temp(path: &Path, data: &[u8]) -> io::Result<PathBuf> {
        let tmp = temp_path(path);
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        Ok(tmp)
    }
}

impl Storage for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn replace(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let tmp = Self::write_temp(path, data)?;
        fs::rename(&tmp, path)?;
        sync_dir(path)
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(data)?;
        f.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        sync_dir(path)
    }
}

/// Test double: lets `allowed` writes through, then "cuts the power" on the next one and fails every
/// write after it. The cut write leaves what a real cut could leave: a half-written temp file next to an
/// intact target for [`Storage::replace`], and (when `torn`) the first half of the data for
/// [`Storage::write_at`] (at most 16 bytes, so a torn env copy really differs from the new one).
#[derive(Debug)]
pub struct PowerCut {
    state: Mutex<CutState>,
    torn: bool,
}

#[derive(Debug)]
struct CutState {
    allowed: Option<usize>,
    writes: usize,
    tripped: bool,
}

impl PowerCut {
    /// `allowed = None` never cuts (it only counts writes).
    pub fn new(allowed: Option<usize>, torn: bool) -> Self {
        PowerCut {
            state: Mutex::new(CutState {
                allowed,
                writes: 0,
                tripped: false,
            }),
            torn,
        }
    }

    /// The power has been cut.
    pub fn tripped(&self) -> bool {
        self.state.lock().map_or(true, |s| s.tripped)
    }

    /// Writes that completed.
    pub fn writes(&self) -> usize {
        self.state.lock().map_or(0, |s| s.writes)
    }

    /// `Ok(true)`: go ahead; `Ok(false)`: this is the write the power cut hits.
    fn admit(&self) -> io::Result<bool> {
        let mut s = self.state.lock().map_err(|_| io::Error::other("poisoned"))?;
        if s.tripped {
            return Err(io::Error::other("simulated power cut: device is off"));
        }
        if s.allowed.is_some_and(|a| s.writes >= a) {
            s.tripped = true;
            return Ok(false);
        }
        s.writes += 1;
        Ok(true)
    }
}

fn cut_error() -> io::Error {
    io::Error::other("simulated power cut")
}

impl Storage for PowerCut {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if self.tripped() {
            return Err(cut_error());
        }
        RealFs.read(path)
    }

    fn replace(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if self.admit()? {
            return RealFs.replace(path, data);
        }
        RealFs::write_temp(path, &data[..data.len() / 2])?;
        Err(cut_error())
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.admit()? {
            return RealFs.write_at(path, offset, data);
        }
        if self.torn {
            RealFs.write_at(path, offset, &data[..(data.len() / 2).min(16)])?;
        }
        Err(cut_error())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.admit()? {
            return RealFs.remove(path);
        }
        Err(cut_error())
    }
}
