//! UMAP as an analysis step: from the current neighbours (and, for a PCA start, the current
//! PCA), stamped with the kept cells; the layout goes to `umap.embedding` in the store (the
//! engine's `pca::file` format, 2 columns).

use crate::graph::stored_knn;
use crate::pca::pca_embedding;
use crate::steps::{new_result_file, StepRecord};
use crate::{MetaDb, Result};
use cellstream_engine::frame::Frame;
use cellstream_engine::gpu::Placement;
use cellstream_engine::monitor::Monitor;
use cellstream_engine::pca::file::{read_embedding, write_embedding};
use cellstream_engine::pca::kernels::Dense;
use cellstream_engine::store::Store;
use cellstream_engine::umap::{umap, Init, UmapOptions};

pub const UMAP_FILE: &str = "umap.embedding";

/// Computes and stores the UMAP of the kept cells; returns the start used and where the
/// layout was optimised (`Placement::where_run`).
pub fn run_umap(
    store: &Store,
    db: &mut MetaDb,
    options: &UmapOptions,
    on: &Placement,
    monitor: Monitor,
) -> Result<(String, String)> {
    let (cells, knn) = stored_knn(store, db)?;
    let (pca_cells, pcs) = pca_embedding(store, db)?;
    if pca_cells != cells {
        return Err(
            "the neighbours and the PCA were computed on different cells; rerun find_neighbors(x)".into(),
        );
    }
    let gpu = on.gpu_for(cells.len()).map_err(|e| e.to_string())?;
    let device = on.where_run(gpu.as_ref(), cells.len());
    let layout = umap(&knn, &pcs, options, gpu.as_ref(), monitor).map_err(|e| e.to_string())?;
    drop((knn, pcs));
    let rows = cells.len();
    let cells: Vec<usize> = cells.into_iter().map(|c| c as usize).collect();
    let file = new_result_file(&store.path, UMAP_FILE);
    write_embedding(
        &file,
        store.manifest.tag(),
        &cells,
        &Dense {
            rows,
            k: 2,
            data: layout.embedding,
        },
    )
    .map_err(|e| e.to_string())?;
    let params = format!(
        "n_neighbors = {}, min_dist = {}, spread = {}, {} epochs, {} start, seed = {}{}, on {device}",
        options.n_neighbors,
        options.min_dist,
        options.spread,
        layout.n_epochs,
        layout.init,
        options.seed,
        if options.threads == Some(1) && gpu.is_none() {
            ", 1 thread"
        } else {
            ""
        }
    );
    let record = StepRecord {
        step: "umap",
        uses_kept_cells: true,
        inputs: &["neighbors"],
        params,
        tables: &[],
    };
    db.store_result_with_files(
        &record,
        &Frame::default(),
        &Frame::default(),
        &[(UMAP_FILE, &file)],
    )?;
    Ok((layout.init, device))
}

/// The cells (0-based) and layout of the current UMAP.
pub fn umap_embedding(store: &Store, db: &MetaDb) -> Result<(Vec<u32>, Dense<f32>)> {
    let file = db.result_file("umap", UMAP_FILE, &store.path)?;
    read_embedding(&file, &store.expect(UMAP_FILE, "run_umap(x)")).map_err(|e| e.to_string())
}

pub fn init_of(name: &str) -> Result<Init> {
    match name {
        "spectral" => Ok(Init::Spectral),
        "pca" => Ok(Init::Pca),
        other => Err(format!("`init` must be \"spectral\" or \"pca\", not \"{other}\"")),
    }
}
