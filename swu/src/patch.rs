//! Per-source patches, format `zstd-window-v1`: a target image rebuilt from one exact source image
//! (the active slot) and a small patch file (docs/delta.md, "Per-source patches").
//!
//! The target is cut into windows of `window_size` bytes. Each window is one zstd frame compressed
//! with a *raw-content dictionary* (zstd's `refPrefix`, what `zstd --patch-from` uses): a few
//! regions of the source, named in the window's header, concatenated. The encoder picks the
//! regions by block-hash voting (data moves between two builds of a file system); the decoder only
//! reads them. So a device holds at most one dictionary (≤ [`MAX_DICT`]) and one window at a
//! time, however large the image, and reads its source at random (the active slot).
//!
//! ```text
//! file:    "UDPATCH1" | window_size u32 | windows u32 | source_size u64 | target_size u64
//! window:  frame_len u32 | segments u8 | segments × (offset u64 | len u32) | zstd frame
//! ```
//!
//! Integers are little-endian. Every window but the last is `window_size` bytes of target; the
//! frame must decode to exactly that. ruzstd decodes the frames: it has no raw-content
//! dictionary entry point, but a formatted dictionary whose content is replaced and whose repeat
//! offsets are reset to zstd's defaults (1, 4, 8) is the same thing, as long as the frame never
//! asks for the dictionary's entropy tables — a raw-content dictionary has none, so libzstd never
//! emits such a frame (a forged one decodes to garbage, which the image sha256 refuses).

use std::io::{self, Read};

use openssl::sha::Sha256;
use ruzstd::decoding::{BlockDecodingStrategy, Dictionary, FrameDecoder};

/// The name of the format in sw-description's `properties.format`.
pub const FORMAT: &str = "zstd-window-v1";
/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"UDPATCH1";
/// The largest window accepted: a reader holds one decoded window.
pub const MAX_WINDOW: u32 = 8 << 20;
/// The smallest window accepted.
pub const MIN_WINDOW: u32 = 64 << 10;
/// The largest dictionary (sum of a window's source regions) accepted.
pub const MAX_DICT: u32 = 16 << 20;
/// The most source regions one window may name.
pub const MAX_SEGMENTS: u8 = 16;
/// The file header's length.
pub const HEADER_LEN: usize = 32;

/// Entropy tables of a trained dictionary, only to obtain a [`Dictionary`] from ruzstd; its
/// content and repeat offsets are replaced before use (see the module documentation).
const ENTROPY: &[u8] = include_bytes!("patch/entropy.zdict");

/// Why a patch was refused or could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the patch cannot be read: {0}")]
    Io(#[from] io::Error),
    #[error("the patch is invalid: {0}")]
    Invalid(String),
    #[error("window {window} of the patch does not decode: {why}")]
    Decode { window: u32, why: String },
}

fn invalid(what: impl Into<String>) -> PatchError {
    PatchError::Invalid(what.into())
}

/// The file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchHeader {
    pub window_size: u32,
    pub windows: u32,
    pub source_size: u64,
    pub target_size: u64,
}

impl PatchHeader {
    /// A header for a target of `target_size` bytes cut into windows of `window_size`.
    pub fn new(window_size: u32, source_size: u64, target_size: u64) -> Result<Self, PatchError> {
        let windows = u32::try_from(target_size.div_ceil(u64::from(window_size.max(1))))
            .map_err(|_| invalid("the target has more than 2^32 windows"))?;
        let h = Self {
            window_size,
            windows,
            source_size,
            target_size,
        };
        h.check()?;
        Ok(h)
    }

