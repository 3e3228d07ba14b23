//! zchunk format version 1 (`*.zck`): the chunk file SWUpdate's delta handler reads.
//!
//! A zchunk file is a header (lead, preface, index, signatures) followed by the chunks, each
//! compressed on its own (here: one zstd frame per chunk). The header lists every chunk with the
//! SHA-256 of its compressed bytes, the SHA-256 of its uncompressed bytes (flag 2, "may be applied
//! against an uncompressed source", which is what lets a device compare its active slot without
//! compressing it) and both lengths. SWUpdate's delta handler expects exactly that: overall and
//! chunk checksum type SHA-256, flag 2, zstd. The header alone (the first [`Header::len`] bytes
//! of the file) travels inside the signed `.swu`, so every chunk hash is authenticated.
//!
//! Layout (zchunk's `zchunk_format.txt`; integers marked (ci) are little-endian base-128 with the
//! top bit set on the *last* byte):
//!
//! ```text
//! lead:     "\0ZCK1" | checksum type (ci) | header size (ci) | header checksum
//! preface:  data checksum | flags (ci) | compression type (ci) | [optional elements] | index size (ci)
//! index:    chunk checksum type (ci) | chunk count (ci) | dict entry | chunk entries
//! entry:    [stream (ci)] | checksum | [uncompressed checksum] | length (ci) | uncompressed length (ci)
//! sigs:     signature count (ci) | [type (ci) | size (ci) | bytes] ...
//! ```
//!
//! The header checksum covers the lead without itself (with `\0ZCK1` as the ID, also for a
//! detached `\0ZHR1` header), the preface, the index and the signatures. With flag 2 the data
//! checksum is all zeros (zchunk neither writes nor checks it then).
//!
//! Chunk boundaries come from [`Chunker`], a gear-hash content-defined chunker (8 KiB minimum,
//! ~32 KiB average, 128 KiB maximum: zchunk's own bounds). It is *not* zchunk's buzhash, so
//! SWUpdate, which re-chunks its source with libzck, installs Updraft-made files correctly but
//! reuses fewer chunks than with `zck`-made ones (docs/delta.md).

use std::io::{self, Read, Seek, SeekFrom, Write};

use openssl::sha::{Sha256, sha256};

/// The ID of a zchunk file.
pub const FILE_ID: &[u8; 5] = b"\0ZCK1";
/// The ID of a detached zchunk header.
pub const DETACHED_ID: &[u8; 5] = b"\0ZHR1";
/// Checksum type 1, SHA-256 (both the overall and the chunk checksum type).
const SHA256_TYPE: u64 = 1;
const DIGEST: usize = 32;
const FLAG_STREAMS: u64 = 1;
const FLAG_OPTIONAL: u64 = 2;
const FLAG_UNCOMPRESSED_SOURCE: u64 = 4;
const COMPRESSION_NONE: u64 = 0;
const COMPRESSION_ZSTD: u64 = 2;

/// The largest header accepted (a 640 MiB image has a header of well under 1 MiB).
pub const MAX_HEADER: u64 = 64 << 20;
/// The largest uncompressed chunk accepted: a reader never holds more than this of one chunk.
pub const MAX_CHUNK: u64 = 16 << 20;

/// Why a zchunk header or file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ZckError {
    #[error("the zchunk header cannot be read: {0}")]
    Io(#[from] io::Error),
    #[error("the zchunk header is invalid: {0}")]
    Invalid(String),
    #[error("the zchunk file is not usable by Updraft: {0}")]
    Unsupported(String),
}

fn invalid(what: impl Into<String>) -> ZckError {
    ZckError::Invalid(what.into())
}

/// How the chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCompression {
    None,
    Zstd,
}

/// One chunk of the file (the dictionary entry is not one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Where its stored bytes start in the `.zck` file.
    pub offset: u64,
    /// Stored (compressed) length.
    pub length: u64,
    /// Length after decompression: its length in the image.
    pub uncompressed_length: u64,
    /// SHA-256 of the stored bytes.
    pub digest: [u8; DIGEST],
    /// SHA-256 of the uncompressed bytes.
    pub uncompressed_digest: [u8; DIGEST],
}

/// A parsed, checksum-verified zchunk header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's bytes from the lead to the end of the signatures: the data starts here.
    pub len: u64,
    pub compression: ChunkCompression,
    pub chunks: Vec<Chunk>,
}

