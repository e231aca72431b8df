//! PCA as an analysis step: on the kept cells and the highly variable genes (or given genes),
//! stamped with the kept-cell generation and the HVG result it used. Cell embeddings go to
//! `pca.embedding` in the store (see the engine's `pca::file`); gene loadings to var columns
//! `PC_1`…; standard deviations and variance ratios to the table `pca_components`.

use crate::steps::{new_result_file, StepRecord};
use crate::{MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::gpu::Placement;
use cellstream_engine::monitor::Monitor;
use cellstream_engine::pca::file::{read_embedding, write_embedding};
use cellstream_engine::pca::kernels::Dense;
use cellstream_engine::pca::{run_pca as engine_pca, PcaOptions, Solver};
use cellstream_engine::store::Store;

pub const EMBEDDING_FILE: &str = "pca.embedding";

pub struct PcaRequest {
    pub options: PcaOptions,
    /// 0-based genes; None: the current highly variable genes.
    pub genes: Option<Vec<u32>>,
    /// Where the products run.
    pub on: Placement,
}

/// Computes and stores the PCA; returns where its products ran (`Placement::where_run`).
pub fn run_pca(store: &Store, db: &mut MetaDb, req: &PcaRequest, monitor: Monitor) -> Result<String> {
    let (genes, inputs): (Vec<u32>, &[&str]) = match &req.genes {
        Some(g) => (g.clone(), &[]),
        None => {
            db.require_current("hvg")?;
            let flags = db.query("SELECT highly_variable FROM var ORDER BY gene_index")?;
            let Column::Bool(flags) = &flags.columns[0] else {
                return Err("the highly_variable column is damaged; rerun find_hvg(x)".into());
            };
            (
                flags
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.unwrap_or(false))
                    .map(|(g, _)| g as u32)
                    .collect(),
                &["hvg"],
            )
        }
    };
    if req.options.n_pcs > genes.len() {
        return Err(format!(
            "n_pcs ({}) must not exceed the number of genes used ({})",
            req.options.n_pcs,
            genes.len()
        ));
    }
    let cells: Vec<usize> = db
        .keep()?
        .iter()
        .enumerate()
        .filter(|(_, &k)| k)
        .map(|(c, _)| c)
        .collect();
    if req.options.n_pcs >= cells.len() {
        return Err(format!(
            "n_pcs ({}) must be smaller than the number of kept cells ({})",
            req.options.n_pcs,
            cells.len()
        ));
    }
    let library = db.obs_numbers("n_counts")?;
    let gpu = req.on.gpu_for(cells.len()).map_err(|e| e.to_string())?;
    let device = req.on.where_run(gpu.as_ref(), cells.len());
    let pca = engine_pca(
        store,
        &cells,
        &genes,
        &library,
        store.manifest.target_sum,
        &req.options,
        gpu.as_ref(),
        monitor,
    )
    .map_err(|e| e.to_string())?;
    let file = new_result_file(&store.path, EMBEDDING_FILE);
    write_embedding(&file, store.manifest.tag(), &cells, &pca.embedding).map_err(|e| e.to_string())?;

    let k = req.options.n_pcs;
    let mut loadings = Frame::default();
    for t in 0..k {
        let mut column = vec![None; store.n_genes()];
        genes
            .iter()
            .enumerate()
            .for_each(|(j, &g)| column[g as usize] = Some(pca.loadings.data[j * k + t]));
        loadings.push(format!("PC_{}", t + 1), Column::Real(column));
    }
    let mut components = Frame::default();
    components.push("component", Column::Int((1..=k as i64).map(Some).collect()));
    components.push(
        "stdev",
        Column::Real(pca.stdev.iter().map(|&v| Some(v)).collect()),
    );
    components.push(
        "variance_ratio",
        Column::Real(pca.variance_ratio.iter().map(|&v| Some(v)).collect()),
    );
    let method = match req.options.solver {
        Solver::Exact => "exact".to_string(),
        Solver::Randomized { oversample, blocks } => {
            format!("randomized (oversample {oversample}, {blocks} blocks)")
        }
    };
    let params = format!(
        "{k} PCs of {} cells x {} genes, scale = {}, clip = {}, {method}, seed = {}, on {device}",
        cells.len(),
        genes.len(),
        req.options.scale,
        req.options.clip,
        req.options.seed
    );
    let record = StepRecord {
        step: "pca",
        uses_kept_cells: true,
        inputs,
        params,
        tables: &[("components", &components)],
    };
    db.store_result_with_files(&record, &Frame::default(), &loadings, &[(EMBEDDING_FILE, &file)])?;
    Ok(device)
}

/// The cells (0-based) and embedding of the current PCA.
pub fn pca_embedding(store: &Store, db: &MetaDb) -> Result<(Vec<u32>, Dense<f32>)> {
    let file = db.result_file("pca", EMBEDDING_FILE, &store.path)?;
    read_embedding(&file, &store.expect(EMBEDDING_FILE, "run_pca(x)")).map_err(|e| e.to_string())
}
