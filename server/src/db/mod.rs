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

/// A pool of connections plus the knowledge of which backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
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
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
        };
        let mut conn = db.pool.get()?;
        let applied = match &mut *conn {
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
        }
        .map_err(|e| anyhow::anyhow!("applying database migrations failed: {e}"))?;
        if applied > 0 {
            tracing::info!(applied, backend = ?backend, "database migrations applied");
        }
        Ok(db)
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