impl Header {
    /// The image's length: the sum of the uncompressed chunk lengths.
    pub fn image_len(&self) -> u64 {
        self.chunks.iter().map(|c| c.uncompressed_length).sum()
    }

    /// The `.zck` file's length: header and every stored chunk.
    pub fn file_len(&self) -> u64 {
        self.len + self.chunks.iter().map(|c| c.length).sum::<u64>()
    }
}

/// Appends `v` as a zchunk compressed integer.
pub fn put_ci(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v % 128) as u8;
        v /= 128;
        if v == 0 {
            out.push(b | 0x80);
            return;
        }
        out.push(b);
    }
}

/// A cursor over header bytes that refuses to read past their end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn ci(&mut self, what: &str) -> Result<u64, ZckError> {
        let mut value: u64 = 0;
        for shift in (0..).step_by(7).take(10) {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(invalid(format!("it ends inside the {what}")));
            };
            self.at += 1;
            let part = u64::from(b & 0x7f);
            let shifted = part
                .checked_shl(shift)
                .filter(|s| s >> shift == part)
                .ok_or_else(|| invalid(format!("the {what} is too large")))?;
            value |= shifted;
            if b & 0x80 != 0 {
                return Ok(value);
            }
        }
        Err(invalid(format!("the {what} is too large")))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ZckError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| invalid(format!("it ends inside the {what}")))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn digest(&mut self, what: &str) -> Result<[u8; DIGEST], ZckError> {
        let mut d = [0u8; DIGEST];
        d.copy_from_slice(self.take(DIGEST, what)?);
        Ok(d)
    }
}

/// Reads a zchunk header (of a whole `.zck` file or a detached header) from `r`, reading no byte
/// past it, and verifies its checksum.
pub fn read_header(mut r: impl Read) -> Result<Header, ZckError> {
    // The lead: ID, checksum type, header size: at most 5 + 10 + 10 bytes, read byte by byte so
    // that nothing past the header is consumed.
    let mut lead = Vec::with_capacity(32);
    let mut byte = [0u8; 1];
    let mut read_byte = |lead: &mut Vec<u8>| -> Result<u8, ZckError> {
        r.read_exact(&mut byte).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid("it ends inside the lead"),
            _ => ZckError::Io(e),
        })?;
        lead.push(byte[0]);
        Ok(byte[0])
    };
    for _ in 0..5 {
        read_byte(&mut lead)?;
    }
    for _ in 0..2 {
        // checksum type, then header size
        loop {
            if lead.len() > 25 {
                return Err(invalid("the lead's integers are too large"));
            }
            if read_byte(&mut lead)? & 0x80 != 0 {
                break;
            }
        }
    }
    let mut c = Cursor { bytes: &lead, at: 5 };
    check_id(&lead[..5])?;
    check_checksum_type(c.ci("checksum type")?)?;
    let size = c.ci("header size")?;
    if size > MAX_HEADER {
        return Err(ZckError::Unsupported(format!(
            "its header is {size} bytes, more than the {MAX_HEADER} accepted"
        )));
    }
    let mut rest = vec![0u8; DIGEST + size as usize];
    r.read_exact(&mut rest).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => invalid("it ends before the end of the header"),
        _ => ZckError::Io(e),
    })?;
    lead.extend_from_slice(&rest);
    parse_header(&lead)
}

fn check_id(id: &[u8]) -> Result<(), ZckError> {
    if id != FILE_ID && id != DETACHED_ID {
        return Err(invalid(
            "it does not start with \\0ZCK1 or \\0ZHR1 (not a zchunk version 1 file)",
        ));
    }
    Ok(())
}

fn check_checksum_type(t: u64) -> Result<(), ZckError> {
    if t != SHA256_TYPE {
        return Err(ZckError::Unsupported(format!(
            "its checksum type is {t}; only SHA-256 (1) is accepted"
        )));
    }
    Ok(())
}

