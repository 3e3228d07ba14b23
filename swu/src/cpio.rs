//! Streaming cpio "newc" (`070701`) and "crc" (`070702`) archives, the container of a `.swu`.
//!
//! Header: 110 ASCII bytes (6-byte magic + 13 fields of 8 hex digits), the NUL-terminated
//! name, padding of header+name to 4, the data, padding to 4. The archive ends with
//! `TRAILER!!!`. For `070702` the header `c_chksum` is the 32-bit sum of all data bytes,
//! which SWUpdate verifies; so do we, once an entry has been read to its end.

use std::io::{self, Read, Write};

const HEADER_LEN: usize = 110;
const MAGIC_NEWC: &[u8; 6] = b"070701";
const MAGIC_CRC: &[u8; 6] = b"070702";
/// Name of the last entry of every cpio archive.
pub const TRAILER: &str = "TRAILER!!!";
const S_IFREG: u32 = 0o100_000;
/// Header fields after the magic, in order.
const FIELDS: [&str; 13] = [
    "c_ino",
    "c_mode",
    "c_uid",
    "c_gid",
    "c_nlink",
    "c_mtime",
    "c_filesize",
    "c_devmajor",
    "c_devminor",
    "c_rdevmajor",
    "c_rdevminor",
    "c_namesize",
    "c_check",
];

/// Errors from reading or writing a cpio archive.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    #[error("cpio: I/O error")]
    Io(#[from] io::Error),
    #[error("cpio: archive truncated while reading {0}")]
    Truncated(&'static str),
    #[error("cpio: bad magic {0:?} (expected 070701 or 070702)")]
    BadMagic(String),
    #[error("cpio: header field {field} is not 8 hex digits: {value:?}")]
    BadHexField { field: &'static str, value: String },
    #[error("cpio: entry name length {0} is zero or exceeds the limit {1}")]
    NameTooLong(u32, usize),
    #[error("cpio: entry name is not NUL-terminated or contains NUL")]
    BadNameTermination,
    #[error("cpio: entry name is not UTF-8")]
    NameNotUtf8,
    #[error(
        "cpio: refusing entry name {0:?} (path separators, '.', '..' and empty names are not allowed in a .swu)"
    )]
    UnsafeName(String),
    #[error("cpio: entry {name:?} size {size} exceeds the limit {limit}")]
    FileTooLarge { name: String, size: u64, limit: u64 },
    #[error("cpio: too many entries (limit {0})")]
    TooManyEntries(usize),
    #[error(
        "image {name:?} is damaged: its cpio checksum is {actual:#010x}, but the archive header says \
         {expected:#010x}; the bundle was changed after it was built or broke in transit: build or \
         download it again"
    )]
    ChecksumMismatch {
        name: String,
        expected: u32,
        actual: u32,
    },
    #[error("cpio: entry {name:?}: wrote {written} bytes, header announced {size}")]
    SizeMismatch { name: String, size: u64, written: u64 },
}

impl From<CpioError> for io::Error {
    fn from(e: CpioError) -> Self {
        match e {
            CpioError::Io(e) => e,
            CpioError::Truncated(_) => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// Hard limits applied while reading; a `.swu` comes from the network.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest accepted entry name, in bytes, without the NUL.
    pub max_name_len: usize,
    /// Largest accepted entry size (newc sizes are 32-bit, so at most 4 GiB - 1).
    pub max_file_size: u64,
    /// Most entries accepted before the trailer.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name_len: 255,
            max_file_size: u64::from(u32::MAX),
            max_entries: 4096,
        }
    }
}

/// Which of the two "new ASCII" formats an entry used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `070701`: checksum field ignored.
    Newc,
    /// `070702`: checksum field is the 32-bit byte sum of the data.
    Crc,
}

/// The parsed header of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub mtime: u32,
    pub format: Format,
    /// The header checksum; meaningful only for [`Format::Crc`].
    pub checksum: u32,
}

/// 32-bit byte sum used by the `070702` format.
///
/// Summed eight bytes at a time in 16-bit lanes (a byte-wise fold took a tenth of an install's CPU
/// time, beside the sha256 on the same thread): each step adds at most 2 x 255 to a lane, so 128
/// steps (1 KiB) cannot overflow one before the lanes are folded into the sum.
pub fn checksum_update(sum: u32, data: &[u8]) -> u32 {
    const LANES: u64 = 0x00ff_00ff_00ff_00ff;
    let mut sum = sum;
    let mut blocks = data.chunks_exact(1024);
    for block in &mut blocks {
        let mut acc = 0u64;
        for word in block.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let w = u64::from_le_bytes(w);
            acc += (w & LANES) + ((w >> 8) & LANES);
        }
        let folded = (acc & 0xffff) + ((acc >> 16) & 0xffff) + ((acc >> 32) & 0xffff) + (acc >> 48);
        sum = sum.wrapping_add(folded as u32);
    }
    blocks
        .remainder()
        .iter()
        .fold(sum, |s, &b| s.wrapping_add(u32::from(b)))
}

