//! `delta = true` in a bundle manifest: the image becomes a zchunk file (`<file>.zck`, written
//! beside the bundle, to be uploaded as a second artifact of the same software module) and the
//! bundle carries only its header, as SWUpdate's delta handler expects:
//!
//! ```text
//! { filename = "rootfs.ext4.zck.header"; type = "delta"; device = "<slot>"; sha256 = "<header>";
//!   properties: { url = "dynamic"; zckfile = "rootfs.ext4.zck"; chain = "raw";
//!                 image-sha256 = "<whole image>"; }; }
//! ```
//!
//! The header is inside the signed sw-description's hash, so every chunk hash is authenticated.
//! `image-sha256` is Updraft's: the client checks the reassembled image against it (SWUpdate
//! ignores properties it does not know). docs/delta.md has the differences from SWUpdate.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context as _;
use updraft_swu::bundle::ManifestImage;
use updraft_swu::sw_description::to_hex;
use updraft_swu::zchunk::{Written, write_zck};

use super::bundle::write_atomically;
use super::bundle_encode::Staging;

use crate::install::delta::IMAGE_SHA256;

/// Writes `image`'s chunk file to `zck` and turns `image` into the delta entry carrying its header.
pub fn make(image: &mut ManifestImage, stage: &Staging, zck: &Path) -> anyhow::Result<Written> {
    let source =
        File::open(&image.source).with_context(|| format!("cannot open {}", image.source.display()))?;
    let scratch_path = stage.path(&format!("{}.chunks", image.filename));
    let mut scratch = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&scratch_path)
        .with_context(|| format!("cannot create {}", scratch_path.display()))?;
    let mut written = None;
    write_atomically(zck, |out| {
        let w = write_zck(BufReader::with_capacity(256 * 1024, source), &mut scratch, out)
            .with_context(|| format!("cannot write the chunk file of {}", image.source.display()))?;
        written = Some(w);
        Ok(())
    })?;
    drop(scratch);
    let _ = std::fs::remove_file(&scratch_path);
    let written = written.context("the chunk file was not written")?;
    let zck_name = zck
        .file_name()
        .and_then(|n| n.to_str())
        .context("the chunk file has no UTF-8 name")?
        .to_owned();
    let header_name = format!("{zck_name}.header");
    let header_path = stage.path(&header_name);
    let mut f =
        File::create(&header_path).with_context(|| format!("cannot create {}", header_path.display()))?;
    f.write_all(&written.header)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", header_path.display()))?;
    image.source = header_path;
    image.filename = header_name;
    image.handler = "delta".into();
    image.properties = vec![
        ("url".into(), "dynamic".into()),
        ("zckfile".into(), zck_name),
        ("chain".into(), "raw".into()),
        (IMAGE_SHA256.into(), to_hex(&written.image_sha256)),
    ];
    Ok(written)
}
