//! Copying an image into its slot as fast as `dd bs=1M`: 512 KiB writes from a few reused
//! buffers passed along a pipeline of threads: this one reads (the kernel's copy and the cpio
//! checksum), a second one runs the image's sha256 when the caller handed it over, a third one
//! writes. The sha256 alone takes most of dd's time, so it must run beside the reads and the
//! writes, not between them.
//!
//! Profiled (BENCHMARKS.md, "Client install"): `io::copy`'s 8 KiB writes (131,080 `write` calls
//! for 1 GiB) and one thread doing read, hash and write in turn made an install 2.6x slower than
//! `dd`; with the reads and the hash on one thread, that thread was busy for the whole install
//! (1.2 s of CPU in 1.29 s, 0.80 s of it sha256) while the writer idled.
//!
//! The writes go around the page cache (`O_DIRECT`) where the slot's file system allows it: the
//! device reads the pipeline's buffer itself, so the kernel's copy into the page cache and its
//! writeback, a third of an HTTP install's CPU on two cores beside the sha256 and the sender
//! (BENCHMARKS.md, "Receiving without the page cache"), are not spent, and a device with little
//! RAM never holds hundreds of MB of dirty pages. A chunk the device cannot take that way (the
//! last, shorter one; a file system without `O_DIRECT`) is written through the page cache and
//! handed to the kernel's writeback at once (`sync_file_range`, a hint: it waits for nothing).
//! Durability still rests on the caller's single fsync at the end, which also flushes the
//! device's write cache.
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::mpsc;

use updraft_swu::bundle::Sha256Check;

/// Bytes per write: a multiple of every block and erase size that matters. Half of dd's `bs=1M`:
/// four buffers of 512 KiB were as fast as four of 1 MiB (0.80-0.84 s against 0.78-1.16 s for
/// 1 GiB) and 2 MiB lighter (peak RSS); three of 1 MiB or six of 256 KiB were not faster.
pub const CHUNK: usize = 512 * 1024;

/// Buffers in flight: one per stage (read, hash, write) and one more, so that a stage that
/// finished a chunk finds the next one ready more often.
const BUFFERS: usize = 4;

/// Memory and file offset alignment `O_DIRECT` asks for: the page size, a multiple of every
/// logical block size that matters.
const DIRECT_ALIGN: usize = 4096;

/// A second handle on `path` that writes around the page cache, when its file system allows it
/// (`O_DIRECT`; tmpfs, for one, refuses it). [`copy`] falls back to the page cache without it.
pub fn open_direct(path: &Path) -> Option<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, OpenOptions::new());
        None
    }
}

/// One buffer of the pipeline: `CHUNK` bytes aligned for `O_DIRECT` inside a slightly larger
/// allocation (safe code cannot ask the allocator for the alignment), `len` of them in use.
struct Chunk {
    mem: Vec<u8>,
    start: usize,
    len: usize,
}

impl Chunk {
    fn new() -> Chunk {
        let mem = vec![0u8; CHUNK + DIRECT_ALIGN];
        // Not aligned (never seen): the direct write fails and the chunk goes through the page cache.
        let start = match mem.as_ptr().align_offset(DIRECT_ALIGN) {
            off if off < DIRECT_ALIGN => off,
            _ => 0,
        };
        Chunk { mem, start, len: 0 }
    }

    fn space(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + CHUNK]
    }

    fn data(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }
}

/// Copies `image` to its end into `out` from offset 0; answers the bytes written. `direct` is
/// [`open_direct`]'s handle on the same file, if any: whole chunks go through it, the rest through
/// `out`. `check` is the image's sha256 when the caller took it over from the reader
/// ([`updraft_swu::bundle::ImageReader::take_sha256_check`]): it is fed every byte read (the
/// very buffers then written) and finished before this returns, so a mismatch is this function's
/// error, as it would be the last read's without it. Does not fsync: the caller does, once, on
/// `out`, after this returned `Ok`. Errors come out in causal order: a read error, else a hash
/// mismatch, else a write error, each after the threads in flight stopped.
pub fn copy(
    image: &mut dyn Read,
    check: Option<Sha256Check>,
    out: &File,
    direct: Option<File>,
) -> io::Result<u64> {
    let (full_tx, full_rx) = mpsc::sync_channel::<Chunk>(BUFFERS);
    let (free_tx, free_rx) = mpsc::channel::<Chunk>();
    std::thread::scope(|scope| {
        // Without a check, the reader hands its chunks to the writer directly.
        let (hashed_rx, hasher) = match check {
            None => (full_rx, None),
            Some(check) => {
                let (hashed_tx, hashed_rx) = mpsc::sync_channel::<Chunk>(BUFFERS);
                let hasher = std::thread::Builder::new()
                    .name("sha256".into())
                    .spawn_scoped(scope, move || hash(check, &full_rx, &hashed_tx))?;
                (hashed_rx, Some(hasher))
            }
        };
        let writer = std::thread::Builder::new()
            .name("slot writer".into())
            .spawn_scoped(scope, move || write(out, direct, &hashed_rx, &free_tx))?;
        let read = fill_and_send(image, &full_tx, &free_rx);
        drop(full_tx);
        let hashed = match hasher {
            None => Ok(()),
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Some(Err(io::Error::other("the sha256 thread panicked"))))
                // The hash stopped early because the writer did: the writer's error says why.
                .unwrap_or(Ok(())),
        };
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the slot writer thread panicked")));
        let total = read?;
        hashed?;
        written.map(|()| total)
    })
}

