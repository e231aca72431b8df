//! Starting layouts for UMAP. Spectral, as umap-learn's `spectral_layout`: the eigenvectors of
//! the normalised Laplacian I - D^-1/2 A D^-1/2 with the smallest non-zero eigenvalues,
//! found as the largest of (I + D^-1/2 A D^-1/2) / 2 after the known top one (√d) by
//! subspace iteration. PCA: the leading principal components. Either is scaled to a largest
//! coordinate of 10 and jittered (N(0, 1e-4)), as umap-learn.

use crate::graph::Graph;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Extra vectors carried by the subspace iteration beyond the ones wanted.
const GUARD_VECTORS: usize = 4;
const MAX_ITERATIONS: usize = 1000;
/// On the Ritz values; the vectors are then accurate to about its square root.
const TOLERANCE: f64 = 1e-10;

/// Number of connected components of a graph.
pub fn n_components(g: &Graph) -> usize {
    let n = g.n_nodes();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn root(parent: &mut [u32], mut i: u32) -> u32 {
        while parent[i as usize] != i {
            parent[i as usize] = parent[parent[i as usize] as usize];
            i = parent[i as usize];
        }
        i
    }
    for i in 0..n {
        for (j, _) in g.edges(i) {
            let (a, b) = (root(&mut parent, i as u32), root(&mut parent, j as u32));
            if a != b {
                parent[a.max(b) as usize] = a.min(b);
            }
        }
    }
    (0..n as u32).filter(|&i| root(&mut parent, i) == i).count()
}

/// `dim` columns (row-major, n x dim) of the spectral layout of a connected graph.
pub fn spectral(g: &Graph, dim: usize, seed: u64) -> Vec<f64> {
    let n = g.n_nodes();
    let degree = g.strength();
    let inv_sqrt: Vec<f64> = degree
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    let top: Vec<f64> = {
        let v: Vec<f64> = degree.iter().map(|d| d.sqrt()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    };
    // y = (x + D^-1/2 A D^-1/2 x) / 2 for one vector.
    let apply = |x: &[f64]| -> Vec<f64> {
        (0..n)
            .into_par_iter()
            .map(|i| {
                0.5 * (x[i]
                    + inv_sqrt[i]
                        * g.edges(i)
                            .map(|(j, w)| w as f64 * inv_sqrt[j] * x[j])
                            .sum::<f64>())
            })
            .collect()
    };
    let p = (dim + GUARD_VECTORS).min(n.saturating_sub(1)).max(dim);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut block: Vec<Vec<f64>> = (0..p)
        .map(|_| (0..n).map(|_| normal.sample(&mut rng)).collect())
        .collect();
    orthonormalise(&mut block, &top);
    let mut previous = vec![f64::INFINITY; dim];
    for iteration in 0..MAX_ITERATIONS {
        block = block.iter().map(|x| apply(x)).collect();
        orthonormalise(&mut block, &top);
        if iteration % 10 == 9 {
            let (values, _) = rayleigh_ritz(&block, &apply);
            let change = values[..dim]
                .iter()
                .zip(&previous)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            previous.copy_from_slice(&values[..dim]);
            if change < TOLERANCE {
                break;
            }
        }
    }
    let (_, vectors) = rayleigh_ritz(&block, &apply);
    (0..n)
        .flat_map(|i| (0..dim).map(|c| vectors[c][i]).collect::<Vec<_>>())
        .collect()
}

/// Gram-Schmidt (twice, for stability) of each vector against `top` and the earlier ones.
fn orthonormalise(block: &mut [Vec<f64>], top: &[f64]) {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for c in 0..block.len() {
        for _ in 0..2 {
            let t = dot(&block[c], top);
            block[c].iter_mut().zip(top).for_each(|(x, y)| *x -= t * y);
            for e in 0..c {
                let (done, rest) = block.split_at_mut(c);
                let t = dot(&rest[0], &done[e]);
                rest[0].iter_mut().zip(&done[e]).for_each(|(x, y)| *x -= t * y);
            }
        }
        let norm = dot(&block[c], &block[c]).sqrt();
        block[c].iter_mut().for_each(|x| *x /= norm.max(1e-300));
    }
}

/// Ritz values (descending) and vectors of the operator on an orthonormal block.
fn rayleigh_ritz(block: &[Vec<f64>], apply: &dyn Fn(&[f64]) -> Vec<f64>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let p = block.len();
    let images: Vec<Vec<f64>> = block.iter().map(|x| apply(x)).collect();
    let h = faer::Mat::<f64>::from_fn(p, p, |r, c| {
        block[r].iter().zip(&images[c]).map(|(a, b)| a * b).sum::<f64>()
    });
    let h = faer::Mat::<f64>::from_fn(p, p, |r, c| 0.5 * (h[(r, c)] + h[(c, r)]));
    let eigen = h
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("a small symmetric eigenproblem");
    let (s, u) = (eigen.S().column_vector(), eigen.U());
    // faer sorts ascending; the wanted are the largest.
    let order: Vec<usize> = (0..p).rev().collect();
    let values = order.iter().map(|&k| s[k]).collect();
    let n = block[0].len();
    let vectors = order
        .iter()
        .map(|&k| {
            (0..n)
                .map(|i| (0..p).map(|r| block[r][i] * u[(r, k)]).sum())
                .collect()
        })
        .collect();
    (values, vectors)
}

/// Scales a layout to a largest absolute coordinate of 10 and adds N(0, 1e-4) jitter.
pub fn scale_and_jitter(layout: &mut [f64], seed: u64) {
    let largest = layout.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let expansion = if largest > 0.0 { 10.0 / largest } else { 1.0 };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let jitter = Normal::new(0.0, 1e-4).unwrap();
    layout
        .iter_mut()
        .for_each(|v| *v = *v * expansion + jitter.sample(&mut rng));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::fuzzy::fuzzy_graph;
    use crate::graph::knn::{find_knn, Method, Metric};
    use crate::monitor::Meter;

    #[test]
    fn spectral_layout_solves_the_laplacian() {
        // A ring of 60 nodes: the Laplacian's first non-trivial eigenvectors are cos and sin.
        let n = 60;
        let mut g = Graph {
            row_ptr: vec![0],
            col: Vec::new(),
            weight: Vec::new(),
        };
        for i in 0..n {
            let mut nb = [(i + n - 1) % n, (i + 1) % n];
            nb.sort();
            for j in nb {
                g.col.push(j as u32);
                g.weight.push(1.0);
            }
            g.row_ptr.push(g.col.len());
        }
        assert_eq!(n_components(&g), 1);
        let layout = spectral(&g, 2, 1);
        // Each point lies on a circle: x² + y² constant.
        let radii: Vec<f64> = (0..n).map(|i| layout[2 * i].hypot(layout[2 * i + 1])).collect();
        let mean = radii.iter().sum::<f64>() / n as f64;
        assert!(radii.iter().all(|r| (r - mean).abs() < 1e-3 * mean), "{radii:?}");
    }

    #[test]
    fn components_are_counted() {
        let (points, _) = crate::testdir::clustered_points(400, 5, 4, 9);
        let g = fuzzy_graph(
            &find_knn(
                &points,
                5,
                10,
                Method::Exact,
                Metric::Euclidean,
                0,
                &Meter::default(),
            )
            .unwrap(),
        );
        assert_eq!(n_components(&g), 4);
    }
}