fn pad4(n: u64) -> u64 {
    (4 - n % 4) % 4
}

/// Streaming reader: [`CpioReader::next_entry`] yields one entry at a time; its data is read
/// through [`Entry`] without buffering the whole file.
pub struct CpioReader<R> {
    inner: R,
    limits: Limits,
    entries: usize,
    finished: bool,
    current: Option<Current>,
}

struct Current {
    header: EntryHeader,
    remaining: u64,
    sum: u32,
    verified: bool,
}

impl<R: Read> CpioReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, Limits::default())
    }

    pub fn with_limits(inner: R, limits: Limits) -> Self {
        Self {
            inner,
            limits,
            entries: 0,
            finished: false,
            current: None,
        }
    }

    /// The next entry, or `None` after `TRAILER!!!`. An unread rest of the previous entry is
    /// skipped (and still checksummed).
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, R>>, CpioError> {
        if self.finished {
            return Ok(None);
        }
        if self.current.is_some() {
            io::copy(&mut self.data_reader(), &mut io::sink())?;
            if let Some(cur) = self.current.take() {
                self.skip(pad4(cur.header.size), "data padding")?;
            }
        }
        let header = self.read_header()?;
        if header.name == TRAILER {
            self.finished = true;
            return Ok(None);
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(CpioError::TooManyEntries(self.limits.max_entries));
        }
        self.current = Some(Current {
            remaining: header.size,
            header,
            sum: 0,
            verified: false,
        });
        Ok(Some(Entry { reader: self }))
    }

    /// The entry last returned by [`CpioReader::next_entry`] again, if it is still current.
    pub fn current_entry(&mut self) -> Option<Entry<'_, R>> {
        if self.current.is_some() {
            Some(Entry { reader: self })
        } else {
            None
        }
    }

    /// Gives back the underlying reader (positioned wherever reading stopped).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn data_reader(&mut self) -> Entry<'_, R> {
        Entry { reader: self }
    }

    fn read_exact_or(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), CpioError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                CpioError::Truncated(what)
            } else {
                CpioError::Io(e)
            }
        })
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), CpioError> {
        let mut buf = [0u8; 4];
        let n = n as usize;
        self.read_exact_or(&mut buf[..n], what)
    }

    fn read_header(&mut self) -> Result<EntryHeader, CpioError> {
        let mut raw = [0u8; HEADER_LEN];
        self.read_exact_or(&mut raw, "entry header")?;
        let format = match &raw[..6] {
            m if m == MAGIC_NEWC => Format::Newc,
            m if m == MAGIC_CRC => Format::Crc,
            m => return Err(CpioError::BadMagic(String::from_utf8_lossy(m).into_owned())),
        };
        let mut f = [0u32; 13];
        for (i, name) in FIELDS.iter().enumerate() {
            f[i] = parse_hex8(&raw[6 + i * 8..14 + i * 8], name)?;
        }
        let namesize = f[11];
        if namesize < 2 || namesize as usize - 1 > self.limits.max_name_len {
            return Err(CpioError::NameTooLong(namesize, self.limits.max_name_len));
        }
        let mut name = vec![0u8; namesize as usize];
        self.read_exact_or(&mut name, "entry name")?;
        if name.pop() != Some(0) || name.contains(&0) {
            return Err(CpioError::BadNameTermination);
        }
        let name = String::from_utf8(name).map_err(|_| CpioError::NameNotUtf8)?;
        self.skip(pad4(HEADER_LEN as u64 + u64::from(namesize)), "name padding")?;
        let size = u64::from(f[6]);
        if name != TRAILER {
            check_name(&name)?;
            if size > self.limits.max_file_size {
                return Err(CpioError::FileTooLarge {
                    name,
                    size,
                    limit: self.limits.max_file_size,
                });
            }
        }
        Ok(EntryHeader {
            name,
            size,
            mode: f[1],
            mtime: f[5],
            format,
            checksum: f[12],
        })
    }
}

/// Refuses names that could escape the install directory or confuse SWUpdate's flat
/// namespace (a `.swu` holds only plain file names).
pub fn check_name(name: &str) -> Result<(), CpioError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0')
    {
        return Err(CpioError::UnsafeName(name.to_owned()));
    }
    Ok(())
}

