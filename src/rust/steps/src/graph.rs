//! Neighbours and clusters as analysis steps. `neighbors` (from the current PCA, stamped with
//! the kept cells) writes `knn.graph` and `snn.graph` to the store (see the engine's
//! `graph::file`); `leiden:<column>` (from the current neighbours) writes one obs column of
//! cluster labels, a factor with levels "0" (the largest cluster), "1", … and NULL for cells
//! not kept.

use crate::pca::pca_embedding;
use crate::steps::{new_result_file, StepRecord};
use crate::{MetaDb, Result};
use cellstream_engine::frame::{Column, Frame};
use cellstream_engine::gpu::{self, Device, Placement};
use cellstream_engine::graph::file::{read_knn, read_snn, write_knn, write_snn};
use cellstream_engine::graph::fuzzy::fuzzy_graph;
use cellstream_engine::graph::knn::{auto_method, find_knn, Knn, Method, Metric};
use cellstream_engine::graph::leiden::{leiden_each, LeidenOptions, Objective};
use cellstream_engine::graph::snn::{snn, SnnWeight};
use cellstream_engine::graph::Graph;
use cellstream_engine::monitor::Monitor;
use cellstream_engine::store::Store;

pub const KNN_FILE: &str = "knn.graph";
pub const SNN_FILE: &str = "snn.graph";

pub struct NeighborsRequest {
    pub knn: KnnQuery,
    pub n_pcs: usize,
    pub weight: SnnWeight,
}

/// What a kNN search asks for.
pub struct KnnQuery {
    pub k: usize,
    /// None: chosen by the number of cells (`auto_method`) and the device.
    pub method: Option<Method>,
    pub metric: Metric,
    pub seed: u64,
    pub on: Placement,
}

/// How a kNN was searched: the method and where (`Placement::where_run`).
pub struct KnnSearch {
    pub method: Method,
    pub device: String,
}

/// The kNN of `data` (n rows x `dims`) on the device the query asks for.
pub fn search_knn(data: &[f32], dims: usize, q: &KnnQuery, monitor: &Monitor) -> Result<(Knn, KnnSearch)> {
    let (k, method, metric, device) = (q.k, q.method, q.metric, &q.on.device);
    let n = data.len() / dims.max(1);
    let exact_wanted = matches!(method, None | Some(Method::Exact));
    if *device == Device::Gpu && !exact_wanted {
        return Err(
            "the GPU searches neighbours exactly: use method = \"exact\" or \"auto\" with \
            device = \"gpu\""
                .into(),
        );
    }
    let gpu = if exact_wanted {
        q.on.gpu_for(n).map_err(|e| e.to_string())?
    } else {
        None
    };
    let method = match gpu {
        Some(_) => Method::Exact,
        None => method.unwrap_or_else(|| auto_method(n)),
    };
    let rows = if method == Method::Exact { n as u64 } else { 0 };
    let on = if exact_wanted {
        q.on.where_run(gpu.as_ref(), n)
    } else {
        "cpu".into()
    };
    let knn = monitor
        .watch(
            &format!("Neighbours: {k} nearest ({}, {on})", method_name(method)),
            rows,
            |meter| match &gpu {
                Some(g) => gpu::knn::exact_knn(g, data, dims, k, metric, meter).map(|(knn, _)| knn),
                None => find_knn(data, dims, k, method, metric, q.seed, meter),
            },
        )
        .map_err(|e| e.to_string())?;
    Ok((knn, KnnSearch { method, device: on }))
}

/// Computes and stores the kNN and sNN of the kept cells; returns how it searched.
pub fn find_neighbors(
    store: &Store,
    db: &mut MetaDb,
    req: &NeighborsRequest,
    monitor: Monitor,
) -> Result<KnnSearch> {
    let (cells, pcs) = pca_embedding(store, db)?;
    if req.n_pcs == 0 || req.n_pcs > pcs.k {
        return Err(format!(
            "n_pcs must be between 1 and the {} PCs computed, not {}; lower n_pcs or rerun \
            run_pca(x, n_pcs = {})",
            pcs.k, req.n_pcs, req.n_pcs
        ));
    }
    if req.knn.k >= cells.len() {
        return Err(format!(
            "k ({}) must be smaller than the number of kept cells ({})",
            req.knn.k,
            cells.len()
        ));
    }
    let data: Vec<f32> = (0..pcs.rows)
        .flat_map(|r| pcs.row(r)[..req.n_pcs].to_vec())
        .collect();
    drop(pcs);
    let (knn, search) = search_knn(&data, req.n_pcs, &req.knn, &monitor)?;
    drop(data);
    let graph = monitor
        .watch("Neighbours: sNN graph", cells.len() as u64, |meter| {
            snn(&knn, req.weight, meter)
        })
        .map_err(|e| e.to_string())?;
    let (knn_file, snn_file) = (
        new_result_file(&store.path, KNN_FILE),
        new_result_file(&store.path, SNN_FILE),
    );
    let tag = store.manifest.tag();
    write_knn(&knn_file, tag, &cells, &knn).map_err(|e| e.to_string())?;
    write_snn(&snn_file, tag, &cells, &graph).map_err(|e| e.to_string())?;
    let params = format!(
        "k = {}, {} PCs, {} on {}, {}, {} sNN, {} cells, {} sNN edges",
        req.knn.k,
        req.n_pcs,
        method_name(search.method),
        search.device,
        match req.knn.metric {
            Metric::Euclidean => "euclidean",
            Metric::Cosine => "cosine",
        },
        match req.weight {
            SnnWeight::Jaccard { prune } => format!("Jaccard (prune {prune:.4})"),
            SnnWeight::Rank => "rank".into(),
        },
        cells.len(),
        (graph.col.len() - graph.n_nodes()) / 2
    );
    let record = StepRecord {
        step: "neighbors",
        uses_kept_cells: true,
        inputs: &["pca"],
        params,
        tables: &[],
    };
    db.store_result_with_files(
        &record,
        &Frame::default(),
        &Frame::default(),
        &[(KNN_FILE, &knn_file), (SNN_FILE, &snn_file)],
    )?;
    Ok(search)
}

