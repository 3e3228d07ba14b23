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
//! Each written chunk is handed to the kernel's writeback at once (`sync_file_range`, a hint:
//! it waits for nothing). The caller's single fsync at the end then finds little left to write,
//! and a device with little RAM never holds hundreds of MB of dirty pages. Durability still
//! rests on that fsync alone.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::mpsc;

use updraft_swu::bundle::Sha256Check;

/// Bytes per write: a multiple of every block and erase size that matters. Half of dd's `bs=1M`:
/// four buffers of 512 KiB were as fast as four of 1 MiB (0.80-0.84 s against 0.78-1.16 s for
/// 1 GiB) and 2 MiB lighter (peak RSS); three of 1 MiB or six of 256 KiB were not faster.
pub const CHUNK: usize = 512 * 1024;

/// Buffers in flight: one per stage (read, hash, write) and one more, so that a stage that
/// finished a chunk finds the next one ready more often.
const BUFFERS: usize = 4;

/// Copies `image` to its end into `out` from its current position; answers the bytes written.
/// `check` is the image's sha256 when the caller took it over from the reader
/// ([`updraft_swu::bundle::ImageReader::take_sha256_check`]): it is fed every byte read and
/// finished before this returns, so a mismatch is this function's error, as it would be the last
/// read's without it. Does not fsync: the caller does, once, after this returned `Ok`. Errors
/// come out in causal order: a read error, else a hash mismatch, else a write error, each after
/// the threads in flight stopped.
pub fn copy(image: &mut dyn Read, check: Option<Sha256Check>, out: &File) -> io::Result<u64> {
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        // Without a check, the reader hands its chunks to the writer directly.
        let (hashed_rx, hasher) = match check {
            None => (full_rx, None),
            Some(check) => {
                let (hashed_tx, hashed_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
                let hasher = std::thread::Builder::new()
                    .name("sha256".into())
                    .spawn_scoped(scope, move || hash(check, &full_rx, &hashed_tx))?;
                (hashed_rx, Some(hasher))
            }
        };
        let writer = std::thread::Builder::new()
            .name("slot writer".into())
            .spawn_scoped(scope, move || write(out, &hashed_rx, &free_tx))?;
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
    full: &mpsc::Receiver<Vec<u8>>,
    hashed: &mpsc::SyncSender<Vec<u8>>,
) -> Option<io::Result<()>> {
    for buf in full {
        check.update(&buf);
        if hashed.send(buf).is_err() {
            return None;
        }
    }
    Some(check.finish().map_err(io::Error::from))
}

/// The writing stage: each chunk at the slot's next offset, then back to the reader.
fn write(out: &File, full: &mpsc::Receiver<Vec<u8>>, free: &mpsc::Sender<Vec<u8>>) -> io::Result<()> {
    let mut sink = out;
    let mut offset = 0u64;
    for buf in full {
        sink.write_all(&buf)?;
        // Measured against every 8, 32 and 128 MiB: each chunk at once was fastest
        // (1.25-1.37 s for 1 GiB here; 1.7-2.2 s with no hint at all).
        start_writeback(out, offset, buf.len());
        offset += buf.len() as u64;
        // The reader may have stopped already; then the buffer is simply dropped.
        let _ = free.send(buf);
    }
    Ok(())
}

fn fill_and_send(
    image: &mut dyn Read,
    full: &mpsc::SyncSender<Vec<u8>>,
    free: &mpsc::Receiver<Vec<u8>>,
) -> io::Result<u64> {
    let mut allocated = 0;
    let mut total = 0u64;
    loop {
        let mut buf = match free.try_recv() {
            Ok(b) => b,
            Err(_) if allocated < BUFFERS => {
                allocated += 1;
                Vec::with_capacity(CHUNK)
            }
            Err(_) => match free.recv() {
                Ok(b) => b,
                // The writer stopped on an error; `copy` returns it.
                Err(_) => return Ok(total),
            },
        };
        buf.resize(CHUNK, 0);
        let n = fill(image, &mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        buf.truncate(n);
        total += n as u64;
        if full.send(buf).is_err() {
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
                assert_eq!(copy(&mut src, None, &file).unwrap(), len as u64);
                assert!(
                    std::fs::read(&path).unwrap() == data[..len],
                    "len {len} step {step}"
                );
            }
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
        let err = copy(&mut src, None, &file).unwrap_err();
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
        let mut src = Trickle {
            data: &data,
            step: usize::MAX,
            fail_at_end: false,
        };
        assert!(copy(&mut src, None, &file).is_err());
    }
}
