//! An in-process server for integration tests: a fresh database (SQLite file or a new PostgreSQL
//! database) and data dir, real HTTP on 127.0.0.1, stopped on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::state::AppState;

pub struct TestServer {
    pub url: String,
    pub admin_user: String,
    pub admin_password: String,
    pub state: Arc<AppState>,
    pub data_dir: PathBuf,
    handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    pg_database: Option<String>,
}

/// The PostgreSQL server the tests use (CI starts one on 127.0.0.1:5432).
pub fn postgres_admin_url() -> String {
    std::env::var("UPDRAFT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?gssencmode=disable".to_owned())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", crate::auth::random_token())
}

/// Creates a fresh PostgreSQL database and returns its URL, or why it could not.
pub fn fresh_postgres_database() -> Result<(String, String), String> {
    use diesel::{Connection, RunQueryDsl};
    let admin = postgres_admin_url();
    let mut c = diesel::PgConnection::establish(&admin)
        .map_err(|e| format!("PostgreSQL at {admin} unreachable: {e}"))?;
    let name = unique("updraft_test_");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .map_err(|e| e.to_string())?;
    let base = admin.split('?').next().unwrap_or(&admin);
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    // Loopback needs no GSSAPI; libpq's Kerberos setup is not safe when many threads connect at once.
    Ok((format!("{base}/{name}?gssencmode=disable"), name))
}

/// Drops a database made by [`fresh_postgres_database`] (connections still open are closed).
pub fn drop_postgres_database(name: &str) {
    use diesel::{Connection, RunQueryDsl};
    if let Ok(mut c) = diesel::PgConnection::establish(&postgres_admin_url()) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c);
    }
}

impl TestServer {
    /// A server on a fresh SQLite database.
    pub fn start() -> Self {
        Self::start_with(None, |_| {})
    }

    /// A server on a fresh PostgreSQL database; Err says why PostgreSQL is unavailable.
    pub fn start_postgres() -> Result<Self, String> {
        Self::start_postgres_with(|_| {})
    }

    /// [`TestServer::start_postgres`] with a configuration tweak; the database is dropped on drop.
    pub fn start_postgres_with(tweak: impl FnOnce(&mut Config)) -> Result<Self, String> {
        let (url, name) = fresh_postgres_database()?;
        let mut s = Self::start_with(Some(url), tweak);
        s.pg_database = Some(name);
        Ok(s)
    }

    pub fn start_with(database_url: Option<String>, tweak: impl FnOnce(&mut Config)) -> Self {
        let data_dir = std::env::temp_dir().join(unique("updraft-test-"));
        let admin_password = crate::auth::random_token();
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.clone(),
            database_url,
            admin_password: Some(admin_password.clone()),
            workers: Some(2),
            db_pool_size: 4,
            poll_flush_interval_ms: 200,
            min_polling_time: "00:00:01".into(),
            ..Config::default()
        };
        tweak(&mut config);
        let state = crate::build_state(config).unwrap_or_else(|e| panic!("test server setup failed: {e:#}"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let (tx, rx) = std::sync::mpsc::channel();
        let s = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                if let Err(e) = crate::serve(s, listener, Some(tx)).await {
                    eprintln!("test server stopped with error: {e:#}");
                }
            });
        });
        let handle = rx.recv().ok();
        let url = format!("http://{addr}");
        // Wait until the socket answers.
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Self {
            url,
            admin_user: "admin".into(),
            admin_password,
            state,
            data_dir,
            handle,
            thread: Some(thread),
            pg_database: None,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // Stopping needs the server's own runtime; a short-lived one drives the future.
            let stop = h.stop(false);
            let _ = std::thread::spawn(move || actix_rt::System::new().block_on(stop)).join();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.pg_database.take() {
            drop_postgres_database(&name);
        }
    }
}
