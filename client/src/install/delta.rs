//! SWUpdate's `delta` handler, Updraft's way: the bundle carries a zchunk header (signed through
//! sw-description's sha256); the image is rebuilt from the chunks the active slot already holds
//! and the rest, fetched by multi-range requests from the `.zck` artifact, and streamed into the
//! inactive slot through the `raw` writer.
//!
//! Every chunk is checked against the signed header before a byte of it is written: a chunk read
//! from the active slot is hashed again (the slot may be read-write), a fetched one must match
//! both its stored and its uncompressed SHA-256. The whole image's sha256 (`image-sha256`) is
//! checked at its end, before the slot is armed. When more than [`FULL_ABOVE`] of the chunk
//! file would have to be fetched anyway, the whole `.zck` is streamed instead (one request, no
//! range framing). The range requests run on a thread of their own, one batch ahead of the
//! rebuild, so the network and the CPU work at the same time; one chunk and two batches of
//! fetched chunks (at most [`BATCH_BYTES`] each) are held in memory, and the index of the active
//! slot is ~70 bytes per 32 KiB.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use openssl::sha::{Sha256, sha256};
use updraft_swu::sw_description::to_hex;
use updraft_swu::zchunk::{Chunker, Header, decode_chunk, parse_header};

/// The property naming the whole image's sha256 (Updraft's; SWUpdate ignores properties it does
/// not know).
pub const IMAGE_SHA256: &str = "image-sha256";

/// Fetch the whole chunk file when more than this share of it is missing from the active slot.
pub const FULL_ABOVE: f64 = 0.8;
/// The most bytes one range request asks for.
pub const BATCH_BYTES: u64 = 4 << 20;
/// The most ranges in one request (hawkBit-style servers may limit it; Updraft's does not).
pub const BATCH_RANGES: usize = 64;

/// Reads parts of one chunk file from wherever it is served (from a thread of its own while the
/// image is rebuilt).
pub trait ChunkFetch: Send {
    /// The bytes of each range (`start..end`, end exclusive) in order; each exactly as long as
    /// asked, or an error.
    fn ranges(&mut self, ranges: &[(u64, u64)]) -> anyhow::Result<Vec<Vec<u8>>>;
    /// The whole chunk file, from its first byte.
    fn whole(&mut self) -> anyhow::Result<Box<dyn Read>>;
    /// Bytes received so far (bodies, with any multipart framing).
    fn received(&self) -> u64;
}

/// Resolves a delta image's chunk file (`zckfile`, `url`) to something that fetches it: the agent
/// maps `url = "dynamic"` to the deployment's artifact of that name.
pub trait DeltaRemote {
    fn open(&self, zckfile: &str, url: &str) -> anyhow::Result<Box<dyn ChunkFetch>>;
}

/// What an install of one delta image did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaStats {
    pub chunks: usize,
    pub reused: usize,
    /// Stored bytes of the chunks that had to be fetched.
    pub missing_bytes: u64,
    pub file_bytes: u64,
    pub full: bool,
}

/// Fetched chunks, in order: (chunk index, stored bytes).
type Batch = VecDeque<(usize, Vec<u8>)>;

/// Where the missing chunks come from.
enum Missing {
    Ranges {
        /// Shared with the prefetch thread, which holds it for one request at a time.
        fetch: Arc<Mutex<Box<dyn ChunkFetch>>>,
        /// The planned missing chunks, batch by batch in order, from the prefetch thread.
        ahead: Receiver<io::Result<Batch>>,
        /// Fetched chunks not yet written.
        ready: Batch,
    },
    /// The whole file, positioned at the start of chunk `next`.
    Stream {
        fetch: Box<dyn ChunkFetch>,
        body: Box<dyn Read>,
        next: usize,
    },
}

