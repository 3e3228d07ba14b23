//! Small images for the delta tests: a file tree whose files compress about as well as a root
//! file system's, and the same tree changed the way a rebuild changes it.

/// The files that version 2 of a tree changes, and the file after which it adds one.
pub const CHANGED: [u64; 5] = [17, 80, 151, 152, 260];
const ADDED_AFTER: u64 = 150;

/// Words from a small vocabulary: file contents that compress about as well as a root file
/// system's.
pub fn file_content(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "update", "slot", "kernel", "config", "library", "binary", "device", "server", "chunk", "delta",
        "image", "signed", "bundle", "header", "0x7f3a", "ELF",
    ];
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % 16) as usize].as_bytes());
        out.push(if x.is_multiple_of(7) { b'\n' } else { b' ' });
        if x.is_multiple_of(5) {
            out.extend_from_slice(&x.to_le_bytes()[..3]);
        }
    }
    out.truncate(len);
    out
}

/// A file tree image (a tar of 300 files of 2-30 KB, ~4.5 MiB). In `version` 2, `change` rewrites
/// each file of [`CHANGED`] and a 20 KB file is added in the middle, so everything after it moves.
pub fn tree_image(version: u32, change: impl Fn(u64, &mut Vec<u8>)) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: String, data: Vec<u8>| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_735_689_600);
        h.set_cksum();
        tar.append_data(&mut h, name, &data[..]).unwrap();
    };
    for i in 0..300u64 {
        let len = 2_000 + ((i * 7919) % 28_000) as usize;
        let mut data = file_content(i, len);
        if version == 2 && CHANGED.contains(&i) {
            change(i, &mut data);
        }
        add(format!("usr/lib/file{i:03}"), data);
        if version == 2 && i == ADDED_AFTER {
            add("usr/lib/new-file".into(), file_content(9_999, 20_000));
        }
    }
    tar.into_inner().unwrap()
}
