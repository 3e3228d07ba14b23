//! What an uploaded `.swu` installs, read from its sw-description (issue 18, item 2): the SHA-256
//! of the image its raw or delta entry writes, and for a per-source patch bundle also the image
//! the patch applies to. The server only reads what the bundle says; the device checks the
//! signature and every hash. Anything unreadable yields no facts: the artifact stays opaque.

use std::io::Read;

use futures_util::StreamExt;
use updraft_swu::bundle::SW_DESCRIPTION;
use updraft_swu::cpio::CpioReader;
use updraft_swu::libconfig::{MAX_INPUT, Value};
use updraft_swu::sw_description::{SwDescription, parse_sha256, to_hex};

use crate::storage::ArtifactStore;

/// How much of a stored `.swu` is read: the first cpio entry (sw-description, at most
/// [`MAX_INPUT`]) with its header and name.
pub const HEAD_LIMIT: u64 = MAX_INPUT as u64 + 4096;

/// What a `.swu` installs; both None for other files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwuFacts {
    /// SHA-256 (lower-case hex) of the image the bundle installs.
    pub image_sha256: Option<String>,
    /// For a patch bundle: SHA-256 of the image the patch applies to.
    pub patch_source_sha256: Option<String>,
}

/// Whether the file name is a SWUpdate bundle's (`.swu`, `.patch.swu`).
pub fn is_swu(filename: &str) -> bool {
    filename.to_ascii_lowercase().ends_with(".swu")
}

/// The facts of a bundle whose first bytes (at least its whole first entry) are `head`.
///
/// A bundle installs one image when every `raw` and `delta` image entry (in any board or
/// selection) that names an `image-sha256` names the same one; it is a patch bundle when its
/// `patch` entries all name the same `source-sha256` and `image-sha256`.
pub fn from_head(head: &[u8]) -> Result<SwuFacts, String> {
    let mut cpio = CpioReader::new(head);
    let mut entry = cpio
        .next_entry()
        .map_err(|e| e.to_string())?
        .ok_or("the archive is empty")?;
    if entry.header().name != SW_DESCRIPTION {
        return Err(format!(
            "its first entry is {:?}, not sw-description",
            entry.header().name
        ));
    }
    if entry.header().size > MAX_INPUT as u64 {
        return Err(format!("its sw-description is larger than {MAX_INPUT} bytes"));
    }
    let mut text = Vec::new();
    entry.read_to_end(&mut text).map_err(|e| e.to_string())?;
    let description =
        SwDescription::parse_with_handlers(&text, &["patch".to_owned()]).map_err(|e| e.to_string())?;
    let mut images = Vec::new();
    let mut patches = Vec::new();
    collect(&description.software, &mut images, &mut patches);
    images.sort();
    images.dedup();
    patches.sort();
    patches.dedup();
    Ok(match (patches.as_slice(), images.as_slice()) {
        ([(source, image)], _) => SwuFacts {
            image_sha256: Some(image.clone()),
            patch_source_sha256: Some(source.clone()),
        },
        ([], [image]) => SwuFacts {
            image_sha256: Some(image.clone()),
            patch_source_sha256: None,
        },
        _ => SwuFacts::default(),
    })
}

/// Gathers the image hashes of every `images` list under `node`.
fn collect(node: &Value, images: &mut Vec<String>, patches: &mut Vec<(String, String)>) {
    let Value::Group(members) = node else {
        return;
    };
    for (key, value) in members {
        match (key.as_str(), value) {
            ("images", Value::List(entries)) => {
                for e in entries {
                    let handler = match e.get("type") {
                        Some(Value::Str(t)) => t.as_str(),
                        _ => "raw",
                    };
                    let property = |name: &str| match e.get("properties").and_then(|p| p.get(name)) {
                        Some(Value::Str(hex)) => parse_sha256(hex).map(|h| to_hex(&h)),
                        _ => None,
                    };
                    match handler {
                        "raw" | "delta" => images.extend(property("image-sha256")),
                        "patch" => {
                            if let (Some(source), Some(image)) =
                                (property("source-sha256"), property("image-sha256"))
                            {
                                patches.push((source, image));
                            }
                        }
                        _ => {}
                    }
                }
            }
            ("files" | "scripts" | "bootenv" | "uboot", _) => {}
            _ => collect(value, images, patches),
        }
    }
}