/// The rebuilt image, as a reader for [`super::raw::write`].
pub struct DeltaReader {
    header: Header,
    name: String,
    source: File,
    /// Per target chunk: where the active slot holds it (offset), if it does.
    local: Vec<Option<u64>>,
    missing: Missing,
    next: usize,
    chunk: Vec<u8>,
    pos: usize,
    whole: Sha256,
    expected: Option<[u8; 32]>,
    pub stats: DeltaStats,
}

impl DeltaReader {
    /// Plans the install of `header_bytes` (the signed header) against `source` (the active
    /// slot); `fetch` reads the chunk file `name`.
    pub fn new(
        name: &str,
        header_bytes: &[u8],
        source: &Path,
        mut fetch: Box<dyn ChunkFetch>,
        expected: Option<[u8; 32]>,
    ) -> anyhow::Result<DeltaReader> {
        let header = parse_header(header_bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let source_file = File::open(source)
            .map_err(|e| anyhow::anyhow!("cannot read the active slot {}: {e}", source.display()))?;
        let Plan { local, stats } = plan(&header, &source_file)
            .map_err(|e| anyhow::anyhow!("cannot read the active slot {}: {e}", source.display()))?;
        let (missing_bytes, file_bytes, full) = (stats.missing_bytes, stats.file_bytes, stats.full);
        tracing::info!(
            zckfile = name,
            chunks = stats.chunks,
            reused = stats.reused,
            missing_bytes,
            file_bytes,
            full,
            "chunk delta planned"
        );
        let missing = if full {
            let mut body = fetch.whole()?;
            let mut head = vec![0u8; header.len as usize];
            body.read_exact(&mut head)
                .map_err(|e| anyhow::anyhow!("{name}: cannot read its header: {e}"))?;
            if head[5..] != header_bytes[5..header.len as usize] {
                anyhow::bail!(
                    "{name} on the server is not the chunk file the bundle was built with: its \
                     header differs from the signed one"
                );
            }
            Missing::Stream { fetch, body, next: 0 }
        } else {
            let fetch = Arc::new(Mutex::new(fetch));
            let ahead = prefetch(&header, &local, Arc::clone(&fetch))?;
            Missing::Ranges {
                fetch,
                ahead,
                ready: VecDeque::new(),
            }
        };
        Ok(DeltaReader {
            header,
            name: name.to_owned(),
            source: source_file,
            local: if full { vec![None; stats.chunks] } else { local },
            missing,
            next: 0,
            chunk: Vec::new(),
            pos: 0,
            whole: Sha256::new(),
            expected,
            stats,
        })
    }

    /// Bytes fetched so far.
    pub fn received(&self) -> u64 {
        match &self.missing {
            Missing::Ranges { fetch, .. } => lock(fetch).received(),
            Missing::Stream { fetch, .. } => fetch.received(),
        }
    }

    /// Loads chunk `i` into `self.chunk`, verified.
    fn load(&mut self, i: usize) -> io::Result<()> {
        let c = self.header.chunks[i].clone();
        if let Some(offset) = self.local[i] {
            let mut buf = vec![0u8; c.uncompressed_length as usize];
            if self.source.read_exact_at(&mut buf, offset).is_ok() && sha256(&buf) == c.uncompressed_digest {
                self.chunk = buf;
                return Ok(());
            }
            // Changed since it was indexed (a read-write slot): fetch it on its own, since the
            // prefetch thread fetches only the chunks planned as missing.
            tracing::warn!(
                chunk = i,
                "a chunk of the active slot changed while installing; fetching it"
            );
        }
        let stored = if self.local[i].is_some() {
            self.fetch_alone(i)?
        } else {
            self.fetched(i)?
        };
        self.chunk = decode_chunk(self.header.compression, &c, &stored).map_err(|why| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "chunk {} of {} is damaged: {why}; nothing of it was written",
                    i + 1,
                    self.name
                ),
            )
        })?;
        Ok(())
    }

    /// The stored bytes of chunk `i`, which the plan took from the active slot but which changed.
    fn fetch_alone(&mut self, i: usize) -> io::Result<Vec<u8>> {
        let c = &self.header.chunks[i];
        match &mut self.missing {
            Missing::Ranges { fetch, .. } => {
                let mut parts = lock(fetch)
                    .ranges(&[(c.offset, c.offset + c.length)])
                    .map_err(|e| io::Error::other(format!("{e:#}")))?;
                parts
                    .pop()
                    .ok_or_else(|| io::Error::other("the server sent no part"))
            }
            // The whole file streams every chunk: nothing was planned from the slot.
            Missing::Stream { .. } => Err(io::Error::other("the chunk stream is out of order")),
        }
    }

    /// The stored bytes of missing chunk `i`.
    fn fetched(&mut self, i: usize) -> io::Result<Vec<u8>> {
        match &mut self.missing {
            Missing::Stream { body, next, .. } => {
                if *next != i {
                    return Err(io::Error::other("the chunk stream is out of order"));
                }
                let c = &self.header.chunks[i];
                let mut buf = vec![0u8; c.length as usize];
                body.read_exact(&mut buf).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("{} ended inside chunk {} ({e})", self.name, i + 1),
                    )
                })?;
                *next += 1;
                Ok(buf)
            }
            Missing::Ranges { ahead, ready, .. } => {
                if ready.is_empty() {
                    *ready = ahead
                        .recv()
                        .map_err(|_| io::Error::other("the chunk fetching thread stopped"))??;
                }
                match ready.pop_front() {
                    Some((n, bytes)) if n == i => Ok(bytes),
                    _ => Err(io::Error::other("the fetched chunks are out of order")),
                }
            }
        }
    }
}

