//! The R binding: converts R values to engine types and back, and maps every error and panic
//! to a classed condition string that the R side raises with `stop()`. No logic lives here.
//! One file per domain, as in `R/`: simulate, ingest, store, matrix, keep, qc, hvg, pca,
//! graph, gpu, umap, markers, grn, expression, steps, export; `convert` (R values), `session` (open stores) and `progress`
//! (progress bars) serve them all.

// Each routine takes one value per argument of the R function it serves.
#![allow(clippy::too_many_arguments)]

use extendr_api::prelude::*;

mod convert;
mod export;
mod expression;
mod gpu;
mod graph;
mod grn;
mod harmony;
mod hvg;
mod ingest;
mod keep;
mod markers;
mod matrix;
mod pca;
mod progress;
mod qc;
mod session;
mod simulate;
mod steps;
mod store;
mod umap;

type Res<T> = std::result::Result<T, String>;

extern "C" {
    /// src/interrupt.c: true when the user pressed Ctrl-C (checked on R's main thread).
    fn cellstream_interrupt_pending() -> std::os::raw::c_int;
}

fn user_interrupted() -> bool {
    // SAFETY: called only from the R main thread, between batches of work.
    unsafe { cellstream_interrupt_pending() != 0 }
}

/// Runs `body`, turning errors and panics into a `cellstream_error` string for R.
fn guarded(body: impl FnOnce() -> Res<Robj>) -> Robj {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let message = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(panic) => format!(
            "internal error in cellstream (please report it): {}",
            cellstream_engine::error::panic_message(&*panic)
        ),
    };
    let mut r = Robj::from(message);
    r.set_class(&["cellstream_error"])
        .expect("setting a class on a fresh string");
    r
}

extendr_module! {
    mod cellstream;
    use simulate;
    use ingest;
    use store;
    use matrix;
    use keep;
    use qc;
    use hvg;
    use pca;
    use graph;
    use gpu;
    use grn;
    use harmony;
    use umap;
    use markers;
    use expression;
    use steps;
    use export;
}
