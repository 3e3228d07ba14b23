//! Real S3 servers for the tests, each a process of its own on 127.0.0.1 with a fresh root:
//! `s3s-fs` (which checks SigV4 signatures and presigned URLs) and moto's `moto_server` (AWS's
//! behaviour as the boto world knows it). `.ci/run` installs both; elsewhere a missing one skips
//! with a printed reason, and fails under `CI=true`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use updraft_server::config::Config;
use updraft_server::storage::{S3Settings, StorageKind};

pub const ACCESS_KEY: &str = "updraft-test-access-key";
pub const SECRET_KEY: &str = "updraft-test-secret-key";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    S3sFs,
    Moto,
}

pub struct S3Server {
    pub kind: Kind,
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    child: Child,
    root: tempfile::TempDir,
}

/// Where the server's executable is: `$UPDRAFT_TEST_S3S_FS` / `$UPDRAFT_TEST_MOTO`, else where
/// `.ci/run` installs it, else the PATH.
fn executable(kind: Kind) -> Option<std::path::PathBuf> {
    let (var, installed, name) = match kind {
        Kind::S3sFs => ("UPDRAFT_TEST_S3S_FS", "/var/tmp/updraft-s3s/bin/s3s-fs", "s3s-fs"),
        Kind::Moto => (
            "UPDRAFT_TEST_MOTO",
            "/var/tmp/updraft-moto-venv/bin/moto_server",
            "moto_server",
        ),
    };
    if let Ok(p) = std::env::var(var) {
        return Some(p.into());
    }
    if std::path::Path::new(installed).exists() {
        return Some(installed.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

impl S3Server {
    /// A fresh server; None (with the reason printed) when it is not installed, outside CI.
    pub fn start(kind: Kind) -> Option<Self> {
        match Self::try_start(kind) {
            Ok(s) => Some(s),
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{kind:?} required under CI: {why}")
            }
            Err(why) => {
                eprintln!("skipping the {kind:?} variant: {why}");
                None
            }
        }
    }

    fn try_start(kind: Kind) -> Result<Self, String> {
        let exe = executable(kind).ok_or_else(|| {
            format!("{kind:?} is not installed (.ci/run installs it; or set UPDRAFT_TEST_S3S_FS / UPDRAFT_TEST_MOTO)")
        })?;
        let root = tempfile::tempdir().map_err(|e| e.to_string())?;
        // Port 0: the server binds a free port itself and announces it. Picking a free port here
        // and handing it over races with every other listener of the test binary.
        let mut cmd = Command::new(&exe);
        match kind {
            Kind::S3sFs => {
                cmd.args(["--host", "127.0.0.1", "--port", "0"])
                    .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                    .arg(root.path())
                    .env("RUST_LOG", "s3s_fs=info");
            }
            Kind::Moto => {
                cmd.args(["-H", "127.0.0.1", "-p", "0"]);
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let lines = announced_lines(&mut child);
        let mut server = Self {
            kind,
            endpoint: String::new(),
            child,
            root,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = announced_port(&line) {
                        break port;
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "{} did not announce its address within 60 s",
                        exe.display()
                    ));
                }
            }
        };
        server.endpoint = format!("http://127.0.0.1:{port}");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{} did not listen on {port} within 60 s", exe.display()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Settings for a new empty bucket on this server.
    pub fn bucket(&self) -> S3Settings {
        let name = format!(
            "updraft-{}",
            updraft_server::auth::random_token().to_ascii_lowercase()
        )
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect::<String>();
        match self.kind {
            // s3s-fs keeps a bucket as a directory of its root.
            Kind::S3sFs => std::fs::create_dir(self.root.path().join(&name)).unwrap(),
            // moto takes unsigned requests unless told otherwise.
            Kind::Moto => {
                let r = reqwest::blocking::Client::new()
                    .put(format!("{}/{name}", self.endpoint))
                    .send()
                    .unwrap();
                assert!(r.status().is_success(), "creating bucket {name}: {}", r.status());
            }
        }
        S3Settings {
            bucket: name,
            prefix: "artifacts".into(),
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint.clone()),
            path_style: true,
            credentials: Some((ACCESS_KEY.into(), SECRET_KEY.into())),
            ..S3Settings::default()
        }
    }

    /// A configuration tweak that puts a server's artifacts in a new bucket here.
    pub fn configure(&self, c: &mut Config) {
        c.storage = StorageKind::S3;
        c.s3 = self.bucket();
    }

    /// The environment a server process needs to use `s` here.
    pub fn env(s: &S3Settings) -> Vec<(&'static str, String)> {
        let (key, secret) = s.credentials.clone().unwrap();
        vec![
            ("UPDRAFT_STORAGE", "s3".into()),
            ("UPDRAFT_S3_BUCKET", s.bucket.clone()),
            ("UPDRAFT_S3_PREFIX", s.prefix.clone()),
            ("UPDRAFT_S3_REGION", "us-east-1".into()),
            ("UPDRAFT_S3_ENDPOINT", s.endpoint.clone().unwrap()),
            ("UPDRAFT_S3_PATH_STYLE", "true".into()),
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ]
    }

    /// Every object key in the bucket, plus `multipart:<key>` for each unfinished multipart upload.
    pub fn contents(&self, s: &S3Settings) -> Vec<String> {
        let mut keys = object_keys(s);
        match self.kind {
            // Pending uploads are `.upload-<id>.json` files in the root.
            Kind::S3sFs => {
                for e in std::fs::read_dir(self.root.path()).unwrap() {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    if name.starts_with(".upload") {
                        keys.push(format!("multipart:{name}"));
                    }
                }
            }
            Kind::Moto => {
                let xml = reqwest::blocking::Client::new()
                    .get(format!("{}/{}?uploads", self.endpoint, s.bucket))
                    .send()
                    .unwrap()
                    .text()
                    .unwrap();
                for part in xml.split("<Key>").skip(1) {
                    keys.push(format!("multipart:{}", part.split("</Key>").next().unwrap()));
                }
            }
        }
        keys.sort();
        keys
    }

    /// The file s3s-fs keeps an object in (to damage it behind the store's back).
    pub fn object_file(&self, s: &S3Settings, key: &str) -> std::path::PathBuf {
        assert_eq!(self.kind, Kind::S3sFs);
        self.root.path().join(&s.bucket).join(key)
    }
}

/// Every object key in the bucket of `s` (which names its endpoint and credentials).
pub fn object_keys(s: &S3Settings) -> Vec<String> {
    let (key, secret) = s.credentials.clone().unwrap();
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s.bucket)
        .with_region("us-east-1")
        .with_endpoint(s.endpoint.clone().unwrap())
        .with_allow_http(true)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures_util::TryStreamExt;
        s3.list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap()
    })
}

