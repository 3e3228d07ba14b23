//! Database access: one code path for SQLite and PostgreSQL.
//!
//! The backend is chosen from the URL (`postgres://…` or an SQLite path) by our own r2d2 manager, so a
//! wrong PostgreSQL URL reports the real connection error instead of Diesel's generic one. Queries run
//! on the blocking thread pool. SQLite allows one writer at a time, so write transactions take a
//! process-wide lock there instead of failing with `SQLITE_BUSY` under concurrent device feedback.
//!
//! Outages are normal: a connection the server closed (restart, `pg_terminate_backend`, a proxy's idle
//! timeout) is found before use when it sat idle, or by the query that fails on it; it is then thrown
//! away, and the work is run once more on a fresh connection when that is safe (a read, or a
//! transaction whose body never finished and so never committed). What still cannot reach the
//! database is answered 503 with `Retry-After`, never a hang or a bare 500.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::error::{Error, Failure};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
/// How often a write PostgreSQL rolled back for colliding with a concurrent one runs again before
/// [`Error::Contended`] reaches the caller (pauses of 5, 10, ... 40 ms in between).
const CONTENDED_RETRIES: u32 = 8;

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
    /// When (Unix ms) connecting last failed, 0 after a success: shared with [`Db`], so requests
    /// fail fast while the database is unreachable instead of each waiting out the pool's timeout.
    connect_failed_at: Arc<AtomicI64>,
}

/// A pooled connection, with what the pool needs to know to throw it away.
pub struct PooledConn {
    conn: AnyConnection,
    broken: bool,
    idle_since: Instant,
}

impl ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PooledConn, r2d2::Error> {
        let conn = self.establish();
        self.connect_failed_at
            .store(if conn.is_ok() { 0 } else { now_ms() }, Ordering::Relaxed);
        Ok(PooledConn {
            conn: conn?,
            broken: false,
            idle_since: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), r2d2::Error> {
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        conn.broken
    }
}

impl Manager {
    fn establish(&self) -> Result<AnyConnection, r2d2::Error> {
        Ok(match self.backend {
            Backend::Postgres => {
                // libpq's connection setup (GSSAPI/Kerberos in Debian's build) is not safe to run on
                // several threads at once, which r2d2 does; a test run crashed with SIGSEGV there.
                static CONNECTING: Mutex<()> = Mutex::new(());
                let _one_at_a_time = CONNECTING
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut conn =
                    diesel::PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // No JIT compilation: the console's counting queries over 100,000 devices pass its
                // cost threshold and spent 15-20 ms compiling to run for 30 (issue 19's 20 ms bar);
                // no query here runs long enough to win that back.
                conn.batch_execute("SET jit = off")
                    .map_err(r2d2::Error::QueryError)?;
                AnyConnection::Postgresql(conn)
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn =
                    diesel::SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // A short busy wait: only another process (the CLI, a backup) can hold the write
                // lock, since this one serializes its writers; past it the request gets a 503.
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_MS}; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                AnyConnection::Sqlite(conn)
            }
        })
    }
}

/// How long SQLite waits for another process's write lock before the request is answered 503.
const SQLITE_BUSY_MS: u64 = 2000;
/// A PostgreSQL connection idle this long is pinged before use: the server may have closed it.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// How long a request waits for a connection (pool exhausted, or the database unreachable).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Until when (Unix ms) another process holds SQLite's write lock, as last seen: writers fail
    /// fast with 503 instead of queueing behind each other's busy waits.
    sqlite_busy_until: Arc<AtomicI64>,
    connect_failed_at: Arc<AtomicI64>,
    /// Checkouts that found no idle connection and waited for one (or for a new one).
    waits: Arc<AtomicU64>,
}

/// The pool's figures for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max: u32,
    pub connections: u32,
    pub idle: u32,
    pub waits: u64,
}

