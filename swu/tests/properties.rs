#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests: arbitrary input never panics the parsers; write → read round-trips.

use std::io::Read;

use proptest::prelude::*;
use updraft_swu::cpio::{CpioReader, CpioWriter};
use updraft_swu::sw_description::SwDescription;
use updraft_swu::{bundle, libconfig};

fn read_all(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let mut r = CpioReader::new(bytes);
    let mut out = Vec::new();
    while let Some(mut e) = r.next_entry()? {
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        out.push((e.header().name.clone(), data));
    }
    Ok(out)
}

proptest! {
    #[test]
    fn cpio_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_all(&bytes);
    }

    #[test]
    fn cpio_reader_never_panics_on_mutated_archives(
        entries in proptest::collection::vec(("[a-z]{1,12}", proptest::collection::vec(any::<u8>(), 0..64)), 0..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut w = CpioWriter::new(Vec::new());
        for (n, d) in &entries {
            w.append_bytes(n, d).unwrap();
        }
        let mut bytes = w.finish().unwrap();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let _ = read_all(&bytes);
        let _ = bundle::BundleReader::open(&bytes[..], bundle::ReaderOptions::default())
            .map(|mut b| while let Ok(Some(mut img)) = b.next_image() {
                if std::io::copy(&mut img, &mut std::io::sink()).is_err() { break; }
            });
    }

    #[test]
    fn cpio_round_trip(
        entries in proptest::collection::vec(("[A-Za-z0-9._-]{1,40}", proptest::collection::vec(any::<u8>(), 0..300)), 0..6),
    ) {
        prop_assume!(entries.iter().all(|(n, _)| n != "." && n != ".." && n != "TRAILER!!!"));
        let mut w = CpioWriter::new(Vec::new());
        for (n, d) in &entries {
            w.append_bytes(n, d).unwrap();
        }
        let bytes = w.finish().unwrap();
        prop_assert_eq!(bytes.len() % 512, 0);
        prop_assert_eq!(read_all(&bytes).unwrap(), entries);
    }

    #[test]
    fn libconfig_parser_never_panics(text in "\\PC{0,300}") {
        let _ = libconfig::parse(&text);
        let _ = SwDescription::parse(text.as_bytes());
    }

    #[test]
    fn libconfig_parser_never_panics_on_near_valid_text(
        text in "[a-z{}()\\[\\];:=,\" 0-9x.#/*\\\\-]{0,200}",
    ) {
        let _ = libconfig::parse(&text);
        if let Ok(d) = SwDescription::parse(text.as_bytes()) {
            let _ = d.select(Some("a"), Some("b,c"));
        }
    }

    #[test]
    fn quoted_strings_round_trip(s in "\\PC{0,64}") {
        let v = libconfig::parse(&format!("a = {};", libconfig::quote(&s))).unwrap();
        prop_assert_eq!(v.get("a"), Some(&libconfig::Value::Str(s)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn bundle_writer_round_trips_through_the_reader(
        images in proptest::collection::btree_map("[a-z][a-z0-9._-]{0,20}", proptest::collection::vec(any::<u8>(), 0..5000), 0..5),
        version in "[0-9]{1,3}\\.[0-9]{1,3}[ -~]{0,8}",
    ) {
        prop_assume!(images.keys().all(|n| n != "sw-description" && n != "sw-description.sig"));
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = bundle::Manifest {
            version: version.clone(),
            hardware_compatibility: vec!["1.0".into()],
            ..bundle::Manifest::default()
        };
        for (i, (name, data)) in images.iter().enumerate() {
            let src = dir.path().join(format!("src{i}"));
            std::fs::write(&src, data).unwrap();
            manifest.images.push(bundle::ManifestImage::raw(src, name, "/dev/null"));
        }
        let swu = bundle::BundleWriter::new(manifest).write(Vec::new()).unwrap();
        let mut reader = bundle::BundleReader::open(&swu[..], bundle::ReaderOptions::default()).unwrap();
        prop_assert_eq!(reader.description().version.as_deref(), Some(version.as_str()));
        let mut got = std::collections::BTreeMap::new();
        while let Some(mut img) = reader.next_image().unwrap() {
            let mut data = Vec::new();
            img.read_to_end(&mut data).unwrap();
            got.insert(img.artifact().filename.clone().unwrap(), data);
        }
        prop_assert_eq!(got, images);
    }
}
