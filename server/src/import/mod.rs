//! `updraft-server import`: moves a running hawkBit's content into Updraft over hawkBit's Management
//! API, writing through the store (`store::import`) into the configured database and artifact store.
//!
//! The order follows the references: tenant settings, types, software modules with their artifacts,
//! distribution sets, tags, targets, what each target has installed and assigned, tag assignments,
//! target filters, the action history, and last the rollouts, which are listed but not recreated.
//! Every entity is matched by its natural key, so running the import again adds only what changed and
//! an interrupted run continues; each page of entities is written in one transaction.

mod artifacts;
mod fleet;
mod progress;
mod repository;
mod settings;
mod source;
mod wire;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pub use progress::{Report, Tally};
pub use source::Source;

use crate::state::AppState;
use crate::store;

/// What to import from where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The source server's base URL (`https://hawkbit.example.com`).
    pub from: String,
    pub user: String,
    pub password: String,
    /// The Updraft tenant to import into (created when missing).
    pub tenant: String,
    /// Import at most this many targets (a trial of part of the fleet); the rest follows in a later run.
    pub max_targets: Option<u64>,
    /// How many requests run at once for per-target reads (attributes, action histories).
    pub parallel: usize,
    /// PEM certificates to trust besides the system's (a source behind a private CA).
    pub ca_cert: Option<Vec<u8>>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source cannot be reached or answered something unusable.
    #[error("{0}")]
    Source(String),
    /// The source refused the credentials or their permissions.
    #[error("{0}")]
    Credentials(String),
    /// The source has nothing at a path (204 or 404); callers that expect something say what.
    #[error("the source has nothing there (204 No Content or 404 Not Found)")]
    Empty,
    /// Writing into Updraft's database or artifact store failed.
    #[error("{0}")]
    Local(String),
}

impl ImportError {
    /// The process exit code: 2 for the source (URL, network, answers), 3 for credentials, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Source(_) | Self::Empty => 2,
            Self::Credentials(_) => 3,
            Self::Local(_) => 1,
        }
    }
}

impl From<store::Error> for ImportError {
    fn from(e: store::Error) -> Self {
        Self::Local(format!("writing into the Updraft database failed: {e}"))
    }
}

/// The run's shared state: where to read and write, and the source's ids mapped to local ones.
pub(crate) struct Ctx<'a> {
    state: &'a AppState,
    src: Source,
    tenant: String,
    now: i64,
    opts: &'a Options,
    /// A dry run's connection: every write goes into its one transaction, which is rolled back.
    rehearsal: Option<RefCell<&'a mut store::AnyConnection>>,
    sm_types: HashMap<String, i64>,
    ds_types: HashMap<String, i64>,
    target_types: HashMap<i64, i64>,
    modules: HashMap<i64, i64>,
    sets: HashMap<i64, i64>,
    /// The source's tags (id) and the local ones they became.
    target_tags: Vec<(i64, i64)>,
    set_tags: Vec<(i64, i64)>,
    report: Report,
}

impl<'a> Ctx<'a> {
    fn new(
        state: &'a AppState,
        src: Source,
        opts: &'a Options,
        rehearsal: Option<&'a mut store::AnyConnection>,
    ) -> Self {
        Self {
            state,
            src,
            tenant: opts.tenant.clone(),
            now: state.now(),
            opts,
            rehearsal: rehearsal.map(RefCell::new),
            sm_types: HashMap::new(),
            ds_types: HashMap::new(),
            target_types: HashMap::new(),
            modules: HashMap::new(),
            sets: HashMap::new(),
            target_tags: Vec::new(),
            set_tags: Vec::new(),
            report: Report {
                dry_run: false,
                ..Report::default()
            },
        }
    }

    /// Whether this is a dry run (nothing is downloaded, nothing stays written).
    fn dry(&self) -> bool {
        self.rehearsal.is_some()
    }

    /// Runs `f` in one write transaction (in a dry run: in the rehearsal's).
    fn write<T>(&self, f: impl Fn(&mut store::AnyConnection) -> store::Result<T>) -> Result<T, ImportError> {
        match &self.rehearsal {
            Some(conn) => Ok(f(&mut conn.borrow_mut())?),
            None => Ok(self.state.db.write_blocking(f)?),
        }
    }

    /// Every step, in order (see the module's documentation).
    fn steps(&mut self) -> Result<(), ImportError> {
        settings::tenant_config(self)?;
        repository::types(self)?;
        repository::modules(self)?;
        repository::sets(self)?;
        repository::tags(self)?;
        fleet::targets(self)?;
        fleet::set_state(self)?;
        repository::tag_assignments(self)?;
        fleet::filters(self)?;
        fleet::actions(self)?;
        settings::rollouts(self)
    }
}

/// Imports everything from the source into `state`'s database and artifact store.
pub fn run(state: &Arc<AppState>, opts: &Options) -> Result<Report, ImportError> {
    let started = std::time::Instant::now();
    let src = Source::connect(opts)?;
    let (tenant, now) = (opts.tenant.clone(), state.now());
    state
        .db
        .tx_blocking(|c| crate::bootstrap::ensure_tenant(c, &tenant, now))
        .map_err(|e| ImportError::Local(format!("creating tenant {tenant} failed: {e}")))?;
    let mut cx = Ctx::new(state, src, opts, None);
    cx.steps()?;
    // Devices' cached answers (if a server shares this process) and tenant settings start afresh.
    state.devices.invalidate_all();
    state.apply(store::Changes::tenant_settings(&cx.tenant));
    cx.report.seconds = started.elapsed().as_secs_f64();
    Ok(cx.report)
}

/// What [`run`] would do, entity type by entity type: it compares the source with `state`'s
/// database exactly as a run does (by natural keys, through the same writes) inside one
/// transaction that it rolls back, and downloads no artifact. The report counts what would be
/// added, updated and is already there.
pub fn dry_run(state: &Arc<AppState>, opts: &Options) -> Result<Report, ImportError> {
    let started = std::time::Instant::now();
    let src = Source::connect(opts)?;
    let (tenant, now) = (opts.tenant.clone(), state.now());
    let report = store::import::rehearse(&state.db, |c| {
        crate::bootstrap::ensure_tenant(c, &tenant, now)
            .map_err(|e| ImportError::Local(format!("creating tenant {tenant} failed: {e}")))?;
        let mut cx = Ctx::new(state, src, opts, Some(c));
        cx.report.dry_run = true;
        cx.steps()?;
        Ok(cx.report)
    })?;
    report.map(|mut r: Report| {
        r.seconds = started.elapsed().as_secs_f64();
        r
    })
}