/// Parses a zchunk header held in `bytes` (which may continue past the header) and verifies its
/// checksum. Refuses anything Updraft cannot apply against an uncompressed source: a checksum type
/// other than SHA-256, no uncompressed chunk checksums, a dictionary, a compression other than
/// zstd or none, data streams.
pub fn parse_header(bytes: &[u8]) -> Result<Header, ZckError> {
    let mut c = Cursor { bytes, at: 0 };
    check_id(c.take(5, "file ID")?)?;
    check_checksum_type(c.ci("checksum type")?)?;
    let size = c.ci("header size")?;
    if size > MAX_HEADER {
        return Err(ZckError::Unsupported(format!(
            "its header is {size} bytes, more than the {MAX_HEADER} accepted"
        )));
    }
    let lead_without_digest = c.at;
    let expected = c.digest("header checksum")?;
    let body_start = c.at;
    let body = c.take(size as usize, "header")?;
    let mut h = Sha256::new();
    h.update(FILE_ID);
    h.update(&bytes[5..lead_without_digest]);
    h.update(body);
    if h.finish() != expected {
        return Err(invalid("its checksum does not match (damaged or changed)"));
    }
    let header_len = (body_start + body.len()) as u64;

    let mut c = Cursor { bytes: body, at: 0 };
    c.take(DIGEST, "data checksum")?;
    let flags = c.ci("flags")?;
    if flags & !(FLAG_STREAMS | FLAG_OPTIONAL | FLAG_UNCOMPRESSED_SOURCE) != 0 {
        return Err(invalid(format!("it sets unknown flags ({flags:#x})")));
    }
    if flags & FLAG_STREAMS != 0 {
        return Err(ZckError::Unsupported("it has data streams".into()));
    }
    if flags & FLAG_UNCOMPRESSED_SOURCE == 0 {
        return Err(ZckError::Unsupported(
            "it has no uncompressed chunk checksums (build it with `zck -u -h sha256`)".into(),
        ));
    }
    let compression = match c.ci("compression type")? {
        COMPRESSION_NONE => ChunkCompression::None,
        COMPRESSION_ZSTD => ChunkCompression::Zstd,
        other => {
            return Err(ZckError::Unsupported(format!(
                "compression type {other} is unknown"
            )));
        }
    };
    if flags & FLAG_OPTIONAL != 0 {
        let count = c.ci("optional element count")?;
        for _ in 0..count {
            c.ci("optional element id")?;
            let n = c.ci("optional element size")?;
            c.take(usize::try_from(n).unwrap_or(usize::MAX), "optional element")?;
        }
    }
    let index_size = c.ci("index size")?;
    let index = c.take(usize::try_from(index_size).unwrap_or(usize::MAX), "index")?;
    let signatures = c.ci("signature count")?;
    for _ in 0..signatures {
        c.ci("signature type")?;
        let n = c.ci("signature size")?;
        c.take(usize::try_from(n).unwrap_or(usize::MAX), "signature")?;
    }
    if c.at != body.len() {
        return Err(invalid("bytes follow the signatures inside the header"));
    }

    let mut c = Cursor { bytes: index, at: 0 };
    let chunk_type = c.ci("chunk checksum type")?;
    if chunk_type != SHA256_TYPE {
        return Err(ZckError::Unsupported(format!(
            "its chunk checksum type is {chunk_type}; only SHA-256 (1) is accepted"
        )));
    }
    let count = c.ci("chunk count")?;
    if count == 0 {
        return Err(invalid("it has no dictionary entry"));
    }
    // Each entry takes at least 2 digests and 2 bytes: a count beyond that is a lie, refused
    // before anything is allocated for it.
    if count > (index.len() / (2 * DIGEST + 2)) as u64 + 1 {
        return Err(invalid(format!("its chunk count {count} does not fit its index")));
    }
    c.digest("dictionary checksum")?;
    c.digest("dictionary checksum")?;
    let dict_len = c.ci("dictionary length")?;
    let dict_uncompressed = c.ci("dictionary length")?;
    if dict_len != 0 || dict_uncompressed != 0 {
        return Err(ZckError::Unsupported("it has a compression dictionary".into()));
    }
    let mut chunks = Vec::with_capacity((count - 1) as usize);
    let mut offset = header_len;
    for n in 1..count {
        let digest = c.digest("chunk checksum")?;
        let uncompressed_digest = c.digest("chunk checksum")?;
        let length = c.ci("chunk length")?;
        let uncompressed_length = c.ci("chunk length")?;
        if uncompressed_length > MAX_CHUNK || length > MAX_CHUNK + MAX_CHUNK / 8 {
            return Err(ZckError::Unsupported(format!(
                "chunk {n} is {uncompressed_length} bytes, more than the {MAX_CHUNK} accepted"
            )));
        }
        if compression == ChunkCompression::None && length != uncompressed_length {
            return Err(invalid(format!(
                "chunk {n} is stored uncompressed with another length"
            )));
        }
        chunks.push(Chunk {
            offset,
            length,
            uncompressed_length,
            digest,
            uncompressed_digest,
        });
        offset = offset
            .checked_add(length)
            .ok_or_else(|| invalid("its chunks are too long"))?;
    }
    if c.at != index.len() {
        return Err(invalid("bytes follow the last chunk inside the index"));
    }
    Ok(Header {
        len: header_len,
        compression,
        chunks,
    })
}

