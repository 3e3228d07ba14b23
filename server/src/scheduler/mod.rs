//! Background work: rollout evaluation and scheduled starts, auto-assignment, action timeouts and
//! history cleanup.
//!
//! Every server process runs this loop; the database decides who does what. Each unit of work is
//! claimed with a row lock inside its transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//! runs one writer at a time anyway), and every step is a state check followed by a state change,
//! so a job that two processes both reach runs once, and a job whose process dies mid-way is
//! rolled back with its transaction and picked up by the next sweep on any node.
//!
//! Work starts from events (device feedback on a rollout's action, a new or changed target) and
//! from a sweep every `scheduler_interval_ms`, which also catches what a dead node left behind.

mod auto_assign;
mod housekeeping;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::state::AppState;
use crate::store::{self, rollouts::due};

/// Events that wake the scheduler before its next sweep.
#[derive(Default)]
pub struct Jobs {
    wake: tokio::sync::Notify,
    touched_rollouts: Mutex<BTreeSet<i64>>,
    stopping: AtomicBool,
    /// Server time (ms) from which the retention jobs run again; see [`RETENTION_EVERY_MS`].
    retention_due_at: AtomicI64,
}

/// How often the retention jobs look for old rows when the last run found none. Each run takes the
/// database's write lock (all of SQLite), so an idle server should not take it every sweep; a run
/// that deleted something runs again at the next sweep until the backlog is gone.
const RETENTION_EVERY_MS: i64 = 3_600_000;

/// The shortest time between the end of one round and the start of the next one woken by events.
const EVENT_ROUND_GAP: Duration = Duration::from_millis(20);

impl Jobs {
    /// Shutdown: no new unit of work starts; the one running finishes its transaction (which
    /// releases its row claims) and the loop of [`spawn`] ends.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Whether [`Jobs::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// A device reported on an action of this rollout.
    pub fn rollout_touched(&self, rollout_id: i64) {
        self.touched_rollouts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(rollout_id);
        self.wake.notify_one();
    }

    /// A target was created or its attributes changed: check auto-assignments.
    pub fn targets_changed(&self) {
        self.wake.notify_one();
    }

    fn take_touched(&self) -> BTreeSet<i64> {
        std::mem::take(
            &mut *self
                .touched_rollouts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Runs the scheduler until [`Jobs::stop`].
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(state.config.scheduler_interval_ms.max(1));
        let mut next_sweep = Instant::now();
        let mut last_round = Instant::now();
        loop {
            let wait = next_sweep.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(wait, state.jobs.wake.notified()).await;
            if state.jobs.stopping() {
                return;
            }
            // Events closer together than this share a round: a registration storm wakes the
            // scheduler with every new target, and a round per wake-up took a third of the
            // server's CPU (each round reads and writes the pending flags). The wake-ups that
            // come meanwhile are kept by `Notify` and answered by this round.
            let rest = EVENT_ROUND_GAP.saturating_sub(last_round.elapsed());
            if !rest.is_zero() {
                tokio::time::sleep(rest).await;
            }
            let sweep = Instant::now() >= next_sweep;
            if sweep {
                next_sweep = Instant::now() + interval;
            }
            let s = Arc::clone(&state);
            let outcome = tokio::task::spawn_blocking(move || run_once(&s, sweep)).await;
            last_round = Instant::now();
            match outcome {
                Ok(Err(e)) => tracing::warn!(error = %e, "background work failed; will retry"),
                Err(e) => tracing::warn!(error = %e, "background task failed"),
                Ok(Ok(())) => {}
            }
        }
    })
}

