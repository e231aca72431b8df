//! Progress of the engine's long passes, handed to an R callback (`progress_reporter()` in
//! R/progress.R, which draws cli progress bars) at most about ten times a second. A NULL
//! callback shows nothing. The engine reports on R's main thread only (see the engine's
//! `monitor`), so calling R here is safe. R handles a Ctrl-C that arrives while it runs the
//! callback by abandoning the call; that counts as the user's interrupt, which Rust would
//! otherwise never see.

use super::{user_interrupted, Res};
use cellstream_engine::monitor::Monitor;
use extendr_api::prelude::*;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

const REPORT_EVERY: Duration = Duration::from_millis(100);

struct Reporter {
    callback: Option<Function>,
    /// The task last reported and when.
    last: RefCell<Option<(String, Instant)>>,
    /// Whether a call into R was abandoned (a Ctrl-C during the callback).
    abandoned: Cell<bool>,
}

impl Reporter {
    fn report(&self, task: &str, done: u64, total: u64) {
        let Some(callback) = &self.callback else { return };
        let mut last = self.last.borrow_mut();
        let now = Instant::now();
        let due = match &*last {
            Some((previous, at)) => {
                previous != task || (total > 0 && done >= total) || now.duration_since(*at) >= REPORT_EVERY
            }
            None => true,
        };
        if due && !self.abandoned.get() {
            *last = Some((task.to_string(), now));
            // The R side catches its own errors; a call that still fails was interrupted.
            if callback.call(pairlist!(task, done as f64, total as f64)).is_err() {
                self.abandoned.set(true);
            }
        }
    }
}

/// Runs `body` with a monitor that reports to `callback` (an R function of task, done and
/// total, or NULL) and stops on Ctrl-C.
pub fn with_progress<T>(callback: &Robj, body: impl FnOnce(Monitor) -> Res<T>) -> Res<T> {
    let callback = if callback.is_null() {
        None
    } else {
        Some(Function::try_from(callback.clone()).map_err(|_| "`progress` must be a function or NULL")?)
    };
    let reporter = Reporter {
        callback,
        last: RefCell::new(None),
        abandoned: Cell::new(false),
    };
    let report = |task: &str, done: u64, total: u64| reporter.report(task, done, total);
    let interrupted = || reporter.abandoned.get() || user_interrupted();
    body(Monitor::new(&interrupted, &report))
}