/// While connecting failed this recently, a request finding no idle connection is answered 503 at
/// once; the pool keeps trying in the background.
const CONNECT_FAILURE_FRESH_MS: i64 = 2000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Db {
    /// Connects and applies pending migrations.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let backend = Backend::from_url(url);
        let connect_failed_at = Arc::new(AtomicI64::new(0));
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            // A checkout must not cost a round trip on the busy path; connections idle for a while
            // are pinged by `checkout`, and broken ones are dropped (`has_broken`).
            .test_on_check_out(false)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(Manager {
                url: url.to_owned(),
                backend,
                connect_failed_at: Arc::clone(&connect_failed_at),
            })?;
        let db = Self {
            pool,
            url: url.into(),
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
            sqlite_busy_until: Arc::new(AtomicI64::new(0)),
            connect_failed_at,
            waits: Arc::new(AtomicU64::new(0)),
        };
        let mut conn = db.pool.get()?;
        let applied = match &mut conn.conn {
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

    /// Readiness: a connection answers a ping now and every embedded migration is applied (a node
    /// started from an older binary against a newer schema, or the reverse, is not ready). Blocking.
    pub fn ready(&self) -> Result<(), Error> {
        let mut c = self.checkout(true)?;
        let pending = match &mut c.conn {
            AnyConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            AnyConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| Error::Unavailable(format!("reading the applied migrations failed: {e}")))?;
        c.idle_since = Instant::now();
        if pending {
            return Err(Error::Unavailable("database migrations are pending".into()));
        }
        Ok(())
    }

    /// Open and idle connections (r2d2's `state()`) and how often a checkout had to wait.
    pub fn pool_status(&self) -> PoolStatus {
        let s = self.pool.state();
        PoolStatus {
            max: self.pool.max_size(),
            connections: s.connections,
            idle: s.idle_connections,
            waits: self.waits.load(Ordering::Relaxed),
        }
    }

    /// A connection that answered recently or answers a ping now; with `ping`, one that answers a
    /// ping now (after a connection died, its idle siblings most likely died with it).
    fn checkout(&self, ping: bool) -> Result<r2d2::PooledConnection<Manager>, Error> {
        // Each dead idle connection found is dropped; the pool holds at most `max_size` of them.
        for _ in 0..=self.pool.max_size() {
            let failed_at = self.connect_failed_at.load(Ordering::Relaxed);
            let mut c = match self.pool.try_get() {
                Some(c) => c,
                None if failed_at > 0 && now_ms() - failed_at < CONNECT_FAILURE_FRESH_MS => {
                    return Err(Error::Unavailable("the database cannot be reached".into()));
                }
                None => {
                    self.waits.fetch_add(1, Ordering::Relaxed);
                    self.pool
                        .get()
                        .map_err(|e| Error::Unavailable(format!("no database connection: {e}")))?
                }
            };
            if self.backend == Backend::Sqlite
                || (!ping && c.idle_since.elapsed() < IDLE_CHECK)
                || c.conn.batch_execute("SELECT 1").is_ok()
            {
                return Ok(c);
            }
            tracing::info!("dropping a database connection the server closed");
            c.broken = true;
        }
        Err(Error::Unavailable("no working database connection".into()))
    }

    /// Runs `attempt` on a connection; when it fails because the connection died and `retry` says
    /// the failed attempt changed nothing, once more on a fresh one.
    fn with_conn<T, E: Failure>(
        &self,
        mut attempt: impl FnMut(&mut AnyConnection) -> (Result<T, E>, bool),
    ) -> Result<T, E> {
        let mut c = self.checkout(false)?;
        let (result, retry_safe) = attempt(&mut c.conn);
        let Err(e) = result else {
            c.idle_since = Instant::now();
            return result;
        };
        if !e.is_unavailable() || self.backend == Backend::Sqlite {
            c.idle_since = Instant::now();
            return Err(e);
        }
        if c.conn.batch_execute("SELECT 1").is_ok() {
            c.idle_since = Instant::now();
            return Err(e);
        }
        c.broken = true;
        drop(c);
        if !retry_safe {
            return Err(e);
        }
        tracing::info!("the database connection died mid-request; running it again on a fresh one");
        let mut c = self.checkout(true)?;
        let (result, _) = attempt(&mut c.conn);
        if result.as_ref().is_err_and(E::is_unavailable) {
            c.broken = c.conn.batch_execute("SELECT 1").is_err();
        }
        c.idle_since = Instant::now();
        result
    }

    /// Runs `f` on a pooled connection on the blocking pool (reads, or a single statement). It may
    /// run twice when the connection dies under it, so it must not act outside the database.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: Fn(&mut AnyConnection) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.off_runtime(false, f).await
    }

    /// [`Db::read`] (or, with `write`, [`Db::write`]) in the caller's error type.
    pub async fn off_runtime<T, E, F>(&self, write: bool, f: F) -> Result<T, E>
    where
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Failure + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            if write {
                this.write_blocking(f)
            } else {
                this.read_blocking(f)
            }
        })
        .await
        .map_err(|e| E::from(Error::internal(e)))?
    }

    /// [`Db::read`] for callers already off the runtime, in the caller's error type.
    pub fn read_blocking<T, E: Failure>(
        &self,
        f: impl Fn(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        // A single statement either committed or not; a read can always be repeated.
        self.with_conn(|c| (f(c), true))
    }

    /// Runs `f` in one write transaction: all of its rows land, or none. It may run again when the
    /// connection dies before it finished, or when PostgreSQL rolled it back for colliding with a
    /// concurrent transaction (so nothing was committed); it must not act outside the database.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: Fn(&mut AnyConnection) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.off_runtime(true, f).await
    }

    /// The blocking form of [`Db::write`], for start-up and background jobs already off the runtime,
    /// in the caller's error type.
    pub fn write_blocking<T, E: Failure>(
        &self,
        f: impl Fn(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let _writer = match self.backend {
            Backend::Sqlite => {
                let guard = self
                    .sqlite_writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if self.sqlite_busy_until.load(Ordering::Relaxed) > now_ms() {
                    return Err(Error::Unavailable(
                        "another process holds the SQLite database's write lock".into(),
                    )
                    .into());
                }
                Some(guard)
            }
            Backend::Postgres => None,
        };
        let attempt = || {
            self.with_conn(|conn| {
                // Whether the body ran to its end: only then may COMMIT have happened, and a failure
                // must not be repeated (the rows may have landed).
                let mut finished = false;
                let r = conn.transaction(|c| {
                    let r = f(c);
                    finished = r.is_ok();
                    r
                });
                (r, !finished)
            })
        };
        let mut result = attempt();
        // A transaction PostgreSQL aborted for colliding with a concurrent one (a deadlock, a
        // serialization failure) was rolled back whole, at COMMIT too: run it again, as hawkBit's
        // `@Retryable` does, with a growing pause so the other transaction can finish first.
        for retry in 1..=CONTENDED_RETRIES {
            if !result.as_ref().is_err_and(E::is_contended) {
                break;
            }
            tracing::debug!(retry, "a write collided with a concurrent one; running it again");
            std::thread::sleep(Duration::from_millis(5 * u64::from(retry)));
            result = attempt();
        }
        if self.backend == Backend::Sqlite && result.as_ref().is_err_and(E::is_unavailable) {
            self.sqlite_busy_until
                .store(now_ms() + SQLITE_BUSY_MS as i64 / 2, Ordering::Relaxed);
        }
        result
    }
}