impl Read for DeltaReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.next == self.header.chunks.len() {
                if let Some(expected) = self.expected.take() {
                    let actual = std::mem::replace(&mut self.whole, Sha256::new()).finish();
                    if actual != expected {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "the image rebuilt from {} has sha256 {}, but sw-description says {}",
                                self.name,
                                to_hex(&actual),
                                to_hex(&expected)
                            ),
                        ));
                    }
                }
                return Ok(0);
            }
            let i = self.next;
            self.load(i)?;
            self.whole.update(&self.chunk);
            self.next += 1;
            self.pos = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What installing a chunk file against a source image takes.
pub struct Plan {
    /// Per chunk of the header: where the source holds it (offset), if it does.
    pub local: Vec<Option<u64>>,
    pub stats: DeltaStats,
}

impl Plan {
    /// The range requests the missing chunks take (none when the whole file is streamed).
    pub fn range_requests(&self, header: &Header) -> usize {
        if self.stats.full {
            return 0;
        }
        batches(header, &self.local).len()
    }
}

/// Chunks `source` as the chunk file was chunked and decides what is reused, what is fetched, and
/// whether the whole file is streamed instead ([`FULL_ABOVE`]).
pub fn plan(header: &Header, source: &File) -> io::Result<Plan> {
    let have = index_source(source, header)?;
    let local: Vec<Option<u64>> = header
        .chunks
        .iter()
        .map(|c| have.get(&c.uncompressed_digest).copied())
        .collect();
    let file_bytes: u64 = header.chunks.iter().map(|c| c.length).sum();
    let missing_bytes: u64 = header
        .chunks
        .iter()
        .zip(&local)
        .filter(|(_, l)| l.is_none())
        .map(|(c, _)| c.length)
        .sum();
    let full = file_bytes > 0 && missing_bytes as f64 > FULL_ABOVE * file_bytes as f64;
    let stats = DeltaStats {
        chunks: header.chunks.len(),
        reused: local.iter().filter(|l| l.is_some()).count(),
        missing_bytes,
        file_bytes,
        full,
    };
    Ok(Plan { local, stats })
}

fn lock(fetch: &Mutex<Box<dyn ChunkFetch>>) -> std::sync::MutexGuard<'_, Box<dyn ChunkFetch>> {
    fetch.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the thread that fetches the missing chunks of the plan (`local`), batch by batch in