    fn check(&self) -> Result<(), PatchError> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.window_size) {
            return Err(invalid(format!(
                "window size {} is outside {MIN_WINDOW}..={MAX_WINDOW}",
                self.window_size
            )));
        }
        if u64::from(self.windows) != self.target_size.div_ceil(u64::from(self.window_size)) {
            return Err(invalid(format!(
                "{} windows of {} bytes do not make a target of {} bytes",
                self.windows, self.window_size, self.target_size
            )));
        }
        Ok(())
    }

    /// The target bytes window `index` decodes to.
    pub fn window_len(&self, index: u32) -> usize {
        let start = u64::from(index) * u64::from(self.window_size);
        // At most `window_size` (a u32), so the cast is lossless.
        self.target_size
            .saturating_sub(start)
            .min(u64::from(self.window_size)) as usize
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&self.window_size.to_le_bytes());
        b[12..16].copy_from_slice(&self.windows.to_le_bytes());
        b[16..24].copy_from_slice(&self.source_size.to_le_bytes());
        b[24..32].copy_from_slice(&self.target_size.to_le_bytes());
        b
    }

    pub fn read(mut r: impl Read) -> Result<Self, PatchError> {
        let mut b = [0u8; HEADER_LEN];
        r.read_exact(&mut b).map_err(|e| truncated(e, "its header"))?;
        if &b[..8] != MAGIC {
            return Err(invalid(format!("it does not start with {:?}", "UDPATCH1")));
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let h = Self {
            window_size: u32_at(8),
            windows: u32_at(12),
            source_size: u64_at(16),
            target_size: u64_at(24),
        };
        h.check()?;
        Ok(h)
    }
}

fn truncated(e: io::Error, what: &str) -> PatchError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        invalid(format!("it ends inside {what} (truncated)"))
    } else {
        PatchError::Io(e)
    }
}

/// A source region of a window's dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub offset: u64,
    pub len: u32,
}

/// The header of one window: its frame's length and its dictionary's source regions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowHeader {
    pub frame_len: u32,
    pub segments: Vec<Segment>,
}

impl WindowHeader {
    /// The longest frame accepted for a window of `window_len` bytes (zstd's worst case for
    /// incompressible data is a little above the input).
    pub fn max_frame(window_len: usize) -> u64 {
        window_len as u64 + window_len as u64 / 64 + 4096
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_len.to_le_bytes());
        // At most MAX_SEGMENTS, checked by the encoder's planner.
        out.push(u8::try_from(self.segments.len()).unwrap_or(u8::MAX));
        for s in &self.segments {
            out.extend_from_slice(&s.offset.to_le_bytes());
            out.extend_from_slice(&s.len.to_le_bytes());
        }
    }

    /// Reads window `index`'s header and checks it against the file header.
    pub fn read(mut r: impl Read, header: &PatchHeader, index: u32) -> Result<Self, PatchError> {
        let what = format!("window {index}'s header");
        let mut b = [0u8; 5];
        r.read_exact(&mut b).map_err(|e| truncated(e, &what))?;
        let frame_len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let count = b[4];
        if count > MAX_SEGMENTS {
            return Err(invalid(format!(
                "window {index} names {count} source regions (at most {MAX_SEGMENTS})"
            )));
        }
        if u64::from(frame_len) > Self::max_frame(header.window_len(index)) {
            return Err(invalid(format!(
                "window {index}'s frame of {frame_len} bytes is too long"
            )));
        }
        let mut segments = Vec::with_capacity(usize::from(count));
        let mut total = 0u64;
        for _ in 0..count {
            let mut s = [0u8; 12];
            r.read_exact(&mut s).map_err(|e| truncated(e, &what))?;
            let mut o = [0u8; 8];
            o.copy_from_slice(&s[..8]);
            let seg = Segment {
                offset: u64::from_le_bytes(o),
                len: u32::from_le_bytes([s[8], s[9], s[10], s[11]]),
            };
            if seg
                .offset
                .checked_add(u64::from(seg.len))
                .is_none_or(|end| end > header.source_size)
            {
                return Err(invalid(format!(
                    "window {index} names source bytes {}+{} beyond the source's {} bytes",
                    seg.offset, seg.len, header.source_size
                )));
            }
            total += u64::from(seg.len);
            segments.push(seg);
        }
        if total > u64::from(MAX_DICT) {
            return Err(invalid(format!(
                "window {index}'s dictionary of {total} bytes is larger than {MAX_DICT}"
            )));
        }
        Ok(Self { frame_len, segments })
    }

    pub fn dict_len(&self) -> usize {
        self.segments.iter().map(|s| s.len as usize).sum()
    }
}

