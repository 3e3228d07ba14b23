//! One artifact-store suite, run against every store: the filesystem store, and the S3 store on
//! `s3s-fs` (which checks signatures) and on `moto_server`. Blobs round-trip with their digests,
//! ranges read exactly, large uploads go through multipart, and an upload that is too large,
//! fails or is abandoned leaves nothing behind: no object, no temp file, no unfinished upload.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::Digest;
use support::s3::{Kind, S3Server};
use updraft_server::storage::{ArtifactStore, FsStore, PutError, S3Settings, S3Store};

/// A store under test and a way to see everything it keeps.
struct Harness {
    store: Arc<dyn ArtifactStore>,
    rt: tokio::runtime::Runtime,
    backend: Backend,
}

enum Backend {
    Fs(tempfile::TempDir),
    S3(Box<(S3Server, S3Settings)>),
}

impl Harness {
    fn fs() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            store: Arc::new(FsStore::new(dir.path().join("artifacts")).unwrap()),
            rt: runtime(),
            backend: Backend::Fs(dir),
        }
    }

    fn s3(kind: Kind) -> Option<Self> {
        let server = S3Server::start(kind)?;
        let settings = server.bucket();
        Some(Self {
            store: Arc::new(S3Store::new(&settings).unwrap()),
            rt: runtime(),
            backend: Backend::S3(Box::new((server, settings))),
        })
    }

    fn run<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// Everything stored, named by what it is: a blob by its digest, anything else by its path
    /// (temp files, temp objects, `multipart:` for unfinished uploads).
    fn contents(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.backend {
            Backend::Fs(dir) => walk(&dir.path().join("artifacts"))
                .into_iter()
                .map(|p| blob_name(&p))
                .collect(),
            Backend::S3(s3) => {
                s3.0.contents(&s3.1)
                    .into_iter()
                    .map(|k| blob_name(k.trim_start_matches("artifacts/")))
                    .collect()
            }
        };
        names.sort();
        names
    }

    /// Waits (generously) until the store keeps exactly `want`: clean-up after a dropped upload
    /// runs in the background.
    fn eventually_contains(&self, want: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let have = self.contents();
            if have == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the store keeps {have:?}, expected {want:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn put(
        &self,
        chunks: Vec<Result<Bytes, String>>,
        limit: u64,
    ) -> Result<updraft_server::storage::StoredBlob, PutError> {
        self.run(
            self.store
                .put(Box::pin(futures_util::stream::iter(chunks)), limit),
        )
    }

    fn read(&self, sha256: &str, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        self.run(async {
            let mut s = self.store.read(sha256, offset, len).await?;
            let mut out = Vec::new();
            while let Some(chunk) = s.next().await {
                out.extend_from_slice(&chunk?);
            }
            Ok(out)
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            out.extend(walk(&e.path()).into_iter().map(|p| format!("{name}/{p}")));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

/// `ab/ab12…` → `ab12…`; anything else unchanged.
fn blob_name(path: &str) -> String {
    match path.split_once('/') {
        Some((dir, sha)) if sha.len() == 64 && sha.starts_with(dir) => sha.to_owned(),
        _ => path.to_owned(),
    }
}

fn content(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn chunks(data: &[u8]) -> Vec<Result<Bytes, String>> {
    data.chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

fn sha256(data: &[u8]) -> String {
    updraft_server::auth::hex(&sha2::Sha256::digest(data))
}

/// One test per store for each behaviour `fn(&Harness)`.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod fs {
            $( #[test] fn $name() { super::$name(&super::Harness::fs()); } )*
        }
        mod s3s_fs {
            $( #[test] fn $name() {
                if let Some(h) = super::Harness::s3(super::Kind::S3sFs) { super::$name(&h); }
            } )*
        }
        mod moto {
            $( #[test] fn $name() {
                if let Some(h) = super::Harness::s3(super::Kind::Moto) { super::$name(&h); }
            } )*
        }
    };
}

store_tests!(
    a_blob_round_trips_with_its_digests_and_ranges,
    a_large_upload_streams_in_parts_and_reads_across_them,
    the_same_content_twice_is_one_blob,
    too_large_uploads_leave_nothing,
    failed_uploads_leave_nothing,
    abandoned_uploads_leave_nothing,
    deleting_removes_the_blob_once,
    only_digests_name_blobs,
    the_store_answers_its_check,
);

fn a_blob_round_trips_with_its_digests_and_ranges(h: &Harness) {
    let data = content(100_000, 1);
    let blob = h.put(chunks(&data), 1 << 20).unwrap();
    assert_eq!(blob.size, 100_000);
    assert_eq!(blob.sha256, sha256(&data));
    assert_eq!(blob.sha1, updraft_server::auth::hex(&sha1::Sha1::digest(&data)));
    assert_eq!(blob.md5, updraft_server::auth::hex(&md5::Md5::digest(&data)));
    assert_eq!(h.read(&blob.sha256, 0, 100_000).unwrap(), data);
    assert_eq!(h.read(&blob.sha256, 10, 20).unwrap(), &data[10..30]);
    assert_eq!(h.read(&blob.sha256, 99_999, 1).unwrap(), &data[99_999..]);
    assert_eq!(h.read(&blob.sha256, 500, 0).unwrap(), b"");
    h.eventually_contains(&[&blob.sha256]);
}

fn a_large_upload_streams_in_parts_and_reads_across_them(h: &Harness) {
    // Two and a half parts of 8 MiB.
    let data = content(20 << 20, 2);
    let blob = h.put(chunks(&data), 1 << 30).unwrap();
    assert_eq!(blob.sha256, sha256(&data));
    let edge: usize = 8 << 20;
    assert_eq!(
        h.read(&blob.sha256, edge as u64 - 10, 20).unwrap(),
        &data[edge - 10..edge + 10]
    );
    assert_eq!(h.read(&blob.sha256, 0, data.len() as u64).unwrap(), data);
    h.eventually_contains(&[&blob.sha256]);
}

fn the_same_content_twice_is_one_blob(h: &Harness) {
    for data in [content(1000, 3), content(9 << 20, 4)] {
        let a = h.put(chunks(&data), 1 << 30).unwrap();
        let b = h.put(chunks(&data), 1 << 30).unwrap();
        assert_eq!(a, b);
        assert_eq!(h.read(&a.sha256, 0, data.len() as u64).unwrap(), data);
        h.run(h.store.delete(&a.sha256)).unwrap();
    }
    h.eventually_contains(&[]);
}

fn too_large_uploads_leave_nothing(h: &Harness) {
    // In memory (below a part), and after a multipart upload has begun.
    for (len, limit) in [(2 << 20, 1 << 20), (20 << 20, 12 << 20)] {
        match h.put(chunks(&content(len, 5)), limit) {
            Err(PutError::TooLarge(l)) => assert_eq!(l, limit),
            other => panic!("{other:?}"),
        }
    }
    h.eventually_contains(&[]);
}

fn failed_uploads_leave_nothing(h: &Harness) {
    for len in [1000, 17 << 20] {
        let mut input = chunks(&content(len, 6));
        input.push(Err("connection reset by peer".into()));
        match h.put(input, 1 << 30) {
            Err(PutError::Input(m)) => assert_eq!(m, "connection reset by peer"),
            other => panic!("{other:?}"),
        }
    }
    h.eventually_contains(&[]);
}

/// The client goes away in the middle of a multipart upload: the request's future is dropped.
fn abandoned_uploads_leave_nothing(h: &Harness) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sent = content(17 << 20, 7);
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, String>>>> = Box::pin(
        futures_util::stream::iter(chunks(&sent)).chain(futures_util::stream::once(async move {
            let _ = tx.send(());
            // Never ends, as a stalled client.
            std::future::pending::<Result<Bytes, String>>().await
        })),
    );
    let mut put = h.store.put(stream, 1 << 30);
    h.run(async {
        tokio::select! {
            r = &mut put => panic!("the upload cannot finish: {r:?}"),
            _ = rx => {}
        }
    });
    // Midway, the S3 stores hold an unfinished multipart upload; the filesystem a temp file.
    let midway = h.contents();
    assert!(
        midway
            .iter()
            .any(|n| n.starts_with("multipart:") || n.starts_with("tmp/")),
        "{midway:?}"
    );
    drop(put);
    h.eventually_contains(&[]);
}

fn deleting_removes_the_blob_once(h: &Harness) {
    let data = content(4096, 8);
    let blob = h.put(chunks(&data), 1 << 20).unwrap();
    h.run(h.store.delete(&blob.sha256)).unwrap();
    assert_eq!(
        h.read(&blob.sha256, 0, 4096).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    h.run(h.store.delete(&blob.sha256)).unwrap();
    h.eventually_contains(&[]);
}

fn only_digests_name_blobs(h: &Harness) {
    for bad in [
        "../../etc/passwd",
        "AB",
        &"A".repeat(64),
        &format!("{}/x", "a".repeat(62)),
    ] {
        let e = h.read(bad, 0, 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert!(h.run(h.store.delete(bad)).is_err(), "{bad}");
    }
}

fn the_store_answers_its_check(h: &Harness) {
    h.run(h.store.check()).unwrap();
}

/// Presigned URLs: the filesystem store has none; an S3 one serves ranges straight from the bucket,
/// which checks the signature (s3s-fs) and refuses the URL once altered.
#[test]
fn s3_presigned_urls_serve_ranges_and_the_filesystem_has_none() {
    let fs = Harness::fs();
    let data = content(10_000, 9);
    let blob = fs.put(chunks(&data), 1 << 20).unwrap();
    assert_eq!(
        fs.run(fs.store.presign(&blob.sha256, Duration::from_secs(60)))
            .unwrap(),
        None
    );
    let Some(h) = Harness::s3(Kind::S3sFs) else {
        return;
    };
    let blob = h.put(chunks(&data), 1 << 20).unwrap();
    let url = h
        .run(h.store.presign(&blob.sha256, Duration::from_secs(60)))
        .unwrap()
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let r = http.get(&url).header("range", "bytes=100-199").send().unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &data[100..200]);
    let forged = url.replace(&blob.sha256[..8], "00000000");
    assert_eq!(http.get(&forged).send().unwrap().status(), 403);
}

/// s3s-fs checks signatures: a wrong secret fails the check and every upload.
#[test]
fn s3_refuses_a_wrong_secret() {
    let Some(server) = S3Server::start(Kind::S3sFs) else {
        return;
    };
    let mut settings = server.bucket();
    settings.credentials = Some((support::s3::ACCESS_KEY.into(), "not-the-secret".into()));
    let store = S3Store::new(&settings).unwrap();
    let rt = runtime();
    assert!(rt.block_on(store.check()).is_err());
    let input = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"x"))]);
    assert!(rt.block_on(store.put(Box::pin(input), 10)).is_err());
}

/// A blob altered in the bucket ends a whole download with an error rather than delivering it.
#[test]
fn s3_whole_reads_check_the_digest() {
    let Some(h) = Harness::s3(Kind::S3sFs) else {
        return;
    };
    let data = content(50_000, 10);
    let blob = h.put(chunks(&data), 1 << 20).unwrap();
    let Backend::S3(s3) = &h.backend else {
        unreachable!()
    };
    let (server, settings) = &**s3;
    let file = server.object_file(
        settings,
        &format!("artifacts/{}/{}", &blob.sha256[..2], blob.sha256),
    );
    let mut altered = data.clone();
    altered[25_000] ^= 1;
    std::fs::write(file, &altered).unwrap();
    let e = h.read(&blob.sha256, 0, 50_000).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    // A range cannot be checked and is served as stored.
    assert_eq!(h.read(&blob.sha256, 0, 10).unwrap(), &data[..10]);
}