/// Gear-hash content-defined chunking with zchunk's bounds: a chunk ends where the top 15 bits of
/// the rolling hash (over the last 64 bytes) are zero, but never before [`Chunker::MIN`] bytes
/// and never after [`Chunker::MAX`]; 2^15 makes the average ~32 KiB past the minimum.
pub struct Chunker<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

/// The gear table: 256 fixed pseudo-random words (splitmix64 from a fixed seed). Changing it
/// changes every chunk boundary, so it never changes.
const GEAR: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut state: u64 = 0x7570_6472_6166_7431; // "updraft1"
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        t[i] = z ^ (z >> 31);
        i += 1;
    }
    t
};

impl<R: Read> Chunker<R> {
    pub const MIN: usize = 8 * 1024;
    pub const MAX: usize = 128 * 1024;
    const MASK_BITS: u32 = 15;

    pub fn new(inner: R) -> Self {
        Chunker {
            inner,
            buf: vec![0; 2 * Self::MAX],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The next chunk, or `None` at the end of the input.
    pub fn next_chunk(&mut self) -> io::Result<Option<&[u8]>> {
        if self.end - self.start < Self::MAX && !self.eof {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < self.buf.len() {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => self.end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let data = &self.buf[self.start..self.end];
        if data.is_empty() {
            return Ok(None);
        }
        let len = cut_point(data);
        let s = self.start;
        self.start += len;
        Ok(Some(&self.buf[s..s + len]))
    }
}

fn cut_point(data: &[u8]) -> usize {
    let min = Chunker::<&[u8]>::MIN;
    let max = Chunker::<&[u8]>::MAX;
    if data.len() <= min {
        return data.len();
    }
    let limit = data.len().min(max);
    let mut h: u64 = 0;
    // Warm the hash over the 64 bytes before the minimum, so the first candidate boundary
    // already sees a full window.
    for &b in &data[min - 64..min] {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
    }
    for (i, &b) in data.iter().enumerate().take(limit).skip(min) {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
        if h >> (64 - Chunker::<&[u8]>::MASK_BITS) == 0 {
            return i + 1;
        }
    }
    limit
}

/// What [`write_zck`] made.
#[derive(Debug, Clone)]
pub struct Written {
    /// The header bytes (also the start of the `.zck`): what goes into the `.swu`.
    pub header: Vec<u8>,
    pub chunks: usize,
    pub image_len: u64,
    pub file_len: u64,
    /// SHA-256 of the whole uncompressed image.
    pub image_sha256: [u8; DIGEST],
}

/// ruzstd's fastest level (about zstd -1), the pure-Rust chunk compressor for [`write_zck`]. A
/// build host with libzstd does better at a high level (`updraft bundle create` uses level 19):
/// the `.zck` is what every device that reuses nothing downloads.
pub fn ruzstd_fastest(chunk: &[u8]) -> io::Result<Vec<u8>> {
    Ok(ruzstd::encoding::compress_to_vec(
        chunk,
        ruzstd::encoding::CompressionLevel::Fastest,
    ))
}

/// Writes `image` as a zchunk file to `out`: each chunk compressed by `compress` into one zstd
/// frame (e.g. [`ruzstd_fastest`]), SHA-256 chunk checksums, uncompressed checksums (flag 2). The
/// compressed chunks go to `scratch` first (the header, which precedes them, needs all their
/// checksums); only the index is held in memory. A chunk is at most [`Chunker::MAX`] bytes, so a
/// frame never needs a larger window to decode.
pub fn write_zck<S: Read + Write + Seek>(
    image: impl Read,
    scratch: &mut S,
    out: &mut impl Write,
    mut compress: impl FnMut(&[u8]) -> io::Result<Vec<u8>>,
) -> io::Result<Written> {
    let mut chunker = Chunker::new(image);
    let mut entries: Vec<u8> = Vec::new();
    let mut count: u64 = 0;
    let mut image_len = 0u64;
    let mut data_len = 0u64;
    let mut whole = Sha256::new();
    while let Some(chunk) = chunker.next_chunk()? {
        whole.update(chunk);
        let compressed = compress(chunk)?;
        scratch.write_all(&compressed)?;
        entries.extend_from_slice(&sha256(&compressed));
        entries.extend_from_slice(&sha256(chunk));
        put_ci(&mut entries, compressed.len() as u64);
        put_ci(&mut entries, chunk.len() as u64);
        count += 1;
        image_len += chunk.len() as u64;
        data_len += compressed.len() as u64;
    }
    let mut index = Vec::with_capacity(entries.len() + 96);
    put_ci(&mut index, SHA256_TYPE);
    put_ci(&mut index, count + 1);
    // The dictionary entry: none, all zeros (zchunk counts it as a chunk).
    index.extend_from_slice(&[0u8; 2 * DIGEST]);
    put_ci(&mut index, 0);
    put_ci(&mut index, 0);
    index.extend_from_slice(&entries);
    drop(entries);

    let mut body = Vec::with_capacity(index.len() + 64);
    // Data checksum: zeros with flag 2, as zchunk writes it.
    body.extend_from_slice(&[0u8; DIGEST]);
    put_ci(&mut body, FLAG_UNCOMPRESSED_SOURCE);
    put_ci(&mut body, COMPRESSION_ZSTD);
    put_ci(&mut body, index.len() as u64);
    body.extend_from_slice(&index);
    put_ci(&mut body, 0); // no signatures
    drop(index);

    let mut header = Vec::with_capacity(body.len() + 64);
    header.extend_from_slice(FILE_ID);
    put_ci(&mut header, SHA256_TYPE);
    put_ci(&mut header, body.len() as u64);
    let mut h = Sha256::new();
    h.update(&header);
    h.update(&body);
    header.extend_from_slice(&h.finish());
    header.extend_from_slice(&body);

    out.write_all(&header)?;
    scratch.seek(SeekFrom::Start(0))?;
    let copied = io::copy(&mut scratch.take(data_len), out)?;
    if copied != data_len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the scratch file lost compressed chunks",
        ));
    }
    out.flush()?;
    Ok(Written {
        file_len: header.len() as u64 + data_len,
        header,
        chunks: count as usize,
        image_len,
        image_sha256: whole.finish(),
    })
}

/// Decompresses one stored chunk and checks it against its header entry: the uncompressed SHA-256
/// and length must match. Never produces more than `chunk.uncompressed_length` bytes.
pub fn decode_chunk(compression: ChunkCompression, chunk: &Chunk, stored: &[u8]) -> Result<Vec<u8>, String> {
    if stored.len() as u64 != chunk.length || sha256(stored) != chunk.digest {
        return Err("its stored bytes do not match the signed chunk checksum".into());
    }
    let data = match compression {
        ChunkCompression::None => stored.to_vec(),
        ChunkCompression::Zstd => {
            let mut out = Vec::with_capacity(chunk.uncompressed_length as usize);
            let mut dec = ruzstd::decoding::StreamingDecoder::new(stored)
                .map_err(|e| format!("it is not a zstd frame ({e})"))?;
            (&mut dec)
                .take(chunk.uncompressed_length + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("it does not decompress ({e})"))?;
            out
        }
    };
    if data.len() as u64 != chunk.uncompressed_length || sha256(&data) != chunk.uncompressed_digest {
        return Err("its uncompressed bytes do not match the signed chunk checksum".into());
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn zck(image: &[u8]) -> (Written, Vec<u8>) {
        let mut scratch = io::Cursor::new(Vec::new());
        let mut out = Vec::new();
        let w = write_zck(image, &mut scratch, &mut out, ruzstd_fastest).unwrap();
        (w, out)
    }

    #[test]
    fn compressed_integers_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut b = Vec::new();
            put_ci(&mut b, v);
            let mut c = Cursor { bytes: &b, at: 0 };
            assert_eq!(c.ci("x").unwrap(), v);
            assert_eq!(c.at, b.len());
        }
        // zchunk's own encoding of 300: 0x2c, then 0x82 (2 with the end bit).
        let mut b = Vec::new();
        put_ci(&mut b, 300);
        assert_eq!(b, [0x2c, 0x82]);
        let mut c = Cursor {
            bytes: &[0x7f; 11],
            at: 0,
        };
        assert!(c.ci("x").is_err());
    }

