//! UMAP (McInnes, Healy & Melville 2018) on a stored kNN: the fuzzy simplicial set of the
//! first `n_neighbors` neighbours (`graph::fuzzy`), a starting layout (`init`), a and b from
//! min_dist and spread (`curve`), and stochastic gradient descent (`sgd`); defaults and
//! details as umap-learn.

pub mod curve;
pub mod init;
pub mod sgd;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::graph::fuzzy::fuzzy_graph;
use crate::graph::knn::Knn;
use crate::monitor::Monitor;
use crate::pca::kernels::Dense;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Spectral layout of the graph; PCA instead when the graph is disconnected or larger than
    /// `SPECTRAL_MAX_CELLS`.
    Spectral,
    Pca,
}

/// Above this many cells the spectral start (subspace iteration over the graph) costs more
/// than it brings; the PCA start is used.
pub const SPECTRAL_MAX_CELLS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UmapOptions {
    pub n_neighbors: usize,
    pub min_dist: f64,
    pub spread: f64,
    /// None: 500 up to 10,000 cells, 200 above (umap-learn).
    pub n_epochs: Option<usize>,
    pub init: Init,
    pub seed: u64,
    pub threads: Option<usize>,
}

pub struct Umap {
    /// n x 2, row-major.
    pub embedding: Vec<f32>,
    /// What the layout started from, with the reason when it is not what was asked for.
    pub init: String,
    pub n_epochs: usize,
}

/// `knn`: the stored neighbours (the cell itself first); `pcs`: the same cells' PCA, for the
/// PCA start; `gpu`: where the gradient descent runs (None: the CPU).
pub fn umap(
    knn: &Knn,
    pcs: &Dense<f32>,
    options: &UmapOptions,
    gpu: Option<&Gpu>,
    monitor: Monitor,
) -> Result<Umap> {
    let n = knn.n_rows();
    if options.n_neighbors < 2 || options.n_neighbors > knn.k {
        return Err(Error::Request(format!(
            "n_neighbors ({}) must be between 2 and the k of the stored neighbours ({}); rerun \
                find_neighbors(x, k = {}) for more",
            options.n_neighbors, knn.k, options.n_neighbors
        )));
    }
    if !(options.min_dist >= 0.0 && options.spread > 0.0 && options.min_dist < 3.0 * options.spread) {
        return Err(Error::Request(format!(
            "min_dist must be at least 0 and below 3 x spread, and spread \
            positive (min_dist = {}, spread = {})",
            options.min_dist, options.spread
        )));
    }
    let first = Knn {
        k: options.n_neighbors,
        index: (0..n)
            .flat_map(|i| knn.row(i)[..options.n_neighbors].to_vec())
            .collect(),
        distance: (0..n)
            .flat_map(|i| knn.distance[i * knn.k..i * knn.k + options.n_neighbors].to_vec())
            .collect(),
    };
    let graph = fuzzy_graph(&first);
    drop(first);
    let dim = 2;
    let components = init::n_components(&graph);
    let (mut layout, used) = match options.init {
        Init::Spectral if components == 1 && n <= SPECTRAL_MAX_CELLS => {
            (init::spectral(&graph, dim, options.seed), "spectral".to_string())
        }
        Init::Spectral if components > 1 => (
            pca_start(pcs, dim),
            format!("pca (the graph has {components} components)"),
        ),
        Init::Spectral => (
            pca_start(pcs, dim),
            format!("pca (more than {SPECTRAL_MAX_CELLS} cells)"),
        ),
        Init::Pca => (pca_start(pcs, dim), "pca".to_string()),
    };
    init::scale_and_jitter(&mut layout, options.seed);
    let n_epochs = options.n_epochs.unwrap_or(if n <= 10_000 { 500 } else { 200 });
    let (a, b) = curve::fit_ab(options.spread, options.min_dist);
    let sgd = sgd::SgdOptions {
        a,
        b,
        n_epochs,
        negative_sample_rate: 5,
        learning_rate: 1.0,
        repulsion: 1.0,
        seed: options.seed,
        threads: options.threads,
    };
    let embedding = match gpu {
        Some(gpu) => crate::gpu::umap::optimize(gpu, &graph, &layout, &sgd, monitor)?,
        None => sgd::optimize(&graph, &layout, dim, &sgd, monitor)?,
    };
    Ok(Umap {
        embedding,
        init: used,
        n_epochs,
    })
}

