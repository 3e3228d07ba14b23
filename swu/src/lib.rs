//! SWUpdate `.swu` bundles: reading, verifying and writing them.
//!
//! - [`cpio`]: streaming reader/writer of cpio `newc`/`crc` archives (the container).
//! - [`libconfig`]: the libconfig subset (and JSON) sw-description is written in.
//! - [`sw_description`]: the typed model and SWUpdate's board/selection lookup.
//! - [`signature`]: detached CMS signatures of sw-description, verified by OpenSSL.
//! - [`zchunk`]: zchunk format version 1 chunk files (`*.zck`) for SWUpdate-style chunk deltas.
//! - [`patch`]: per-source patches (`zstd-window-v1`): a target image from a source and a patch.
//! - [`bundle`]: [`bundle::BundleReader`] (signature first, then hash-checked images) and
//!   [`bundle::BundleWriter`].
//!
//! ```no_run
//! use std::io::Read;
//! use updraft_swu::bundle::{BundleReader, ReaderOptions};
//! use updraft_swu::signature::Verifier;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let swu = std::io::BufReader::new(std::fs::File::open("update.swu")?);
//! let mut bundle = BundleReader::open(swu, ReaderOptions {
//!     verifier: Some(Verifier::from_pem_file("/etc/swupdate/cert.pem")?),
//!     selection: Some("stable,copy2".into()),
//!     ..ReaderOptions::default()
//! })?;
//! while let Some(mut image) = bundle.next_image()? {
//!     let device = image.artifact().device.clone();
//!     // Write to a staging place; only an error-free read to EOF proves the sha256.
//!     std::io::copy(&mut image, &mut std::io::sink())?;
//!     let _ = device;
//! }
//! # Ok(())
//! # }
//! ```

pub mod bundle;
pub mod cpio;
pub mod libconfig;
pub mod patch;
pub mod signature;
pub mod sw_description;
pub mod zchunk;