    #[test]
    fn written_file_reads_back_and_decodes_byte_exact() {
        let image = pseudo_random(700_000, 1);
        let (w, file) = zck(&image);
        assert_eq!(w.file_len, file.len() as u64);
        assert_eq!(&file[..w.header.len()], &w.header[..]);
        let h = parse_header(&file).unwrap();
        assert_eq!(h, read_header(&file[..]).unwrap());
        assert_eq!(h.len, w.header.len() as u64);
        assert_eq!(h.image_len(), image.len() as u64);
        assert_eq!(h.file_len(), file.len() as u64);
        assert_eq!(h.chunks.len(), w.chunks);
        assert!(h.chunks.len() > 5, "{} chunks", h.chunks.len());
        let mut back = Vec::new();
        for c in &h.chunks {
            let stored = &file[c.offset as usize..(c.offset + c.length) as usize];
            back.extend(decode_chunk(h.compression, c, stored).unwrap());
        }
        assert_eq!(back, image);
        assert_eq!(sha256(&image), w.image_sha256);
        // The detached form: same header, other ID.
        let mut detached = w.header.clone();
        detached[..5].copy_from_slice(DETACHED_ID);
        assert_eq!(parse_header(&detached).unwrap().chunks, h.chunks);
    }

    #[test]
    fn chunks_resynchronise_after_an_insertion() {
        let a = pseudo_random(2_000_000, 7);
        let mut b = a.clone();
        b.splice(1_000_000..1_000_000, pseudo_random(5000, 9));
        let (_, fa) = zck(&a);
        let (_, fb) = zck(&b);
        let ha = parse_header(&fa).unwrap();
        let hb = parse_header(&fb).unwrap();
        let known: std::collections::HashSet<_> = ha.chunks.iter().map(|c| c.uncompressed_digest).collect();
        let missing: u64 = hb
            .chunks
            .iter()
            .filter(|c| !known.contains(&c.uncompressed_digest))
            .map(|c| c.uncompressed_length)
            .sum();
        assert!(missing < 300_000, "{missing} bytes missing");
        let avg = a.len() / ha.chunks.len();
        assert!((16_000..64_000).contains(&avg), "average chunk {avg}");
    }

