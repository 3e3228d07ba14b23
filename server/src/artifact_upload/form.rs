//! The upload form's rules apart from actix: which multipart part is which, where the file name
//! comes from, how long a text field may be and how claimed checksums are read. Plain values only
//! (std), so `server/fuzz` includes this file by path and drives it as the handler does.

/// The most bytes a text field (`filename`, `md5sum`, `sha1sum`, `sha256sum`) may have.
pub const MAX_TEXT_FIELD: usize = 4096;

/// What a part of the upload form is to us, by its field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The first `file` part: its bytes go to the artifact store.
    File,
    Filename,
    Md5,
    Sha1,
    Sha256,
    /// Any other name, and every `file` part after the first: read and dropped.
    Ignored,
}

/// A text field over [`MAX_TEXT_FIELD`] bytes or not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// The form's fields read so far, the file's bytes aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// Whether the `file` part has started.
    pub has_file: bool,
    /// The `filename` field, or else the file part's `Content-Disposition` filename.
    pub filename: Option<String>,
    /// The claimed checksums, lower case.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl Form {
    /// The role of the next part, named `name` (the field name; none reads as empty).
    pub fn classify(&self, name: &str) -> Part {
        match name {
            "file" if !self.has_file => Part::File,
            "filename" => Part::Filename,
            "md5sum" => Part::Md5,
            "sha1sum" => Part::Sha1,
            "sha256sum" => Part::Sha256,
            _ => Part::Ignored,
        }
    }

    /// Records that the file part started, with the filename of its `Content-Disposition`: used
    /// unless a `filename` field came first (a later `filename` field still replaces it).
    pub fn file_started(&mut self, disposition_filename: Option<&str>) {
        self.has_file = true;
        if self.filename.is_none() {
            self.filename = disposition_filename.map(str::to_owned);
        }
    }

    /// Records the text field `part` (read by [`push_text`] and [`finish_text`]); a later field of
    /// the same name replaces an earlier one.
    pub fn set_text(&mut self, part: Part, value: String) {
        match part {
            Part::Filename => self.filename = Some(value),
            Part::Md5 => self.md5 = Some(value.to_ascii_lowercase()),
            Part::Sha1 => self.sha1 = Some(value.to_ascii_lowercase()),
            Part::Sha256 => self.sha256 = Some(value.to_ascii_lowercase()),
            Part::File | Part::Ignored => {}
        }
    }
}

/// Appends a chunk of a text field to `buf`, refusing a field that grows past [`MAX_TEXT_FIELD`].
pub fn push_text(buf: &mut Vec<u8>, chunk: &[u8]) -> Result<(), Unreadable> {
    if buf.len() + chunk.len() > MAX_TEXT_FIELD {
        return Err(Unreadable);
    }
    buf.extend_from_slice(chunk);
    Ok(())
}

/// A complete text field's value.
pub fn finish_text(buf: Vec<u8>) -> Result<String, Unreadable> {
    String::from_utf8(buf).map_err(|_| Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filename_field_wins_over_the_disposition_whatever_the_order() {
        let mut f = Form::default();
        f.set_text(Part::Filename, "given.bin".into());
        f.file_started(Some("disposition.bin"));
        assert_eq!(f.filename.as_deref(), Some("given.bin"));
        let mut f = Form::default();
        f.file_started(Some("disposition.bin"));
        assert_eq!(f.filename.as_deref(), Some("disposition.bin"));
        f.set_text(Part::Filename, "later.bin".into());
        assert_eq!(f.filename.as_deref(), Some("later.bin"));
    }

    #[test]
    fn only_the_first_file_part_is_the_file_and_sums_are_lower_cased() {
        let mut f = Form::default();
        assert_eq!(f.classify("file"), Part::File);
        f.file_started(None);
        assert_eq!(f.classify("file"), Part::Ignored);
        assert_eq!(f.classify("other"), Part::Ignored);
        assert_eq!(f.classify("sha1sum"), Part::Sha1);
        f.set_text(Part::Sha1, "ABCdef".into());
        assert_eq!(f.sha1.as_deref(), Some("abcdef"));
    }

    #[test]
    fn text_fields_are_limited_across_chunks_and_must_be_utf8() {
        let mut buf = Vec::new();
        assert!(push_text(&mut buf, &[b'a'; MAX_TEXT_FIELD - 1]).is_ok());
        assert!(push_text(&mut buf, b"b").is_ok());
        assert_eq!(push_text(&mut buf, b"c"), Err(Unreadable));
        assert_eq!(finish_text(vec![0xff]), Err(Unreadable));
    }
}
