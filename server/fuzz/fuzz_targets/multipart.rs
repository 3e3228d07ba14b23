#![no_main]
//! Any sequence of upload form parts through our side of an artifact upload: the field rules of
//! `artifact_upload/form.rs`, driven as `artifact_upload::read_form` drives them, then the store's
//! check of the file name and claimed checksums (`store/software_modules/artifact_rules.rs`). No
//! panic; an accepted upload has a safe name that came from the form and only matching checksums; a
//! text field is refused exactly when it is too long or not UTF-8, however it is chunked.
//!
//! actix-multipart's byte-level parser is not in here: building actix-web under the sanitizer would
//! cost minutes per CI run, and the server's tests upload real multipart bodies over HTTP.
//!
//! The input is text-like so seeds read as forms: one byte giving the chunk size the parts' bytes
//! arrive in (0: one chunk), then parts separated by `\n--\n`, each a line `name` or
//! `name\tfilename` (the `Content-Disposition` filename) followed by the part's bytes. The stored
//! file's digests are those of `hello\n`.

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/artifact_upload/form.rs"]
mod form;

#[allow(dead_code)]
#[path = "../../src/store/software_modules/artifact_rules.rs"]
mod rules;

use form::{Form, MAX_TEXT_FIELD, Part};

const MD5: &str = "b1946ac92492d2347c6235b4d2611184";
const SHA1: &str = "f572d396fae9206628714fb2ce00f72e94f2258f";
const SHA256: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = if chunk == 0 {
        usize::MAX
    } else {
        usize::from(chunk)
    };
    let mut form = Form::default();
    let mut file = false;
    // Every filename the form offered, in order: an accepted name must be one of them.
    let mut offered: Vec<String> = Vec::new();
    for part in split(data, b"\n--\n") {
        let (head, content) = match part.iter().position(|&b| b == b'\n') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let head = String::from_utf8_lossy(head);
        let (name, disposition) = match head.split_once('\t') {
            Some((n, f)) => (n, Some(f)),
            None => (&*head, None),
        };
        let kind = form.classify(name);
        match kind {
            Part::File => {
                assert!(!file, "a second file part taken");
                file = true;
                let before = form.filename.clone();
                form.file_started(disposition);
                if before.is_some() {
                    assert_eq!(form.filename, before, "the disposition replaced a filename field");
                } else if let Some(d) = disposition {
                    offered.push(d.to_owned());
                }
            }
            Part::Ignored => {}
            text => {
                let mut buf = Vec::new();
                let mut pushed = content
                    .chunks(chunk)
                    .try_for_each(|c| form::push_text(&mut buf, c));
                if pushed.is_ok() {
                    pushed = form::finish_text(buf).map(|value| {
                        assert_eq!(value.as_bytes(), content);
                        if text == Part::Filename {
                            offered.push(value.clone());
                        }
                        form.set_text(text, value);
                    });
                }
                let readable = content.len() <= MAX_TEXT_FIELD && std::str::from_utf8(content).is_ok();
                assert_eq!(
                    pushed.is_ok(),
                    readable,
                    "a text field of {} bytes",
                    content.len()
                );
                if !readable {
                    return; // the handler answers 400
                }
            }
        }
    }
    for sum in [&form.md5, &form.sha1, &form.sha256].into_iter().flatten() {
        assert!(
            !sum.bytes().any(|b| b.is_ascii_uppercase()),
            "a claimed checksum not lower-cased"
        );
    }
    if !file {
        return; // the handler answers 400: no `file` part
    }
    let new = rules::NewArtifact {
        filename: form.filename.clone(),
        size: 6,
        md5: MD5.into(),
        sha1: SHA1.into(),
        sha256: SHA256.into(),
        given_md5: form.md5.clone(),
        given_sha1: form.sha1.clone(),
        given_sha256: form.sha256.clone(),
        image_sha256: None,
        patch_source_sha256: None,
    };
    match rules::check(&new) {
        Ok(name) => {
            assert!(rules::valid_filename(name));
            assert!(!name.is_empty() && name != "." && name != "..");
            assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
            assert!(
                offered.iter().any(|o| o == name),
                "a name the form did not give: {name:?}"
            );
            assert!(form.md5.as_deref().is_none_or(|g| g == MD5));
            assert!(form.sha1.as_deref().is_none_or(|g| g == SHA1));
            assert!(form.sha256.as_deref().is_none_or(|g| g == SHA256));
        }
        Err(rules::Refusal::Filename) => {
            assert!(form.filename.as_deref().is_none_or(|f| !rules::valid_filename(f)));
        }
        Err(rules::Refusal::Checksum(kind)) => {
            assert!(form.filename.as_deref().is_some_and(rules::valid_filename));
            let (given, actual) = match kind {
                "md5" => (&form.md5, MD5),
                "sha1" => (&form.sha1, SHA1),
                "sha256" => (&form.sha256, SHA256),
                other => panic!("an unknown checksum kind {other}"),
            };
            assert!(given.as_deref().is_some_and(|g| g != actual));
        }
    }
});