fn parse_hex8(field: &[u8], name: &'static str) -> Result<u32, CpioError> {
    let bad = || CpioError::BadHexField {
        field: name,
        value: String::from_utf8_lossy(field).into_owned(),
    };
    let s = std::str::from_utf8(field).map_err(|_| bad())?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    u32::from_str_radix(s, 16).map_err(|_| bad())
}

/// One entry being read. Reading it to the end verifies the `070702` checksum; a mismatch is
/// an `InvalidData` I/O error wrapping [`CpioError::ChecksumMismatch`].
pub struct Entry<'a, R> {
    reader: &'a mut CpioReader<R>,
}

impl<R> Entry<'_, R> {
    pub fn header(&self) -> &EntryHeader {
        // An Entry exists only while `current` is set.
        &self
            .reader
            .current
            .as_ref()
            .unwrap_or_else(|| unreachable!("entry without current header"))
            .header
    }

    /// Bytes of data not yet read.
    pub fn remaining(&self) -> u64 {
        self.reader.current.as_ref().map_or(0, |c| c.remaining)
    }
}

impl<R: Read> Read for Entry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(cur) = self.reader.current.as_mut() else {
            return Ok(0);
        };
        if cur.remaining == 0 {
            cur.verify()?;
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(cur.remaining).unwrap_or(usize::MAX));
        let n = self.reader.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(CpioError::Truncated("entry data").into());
        }
        cur.sum = checksum_update(cur.sum, &buf[..n]);
        cur.remaining -= n as u64;
        if cur.remaining == 0 {
            // Verify now so a caller that stops at exactly `size` bytes still learns of it.
            cur.verify()?;
        }
        Ok(n)
    }
}

impl Current {
    /// Checks the `070702` sum once the whole entry has been read.
    fn verify(&mut self) -> Result<(), CpioError> {
        if self.verified {
            return Ok(());
        }
        self.verified = true;
        if self.header.format == Format::Crc && self.sum != self.header.checksum {
            return Err(CpioError::ChecksumMismatch {
                name: self.header.name.clone(),
                expected: self.header.checksum,
                actual: self.sum,
            });
        }
        Ok(())
    }
}

/// Writes `070702` archives as `cpio -o -H crc` does; `cpio -i` and SWUpdate accept them.
pub struct CpioWriter<W> {
    inner: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            next_ino: 1,
            written: 0,
        }
    }

    /// Appends an entry from memory.
    pub fn append_bytes(&mut self, name: &str, data: &[u8]) -> Result<(), CpioError> {
        let sum = checksum_update(0, data);
        self.append_reader(name, data.len() as u64, sum, data)
    }

    /// Appends an entry streamed from `data`, which must yield exactly `size` bytes whose
    /// byte sum is `checksum` (see [`checksum_of`]): the crc format puts the sum in the header.
    pub fn append_reader(
        &mut self,
        name: &str,
        size: u64,
        checksum: u32,
        data: impl Read,
    ) -> Result<(), CpioError> {
        check_name(name)?;
        let size32 = u32::try_from(size).map_err(|_| CpioError::FileTooLarge {
            name: name.to_owned(),
            size,
            limit: u64::from(u32::MAX),
        })?;
        let ino = self.next_ino;
        self.next_ino += 1;
        self.header(name, ino, S_IFREG | 0o644, 1, size32, checksum)?;
        let copied = io::copy(&mut data.take(size), &mut self.inner)?;
        self.written += copied;
        if copied != size {
            return Err(CpioError::SizeMismatch {
                name: name.to_owned(),
                size,
                written: copied,
            });
        }
        self.pad(pad4(size))?;
        Ok(())
    }

    /// Writes the trailer, pads the archive to 512 bytes like `cpio -o`, and returns the writer.
    pub fn finish(mut self) -> Result<W, CpioError> {
        self.header(TRAILER, 0, 0, 1, 0, 0)?;
        self.pad((512 - self.written % 512) % 512)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn header(
        &mut self,
        name: &str,
        ino: u32,
        mode: u32,
        nlink: u32,
        size: u32,
        checksum: u32,
    ) -> Result<(), CpioError> {
        let namesize = name.len() as u32 + 1;
        let h = format!(
            "070702{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{checksum:08x}",
            0, 0, 0, 0, 0, 0, 0
        );
        self.inner.write_all(h.as_bytes())?;
        self.inner.write_all(name.as_bytes())?;
        self.inner.write_all(&[0])?;
        self.written += HEADER_LEN as u64 + u64::from(namesize);
        self.pad(pad4(HEADER_LEN as u64 + u64::from(namesize)))
    }

    fn pad(&mut self, n: u64) -> Result<(), CpioError> {
        io::copy(&mut io::repeat(0).take(n), &mut self.inner)?;
        self.written += n;
        Ok(())
    }
}