/// order, one batch ahead of the reader: each batch is handed over when the reader has taken the
/// one before. It stops at the end, at the first error (handed over), or when the reader is gone.
fn prefetch(
    header: &Header,
    local: &[Option<u64>],
    fetch: Arc<Mutex<Box<dyn ChunkFetch>>>,
) -> anyhow::Result<Receiver<io::Result<Batch>>> {
    let batches = batches(header, local);
    let lengths: Vec<usize> = header.chunks.iter().map(|c| c.length as usize).collect();
    let (tx, rx) = sync_channel(0);
    std::thread::Builder::new()
        .name("delta-fetch".into())
        .spawn(move || {
            for batch in batches {
                let ranges: Vec<(u64, u64)> = batch.iter().map(|r| (r.start, r.end)).collect();
                let parts = lock(&fetch).ranges(&ranges);
                let chunks = parts
                    .map(|parts| {
                        let mut chunks = VecDeque::new();
                        for (r, part) in batch.iter().zip(parts) {
                            let mut at = 0usize;
                            for n in r.chunks.clone() {
                                chunks.push_back((n, part[at..at + lengths[n]].to_vec()));
                                at += lengths[n];
                            }
                        }
                        chunks
                    })
                    .map_err(|e| io::Error::other(format!("{e:#}")));
                let failed = chunks.is_err();
                if tx.send(chunks).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot start the chunk fetching thread: {e}"))?;
    Ok(rx)
}

/// The range requests that fetch every chunk `local` does not have, in order: one batch each.
fn batches(header: &Header, local: &[Option<u64>]) -> Vec<Vec<BatchRange>> {
    let mut out = Vec::new();
    let mut first = 0;
    loop {
        let batch = next_batch(header, local, first);
        let Some(last) = batch.last() else { break };
        first = last.chunks.end;
        out.push(batch);
    }
    out
}

/// One range of a batch: which chunks it covers.
struct BatchRange {
    start: u64,
    end: u64,
    chunks: std::ops::Range<usize>,
}

/// The missing chunks from `first` on, adjacent ones merged into one range, up to
/// [`BATCH_RANGES`] ranges and [`BATCH_BYTES`] bytes (always at least chunk `first`).
fn next_batch(header: &Header, local: &[Option<u64>], first: usize) -> Vec<BatchRange> {
    let mut out: Vec<BatchRange> = Vec::new();
    let mut bytes = 0u64;
    for (i, (c, here)) in header.chunks.iter().zip(local).enumerate().skip(first) {
        if here.is_some() {
            continue;
        }
        if !out.is_empty() && bytes + c.length > BATCH_BYTES {
            break;
        }
        match out.last_mut() {
            Some(r) if r.chunks.end == i && r.end == c.offset => {
                r.end += c.length;
                r.chunks.end = i + 1;
            }
            _ => {
                if out.len() == BATCH_RANGES {
                    break;
                }
                out.push(BatchRange {
                    start: c.offset,
                    end: c.offset + c.length,
                    chunks: i..i + 1,
                });
            }
        }
        bytes += c.length;
    }
    out
}

/// Chunks the active slot as the chunk file was chunked and answers where each chunk the header
/// wants sits. Only wanted hashes are kept.
fn index_source(source: &File, header: &Header) -> io::Result<HashMap<[u8; 32], u64>> {
    let wanted: std::collections::HashSet<[u8; 32]> =
        header.chunks.iter().map(|c| c.uncompressed_digest).collect();
    let mut found = HashMap::new();
    let mut chunker = Chunker::new(io::BufReader::with_capacity(256 * 1024, source));
    let mut offset = 0u64;
    while let Some(chunk) = chunker.next_chunk()? {
        let digest = sha256(chunk);
        if wanted.contains(&digest) {
            found.entry(digest).or_insert(offset);
        }
        offset += chunk.len() as u64;
    }
    Ok(found)
}

/// Parses a `206` answer to a range request: one `Content-Range` part, or `multipart/byteranges`
/// with a part per range; answers the bytes of each asked range, in order.
pub fn split_ranges(
    content_type: Option<&str>,
    content_range: Option<&str>,
    body: &[u8],
    ranges: &[(u64, u64)],
) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut parts: Vec<(u64, &[u8])> = Vec::new();
    let boundary = content_type
        .filter(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/byteranges")
        })
        .and_then(|t| {
            t.split(';').find_map(|p| {
                let p = p.trim();
                p.strip_prefix("boundary=")
                    .map(|b| b.trim_matches('"').to_owned())
            })
        });
    match boundary {
        None => {
            let start = parse_content_range(content_range.unwrap_or_default())
                .ok_or_else(|| anyhow::anyhow!("the server's answer has no usable Content-Range"))?;
            parts.push((start.0, body));
        }
        Some(boundary) => {
            let delimiter = format!("--{boundary}");
            let mut rest = body;
            loop {
                let Some(at) = find(rest, delimiter.as_bytes()) else {
                    anyhow::bail!("the multipart answer ends without its closing boundary");
                };
                rest = &rest[at + delimiter.len()..];
                if rest.starts_with(b"--") {
                    break;
                }
                let Some(head_end) = find(rest, b"\r\n\r\n") else {
                    anyhow::bail!("a part of the multipart answer has no end of headers");
                };
                let head = String::from_utf8_lossy(&rest[..head_end]);
                let range = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("content-range")
                            .then(|| v.trim().to_owned())
                    })
                    .and_then(|v| parse_content_range(&v))
                    .ok_or_else(|| anyhow::anyhow!("a part of the multipart answer has no Content-Range"))?;
                let data_start = head_end + 4;
                let len = usize::try_from(range.1 - range.0 + 1).unwrap_or(usize::MAX);
                let data = rest
                    .get(data_start..data_start.saturating_add(len))
                    .ok_or_else(|| anyhow::anyhow!("the multipart answer was cut inside a part"))?;
                parts.push((range.0, data));
                rest = &rest[data_start + len..];
            }
        }
    }
    ranges
        .iter()
        .map(|&(start, end)| {
            parts
                .iter()
                .find_map(|&(s, data)| {
                    let from = usize::try_from(start.checked_sub(s)?).ok()?;
                    let to = usize::try_from(end.checked_sub(s)?).ok()?;
                    data.get(from..to).map(<[u8]>::to_vec)
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the server's answer lacks bytes {start}-{} (truncated or not what was asked)",
                        end - 1
                    )
                })
        })
        .collect()
}