/// The hashing stage: every chunk, in order, into `check`, then on to the writer. Answers the
/// check's verdict once the reader is done, or `None` when the writer stopped first.
fn hash(
    mut check: Sha256Check,
    full: &mpsc::Receiver<Chunk>,
    hashed: &mpsc::SyncSender<Chunk>,
) -> Option<io::Result<()>> {
    for chunk in full {
        check.update(chunk.data());
        if hashed.send(chunk).is_err() {
            return None;
        }
    }
    Some(check.finish().map_err(io::Error::from))
}

/// The writing stage: each chunk at the slot's next offset, then back to the reader. A whole
/// chunk goes through `direct` while that works; the first direct write that fails (a device
/// whose blocks are larger than [`DIRECT_ALIGN`], a file system that accepted the flag but not the
/// write) is written again through the page cache, as is everything after it.
fn write(
    out: &File,
    mut direct: Option<File>,
    full: &mpsc::Receiver<Chunk>,
    free: &mpsc::Sender<Chunk>,
) -> io::Result<()> {
    let mut offset = 0u64;
    for chunk in full {
        let data = chunk.data();
        let went_direct = match &direct {
            Some(d) if data.len().is_multiple_of(DIRECT_ALIGN) => match d.write_all_at(data, offset) {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(error = %e, offset, "O_DIRECT write refused, going through the page cache");
                    direct = None;
                    false
                }
            },
            _ => false,
        };
        if !went_direct {
            out.write_all_at(data, offset)?;
            // Measured against every 8, 32 and 128 MiB: each chunk at once was fastest
            // (1.25-1.37 s for 1 GiB here; 1.7-2.2 s with no hint at all).
            start_writeback(out, offset, data.len());
        }
        offset += data.len() as u64;
        // The reader may have stopped already; then the buffer is simply dropped.
        let _ = free.send(chunk);
    }
    Ok(())
}

fn fill_and_send(
    image: &mut dyn Read,
    full: &mpsc::SyncSender<Chunk>,
    free: &mpsc::Receiver<Chunk>,
) -> io::Result<u64> {
    let mut allocated = 0;
    let mut total = 0u64;
    loop {
        let mut chunk = match free.try_recv() {
            Ok(c) => c,
            Err(_) if allocated < BUFFERS => {
                allocated += 1;
                Chunk::new()
            }
            Err(_) => match free.recv() {
                Ok(c) => c,
                // The writer stopped on an error; `copy` returns it.
                Err(_) => return Ok(total),
            },
        };
        let n = fill(image, chunk.space())?;
        if n == 0 {
            return Ok(total);
        }
        chunk.len = n;
        total += n as u64;
        if full.send(chunk).is_err() {
            return Ok(total);
        }
        if n < CHUNK {
            // `fill` stopped at the end of the image, where its checks ran.
            return Ok(total);
        }
    }
}

/// Reads until `buf` is full or the image ends.
fn fill(image: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match image.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` back now. Only a hint: on
/// a file system or kernel without it the final fsync does all the work, as before.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(file: &File, offset: u64, len: usize) {
    use std::os::fd::AsRawFd as _;
    // SAFETY: sync_file_range reads only its integer arguments; the descriptor stays open for the
    // borrow of `file`, and the call touches no memory of this process.
    let _ = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: usize) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Hands out at most `step` bytes per read, then fails at the end when told to, as an image
    /// whose sha256 does not match does.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        fail_at_end: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() && self.fail_at_end {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "sha256 mismatch"));
            }
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn copies_every_size_around_the_chunk_boundaries_byte_for_byte() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, data.len()] {
            for step in [4096, 300_000, usize::MAX] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("slot");
                let file = File::create(&path).unwrap();
                let mut src = Trickle {
                    data: &data[..len],
                    step,
                    fail_at_end: false,
                };
                assert_eq!(
                    copy(&mut src, None, &file, open_direct(&path)).unwrap(),
                    len as u64
                );
                assert!(
                    std::fs::read(&path).unwrap() == data[..len],
                    "len {len} step {step}"
                );
            }
        }
    }

    #[test]
    fn a_direct_handle_that_refuses_writes_falls_back_to_the_page_cache() {
        // A handle opened read-only fails every write, as an O_DIRECT write a device cannot take
        // does: the chunk is written through `out`, and so is the rest.
        let data: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i * 13 % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slot");
        let file = File::create(&path).unwrap();
        let refusing = File::open(&path).unwrap();
        let mut src = Trickle {
            data: &data,
            step: 100_000,
            fail_at_end: false,
        };
        assert_eq!(
            copy(&mut src, None, &file, Some(refusing)).unwrap(),
            data.len() as u64
        );
        assert!(std::fs::read(&path).unwrap() == data);
    }

    #[test]
    fn the_buffers_are_aligned_for_direct_writes() {
        for _ in 0..BUFFERS {
            let mut chunk = Chunk::new();
            assert_eq!(chunk.space().as_ptr().align_offset(DIRECT_ALIGN), 0);
            assert_eq!(chunk.space().len(), CHUNK);
        }
    }

    #[test]
    fn an_error_at_the_end_of_the_image_is_returned() {
        let data = vec![5u8; 2 * CHUNK + 3];
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("slot")).unwrap();
        let mut src = Trickle {
            data: &data,
            step: usize::MAX,
            fail_at_end: true,
        };
        let err = copy(&mut src, None, &file, None).unwrap_err();
        assert_eq!(err.to_string(), "sha256 mismatch");
    }

    #[test]
    fn a_write_error_is_returned() {
        // A file opened read-only cannot be written: the writer fails on its first chunk.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slot");
        std::fs::write(&path, b"").unwrap();
        let file = File::open(&path).unwrap();
        let data = vec![1u8; 3 * CHUNK];
        for direct in [None, Some(File::open(&path).unwrap())] {
            let mut src = Trickle {
                data: &data,
                step: usize::MAX,
                fail_at_end: false,
            };
            assert!(copy(&mut src, None, &file, direct).is_err());
        }
    }
}
