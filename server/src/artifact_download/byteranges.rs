//! A `multipart/byteranges` body that stays cheap with hundreds of ranges (SWUpdate's delta
//! handler asks for up to `max-ranges` zchunk chunks per request, 150 in its older releases).
//!
//! Ranges closer together than [`COALESCE_GAP`] are read from the store as one stretch and the gaps
//! dropped, and each stretch is opened only when the one before it is sent: one open file (or one
//! S3 GET) at a time per request, however many ranges it names, instead of one per range held open
//! from the start.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;

use crate::metrics::Metrics;
use crate::state::AppState;
use crate::storage::ByteStream;

/// hawkBit's boundary (Spring's `FileStreamingUtil`), kept so byte-exact clients see the same body.
pub const BOUNDARY: &str = "THIS_STRING_SEPARATES_MULTIPART";

/// Ranges at most this far apart are read in one go: reading 64 KiB more costs less than another
/// open and seek (or another S3 request).
const COALESCE_GAP: u64 = 64 * 1024;

/// One part of the body: its header and the inclusive range it carries.
#[derive(Debug)]
struct Part {
    head: Bytes,
    start: u64,
    end: u64,
}

/// One read from the store (`start..end`, end exclusive) and the parts it serves.
#[derive(Debug)]
struct Stretch {
    start: u64,
    end: u64,
    parts: VecDeque<Part>,
}

/// The stretches to read for sorted, non-overlapping `ranges` of a blob of `len` bytes, the closing
/// boundary, and the body's length.
fn plan(ranges: &[(u64, u64)], len: u64) -> (Vec<Stretch>, Bytes, u64) {
    let mut stretches: Vec<Stretch> = Vec::new();
    let mut total = 0u64;
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let head = format!(
            "{}--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {start}-{end}/{len}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" }
        );
        total += head.len() as u64 + (end - start + 1);
        let part = Part {
            head: Bytes::from(head),
            start,
            end,
        };
        match stretches.last_mut() {
            Some(s) if start >= s.end && start - s.end <= COALESCE_GAP => {
                s.end = end + 1;
                s.parts.push_back(part);
            }
            _ => stretches.push(Stretch {
                start,
                end: end + 1,
                parts: VecDeque::from([part]),
            }),
        }
    }
    let tail = Bytes::from(format!("\r\n--{BOUNDARY}--"));
    total += tail.len() as u64;
    (stretches, tail, total)
}

/// The body's length and the body for `ranges` (sorted, non-overlapping, as `parse_ranges` gives
/// them) of the blob `sha256`; the range bytes count towards `/metrics` as they go out.
pub fn multipart(state: &AppState, sha256: &str, ranges: &[(u64, u64)], len: u64) -> (u64, ByteStream) {
    let (stretches, tail, total) = plan(ranges, len);
    let store = Arc::clone(&state.store);
    let metrics = Arc::clone(&state.metrics);
    let sha256 = sha256.to_owned();
    let body = futures_util::stream::iter(stretches)
        .then(move |stretch| {
            let (store, sha256) = (Arc::clone(&store), sha256.clone());
            async move {
                let read = store
                    .read(&sha256, stretch.start, stretch.end - stretch.start)
                    .await;
                (stretch, read)
            }
        })
        .flat_map(move |(stretch, read)| match read {
            Ok(inner) => slice(inner, stretch, Some(Arc::clone(&metrics))),
            Err(e) => Box::pin(futures_util::stream::once(async move { Err(e) })) as ByteStream,
        })
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    (total, Box::pin(body))
}

