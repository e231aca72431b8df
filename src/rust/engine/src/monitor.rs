//! How a long computation talks to its caller: between batches, on the calling thread, it asks
//! whether the user wants to stop and tells how far it has come. The R binding turns the
//! first into Ctrl-C handling and the second into progress bars.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How often `Monitor::watch` reports while its work runs.
const WATCH_EVERY: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
pub struct Monitor<'a> {
    interrupted: &'a dyn Fn() -> bool,
    progress: &'a dyn Fn(&str, u64, u64),
}

fn never() -> bool {
    false
}

fn ignore(_task: &str, _done: u64, _total: u64) {}

impl<'a> Monitor<'a> {
    /// `interrupted` returns true when the user wants to stop; `progress(task, done, total)`
    /// is told that `done` of the `total` units of `task` are finished.
    pub fn new(interrupted: &'a dyn Fn() -> bool, progress: &'a dyn Fn(&str, u64, u64)) -> Self {
        Monitor {
            interrupted,
            progress,
        }
    }

    /// Never interrupted, reports nothing (tests, benchmarks).
    pub fn quiet() -> Monitor<'static> {
        Monitor {
            interrupted: &never,
            progress: &ignore,
        }
    }

    /// An error when the user asked to stop.
    pub fn check(&self) -> Result<()> {
        if (self.interrupted)() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Reports `done` of `total` units of `task` (a task's first report starts its bar, the
    /// one with `done == total` ends it), then checks for an interrupt.
    pub fn tick(&self, task: &str, done: u64, total: u64) -> Result<()> {
        self.report(task, done, total);
        self.check()
    }

    /// Reports progress without checking for an interrupt.
    pub fn report(&self, task: &str, done: u64, total: u64) {
        (self.progress)(task, done, total);
    }

    /// The same interrupt with another progress report: for a task done in several passes,
    /// each of which counts from zero.
    pub fn reporting_to<'b>(&'b self, progress: &'b dyn Fn(&str, u64, u64)) -> Monitor<'b> {
        Monitor {
            interrupted: self.interrupted,
            progress,
        }
    }
}

/// What work run by [`Monitor::watch`] shares with the watching thread: units done so far,
/// and whether the user asked to stop.
#[derive(Default)]
pub struct Meter {
    done: AtomicU64,
    stop: AtomicBool,
}

impl Meter {
    pub fn add(&self, units: u64) {
        self.done.fetch_add(units, Ordering::Relaxed);
    }

    /// An error when the user asked to stop; work checks it between its steps.
    pub fn check(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

impl Monitor<'_> {
    /// Runs `work` (which may use rayon, but must not call back into the caller) on a thread
    /// of its own, while this thread reports `task` from the meter every 100 ms and asks
    /// whether to stop, which the work sees through [`Meter::check`]. `total` 0: unknown until
    /// the end, when the last report gives done = total.
    pub fn watch<T: Send>(
        &self,
        task: &str,
        total: u64,
        work: impl FnOnce(&Meter) -> Result<T> + Send,
    ) -> Result<T> {
        let meter = Meter::default();
        let (sender, finished) = mpsc::channel();
        std::thread::scope(|scope| {
            let shared = &meter;
            // The sender moves in, so that a panicking worker drops it and ends the wait.
            let worker = scope.spawn(move || {
                let out = work(shared);
                let _ = sender.send(());
                out
            });
            loop {
                if !meter.stop.load(Ordering::Relaxed)
                    && self
                        .tick(task, meter.done.load(Ordering::Relaxed), total)
                        .is_err()
                {
                    meter.stop.store(true, Ordering::Relaxed);
                }
                if finished.recv_timeout(WATCH_EVERY) != Err(mpsc::RecvTimeoutError::Timeout) {
                    break;
                }
            }
            let out = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            // An unknown total is known at the end: what was done (at least 1, to end the bar).
            let total = if total > 0 {
                total
            } else {
                meter.done.load(Ordering::Relaxed).max(1)
            };
            self.report(task, total, total);
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn ticks_reach_the_caller_and_an_interrupt_stops_the_work() {
        let seen = RefCell::new(Vec::new());
        let record =
            |task: &str, done: u64, total: u64| seen.borrow_mut().push((task.to_string(), done, total));
        let stop = || true;
        assert!(Monitor::new(&never, &record).tick("pass", 1, 2).is_ok());
        assert!(matches!(
            Monitor::new(&stop, &record).tick("pass", 2, 2),
            Err(Error::Interrupted)
        ));
        assert_eq!(
            *seen.borrow(),
            vec![("pass".to_string(), 1, 2), ("pass".to_string(), 2, 2)]
        );
        assert!(Monitor::quiet().tick("pass", 0, 1).is_ok());
    }

    #[test]
    fn watch_reports_from_the_calling_thread_and_passes_an_interrupt_to_the_work() {
        let seen = RefCell::new(Vec::new());
        let record = |_: &str, done: u64, total: u64| seen.borrow_mut().push((done, total));
        let sum = Monitor::new(&never, &record).watch("sum", 10, |meter| {
            (0..10).for_each(|_| meter.add(1));
            Ok(45)
        });
        assert_eq!(sum.unwrap(), 45);
        assert_eq!(seen.borrow().last(), Some(&(10, 10)));
        let stop = || true;
        let stopped = Monitor::new(&stop, &record).watch("spin", 0, |meter| loop {
            meter.check()?;
            std::thread::yield_now();
        });
        assert!(matches!(stopped, Err::<(), _>(Error::Interrupted)));
        let panicked = std::panic::catch_unwind(|| {
            Monitor::quiet().watch("boom", 0, |_| -> Result<()> { panic!("boom") })
        });
        assert!(panicked.is_err());
    }
}
