#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The zchunk format against zchunk's own tools (Debian's `zchunk` package, what SWUpdate's delta
//! handler is built on): files `zck -u -h sha256` writes parse and decode here, and files written
//! here pass `zck_read_header` and decompress with `unzck` byte for byte.

mod common;

use common::{have_tool, sh};
use updraft_swu::zchunk::{decode_chunk, parse_header, read_header, ruzstd_fastest, write_zck};

fn image() -> Vec<u8> {
    // Compressible text with a random stretch, so both kinds of chunk occur.
    let mut v: Vec<u8> = (0..1_500_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let mut x = 0x1234_5678_u64;
    v.extend((0..400_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 32) as u8
    }));
    v
}

#[test]
fn files_written_by_zck_parse_and_decode() {
    if !have_tool("zck") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image();
    std::fs::write(dir.path().join("img"), &img).unwrap();
    sh(dir.path(), "zck -u -h sha256 -o img.zck img");
    let file = std::fs::read(dir.path().join("img.zck")).unwrap();
    let h = read_header(&file[..]).unwrap();
    assert_eq!(h.file_len(), file.len() as u64);
    let mut back = Vec::new();
    for c in &h.chunks {
        back.extend(
            decode_chunk(
                h.compression,
                c,
                &file[c.offset as usize..(c.offset + c.length) as usize],
            )
            .unwrap(),
        );
    }
    assert!(back == img, "decoded image differs");
}

#[test]
fn files_written_here_pass_zchunks_tools() {
    if !have_tool("zck_read_header") || !have_tool("unzck") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image();
    let mut scratch = tempfile::tempfile().unwrap();
    let mut out = std::fs::File::create(dir.path().join("ours.zck")).unwrap();
    let w = write_zck(&img[..], &mut scratch, &mut out, ruzstd_fastest).unwrap();
    drop(out);
    let info = String::from_utf8(sh(dir.path(), "zck_read_header -v ours.zck")).unwrap();
    assert!(info.contains("Overall checksum type: SHA-256"), "{info}");
    assert!(info.contains("Has uncompressed checksums"), "{info}");
    assert!(info.contains("Chunk checksum type: SHA-256"), "{info}");
    assert!(
        info.contains(&format!("Header size: {}", w.header.len())),
        "{info}"
    );
    sh(dir.path(), "unzck -c ours.zck > back");
    assert!(
        std::fs::read(dir.path().join("back")).unwrap() == img,
        "unzck's output differs"
    );
    assert_eq!(parse_header(&w.header).unwrap().chunks.len(), w.chunks);
}
