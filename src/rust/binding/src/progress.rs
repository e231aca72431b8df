//! Progress of the engine's long passes, handed to an R callback (`progress_reporter()` in
//! R/progress.R, which draws cli progress bars) at most about ten times a second. A NULL
//! callback shows nothing. The engine reports on R's main thread only (see the engine's
//! `monitor`), so calling R here is safe.

use super::{user_interrupted, Res};
use cellstream_engine::monitor::Monitor;
use extendr_api::prelude::*;
use std::cell::RefCell;
use std::time::{Duration, Instant};

const REPORT_EVERY: Duration = Duration::from_millis(100);

struct Reporter {
    callback: Option<Function>,
    /// The task last reported and when.
    last: RefCell<Option<(String, Instant)>>,
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
        if due {
            *last = Some((task.to_string(), now));
            // A failing callback must not stop the computation.
            let _ = callback.call(pairlist!(task, done as f64, total as f64));
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
    };
    let report = |task: &str, done: u64, total: u64| reporter.report(task, done, total);
    body(Monitor::new(&user_interrupted, &report))
}
