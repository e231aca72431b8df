//! Neighbours and Leiden clustering: on a store, and on matrices the user brings (an
//! embedding, a kNN index matrix, a symmetric sparse graph).

use super::convert::*;
use super::gpu::placement_of;
use super::progress::with_progress;
use super::{guarded, session, Res};
use cellstream_engine::graph::fuzzy::fuzzy_graph;
use cellstream_engine::graph::knn::{Knn, Method, Metric, HNSW_DEFAULT};
use cellstream_engine::graph::leiden::{leiden_each, LeidenOptions, Objective};
use cellstream_engine::graph::snn::{snn, SnnWeight};
use cellstream_engine::graph::Graph;
use cellstream_engine::monitor::Meter;
use cellstream_steps::{
    cluster_leiden, find_neighbors, method_name, search_knn, stored_knn, stored_snn, ClusterGraph, KnnQuery,
    LeidenRequest, NeighborsRequest,
};
use extendr_api::prelude::*;

/// None for "auto".
fn method_of(x: &Robj) -> Res<Option<Method>> {
    match string(x, "method")?.as_str() {
        "auto" => Ok(None),
        "exact" => Ok(Some(Method::Exact)),
        "hnsw" => Ok(Some(HNSW_DEFAULT)),
        "nndescent" => Ok(Some(Method::NnDescent)),
        other => Err(format!(
            "`method` must be \"auto\", \"exact\", \"hnsw\" or \"nndescent\", not \"{other}\""
        )),
    }
}

fn metric_of(x: &Robj) -> Res<Metric> {
    match string(x, "metric")?.as_str() {
        "euclidean" => Ok(Metric::Euclidean),
        "cosine" => Ok(Metric::Cosine),
        other => Err(format!(
            "`metric` must be \"euclidean\" or \"cosine\", not \"{other}\""
        )),
    }
}

fn weight_of(kind: &Robj, prune: &Robj) -> Res<SnnWeight> {
    match string(kind, "snn")?.as_str() {
        "jaccard" => {
            let prune = number(prune, "prune")?;
            if !(0.0..=1.0).contains(&prune) {
                return Err(format!("`prune` must be between 0 and 1, not {prune}"));
            }
            Ok(SnnWeight::Jaccard { prune })
        }
        "rank" => Ok(SnnWeight::Rank),
        other => Err(format!("`snn` must be \"jaccard\" or \"rank\", not \"{other}\"")),
    }
}

fn leiden_options(
    resolution: &Robj,
    objective: &Robj,
    seed: &Robj,
    n_iterations: &Robj,
) -> Res<Vec<LeidenOptions>> {
    let objective = match string(objective, "objective")?.as_str() {
        "modularity" => Objective::Modularity,
        "CPM" => Objective::Cpm,
        other => {
            return Err(format!(
                "`objective` must be \"modularity\" or \"CPM\", not \"{other}\""
            ))
        }
    };
    let seed = count(seed, "seed")?;
    let iterations = number(n_iterations, "n_iterations")?;
    let max_iterations = (iterations > 0.0).then_some(iterations as usize);
    // The engine checks each resolution.
    let resolutions = resolution.as_real_slice().ok_or("`resolution` must be numeric")?;
    Ok(resolutions
        .iter()
        .map(|&resolution| LeidenOptions {
            resolution,
            objective,
            seed,
            max_iterations,
            randomness: 0.01,
        })
        .collect())
}

/// A kNN query from R's k, method, metric, seed, device and adapter.
fn knn_query(args: [&Robj; 6]) -> Res<KnnQuery> {
    let [k, method, metric, seed, device, adapter] = args;
    Ok(KnnQuery {
        k: count(k, "k")? as usize,
        method: method_of(method)?,
        metric: metric_of(metric)?,
        seed: count(seed, "seed")?,
        on: placement_of(device, adapter)?,
    })
}