pub fn method_name(method: Method) -> String {
    match method {
        Method::Exact => "exact".into(),
        Method::Hnsw {
            m,
            ef_construction,
            ef_search,
        } => format!("hnsw (m = {m}, ef_construction = {ef_construction}, ef_search = {ef_search})"),
        Method::NnDescent => "nndescent".into(),
    }
}

/// The cells (0-based) and kNN of the current neighbours.
pub fn stored_knn(store: &Store, db: &MetaDb) -> Result<(Vec<u32>, Knn)> {
    let file = db.result_file("neighbors", KNN_FILE, &store.path)?;
    read_knn(&file, &store.expect(KNN_FILE, "find_neighbors(x)")).map_err(|e| e.to_string())
}

/// The cells (0-based) and sNN graph of the current neighbours.
pub fn stored_snn(store: &Store, db: &MetaDb) -> Result<(Vec<u32>, Graph)> {
    let file = db.result_file("neighbors", SNN_FILE, &store.path)?;
    read_snn(&file, &store.expect(SNN_FILE, "find_neighbors(x)")).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClusterGraph {
    Snn,
    /// The kNN weighted as UMAP's fuzzy simplicial set (scanpy's connectivities).
    Umap,
}

pub struct LeidenRequest<'a> {
    /// One obs column per clustering.
    pub columns: &'a [String],
    pub options: &'a [LeidenOptions],
    pub graph: ClusterGraph,
    /// Count the graph's diagonal in the objective (false: ignore it, as Seurat).
    pub self_loops: bool,
}

/// Clusters the kept cells at each resolution; per column: (number of clusters, quality).
pub fn cluster_leiden(
    store: &Store,
    db: &mut MetaDb,
    req: &LeidenRequest,
    monitor: Monitor,
) -> Result<Vec<(usize, f64)>> {
    if req.columns.len() != req.options.len() {
        return Err(format!(
            "give one name per resolution ({} names for {} resolutions)",
            req.columns.len(),
            req.options.len()
        ));
    }
    // Every name is checked before any clustering is stored, so a clash leaves nothing half done.
    for column in req.columns {
        db.require_free_names(&format!("leiden:{column}"), "obs", std::slice::from_ref(column))?;
    }
    let (cells, graph) = match req.graph {
        ClusterGraph::Snn => stored_snn(store, db)?,
        ClusterGraph::Umap => stored_knn(store, db).map(|(cells, knn)| (cells, fuzzy_graph(&knn)))?,
    };
    // Until stable, the number of iterations is not known in advance.
    let iterations: Option<usize> = req.options.iter().map(|o| o.max_iterations).sum();
    let clusterings = monitor
        .watch("Leiden: iterations", iterations.unwrap_or(0) as u64, |meter| {
            leiden_each(graph, req.self_loops, req.options, meter)
        })
        .map_err(|e| e.to_string())?;
    let n_cells = db.n_cells()?;
    let mut summary = Vec::new();
    for ((column, c), o) in req.columns.iter().zip(&clusterings).zip(req.options) {
        let mut codes = vec![None; n_cells];
        cells
            .iter()
            .zip(&c.labels)
            .for_each(|(&cell, &label)| codes[cell as usize] = Some(label));
        let mut obs = Frame::default();
        obs.push(
            column.clone(),
            Column::Category {
                codes,
                levels: (0..c.n_clusters).map(|l| l.to_string()).collect(),
                ordered: false,
            },
        );
        let params = format!(
            "resolution = {}, {}, {} graph, self-loops {}, seed = {}: {} clusters, quality {:.4}, {} \
                iterations",
            o.resolution,
            match o.objective {
                Objective::Modularity => "modularity",
                Objective::Cpm => "CPM",
            },
            match req.graph {
                ClusterGraph::Snn => "sNN",
                ClusterGraph::Umap => "UMAP kNN",
            },
            if req.self_loops { "counted" } else { "ignored" },
            o.seed,
            c.n_clusters,
            c.quality,
            c.iterations
        );
        let step = format!("leiden:{column}");
        let mut clustering = Frame::default();
        clustering.push("column", Column::Text(vec![Some(column.clone())]));
        clustering.push("resolution", Column::Real(vec![Some(o.resolution)]));
        clustering.push("n_clusters", Column::Int(vec![Some(c.n_clusters as i64)]));
        clustering.push("quality", Column::Real(vec![Some(c.quality)]));
        clustering.push("iterations", Column::Int(vec![Some(c.iterations as i64)]));
        db.store_result(
            &StepRecord {
                step: &step,
                uses_kept_cells: true,
                inputs: &["neighbors"],
                params,
                tables: &[("summary", &clustering)],
            },
            &obs,
            &Frame::default(),
        )?;
        summary.push((c.n_clusters, c.quality));
    }
    Ok(summary)
}
