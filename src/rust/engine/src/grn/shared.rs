//! `shared_splits` (bixverse's fast mode): one random-forest tree fits a batch of up to
//! [`WIDTH`] targets (standardised to unit variance), each split maximising the variance
//! reduction summed over the batch, each target credited its own share. Targets that share
//! regulators should share a batch, so batches are formed by correlation: the targets' loadings
//! on the leading principal components of their correlation matrix, grouped by k-means with
//! every group holding at most [`WIDTH`] targets.

use super::codes::TfCodes;
use super::forest::{add_tree, forest_fit, ForestParams};
use super::tree::{Batch, Grower, TreeJob};
use super::{subsample, tree_seed, Fit, Target};
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Targets per shared tree, as bixverse.
pub const WIDTH: usize = 16;
/// Principal components the batching clusters on.
const N_COMPONENTS: usize = 10;
/// Cells the correlations are computed on (evenly spaced among the fitting cells).
const CORRELATION_CELLS: usize = 5000;
const KMEANS_ROUNDS: usize = 25;

/// Importance per target and TF, as `rf` (each tree's share of the target's variance
/// reduction, averaged over the trees). `targets` (at most [`WIDTH`]) share every tree; a target's own TF
/// may split the tree for the others but never counts for it.
pub fn shared(
    codes: &TfCodes,
    targets: &[Target],
    own: &[Option<u32>],
    seed: u64,
    p: &ForestParams,
) -> Vec<Fit> {
    assert!(targets.len() <= WIDTH && targets.len() == own.len());
    let n = codes.n_cells;
    let n_in = ((p.subsample * n as f64) as usize).clamp(1, n);
    let mut y = vec![[0.0; WIDTH]; n];
    for (t, target) in targets.iter().enumerate() {
        y.iter_mut().zip(target.y).for_each(|(row, &v)| row[t] = v);
    }
    let mut candidates: Vec<u32> = targets
        .iter()
        .flat_map(|t| t.candidates.iter().copied())
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let own: Vec<(u32, usize)> = own
        .iter()
        .enumerate()
        .filter_map(|(t, tf)| tf.map(|tf| (tf, t)))
        .collect();
    let max_features = targets.iter().map(|t| t.max_features).max().unwrap_or(1);
    // The batch's trees are keyed by its first target, so they do not depend on threads.
    let key = targets.iter().map(|t| t.gene).min().unwrap_or(0);
    let mut importance = vec![vec![0.0; codes.n_tfs]; targets.len()];
    let mut grower = Grower::default();
    for tree in 0..p.n_trees {
        let s = tree_seed(seed, key, tree);
        let job = TreeJob {
            candidates: &candidates,
            own: &own,
            max_features,
        };
        let bag = subsample(n, n_in, s);
        let batch = Batch {
            y: &y,
            bag: &bag,
            seed: s,
        };
        let grown = grower.grow_one(codes, &batch, job, p.max_depth);
        for (t, imp) in importance.iter_mut().enumerate() {
            add_tree(imp, &grown.gain, t);
        }
    }
    importance
        .into_iter()
        .map(|imp| forest_fit(imp, p.n_trees))
        .collect()
}

/// Groups of at most [`WIDTH`] target indices (each ascending, groups by their first index),
/// correlated targets together. `ys` are the targets' values over the same cells.
pub fn correlation_batches(ys: &[&[f64]], seed: u64) -> Vec<Vec<usize>> {
    let m = ys.len();
    if m <= WIDTH {
        return vec![(0..m).collect()];
    }
    let loadings = loadings(ys);
    let mut groups = balanced_kmeans(&loadings, m.div_ceil(WIDTH), seed);
    groups.iter_mut().for_each(|g| g.sort_unstable());
    groups.retain(|g| !g.is_empty());
    groups.sort_unstable_by_key(|g| g[0]);
    groups
}

/// Each target's loadings (eigenvector times the square root of the eigenvalue) on the
/// leading principal components of the targets' correlation matrix.
fn loadings(ys: &[&[f64]]) -> Vec<Vec<f64>> {
    let (m, n) = (ys.len(), ys[0].len());
    let step = n.div_ceil(CORRELATION_CELLS).max(1);
    let z: Vec<Vec<f64>> = ys
        .iter()
        .map(|y| {
            let picked: Vec<f64> = y.iter().step_by(step).copied().collect();
            let mean = picked.iter().sum::<f64>() / picked.len() as f64;
            let norm = picked.iter().map(|v| (v - mean).powi(2)).sum::<f64>().sqrt();
            let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            picked.iter().map(|v| (v - mean) * scale).collect()
        })
        .collect();
    let zm = Mat::<f64>::from_fn(m, z[0].len(), |i, j| z[i][j]);
    let corr = &zm * zm.transpose();
    let symmetric = Mat::<f64>::from_fn(m, m, |i, j| (corr[(i, j)] + corr[(j, i)]) / 2.0);
    let eig = symmetric
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("the eigen solver converges on a small symmetric matrix");
    let (values, vectors) = (eig.S().column_vector(), eig.U());
    // faer returns increasing eigenvalues.
    let leading: Vec<usize> = (0..m).rev().take(N_COMPONENTS.min(m)).collect();
    (0..m)
        .map(|i| {
            leading
                .iter()
                .map(|&k| vectors[(i, k)] * values[k].max(0.0).sqrt())
                .collect()
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// k-means (k-means++ start) whose assignment step fills the nearest centroid with room,
/// closest pairs first, so no group holds more than [`WIDTH`] points.
fn balanced_kmeans(points: &[Vec<f64>], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut centroids = vec![points[rng.random_range(0..points.len())].clone()];
    while centroids.len() < k {
        let weights: Vec<f64> = points
            .iter()
            .map(|p| {
                centroids
                    .iter()
                    .map(|c| distance(p, c))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let next = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            weights
                .iter()
                .position(|&w| {
                    target -= w;
                    target <= 0.0
                })
                .unwrap_or(points.len() - 1)
        } else {
            rng.random_range(0..points.len())
        };
        centroids.push(points[next].clone());
    }
    let mut assignment = vec![usize::MAX; points.len()];
    for _ in 0..KMEANS_ROUNDS {
        let mut pairs: Vec<(f64, usize, usize)> = points
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                centroids
                    .iter()
                    .enumerate()
                    .map(move |(g, c)| (distance(p, c), i, g))
            })
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut next = vec![usize::MAX; points.len()];
        let mut size = vec![0; k];
        for (_, i, g) in pairs {
            if next[i] == usize::MAX && size[g] < WIDTH {
                next[i] = g;
                size[g] += 1;
            }
        }
        if next == assignment {
            break;
        }
        assignment = next;
        for (g, centroid) in centroids.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = (0..points.len())
                .filter(|&i| assignment[i] == g)
                .map(|i| &points[i])
                .collect();
            if !members.is_empty() {
                for (d, c) in centroid.iter_mut().enumerate() {
                    *c = members.iter().map(|p| p[d]).sum::<f64>() / members.len() as f64;
                }
            }
        }
    }
    let mut groups = vec![Vec::new(); k];
    for (i, &g) in assignment.iter().enumerate() {
        groups[g].push(i);
    }
    groups
}
