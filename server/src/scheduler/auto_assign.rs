//! Auto-assignment rounds: each step of `store::auto_assign` in a transaction of its own, and the
//! devices it assigned to told after each commit.

use crate::state::AppState;
use crate::store::{self, auto_assign};

/// Checks pending filters and targets; returns how many targets it looked at.
pub fn run(state: &AppState) -> store::Result<usize> {
    // Most rounds have nothing to do: find that out with a read, not a write transaction.
    let pending = state.db.read_blocking(auto_assign::pending)?;
    if pending.filters {
        state.db.write_blocking(auto_assign::expand_pending_filters)?;
    } else if !pending.targets {
        return Ok(0);
    }
    state
        .db
        .write_blocking(auto_assign::clear_where_nothing_assigns)?;
    let mut seen = 0;
    loop {
        let now = state.now();
        let (n, assigned) = state.db.write_blocking(|c| auto_assign::check_batch(c, now))?;
        state.apply(assigned);
        seen += n;
        if n < auto_assign::BATCH as usize || state.jobs.stopping() {
            return Ok(seen);
        }
    }
}
