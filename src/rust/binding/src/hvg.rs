//! Highly variable genes.

use super::convert::*;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_engine::hvg::Method;
use cellstream_steps::{find_hvg, HvgRequest};
use extendr_api::prelude::*;

#[extendr]
fn cs_hvg(store: Robj, method: Robj, n: Robj, batch: Robj, progress: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let method = match string(&method, "method")?.as_str() {
            "vst" => Method::Vst,
            "dispersion" => Method::Dispersion,
            other => {
                return Err(format!(
                    "`method` must be \"vst\" or \"dispersion\", not \"{other}\""
                ))
            }
        };
        let batch = optional_string(&batch, "batch")?;
        let req = HvgRequest {
            method,
            n: count(&n, "n")? as usize,
            batch: batch.as_deref(),
            target_sum: s.store.manifest.target_sum,
        };
        let genes = with_progress(&progress, |monitor| {
            s.write(|db| find_hvg(&s.store, db, &req, monitor))
        })?;
        Ok(table_to_list(genes))
    })
}

extendr_module! {
    mod hvg;
    fn cs_hvg;
}