/// The parts of `stretch` from `inner`, the stream of its bytes: each part's header, then its
/// bytes; the gaps between parts are dropped.
fn slice(inner: ByteStream, stretch: Stretch, metrics: Option<Arc<Metrics>>) -> ByteStream {
    struct Cursor {
        inner: ByteStream,
        /// The blob offset of `buf`'s first byte.
        pos: u64,
        buf: Bytes,
        parts: VecDeque<Part>,
        head_sent: bool,
        metrics: Option<Arc<Metrics>>,
    }
    let cursor = Cursor {
        inner,
        pos: stretch.start,
        buf: Bytes::new(),
        parts: stretch.parts,
        head_sent: false,
        metrics,
    };
    Box::pin(futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            let part = c.parts.front()?;
            let (start, end) = (part.start, part.end);
            if !c.head_sent {
                c.head_sent = true;
                let head = part.head.clone();
                return Some((Ok(head), c));
            }
            if c.buf.is_empty() {
                match c.inner.next().await {
                    Some(Ok(chunk)) => c.buf = chunk,
                    Some(Err(e)) => {
                        c.parts.clear();
                        return Some((Err(e), c));
                    }
                    None => {
                        c.parts.clear();
                        let short = std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "artifact shorter than recorded",
                        );
                        return Some((Err(short), c));
                    }
                }
                continue;
            }
            if c.pos < start {
                let skip = (start - c.pos).min(c.buf.len() as u64);
                c.buf.advance(skip as usize);
                c.pos += skip;
                continue;
            }
            let take = (end + 1 - c.pos).min(c.buf.len() as u64);
            let out = c.buf.split_to(take as usize);
            c.pos += take;
            if c.pos > end {
                c.parts.pop_front();
                c.head_sent = false;
            }
            if let Some(m) = &c.metrics {
                m.artifact_bytes.add(take);
            }
            return Some((Ok(out), c));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// The body as hawkBit builds it, part by part.
    fn expected(content: &[u8], ranges: &[(u64, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &(s, e)) in ranges.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {s}-{e}/{}\r\n\r\n",
                    content.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&content[s as usize..=e as usize]);
        }
        out.extend_from_slice(format!("\r\n--{BOUNDARY}--").as_bytes());
        out
    }

    /// Runs the plan against `content` served in chunks of `chunk` bytes.
    fn body(content: &[u8], ranges: &[(u64, u64)], chunk: usize) -> (Vec<u8>, u64, usize) {
        let (stretches, tail, total) = plan(ranges, content.len() as u64);
        let reads = stretches.len();
        let mut out = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            for s in stretches {
                let bytes: Vec<std::io::Result<Bytes>> = content[s.start as usize..s.end as usize]
                    .chunks(chunk)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                let mut parts = slice(Box::pin(futures_util::stream::iter(bytes)), s, None);
                while let Some(piece) = parts.next().await {
                    out.extend_from_slice(&piece.unwrap());
                }
            }
        });
        out.extend_from_slice(&tail);
        (out, total, reads)
    }

    #[test]
    fn parts_come_out_exactly_whatever_the_chunk_size() {
        let content = blob(300_000);
        let ranges = [(0, 9), (10, 19), (100, 100), (70_000, 70_999), (200_000, 299_999)];
        for chunk in [1, 7, 4096, 65_536, 1 << 20] {
            let (out, total, _) = body(&content, &ranges, chunk);
            assert_eq!(out, expected(&content, &ranges), "chunk {chunk}");
            assert_eq!(total, out.len() as u64);
        }
    }

    #[test]
    fn near_ranges_share_one_read_and_far_ones_do_not() {
        let content = blob(5_000_000);
        // 500 ranges of 1 KiB every 8 KiB (zchunk-sized gaps): a handful of reads, not 500.
        let near: Vec<(u64, u64)> = (0..500).map(|i| (i * 8192, i * 8192 + 1023)).collect();
        let (out, total, reads) = body(&content, &near, 65_536);
        assert_eq!(out, expected(&content, &near));
        assert_eq!(total, out.len() as u64);
        assert_eq!(reads, 1);
        let far: Vec<(u64, u64)> = (0..10).map(|i| (i * 300_000, i * 300_000 + 99)).collect();
        let (out, _, reads) = body(&content, &far, 65_536);
        assert_eq!(out, expected(&content, &far));
        assert_eq!(reads, 10);
    }
}