/// `bytes 10-20/100` as (10, 20).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim().strip_prefix("bytes ")?;
    let (range, _) = v.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn multipart_and_single_answers_split_into_the_asked_ranges() {
        let body = b"--XY\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 2-4/10\r\n\r\ncde\r\n--XY\r\nContent-Range: bytes 7-8/10\r\n\r\nhi\r\n--XY--\r\n";
        let parts = split_ranges(
            Some("multipart/byteranges; boundary=XY"),
            None,
            body,
            &[(2, 5), (7, 9)],
        )
        .unwrap();
        assert_eq!(parts, vec![b"cde".to_vec(), b"hi".to_vec()]);
        let one = split_ranges(None, Some("bytes 3-5/10"), b"def", &[(3, 6)]).unwrap();
        assert_eq!(one, vec![b"def".to_vec()]);
        // A cut answer names the bytes it lacks.
        let cut = split_ranges(None, Some("bytes 3-5/10"), b"de", &[(3, 6)]).unwrap_err();
        assert!(cut.to_string().contains("lacks bytes 3-5"), "{cut}");
        let cut = split_ranges(
            Some("multipart/byteranges; boundary=XY"),
            None,
            &body[..60],
            &[(2, 5)],
        )
        .unwrap_err();
        assert!(
            cut.to_string().contains("cut") || cut.to_string().contains("end"),
            "{cut}"
        );
    }
}