/// The source a patch is applied to: read at any offset (the active slot; `FileExt::read_exact_at`).
pub trait Source {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl<T: Source + ?Sized> Source for &T {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
}

impl Source for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl Source for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A window decoder: `frame` with `dict` (the window's source regions) as raw-content dictionary,
/// to exactly `len` bytes appended to `out`; the error says why not, in words. [`decode_window`]
/// is the pure-Rust one; a caller with libzstd can reference the dictionary instead of copying it.
pub type WindowDecoder = fn(frame: &[u8], dict: Vec<u8>, len: usize, out: &mut Vec<u8>) -> Result<(), String>;

/// Whether `frame` starts like a single-segment zstd frame (its window is its content): the
/// frame header descriptor's `Single_Segment_flag`. Its content size is the decoder's to check.
pub fn is_single_segment(frame: &[u8]) -> bool {
    frame.get(..4) == Some(&[0x28, 0xb5, 0x2f, 0xfd][..]) && frame.get(4).is_some_and(|fhd| fhd & 0x20 != 0)
}

/// Decodes one window with ruzstd: `frame` with `dict` (the window's source regions) as
/// raw-content dictionary, to exactly `len` bytes appended to `out`. ruzstd copies the dictionary
/// into its decoder, so for a moment the dictionary is held twice.
pub fn decode_window(frame: &[u8], dict: Vec<u8>, len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let mut decoder = FrameDecoder::new();
    let mut input = frame;
    decoder.reset(&mut input).map_err(|e| e.to_string())?;
    if !dict.is_empty() {
        let mut d = Dictionary::decode_dict(ENTROPY).map_err(|e| e.to_string())?;
        let id = d.id;
        d.dict_content = dict;
        // zstd's initial repeat offsets (a raw-content dictionary sets none).
        d.offset_hist = [1, 4, 8];
        decoder.add_dict(d).map_err(|e| e.to_string())?;
        decoder.force_dict(id).map_err(|e| e.to_string())?;
        // The decoder copied the content: drop the map's copy (keeps one dictionary in memory).
        let mut empty = Dictionary::decode_dict(ENTROPY).map_err(|e| e.to_string())?;
        empty.dict_content = Vec::new();
        decoder.add_dict(empty).map_err(|e| e.to_string())?;
    }
    // The frame must be single-segment (its window is its content) and state exactly `len`
    // bytes: so the decoder never holds more than the window plus a few blocks, and a forged
    // frame cannot expand beyond it before the image hash refuses it.
    if !is_single_segment(frame) || decoder.content_size() != len as u64 {
        return Err(format!("its frame is not a single-segment frame of {len} bytes"));
    }
    while !decoder.is_finished() {
        decoder
            .decode_blocks(&mut input, BlockDecodingStrategy::UptoBlocks(4))
            .map_err(|e| e.to_string())?;
        if !decoder.is_finished() && decoder.can_collect() > 0 {
            return Err(format!("it decodes to more than its {len} bytes"));
        }
    }
    let start = out.len();
    decoder.collect_to_writer(&mut *out).map_err(|e| e.to_string())?;
    if out.len() - start != len || !input.is_empty() {
        return Err(format!(
            "it decodes to {} bytes, not {len}, or has bytes after its frame",
            out.len() - start
        ));
    }
    Ok(())
}

/// The target image, read from a patch and its source: one window decoded at a time. At the end
/// of the target the whole image's sha256 is checked against `image_sha256` (if given): a
/// mismatch is an `InvalidData` error, so a slot written from this reader is never armed.
pub struct PatchReader<P, S> {
    patch: P,
    source: S,
    header: PatchHeader,
    next: u32,
    out: Vec<u8>,
    pos: usize,
    hash: Sha256,
    image_sha256: Option<[u8; 32]>,
    done: bool,
    decode: WindowDecoder,
}

impl<P: Read, S: Source> PatchReader<P, S> {
    /// Reads the patch header; the source must hold the `source_size` bytes it names.
    pub fn new(mut patch: P, source: S, image_sha256: Option<[u8; 32]>) -> Result<Self, PatchError> {
        let header = PatchHeader::read(&mut patch)?;
        Ok(Self {
            patch,
            source,
            header,
            next: 0,
            out: Vec::new(),
            pos: 0,
            hash: Sha256::new(),
            image_sha256,
            done: false,
            decode: decode_window,
        })
    }

    /// Decodes the windows with `decode` instead of [`decode_window`].
    #[must_use]
    pub fn with_decoder(mut self, decode: WindowDecoder) -> Self {
        self.decode = decode;
        self
    }

    pub fn header(&self) -> &PatchHeader {
        &self.header
    }

    fn next_window(&mut self) -> Result<(), PatchError> {
        let index = self.next;
        let w = WindowHeader::read(&mut self.patch, &self.header, index)?;
        let mut dict = vec![0u8; w.dict_len()];
        let mut at = 0;
        for s in &w.segments {
            let end = at + s.len as usize;
            self.source.read_exact_at(&mut dict[at..end], s.offset)?;
            at = end;
        }
        let mut frame = Vec::with_capacity(w.frame_len as usize);
        (&mut self.patch)
            .take(u64::from(w.frame_len))
            .read_to_end(&mut frame)?;
        if frame.len() != w.frame_len as usize {
            return Err(invalid(format!(
                "it ends inside window {index}'s frame (truncated)"
            )));
        }
        self.out.clear();
        self.pos = 0;
        (self.decode)(&frame, dict, self.header.window_len(index), &mut self.out)
            .map_err(|why| PatchError::Decode { window: index, why })?;
        self.hash.update(&self.out);
        self.next += 1;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        let mut extra = [0u8; 1];
        if self.patch.read(&mut extra)? != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                PatchError::Invalid("it has bytes after its last window".into()),
            ));
        }
        let actual = std::mem::replace(&mut self.hash, Sha256::new()).finish();
        if let Some(expected) = self.image_sha256
            && actual != expected
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the image rebuilt from the patch has sha256 {}, but sw-description says {}",
                    crate::sw_description::to_hex(&actual),
                    crate::sw_description::to_hex(&expected)
                ),
            ));
        }
        Ok(())
    }
}

