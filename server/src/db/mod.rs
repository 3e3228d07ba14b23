//! Database access: one code path for SQLite and PostgreSQL.
//!
//! The backend is chosen from the URL (`postgres://…` or an SQLite path) by our own r2d2 manager, so a
//! wrong PostgreSQL URL reports the real connection error instead of Diesel's generic one. Queries run
//! on the blocking thread pool. SQLite allows one writer at a time, so write transactions take a
//! process-wide lock there instead of failing with `SQLITE_BUSY` under concurrent device feedback.

pub mod models;
pub mod schema;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

struct Manager {
    url: String,
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                // libpq's connection setup (GSSAPI/Kerberos in Debian's build) is not safe to run on
                // several threads at once, which r2d2 does; a test run crashed with SIGSEGV there.
                static CONNECTING: Mutex<()> = Mutex::new(());
                let _one_at_a_time = CONNECTING
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                diesel::PgConnection::establish(&self.url)
                    .map(AnyConnection::Postgresql)
                    .map_err(r2d2::Error::ConnectionError)
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn =
                    diesel::SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// `pg_advisory_lock` key of server start-up (migrations and first-start data): "updraft".
const STARTUP_LOCK: i64 = 0x0075_7064_7261_6674;

/// Holds PostgreSQL's session advisory lock for start-up; released explicitly or with the session.
struct StartupLock;

fn startup_lock(c: &mut diesel::PgConnection) -> anyhow::Result<StartupLock> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({STARTUP_LOCK})"))
        .execute(c)
        .map_err(|e| anyhow::anyhow!("taking the start-up lock failed: {e}"))?;
    Ok(StartupLock)
}

impl StartupLock {
    #[allow(clippy::unused_self)] // Taking the guard by value is the point: it cannot be released twice.
    fn release(self, c: &mut diesel::PgConnection) {
        let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({STARTUP_LOCK})")).execute(c);
    }
}

/// A pool of connections plus the knowledge of which backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    url: Arc<str>,
    backend: Backend,
    sqlite_writer: Arc<Mutex<()>>,
}

impl Db {
    /// Connects and applies pending migrations.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let backend = Backend::from_url(url);
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            // A checkout must not cost a round trip on the poll path; broken connections surface as
            // query errors and are replaced by r2d2.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager {
                url: url.to_owned(),
                backend,
            })?;
        let db = Self {
            pool,
            url: url.into(),
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
        };
        let mut conn = db.pool.get()?;
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            AnyConnection::Postgresql(c) => {
                // Several server processes starting at once: one migrates, the others wait and
                // then find nothing pending. The lock ends with the session if the process dies.
                let lock = startup_lock(c)?;
                let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
                lock.release(c);
                applied
            }
        }
        .map_err(|e| anyhow::anyhow!("applying database migrations failed: {e}"))?;
        if applied > 0 {
            tracing::info!(applied, backend = ?backend, "database migrations applied");
        }
        Ok(db)
    }

    /// Runs first-start work (default tenant, first administrator) while no other server process
    /// starting against the same PostgreSQL does the same.
    pub fn with_startup_lock<T>(&self, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        if self.backend == Backend::Sqlite {
            return f();
        }
        // A connection of its own, so the pool stays free for `f` however small it is.
        let mut c = diesel::PgConnection::establish(&self.url)?;
        let guard = startup_lock(&mut c)?;
        let out = f();
        guard.release(&mut c);
        out
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` on a pooled connection on the blocking pool (reads, or a single statement).
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(ApiError::internal)?;
            f(&mut conn)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// [`Db::run`] for background jobs already off the runtime.
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.pool.get().map_err(ApiError::internal)?;
        f(&mut conn)
    }

    /// Runs `f` in one write transaction: all of its rows land, or none.
    pub async fn tx<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.tx_blocking(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// The blocking form of [`Db::tx`], for start-up and background jobs already off the runtime.
    pub fn tx_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
    {
        let _writer = match self.backend {
            Backend::Sqlite => Some(
                self.sqlite_writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            Backend::Postgres => None,
        };
        let mut conn = self.pool.get().map_err(ApiError::internal)?;
        let conn: &mut AnyConnection = &mut conn;
        conn.transaction(f)
    }
}
