//! PCA on a store and its embedding.

use super::convert::*;
use super::gpu::placement_of;
use super::progress::with_progress;
use super::{guarded, session};
use cellstream_engine::pca::{PcaOptions, Solver, DEFAULT_SOLVER};
use cellstream_steps::{pca_embedding, run_pca, PcaRequest};
use extendr_api::prelude::*;

/// `genes`: NULL for the highly variable genes, else 0-based indices. Returns where the
/// products ran.
#[extendr]
fn cs_pca(
    store: Robj,
    n_pcs: Robj,
    scale: Robj,
    clip: Robj,
    method: Robj,
    seed: Robj,
    genes: Robj,
    device: Robj,
    adapter: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let solver = match string(&method, "method")?.as_str() {
            "randomized" => DEFAULT_SOLVER,
            "exact" => Solver::Exact,
            other => {
                return Err(format!(
                    "`method` must be \"randomized\" or \"exact\", not \"{other}\""
                ))
            }
        };
        let options = PcaOptions {
            n_pcs: count(&n_pcs, "n_pcs")? as usize,
            scale: flag(&scale, "scale")?,
            clip: number(&clip, "clip")?,
            solver,
            seed: count(&seed, "seed")?,
        };
        let genes = if genes.is_null() {
            None
        } else {
            Some(rust_indices(&genes, "genes")?)
        };
        let on = placement_of(&device, &adapter)?;
        let device = with_progress(&progress, |monitor| {
            s.write(|db| run_pca(&s.store, db, &PcaRequest { options, genes, on }, monitor))
        })?;
        Ok(device.into())
    })
}

/// The current PCA's cells (1-based) and embedding (a cells x PCs double matrix).
#[extendr]
fn cs_pca_embedding(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, e) = s.read(|db| pca_embedding(&s.store, db))?;
        Ok(embedding_to_r(&cells, &e))
    })
}

extendr_module! {
    mod pca;
    fn cs_pca;
    fn cs_pca_embedding;
}