fn knn_to_r(knn: &Knn) -> Robj {
    let n = knn.n_rows();
    let index = RMatrix::new_matrix(n, knn.k, |r, c| knn.index[r * knn.k + c] as i32 + 1);
    let distance = RMatrix::new_matrix(n, knn.k, |r, c| knn.distance[r * knn.k + c] as f64);
    list!(index = index, distance = distance).into()
}

/// Compressed rows of a symmetric graph are its compressed columns: a dgCMatrix's p, i, x.
fn graph_to_r(g: &Graph) -> Robj {
    list!(
        p = g.row_ptr.iter().map(|&p| p as f64).collect::<Vec<f64>>(),
        i = g.col.iter().map(|&j| j as i32).collect::<Vec<i32>>(),
        x = g.weight.iter().map(|&w| w as f64).collect::<Vec<f64>>()
    )
    .into()
}

/// A kNN from n x k matrices: neighbour rows (1-based, each row starting with the row) and
/// distances.
pub(crate) fn knn_from_r(index: &Robj, distance: &Robj) -> Res<Knn> {
    let values = index
        .as_integer_slice()
        .ok_or("the kNN index must be an integer matrix")?;
    let distances = distance
        .as_real_slice()
        .ok_or("the kNN distances must be a double matrix")?;
    let (n, k) = matrix_dims(index).ok_or("the kNN index must be a matrix")?;
    if distances.len() != n * k {
        return Err("the kNN distances must have the index's dimensions".into());
    }
    if let Some(bad) = values.iter().find(|&&j| j < 1 || j as usize > n) {
        return Err(format!(
            "the kNN index must hold row numbers from 1 to {n}, not {bad}"
        ));
    }
    Ok(Knn {
        k,
        index: row_major(values, n, k, |j| j as u32 - 1),
        distance: row_major(distances, n, k, |d| d as f32),
    })
}

#[extendr]
fn cs_neighbors(
    store: Robj,
    k: Robj,
    n_pcs: Robj,
    method: Robj,
    metric: Robj,
    snn_kind: Robj,
    prune: Robj,
    seed: Robj,
    device: Robj,
    adapter: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let req = NeighborsRequest {
            knn: knn_query([&k, &method, &metric, &seed, &device, &adapter])?,
            n_pcs: count(&n_pcs, "n_pcs")? as usize,
            weight: weight_of(&snn_kind, &prune)?,
        };
        let used = with_progress(&progress, |monitor| {
            s.write(|db| find_neighbors(&s.store, db, &req, monitor))
        })?;
        Ok(list!(method = method_name(used.method), device = used.device).into())
    })
}

/// The stored kNN: cells (1-based store rows) and n x k matrices of neighbour rows (1-based
/// positions among those cells) and distances.
#[extendr]
fn cs_knn(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, knn) = s.read(|db| stored_knn(&s.store, db))?;
        Ok(list!(cell_index = one_based(&cells), knn = knn_to_r(&knn)).into())
    })
}

#[extendr]
fn cs_snn(store: Robj) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let (cells, g) = s.read(|db| stored_snn(&s.store, db))?;
        Ok(list!(cell_index = one_based(&cells), graph = graph_to_r(&g)).into())
    })
}

#[extendr]
fn cs_leiden(
    store: Robj,
    resolution: Robj,
    names: Robj,
    objective: Robj,
    graph: Robj,
    self_loops: Robj,
    seed: Robj,
    n_iterations: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let s = session::open(&path(&store, "store")?)?;
        let options = leiden_options(&resolution, &objective, &seed, &n_iterations)?;
        let columns: Vec<String> = names
            .as_str_iter()
            .ok_or("`name` must be a character vector")?
            .map(String::from)
            .collect();
        let graph = match string(&graph, "graph")?.as_str() {
            "snn" => ClusterGraph::Snn,
            "umap" => ClusterGraph::Umap,
            other => return Err(format!("`graph` must be \"snn\" or \"umap\", not \"{other}\"")),
        };
        let req = LeidenRequest {
            columns: &columns,
            options: &options,
            graph,
            self_loops: flag(&self_loops, "self_loops")?,
        };
        let summary = with_progress(&progress, |monitor| {
            s.write(|db| cluster_leiden(&s.store, db, &req, monitor))
        })?;
        Ok(list!(
            n_clusters = summary.iter().map(|s| s.0 as i32).collect::<Vec<i32>>(),
            quality = summary.iter().map(|s| s.1).collect::<Vec<f64>>()
        )
        .into())
    })
}

