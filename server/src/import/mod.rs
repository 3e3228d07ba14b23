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

impl Ctx<'_> {
    /// Runs `f` in one write transaction.
    fn write<T>(&self, f: impl Fn(&mut store::AnyConnection) -> store::Result<T>) -> Result<T, ImportError> {
        Ok(self.state.db.write_blocking(f)?)
    }
}

/// Imports everything from the source into `state`'s database and artifact store.
pub fn run(state: &Arc<AppState>, opts: &Options) -> Result<Report, ImportError> {
    let started = std::time::Instant::now();
    let src = Source::connect(&opts.from, &opts.user, &opts.password)?;
    let now = state.now();
    let tenant = opts.tenant.clone();
    state
        .db
        .tx_blocking(|c| crate::bootstrap::ensure_tenant(c, &tenant, now))
        .map_err(|e| ImportError::Local(format!("creating tenant {tenant} failed: {e}")))?;
    let mut cx = Ctx {
        state,
        src,
        tenant,
        now,
        opts,
        sm_types: HashMap::new(),
        ds_types: HashMap::new(),
        target_types: HashMap::new(),
        modules: HashMap::new(),
        sets: HashMap::new(),
        target_tags: Vec::new(),
        set_tags: Vec::new(),
        report: Report::default(),
    };
    settings::tenant_config(&mut cx)?;
    repository::types(&mut cx)?;
    repository::modules(&mut cx)?;
    repository::sets(&mut cx)?;
    repository::tags(&mut cx)?;
    fleet::targets(&mut cx)?;
    fleet::set_state(&mut cx)?;
    repository::tag_assignments(&mut cx)?;
    fleet::filters(&mut cx)?;
    fleet::actions(&mut cx)?;
    settings::rollouts(&mut cx)?;
    // Devices' cached answers (if a server shares this process) and tenant settings start afresh.
    state.devices.invalidate_all();
    state.apply(store::Changes::tenant_settings(&cx.tenant));
    cx.report.seconds = started.elapsed().as_secs_f64();
    Ok(cx.report)
}

/// What the source holds, entity type by entity type: what `run` would read.
pub fn dry_run(opts: &Options) -> Result<Vec<(&'static str, u64)>, ImportError> {
    let src = Source::connect(&opts.from, &opts.user, &opts.password)?;
    let mut out = Vec::new();
    for (label, path) in [
        ("software module types", "/rest/v1/softwaremoduletypes"),
        ("distribution set types", "/rest/v1/distributionsettypes"),
        ("target types", "/rest/v1/targettypes"),
        (
            "software modules",
            "/rest/v1/softwaremodules?soft_deleted_mode=INCLUDE_SOFT_DELETED",
        ),
        (
            "distribution sets",
            "/rest/v1/distributionsets?soft_deleted_mode=INCLUDE_SOFT_DELETED",
        ),
        ("target tags", "/rest/v1/targettags"),
        ("distribution set tags", "/rest/v1/distributionsettags"),
        ("targets", "/rest/v1/targets"),
        ("target filters", "/rest/v1/targetfilters"),
        ("actions", "/rest/v1/actions"),
        ("rollouts", "/rest/v1/rollouts"),
    ] {
        let mut n = src.total(path)?;
        if label == "targets"
            && let Some(max) = opts.max_targets
        {
            n = n.min(max);
        }
        out.push((label, n));
    }
    Ok(out)
}