impl<P: Read, S: Source> Read for PatchReader<P, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos == self.out.len() {
            if self.next == self.header.windows {
                if !self.done {
                    self.finish()?;
                }
                return Ok(0);
            }
            self.next_window().map_err(|e| match e {
                PatchError::Io(e) => e,
                other => io::Error::new(io::ErrorKind::InvalidData, other),
            })?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The block size of [`SourceIndex`]: file systems place data in 4 KiB blocks.
pub const BLOCK: usize = 4096;

/// Where each 4 KiB block of the source is, by a 64-bit hash of its content (the encoder's side).
/// A block that occurs more than once (zeros, padding) is not indexed: it votes for nothing.
pub struct SourceIndex {
    blocks: std::collections::HashMap<u64, u32>,
}

const REPEATED: u32 = u32::MAX;

/// A 64-bit FNV-1a-style hash of a block, folded 8 bytes at a time (fast, not cryptographic: a
/// collision only costs compression, never correctness).
pub fn block_hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in b.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

impl SourceIndex {
    /// Indexes `source` (read once, in order).
    pub fn build(mut source: impl Read) -> io::Result<(Self, u64)> {
        let mut blocks = std::collections::HashMap::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut index: u32 = 0;
        let mut total = 0u64;
        loop {
            let n = read_full(&mut source, &mut buf)?;
            total += n as u64;
            for b in buf[..n].chunks(BLOCK) {
                if b.len() == BLOCK {
                    blocks
                        .entry(block_hash(b))
                        .and_modify(|v| *v = REPEATED)
                        .or_insert(index);
                }
                index = index.saturating_add(1);
            }
            if n < buf.len() {
                break;
            }
        }
        Ok((Self { blocks }, total))
    }

