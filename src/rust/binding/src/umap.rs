//! UMAP on a store.

use super::convert::*;
use super::gpu::placement_of;
use super::graph::knn_from_r;
use super::progress::with_progress;
use super::Res;
use super::{guarded, session, user_interrupted};
use cellstream_engine::monitor::Monitor;
use cellstream_engine::pca::kernels::Dense;
use cellstream_engine::umap::{umap, UmapOptions};
use cellstream_steps::{init_of, run_umap, umap_embedding};
use extendr_api::prelude::*;

fn optional_count(x: &Robj, arg: &str) -> Res<Option<usize>> {
    if x.is_null() {
        Ok(None)
    } else {
        count(x, arg).map(|v| Some(v as usize))
    }
}

/// UMAP options from R's arguments, in `run_umap()`'s order.
fn umap_options(args: [&Robj; 7]) -> Res<UmapOptions> {
    let [n_neighbors, min_dist, spread, n_epochs, init, seed, threads] = args;
    Ok(UmapOptions {
        n_neighbors: count(n_neighbors, "n_neighbors")? as usize,
        min_dist: number(min_dist, "min_dist")?,
        spread: number(spread, "spread")?,
        n_epochs: optional_count(n_epochs, "n_epochs")?,
        init: init_of(&string(init, "init")?)?,
        seed: count(seed, "seed")?,
        threads: optional_count(threads, "threads")?,
    })
}

#[extendr]
fn cs_umap(
    store: Robj,
    n_neighbors: Robj,
    min_dist: Robj,
    spread: Robj,
    n_epochs: Robj,
    init: Robj,
    seed: Robj,
    threads: Robj,
    device: Robj,
    adapter: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let on = placement_of(&device, &adapter)?;
        let options = umap_options([
            &n_neighbors,
            &min_dist,
            &spread,
            &n_epochs,
            &init,
            &seed,
            &threads,
        ])?;
        let (init, device) = with_progress(&progress, |monitor| {
            s.write(|db| run_umap(&s.store, db, &options, &on, monitor))
        })?;
        Ok(list!(init = init, device = device).into())
    })
}

/// UMAP of a kNN given as n x k matrices (index 1-based, each row starting with the row;
/// distances) with an n x 2 (or wider) matrix for the PCA start.
#[extendr]
fn cs_umap_matrix(
    index: Robj,
    distance: Robj,
    start: Robj,
    n_neighbors: Robj,
    min_dist: Robj,
    spread: Robj,
    n_epochs: Robj,
    init: Robj,
    seed: Robj,
    threads: Robj,
    device: Robj,
    adapter: Robj,
) -> Robj {
    guarded(|| {
        let knn = knn_from_r(&index, &distance)?;
        let (rows, cols) = matrix_dims(&start)
            .filter(|&(r, c)| r == knn.n_rows() && c >= 2)
            .ok_or("the start must be a matrix with one row per cell and at least 2 columns")?;
        let values = start.as_real_slice().ok_or("the start must be a double matrix")?;
        let pcs = Dense {
            rows,
            k: cols,
            data: row_major(values, rows, cols, |v| v as f32),
        };
        let options = umap_options([
            &n_neighbors,
            &min_dist,
            &spread,
            &n_epochs,
            &init,
            &seed,
            &threads,
        ])?;
        let on = placement_of(&device, &adapter)?;
        let gpu = on.gpu_for(rows).map_err(|e| e.to_string())?;
        let layout = umap(
            &knn,
            &pcs,
            &options,
            gpu.as_ref(),
            Monitor::new(&user_interrupted, &|_, _, _| ()),
        )
        .map_err(|e| e.to_string())?;
        let matrix = RMatrix::new_matrix(rows, 2, |r, c| layout.embedding[r * 2 + c] as f64);
        let device = on.where_run(gpu.as_ref(), rows);
        Ok(list!(embedding = matrix, init = layout.init, device = device).into())
    })
}

/// The current UMAP's cells (1-based) and layout (a cells x 2 double matrix).
#[extendr]
fn cs_umap_embedding(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, e) = s.read(|db| umap_embedding(&s.store, db))?;
        Ok(embedding_to_r(&cells, &e))
    })
}

extendr_module! {
    mod umap;
    fn cs_umap;
    fn cs_umap_matrix;
    fn cs_umap_embedding;
}