fn pca_start(pcs: &Dense<f32>, dim: usize) -> Vec<f64> {
    (0..pcs.rows)
        .flat_map(|r| pcs.row(r)[..dim].iter().map(|&v| v as f64).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::Choice;
    use crate::graph::knn::{find_knn, Method, Metric};
    use crate::monitor::Meter;

    /// 1,500 points in 5 clusters of 10 dimensions, their exact kNN and PCA stand-in.
    fn clusters() -> (Knn, Dense<f32>, Vec<usize>) {
        let (points, truth) = crate::testdir::clustered_points(1_500, 10, 5, 4);
        let knn = find_knn(
            &points,
            10,
            15,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap();
        let pcs = Dense {
            rows: 1_500,
            k: 10,
            data: points.iter().map(|&v| v as f32).collect(),
        };
        (knn, pcs, truth)
    }

    const OPTIONS: UmapOptions = UmapOptions {
        n_neighbors: 15,
        min_dist: 0.3,
        spread: 1.0,
        n_epochs: Some(100),
        init: Init::Spectral,
        seed: 7,
        threads: Some(1),
    };

    /// Every cell is nearer its own cluster's centre than any other cluster's.
    fn separated(embedding: &[f32], truth: &[usize]) -> bool {
        let mut centre = [[0.0f64; 2]; 5];
        let mut count = [0.0; 5];
        for (i, &c) in truth.iter().enumerate() {
            centre[c][0] += embedding[2 * i] as f64;
            centre[c][1] += embedding[2 * i + 1] as f64;
            count[c] += 1.0;
        }
        centre
            .iter_mut()
            .zip(&count)
            .for_each(|(c, n)| c.iter_mut().for_each(|v| *v /= n));
        let distance = |i: usize, c: usize| {
            (embedding[2 * i] as f64 - centre[c][0]).hypot(embedding[2 * i + 1] as f64 - centre[c][1])
        };
        let nearest = |i: usize| {
            (0..5)
                .min_by(|&p, &q| distance(i, p).total_cmp(&distance(i, q)))
                .unwrap()
        };
        truth.iter().enumerate().all(|(i, &c)| nearest(i) == c)
    }

    #[test]
    fn separates_clusters_and_repeats_with_one_thread() {
        let (knn, pcs, truth) = clusters();
        let run = umap(&knn, &pcs, &OPTIONS, None, Monitor::quiet()).unwrap();
        assert!(
            run.init.starts_with("pca (the graph has 5 components)"),
            "{}",
            run.init
        );
        let again = umap(&knn, &pcs, &OPTIONS, None, Monitor::quiet()).unwrap();
        assert_eq!(run.embedding, again.embedding);
        assert!(separated(&run.embedding, &truth));
        let too_many = UmapOptions {
            n_neighbors: 16,
            ..OPTIONS
        };
        assert!(umap(&knn, &pcs, &too_many, None, Monitor::quiet()).is_err());
    }

    #[test]
    fn the_gpu_layout_separates_clusters_and_repeats_bit_for_bit_in_small_chunks() {
        let Ok(mut gpu) = Gpu::open(&Choice::Named("llvmpipe".into())) else {
            eprintln!("no lavapipe adapter: skipped");
            return;
        };
        // 4,096 edges per dispatch: the ~30,000 edges in 8 chunks.
        gpu.limit_bindings(4096 * 4);
        let (knn, pcs, truth) = clusters();
        let run = umap(&knn, &pcs, &OPTIONS, Some(&gpu), Monitor::quiet()).unwrap();
        let again = umap(&knn, &pcs, &OPTIONS, Some(&gpu), Monitor::quiet()).unwrap();
        assert_eq!(run.embedding, again.embedding);
        assert!(separated(&run.embedding, &truth));
        let cpu = umap(&knn, &pcs, &OPTIONS, None, Monitor::quiet()).unwrap();
        assert_ne!(run.embedding, cpu.embedding);
    }
}
