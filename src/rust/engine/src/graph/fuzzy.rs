//! UMAP's fuzzy simplicial set of a kNN (McInnes et al. 2018; umap-learn's
//! `fuzzy_simplicial_set` with local_connectivity = 1, bandwidth = 1, set_op_mix_ratio = 1),
//! which is also scanpy's `neighbors` "connectivities". For each cell, ρ is the distance to
//! its nearest other cell and σ solves Σ_j exp(-max(0, d_j - ρ) / σ) = log2(k) over its
//! neighbours; the membership of neighbour j is exp(-max(0, d_j - ρ) / σ). The graph joins
//! the two directions as a fuzzy union, a + b - a·b, without self-loops.

use super::knn::Knn;
use super::Graph;
use rayon::prelude::*;

const TOLERANCE: f64 = 1e-5;
const MIN_DISTANCE_SCALE: f64 = 1e-3;
const BISECTION_STEPS: usize = 64;

/// σ and ρ of each cell (umap-learn's `smooth_knn_dist`).
pub fn smooth_distances(knn: &Knn) -> (Vec<f64>, Vec<f64>) {
    let k = knn.k;
    let target = (k as f64).log2();
    let mean_all = knn.distance.iter().map(|&d| d as f64).sum::<f64>() / knn.distance.len() as f64;
    (0..knn.n_rows())
        .into_par_iter()
        .map(|i| {
            let d: Vec<f64> = knn.distance[i * k..(i + 1) * k]
                .iter()
                .map(|&d| d as f64)
                .collect();
            let rho = d.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
            let (mut lo, mut hi, mut sigma) = (0.0, f64::INFINITY, 1.0);
            for _ in 0..BISECTION_STEPS {
                let psum: f64 = d[1..]
                    .iter()
                    .map(|&dj| {
                        if dj - rho > 0.0 {
                            (-(dj - rho) / sigma).exp()
                        } else {
                            1.0
                        }
                    })
                    .sum();
                if (psum - target).abs() < TOLERANCE {
                    break;
                }
                if psum > target {
                    hi = sigma;
                    sigma = (lo + hi) / 2.0;
                } else {
                    lo = sigma;
                    sigma = if hi == f64::INFINITY {
                        sigma * 2.0
                    } else {
                        (lo + hi) / 2.0
                    };
                }
            }
            let floor = MIN_DISTANCE_SCALE
                * if rho > 0.0 {
                    d.iter().sum::<f64>() / k as f64
                } else {
                    mean_all
                };
            (sigma.max(floor), rho)
        })
        .unzip()
}

pub fn fuzzy_graph(knn: &Knn) -> Graph {
    let k = knn.k;
    let n = knn.n_rows();
    let (sigma, rho) = smooth_distances(knn);
    let membership = |i: usize, t: usize| -> f64 {
        let d = knn.distance[i * k + t] as f64;
        if d - rho[i] <= 0.0 || sigma[i] == 0.0 {
            1.0
        } else {
            (-(d - rho[i]) / sigma[i]).exp()
        }
    };
    // Each row: its own memberships, then those that list it (the reverse direction).
    let mut listed_by: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for i in 0..n {
        for t in 0..k {
            let j = knn.index[i * k + t] as usize;
            if j != i {
                listed_by[j].push((i as u32, membership(i, t)));
            }
        }
    }
    let mut g = Graph {
        row_ptr: vec![0],
        col: Vec::new(),
        weight: Vec::new(),
    };
    let mut row: Vec<(u32, f64, f64)> = Vec::new();
    for (i, listed) in listed_by.iter().enumerate() {
        row.clear();
        row.extend(
            (0..k)
                .filter(|&t| knn.index[i * k + t] as usize != i)
                .map(|t| (knn.index[i * k + t], membership(i, t), 0.0)),
        );
        row.extend(listed.iter().map(|&(j, b)| (j, 0.0, b)));
        row.sort_unstable_by_key(|e| e.0);
        let mut p = 0;
        while p < row.len() {
            let (j, mut a, mut b) = row[p];
            while p + 1 < row.len() && row[p + 1].0 == j {
                p += 1;
                a += row[p].1;
                b += row[p].2;
            }
            let w = a + b - a * b;
            if w > 0.0 {
                g.col.push(j);
                g.weight.push(w as f32);
            }
            p += 1;
        }
        g.row_ptr.push(g.col.len());
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::knn::{find_knn, Method, Metric};
    use crate::monitor::Meter;

    #[test]
    fn memberships_sum_to_log2_k_and_join_as_fuzzy_union() {
        let (points, _) = crate::testdir::clustered_points(300, 5, 3, 2);
        let knn = find_knn(
            &points,
            5,
            8,
            Method::Exact,
            Metric::Euclidean,
            0,
            &Meter::default(),
        )
        .unwrap();
        let (sigma, rho) = smooth_distances(&knn);
        for i in 0..knn.n_rows() {
            assert_eq!(rho[i], knn.distance[i * 8 + 1] as f64);
            let psum: f64 = (1..8)
                .map(|t| (-((knn.distance[i * 8 + t] as f64 - rho[i]).max(0.0)) / sigma[i]).exp())
                .sum();
            assert!((psum - 3.0).abs() < 1e-4, "row {i}: {psum}");
        }
        let g = fuzzy_graph(&knn);
        // Symmetric, no self-loops, nearest neighbour at full membership.
        for i in 0..g.n_nodes() {
            for (j, w) in g.edges(i) {
                assert_ne!(i, j);
                let back = g.edges(j).find(|&(u, _)| u == i).map(|(_, w)| w);
                assert_eq!(back, Some(w));
            }
            let nearest = knn.index[i * 8 + 1] as usize;
            assert_eq!(g.edges(i).find(|&(j, _)| j == nearest).unwrap().1, 1.0);
        }
    }
}
