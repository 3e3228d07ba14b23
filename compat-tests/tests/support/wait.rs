//! Waiting on observable state with a deadline instead of fixed sleeps.

use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a few poll cycles plus an install on a loaded 2-core CI machine.
pub const DEADLINE: Duration = Duration::from_mins(1);
const INTERVAL: Duration = Duration::from_millis(500);

/// Calls `probe` until it returns `Ok`, or panics after [`DEADLINE`] with `what` and the
/// last state `probe` described in its `Err`.
pub fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(value) => return value,
            Err(state) if start.elapsed() >= DEADLINE => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last state: {state}")
            }
            Err(_) => thread::sleep(INTERVAL),
        }
    }
}