/// kNN of the rows of a numeric matrix (cells x dimensions).
#[extendr]
fn cs_knn_matrix(
    data: Robj,
    k: Robj,
    method: Robj,
    metric: Robj,
    seed: Robj,
    device: Robj,
    adapter: Robj,
    progress: Robj,
) -> Robj {
    guarded(|| {
        let values = data
            .as_real_slice()
            .ok_or("the embedding must be a numeric matrix")?;
        let (n, d) = matrix_dims(&data).ok_or("the embedding must be a matrix (cells x dimensions)")?;
        let query = knn_query([&k, &method, &metric, &seed, &device, &adapter])?;
        let rows = row_major(values, n, d, |v| v as f32);
        let (knn, search) = with_progress(&progress, |monitor| search_knn(&rows, d, &query, &monitor))?;
        Ok(list!(
            knn = knn_to_r(&knn),
            method = method_name(search.method),
            device = search.device
        )
        .into())
    })
}

/// The sNN graph and UMAP connectivities of a kNN given as n x k matrices (index 1-based,
/// each row starting with the row itself; distances).
#[extendr]
fn cs_graphs_matrix(index: Robj, distance: Robj, snn_kind: Robj, prune: Robj) -> Robj {
    guarded(|| {
        let knn = knn_from_r(&index, &distance)?;
        let snn = snn(&knn, weight_of(&snn_kind, &prune)?, &Meter::default()).map_err(|e| e.to_string())?;
        Ok(list!(snn = graph_to_r(&snn), umap = graph_to_r(&fuzzy_graph(&knn))).into())
    })
}

/// Leiden on a symmetric graph given as a dgCMatrix's p, i, x; labels are 0-based, one
/// column per resolution.
#[extendr]
fn cs_leiden_matrix(
    p: Robj,
    i: Robj,
    x: Robj,
    resolution: Robj,
    objective: Robj,
    self_loops: Robj,
    seed: Robj,
    n_iterations: Robj,
) -> Robj {
    guarded(|| {
        let p = p.as_integer_slice().ok_or("the graph's p must be integer")?;
        let i = i.as_integer_slice().ok_or("the graph's i must be integer")?;
        let x = x.as_real_slice().ok_or("the graph's x must be double")?;
        if x.iter().any(|&w| !(w >= 0.0 && w.is_finite())) {
            return Err("graph weights must be non-negative and finite".into());
        }
        let g = Graph {
            row_ptr: p.iter().map(|&v| v as usize).collect(),
            col: i.iter().map(|&v| v as u32).collect(),
            weight: x.to_vec(),
        };
        let n = g.n_nodes();
        let clusterings = leiden_each(
            g,
            flag(&self_loops, "self_loops")?,
            &leiden_options(&resolution, &objective, &seed, &n_iterations)?,
            &Meter::default(),
        )
        .map_err(|e| e.to_string())?;
        let labels = RMatrix::new_matrix(n, clusterings.len(), |r, c| clusterings[c].labels[r] as i32);
        Ok(list!(
            labels = labels,
            n_clusters = clusterings
                .iter()
                .map(|c| c.n_clusters as i32)
                .collect::<Vec<i32>>(),
            quality = clusterings.iter().map(|c| c.quality).collect::<Vec<f64>>()
        )
        .into())
    })
}

extendr_module! {
    mod graph;
    fn cs_neighbors;
    fn cs_knn;
    fn cs_snn;
    fn cs_leiden;
    fn cs_knn_matrix;
    fn cs_graphs_matrix;
    fn cs_leiden_matrix;
}