/// Every line the child writes to stdout or stderr, read on threads that drain both pipes until
/// it exits (so it never blocks on a full pipe).
fn announced_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
    let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
    for pipe in [out, err] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
    }
    rx
}

/// The port in `... http://127.0.0.1:<port>` (moto: "Running on", s3s-fs: "server is running at").
fn announced_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("http://127.0.0.1:")? + "http://127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&p| p != 0)
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates, for each named behaviour `fn(&Fixture)`, one test per S3 server on SQLite, the
/// server's artifacts in a fresh bucket; `@tweak f;` configures it further first.
#[macro_export]
macro_rules! s3_tests {
    (@tweak $tweak:expr; $($name:ident),* $(,)?) => {
        mod s3s_fs {
            $( #[test] fn $name() {
                use super::support::s3::{Kind, S3Server};
                let Some(s3) = S3Server::start(Kind::S3sFs) else { return };
                let f = super::support::Fixture::with(None, |c| { ($tweak)(c); s3.configure(c); });
                super::$name(&f);
            } )*
        }
        mod moto {
            $( #[test] fn $name() {
                use super::support::s3::{Kind, S3Server};
                let Some(s3) = S3Server::start(Kind::Moto) else { return };
                let f = super::support::Fixture::with(None, |c| { ($tweak)(c); s3.configure(c); });
                super::$name(&f);
            } )*
        }
    };
}
