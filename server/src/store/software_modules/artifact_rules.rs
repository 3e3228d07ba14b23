//! What an upload must satisfy before it is recorded: a safe file name and the checksums the
//! uploader claimed. Plain values only (std), so `server/fuzz` includes this file by path.

/// A name an uploaded artifact may have: no path separators, no dot names, no control characters.
pub fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 256
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// An upload whose bytes the artifact store holds: the name given, what the store computed and the
/// checksums the uploader claimed (lower case).
#[derive(Debug, Clone, Default)]
pub struct NewArtifact {
    pub filename: Option<String>,
    pub size: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub given_md5: Option<String>,
    pub given_sha1: Option<String>,
    pub given_sha256: Option<String>,
    /// What a `.swu` installs (`artifact_upload::swu_facts`): its image's SHA-256 and, for a
    /// per-source patch, the SHA-256 of the image it applies to.
    pub image_sha256: Option<String>,
    pub patch_source_sha256: Option<String>,
}

/// Why an upload is refused before it reaches the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The file name is missing or fails [`valid_filename`].
    Filename,
    /// The claimed checksum of this kind (`md5`, `sha1`, `sha256`) differs from the stored bytes'.
    Checksum(&'static str),
}

/// The upload's file name if it is valid and every claimed checksum matches, checked in that order
/// (name, then md5, sha1, sha256).
pub fn check(a: &NewArtifact) -> Result<&str, Refusal> {
    let filename = a
        .filename
        .as_deref()
        .filter(|f| valid_filename(f))
        .ok_or(Refusal::Filename)?;
    for (kind, given, actual) in [
        ("md5", &a.given_md5, &a.md5),
        ("sha1", &a.given_sha1, &a.sha1),
        ("sha256", &a.given_sha256, &a.sha256),
    ] {
        if given.as_ref().is_some_and(|g| g != actual) {
            return Err(Refusal::Checksum(kind));
        }
    }
    Ok(filename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_sums_and_sums_in_order() {
        let a = NewArtifact {
            filename: Some("..".into()),
            md5: "m".into(),
            sha1: "s1".into(),
            sha256: "s256".into(),
            given_sha1: Some("x".into()),
            given_sha256: Some("y".into()),
            ..NewArtifact::default()
        };
        assert_eq!(check(&a), Err(Refusal::Filename));
        let a = NewArtifact {
            filename: Some("app.swu".into()),
            ..a
        };
        assert_eq!(check(&a), Err(Refusal::Checksum("sha1")));
        let a = NewArtifact {
            given_sha1: Some("s1".into()),
            given_sha256: Some("s256".into()),
            ..a
        };
        assert_eq!(check(&a), Ok("app.swu"));
    }
}