    #[test]
    fn a_changed_byte_fails_the_header_checksum() {
        let (w, _) = zck(&pseudo_random(100_000, 3));
        let mut bad = w.header.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        assert!(matches!(parse_header(&bad), Err(ZckError::Invalid(_))));
        assert!(matches!(
            parse_header(&w.header[..w.header.len() - 1]),
            Err(ZckError::Invalid(_))
        ));
    }

    #[test]
    fn a_tampered_chunk_is_refused() {
        let image = pseudo_random(100_000, 4);
        let (_, mut file) = zck(&image);
        let h = parse_header(&file).unwrap();
        let c = &h.chunks[1];
        file[c.offset as usize + 10] ^= 0xff;
        let stored = &file[c.offset as usize..(c.offset + c.length) as usize];
        assert!(decode_chunk(h.compression, c, stored).is_err());
    }

    #[test]
    fn the_compressors_error_is_the_writers() {
        let mut scratch = io::Cursor::new(Vec::new());
        let mut out = Vec::new();
        let mut calls = 0;
        let err = write_zck(&pseudo_random(300_000, 5)[..], &mut scratch, &mut out, |_| {
            calls += 1;
            Err(io::Error::other("compressor gave up"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "compressor gave up");
        assert_eq!(calls, 1);
        assert!(
            out.is_empty(),
            "nothing is written before every chunk is compressed"
        );
    }

    #[test]
    fn empty_image() {
        let (w, file) = zck(&[]);
        let h = parse_header(&file).unwrap();
        assert!(h.chunks.is_empty());
        assert_eq!(w.file_len, h.len);
    }
}