    /// The source regions for target window `[start, start + len)`: around each offset shift
    /// (source − target) that the window's blocks vote for, most votes first, then around the
    /// same offset, until `budget` bytes; the best-voted region last (nearest, cheapest offsets).
    pub fn plan(&self, window: &[u8], start: u64, source_size: u64, budget: u32) -> Vec<Segment> {
        let mut votes: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
        for (i, b) in window.chunks(BLOCK).enumerate() {
            if b.len() < BLOCK {
                continue;
            }
            if let Some(&s) = self.blocks.get(&block_hash(b))
                && s != REPEATED
            {
                let t = start + (i * BLOCK) as u64;
                let shift = i64::from(s) * BLOCK as i64 - t as i64;
                *votes.entry(shift).or_default() += 1;
            }
        }
        let mut ranked: Vec<(i64, u32)> = votes.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.push((0, 0));
        let len = window.len() as u64;
        let margin = len / 4;
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        let mut used = 0u64;
        for (shift, _) in ranked {
            if ranges.len() >= usize::from(MAX_SEGMENTS) / 2 {
                break;
            }
            let centre = start as i64 + shift;
            let lo = (centre - margin as i64).clamp(0, source_size as i64) as u64;
            let hi = ((centre + (len + margin) as i64).max(0) as u64).min(source_size);
            // Only the part not yet covered.
            let mut pieces = vec![(lo, hi)];
            for &(a, b) in &ranges {
                pieces = pieces
                    .into_iter()
                    .flat_map(|(x, y)| {
                        let mut v = Vec::new();
                        if x < a.min(y) {
                            v.push((x, a.min(y)));
                        }
                        if y > b.max(x) {
                            v.push((b.max(x), y));
                        }
                        v
                    })
                    .collect();
            }
            for (x, y) in pieces {
                let room = u64::from(budget).saturating_sub(used);
                let y = y.min(x + room);
                if y > x && ranges.len() < usize::from(MAX_SEGMENTS) {
                    used += y - x;
                    ranges.push((x, y));
                }
            }
            if used >= u64::from(budget) {
                break;
            }
        }
        ranges
            .into_iter()
            .rev()
            .map(|(x, y)| Segment {
                offset: x,
                len: (y - x) as u32,
            })
            .collect()
    }
}

/// Reads until `buf` is full or the end of `r`.
pub fn read_full(mut r: impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_nonsense() {
        let h = PatchHeader::new(1 << 20, 5000, (3 << 20) + 7).unwrap();
        assert_eq!(h.windows, 4);
        assert_eq!(h.window_len(3), 7);
        assert_eq!(PatchHeader::read(&h.to_bytes()[..]).unwrap(), h);
        let mut bad = h.to_bytes();
        bad[12] = 9;
        assert!(PatchHeader::read(&bad[..]).is_err());
        assert!(
            PatchHeader::read(&bad[..10])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }

    #[test]
    fn window_header_refuses_regions_beyond_the_source() {
        let h = PatchHeader::new(1 << 20, 5000, 1 << 20).unwrap();
        let mut b = Vec::new();
        WindowHeader {
            frame_len: 10,
            segments: vec![Segment {
                offset: 4000,
                len: 2000,
            }],
        }
        .write(&mut b);
        let e = WindowHeader::read(&b[..], &h, 0).unwrap_err();
        assert!(e.to_string().contains("beyond the source"), "{e}");
    }

    #[test]
    fn plan_follows_moved_blocks() {
        let mut source = vec![0u8; 64 * BLOCK];
        for (i, b) in source.chunks_mut(BLOCK).enumerate() {
            b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        }
        let (index, size) = SourceIndex::build(&source[..]).unwrap();
        // The target's first 16 blocks are the source's blocks 40..56.
        let window = source[40 * BLOCK..56 * BLOCK].to_vec();
        let plan = index.plan(&window, 0, size, (16 * BLOCK) as u32);
        let last = plan.last().unwrap();
        assert!(
            last.offset <= (40 * BLOCK) as u64 && last.offset + u64::from(last.len) >= (50 * BLOCK) as u64,
            "{plan:?}"
        );
    }
}