/// Size and `070702` byte sum of a stream (first pass before [`CpioWriter::append_reader`]).
pub fn checksum_of(mut data: impl Read) -> io::Result<(u64, u32)> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut size, mut sum) = (0u64, 0u32);
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            return Ok((size, sum));
        }
        size += n as u64;
        sum = checksum_update(sum, &buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, io::Error> {
        let mut r = CpioReader::new(bytes);
        let mut out = Vec::new();
        while let Some(mut e) = r.next_entry()? {
            let name = e.header().name.clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            out.push((name, data));
        }
        Ok(out)
    }

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new());
        for (n, d) in entries {
            w.append_bytes(n, d).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let a = archive(&[("sw-description", b"abc"), ("img", &[7u8; 1000]), ("e", b"")]);
        assert_eq!(a.len() % 512, 0);
        let got = read_all(&a).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1, vec![7u8; 1000]);
        assert!(got[2].1.is_empty());
    }

    #[test]
    fn skipping_unread_entries_works() {
        let a = archive(&[("a", b"12345"), ("b", b"xy")]);
        let mut r = CpioReader::new(&a[..]);
        assert_eq!(r.next_entry().unwrap().unwrap().header().name, "a");
        let mut e = r.next_entry().unwrap().unwrap();
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "xy");
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn checksum_mismatch_is_detected() {
        let mut a = archive(&[("a", b"hello")]);
        let pos = a.windows(5).position(|w| w == b"hello").unwrap();
        a[pos] = b'j';
        let err = read_all(&a).unwrap_err();
        assert!(err.to_string().contains("its cpio checksum is"), "{err}");
    }

    #[test]
    fn newc_checksum_is_ignored() {
        let mut a = archive(&[("a", b"hello")]);
        a[5] = b'1';
        let pos = a.windows(5).position(|w| w == b"hello").unwrap();
        a[pos] = b'j';
        assert_eq!(read_all(&a).unwrap()[0].1, b"jello");
    }

    #[test]
    fn truncation_is_reported() {
        let a = archive(&[("a", &[1u8; 100])]);
        for cut in [0usize, 50, 110, 115, 150] {
            let err = read_all(&a[..cut]).unwrap_err();
            assert!(err.to_string().contains("truncated"), "cut {cut}: {err}");
        }
    }

    #[test]
    fn bad_magic_and_hex() {
        let mut a = archive(&[("a", b"x")]);
        a[0] = b'1';
        assert!(read_all(&a).unwrap_err().to_string().contains("bad magic"));
        let mut a = archive(&[("a", b"x")]);
        a[10] = b'g';
        assert!(read_all(&a).unwrap_err().to_string().contains("c_ino"));
    }

    #[test]
    fn unsafe_names_are_refused() {
        for name in ["../etc/passwd", "a/b", "..", ".", ""] {
            assert!(check_name(name).is_err(), "{name}");
            let mut w = CpioWriter::new(Vec::new());
            assert!(w.append_bytes(name, b"x").is_err());
        }
        // Craft one by hand: replace a valid name of equal length.
        let mut a = archive(&[("aa.bb", b"x")]);
        a[110..115].copy_from_slice(b"../bb");
        assert!(read_all(&a).unwrap_err().to_string().contains("refusing"));
    }

    #[test]
    fn oversized_values_are_refused() {
        let mut a = archive(&[("a", b"x")]);
        // c_filesize = ffffffff with a small limit.
        a[54..62].copy_from_slice(b"ffffffff");
        let mut r = CpioReader::with_limits(
            &a[..],
            Limits {
                max_file_size: 1 << 20,
                ..Limits::default()
            },
        );
        assert!(matches!(r.next_entry(), Err(CpioError::FileTooLarge { .. })));
        let mut a = archive(&[("a", b"x")]);
        a[94..102].copy_from_slice(b"7fffffff");
        assert!(read_all(&a).unwrap_err().to_string().contains("name length"));
    }

    #[test]
    fn checksum_matches_a_byte_by_byte_sum_at_every_length_and_offset() {
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let naive = |start: u32, d: &[u8]| d.iter().fold(start, |s, &b| s.wrapping_add(u32::from(b)));
        for len in [0, 1, 7, 8, 1023, 1024, 1025, 2048 + 9, 5000] {
            for offset in [0, 1, 3] {
                let d = &data[offset.min(len)..len];
                assert_eq!(
                    checksum_update(0xffff_fff0, d),
                    naive(0xffff_fff0, d),
                    "len {len}"
                );
            }
        }
        // All bytes 0xff: the lanes' worst case.
        let ones = vec![0xffu8; 4096 + 5];
        assert_eq!(checksum_update(0, &ones), naive(0, &ones));
    }
}