/// The facts of the stored blob `sha256` (`size` bytes) uploaded as `filename`: read from the
/// store's first [`HEAD_LIMIT`] bytes when the name is a `.swu`'s. Never fails: a bundle that
/// cannot be read is logged (debug) and stays an opaque artifact.
pub async fn read(store: &dyn ArtifactStore, filename: &str, sha256: &str, size: u64) -> SwuFacts {
    if !is_swu(filename) {
        return SwuFacts::default();
    }
    let head = async {
        let len = size.min(HEAD_LIMIT);
        let mut stream = store.read(sha256, 0, len).await.map_err(|e| e.to_string())?;
        let mut head = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            head.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
            if head.len() as u64 >= len {
                break;
            }
        }
        Ok::<_, String>(head)
    }
    .await;
    match head.and_then(|h| from_head(&h)) {
        Ok(facts) => facts,
        Err(why) => {
            tracing::debug!(filename, sha256, %why, "artifact stored as an opaque file: its sw-description could not be read");
            SwuFacts::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use updraft_swu::cpio::CpioWriter;

    fn swu(description: &str) -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new());
        w.append_bytes("sw-description", description.as_bytes()).unwrap();
        w.append_bytes("sw-description.sig", b"sig").unwrap();
        w.finish().unwrap()
    }

    const X: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const Y: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn reads_a_full_a_delta_and_a_patch_bundle() {
        let full = swu(&format!(
            "software = {{ version = \"1\"; images: ( {{ filename = \"r\"; device = \"/dev/a\"; \
             properties: {{ image-sha256 = \"{X}\"; }}; }} ); }};"
        ));
        assert_eq!(from_head(&full).unwrap().image_sha256.as_deref(), Some(X));
        let delta = swu(&format!(
            "software = {{ version = \"1\"; images: ( {{ filename = \"r.zck.header\"; type = \"delta\"; \
             properties: {{ url = \"dynamic\"; zckfile = \"r.zck\"; image-sha256 = \"{X}\"; }}; }} ); }};"
        ));
        assert_eq!(from_head(&delta).unwrap().image_sha256.as_deref(), Some(X));
        let patch = swu(&format!(
            "software = {{ version = \"2\"; images: ( {{ filename = \"r.patch\"; type = \"patch\"; \
             properties: {{ format = \"zstd\"; source-sha256 = \"{Y}\"; source-size = \"10\"; \
             image-sha256 = \"{X}\"; image-size = \"10\"; chain = \"raw\"; }}; }} ); }};"
        ));
        let f = from_head(&patch).unwrap();
        assert_eq!(f.image_sha256.as_deref(), Some(X));
        assert_eq!(f.patch_source_sha256.as_deref(), Some(Y));
    }

    #[test]
    fn two_images_or_garbage_give_no_facts() {
        let two = swu(&format!(
            "software = {{ version = \"1\"; images: ( \
             {{ filename = \"a\"; properties: {{ image-sha256 = \"{X}\"; }}; }}, \
             {{ filename = \"b\"; properties: {{ image-sha256 = \"{Y}\"; }}; }} ); }};"
        ));
        assert_eq!(from_head(&two).unwrap(), SwuFacts::default());
        assert!(from_head(b"not a cpio archive").is_err());
        assert!(from_head(&swu("software = {")).is_err());
        let full = swu(&format!(
            "software = {{ version = \"1\"; images: ( {{ filename = \"r\"; \
             properties: {{ image-sha256 = \"{X}\"; }}; }} ); }};"
        ));
        assert!(from_head(&full[..40]).is_err(), "a cut archive is no bundle");
    }
}