/// One round: rollouts devices reported on, pending auto-assignments, and with `sweep` everything
/// due by time. Each job is counted for `/metrics`; after [`Jobs::stop`] no further job starts.
pub fn run_once(state: &AppState, sweep: bool) -> store::Result<()> {
    let touched = state.jobs.take_touched();
    if !touched.is_empty() {
        job(state, "rollout_feedback", || {
            touched
                .iter()
                .try_for_each(|id| evaluate(state, *id, false, false))
        })?;
    }
    job(state, "auto_assign", || auto_assign::run(state).map(drop))?;
    if sweep {
        job(state, "rollout_start", || start_due(state))?;
        job(state, "rollout_sweep", || {
            for id in state.db.read_blocking(due::running)? {
                evaluate(state, id, true, true)?;
            }
            Ok(())
        })?;
        job(state, "auto_assign_soak", || {
            let now = state.now();
            state
                .db
                .write_blocking(|c| store::auto_assign_soak::sweep(c, now))
                .map(drop)
        })?;
        job(state, "action_timeout", || {
            housekeeping::time_out_silent_actions(state).map(drop)
        })?;
        if state.db.backend() == store::Backend::Postgres {
            job(state, "target_statistics", || {
                state
                    .db
                    .read_blocking(store::targets::refresh_statistics)
                    .map(drop)
            })?;
        }
        // PostgreSQL's device-count triggers append rows; fold them (SQLite has nothing to fold,
        // and its write lock is not taken for nothing).
        if state.db.backend() == store::Backend::Postgres {
            job(state, "target_count_merge", || {
                state
                    .db
                    .write_blocking(|c| store::target_counts::merge(c, store::target_counts::MERGE_ABOVE))
                    .map(drop)
            })?;
        }
        retention(state)?;
    }
    Ok(())
}

/// The retention jobs, when due: at once after a run that deleted rows, else hourly (server time).
fn retention(state: &AppState) -> store::Result<()> {
    let now = state.now();
    // Claim the run, so a test's `run_once` and the loop's sweep never both run it.
    let claimed = state
        .jobs
        .retention_due_at
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |due| {
            (now >= due).then_some(now + RETENTION_EVERY_MS)
        });
    if claimed.is_err() {
        return Ok(());
    }
    let mut deleted = 0;
    let result = job(state, "action_retention", || {
        deleted += housekeeping::delete_old_actions(state)?;
        Ok(())
    })
    .and_then(|()| {
        job(state, "health_event_retention", || {
            deleted += housekeeping::delete_old_health_events(state)?;
            Ok(())
        })
    })
    .and_then(|()| {
        job(state, "audit_retention", || {
            deleted += housekeeping::delete_old_audit_entries(state)?;
            Ok(())
        })
    });
    // A backlog or a failed run: again at the next sweep.
    if deleted > 0 || result.is_err() {
        state.jobs.retention_due_at.store(now, Ordering::Release);
    }
    result
}

/// Runs one named job unless the scheduler is stopping, and counts the run and its failure.
fn job(state: &AppState, name: &'static str, run: impl FnOnce() -> store::Result<()>) -> store::Result<()> {
    if state.jobs.stopping() {
        return Ok(());
    }
    state.metrics.job_runs.inc(name);
    let result = run();
    if result.is_err() {
        state.metrics.job_errors.inc(name);
    }
    result
}

/// Evaluates one rollout under its row lock; `skip_locked` leaves it to whoever holds it now.
fn evaluate(state: &AppState, id: i64, skip_locked: bool, sweep: bool) -> store::Result<()> {
    let now = state.now();
    let done = state
        .db
        .write_blocking(|c| due::evaluate(c, id, skip_locked, now, sweep))?;
    state.apply(done.unwrap_or_default());
    Ok(())
}

/// READY rollouts whose `startAt` has come are started.
fn start_due(state: &AppState) -> store::Result<()> {
    let now = state.now();
    for id in state.db.read_blocking(|c| due::due_to_start(c, now))? {
        let done = state.db.write_blocking(|c| due::start_if_due(c, id, now))?;
        if done.is_some() {
            tracing::info!(rollout = id, "scheduled rollout started");
        }
        state.apply(done.unwrap_or_default());
    }
    Ok(())
}
