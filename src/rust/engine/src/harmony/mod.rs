//! Harmony integration (Korsunsky et al. 2019) as harmonypy 2.1.0 and R harmony 2.0 define
//! it, and LISI to measure it. The cells' embedding (PCs) is cosine-normalised and softly
//! clustered, each cell's cluster probabilities penalised by how over-represented its batch
//! is in the cluster (`cluster`: the diversity penalty θ, updated in blocks of 5 % of the cells
//! in random order); then a mixture of experts removes from each cell the batch effect of each
//! of its clusters, a ridge regression per cluster (`correct`, λ estimated as α times the
//! expected batch counts). Both repeat until the objective changes by less than 1e-2.
//!
//! Everything is f64 but the cluster probabilities R (cells x clusters, f32: 400 bytes a cell
//! at 100 clusters). Sums over cells run over fixed chunks added in order, so a result
//! depends on the seed only, never on the thread count.

mod cluster;
mod correct;
mod init;
pub mod lisi;

use crate::error::{Error, Result};
use crate::monitor::Monitor;
use cluster::Clustering;

/// Cells per parallel task of every sum over cells.
pub(crate) const CHUNK: usize = 2048;

/// `out` (m x k) = `a` (m x d) times `b` (k x d) transposed, all row-major; on this thread.
pub(crate) fn times_transposed(a: &[f64], b: &[f64], d: usize, out: &mut [f64]) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    let (m, k) = (a.len() / d, b.len() / d);
    let lhs = MatRef::from_row_major_slice(a, m, d);
    let rhs = MatRef::from_row_major_slice(b, k, d).transpose();
    matmul(
        MatMut::from_row_major_slice_mut(out, m, k),
        Accum::Replace,
        lhs,
        rhs,
        1.0,
        Par::Seq,
    );
}

/// The ridge penalty of each batch in each cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lambda {
    /// λ = alpha x the cluster's expected cells of the batch (Harmony 2, alpha 0.2).
    Estimate { alpha: f64 },
    /// The same λ everywhere (Harmony 1: 1).
    Fixed(f64),
}

#[derive(Debug, Clone)]
pub struct HarmonyOptions {
    /// Diversity penalty of each batch variable (2).
    pub theta: Vec<f64>,
    /// Width of the soft clusters (0.1).
    pub sigma: f64,
    pub lambda: Lambda,
    /// None: min(round(N / 30), 100).
    pub n_clusters: Option<usize>,
    /// Share of the cells updated at once (0.05).
    pub block_size: f64,
    pub max_iterations: usize,
    pub max_kmeans_iterations: usize,
    pub epsilon_cluster: f64,
    pub epsilon_harmony: f64,
    pub seed: u64,
    /// Starting centroids (clusters x dims, row-major) instead of k-means.
    pub centroids: Option<Vec<f64>>,
}

impl Default for HarmonyOptions {
    fn default() -> Self {
        HarmonyOptions {
            theta: vec![2.0],
            sigma: 0.1,
            lambda: Lambda::Estimate { alpha: 0.2 },
            n_clusters: None,
            block_size: 0.05,
            max_iterations: 10,
            max_kmeans_iterations: 4,
            epsilon_cluster: 1e-3,
            epsilon_harmony: 1e-2,
            seed: 0,
            centroids: None,
        }
    }
}

/// Batch labels: per batch variable, each cell's batch (0-based) and the number of batches.
pub struct Batches {
    pub codes: Vec<Vec<u32>>,
    pub counts: Vec<usize>,
}

impl Batches {
    /// Batches of all variables numbered together: variable v's batch b is
    /// `b + counts[0] + … + counts[v - 1]`; cell n's are `flat[n * variables ..]`.
    fn flattened(&self, n: usize) -> Result<(Vec<u32>, usize)> {
        let variables = self.codes.len();
        if variables == 0 || variables != self.counts.len() {
            return Err(Error::Request("Harmony needs at least one batch variable".into()));
        }
        let mut flat = vec![0u32; n * variables];
        let mut offset = 0u32;
        for (v, (codes, &count)) in self.codes.iter().zip(&self.counts).enumerate() {
            if codes.len() != n {
                return Err(Error::Request(format!(
                    "batch variable {} labels {} cells, not {n}",
                    v + 1,
                    codes.len()
                )));
            }
            if let Some(&bad) = codes.iter().find(|&&c| c as usize >= count) {
                return Err(Error::Request(format!(
                    "batch {bad} of variable {} is out of range",
                    v + 1
                )));
            }
            for (cell, &c) in codes.iter().enumerate() {
                flat[cell * variables + v] = offset + c;
            }
            offset += count as u32;
        }
        Ok((flat, offset as usize))
    }
}

pub struct Harmonized {
    /// The corrected embedding, cells x dims, row-major.
    pub embedding: Vec<f64>,
    pub n_clusters: usize,
    /// Harmony iterations run (clustering + correction).
    pub iterations: usize,
    pub converged: bool,
    /// The objective at the start and after each iteration.
    pub objective: Vec<f64>,
}

/// Harmony on `data` (cells x `dims`, row-major) with the cells' `batches`.
pub fn harmonize(
    data: &[f64],
    dims: usize,
    batches: &Batches,
    o: &HarmonyOptions,
    monitor: Monitor,
) -> Result<Harmonized> {
    let n = data.len() / dims.max(1);
    if dims == 0 || n * dims != data.len() || n < 2 {
        return Err(Error::Request(
            "Harmony needs an embedding of at least 2 cells".into(),
        ));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Request(
            "the embedding has missing or infinite values".into(),
        ));
    }
    let (flat, n_batches) = batches.flattened(n)?;
    let variables = batches.codes.len();
    if o.theta.len() != variables {
        return Err(Error::Request(format!(
            "theta needs one value per batch variable ({variables}), not {}",
            o.theta.len()
        )));
    }
    if batches.counts.iter().zip(&batches.codes).any(|(&count, codes)| {
        let mut seen = vec![false; count];
        codes.iter().for_each(|&c| seen[c as usize] = true);
        seen.iter().filter(|&&s| s).count() < 2
    }) {
        return Err(Error::Request(
            "every batch variable needs cells in at least 2 batches: there is nothing to integrate".into(),
        ));
    }
    let k = match (&o.centroids, o.n_clusters) {
        (Some(c), _) => c.len() / dims,
        (None, Some(k)) => k,
        (None, None) => ((n as f64 / 30.0).round() as usize).min(100),
    };
    if k < 2 || k >= n {
        return Err(Error::Request(format!(
            "Harmony needs between 2 and {} clusters, not {k}",
            n - 1
        )));
    }
    let theta: Vec<f64> = batches
        .counts
        .iter()
        .zip(&o.theta)
        .flat_map(|(&count, &t)| std::iter::repeat_n(t, count))
        .collect();
    let mut state = Clustering::new(
        data,
        dims,
        k,
        &flat,
        variables,
        (n_batches, batches.counts[0]),
        theta,
        o,
    )?;
    let mut objective = vec![state.objective()];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < o.max_iterations {
        monitor.tick("Harmony: iterations", iterations as u64, o.max_iterations as u64)?;
        state.cluster(o)?;
        state.correct(data, o);
        iterations += 1;
        objective.push(state.last_objective());
        let (old, new) = (objective[objective.len() - 2], objective[objective.len() - 1]);
        if (old - new) / old.abs() < o.epsilon_harmony {
            converged = true;
            break;
        }
    }
    monitor.report(
        "Harmony: iterations",
        o.max_iterations as u64,
        o.max_iterations as u64,
    );
    Ok(Harmonized {
        embedding: state.into_corrected(),
        n_clusters: k,
        iterations,
        converged,
        objective,
    })
}

#[cfg(test)]
mod tests {
    use super::lisi::lisi;
    use super::*;
    use crate::monitor::Meter;
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Three cell types x two batches in 10 dimensions; batch 1 shifted. Returns the data,
    /// batches and types.
    fn two_batches(n: usize) -> (Vec<f64>, Vec<u32>, Vec<u32>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let dims = 10;
        let centres: Vec<f64> = (0..3 * dims).map(|_| rng.random_range(-6.0..6.0)).collect();
        let shift: Vec<f64> = (0..dims).map(|_| rng.random_range(-3.0..3.0)).collect();
        let (mut data, mut batch, mut kind) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (t, b) = ((i % 3) as u32, (i % 2) as u32);
            for d in 0..dims {
                let noise: f64 = rng.sample(StandardNormal);
                data.push(centres[t as usize * dims + d] + noise + b as f64 * shift[d]);
            }
            batch.push(b);
            kind.push(t);
        }
        (data, batch, kind)
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn batches_mix_and_cell_types_stay_apart() {
        let (data, batch, kind) = two_batches(1200);
        let batches = Batches {
            codes: vec![batch.clone()],
            counts: vec![2],
        };
        let o = HarmonyOptions::default();
        let h = harmonize(&data, 10, &batches, &o, Monitor::quiet()).unwrap();
        assert_eq!(h.n_clusters, 40);
        assert!(h.converged && h.iterations < 10, "{} iterations", h.iterations);
        let ilisi = |x: &[f64]| median(lisi(x, 10, &batch, 2, 30.0, &Meter::default()).unwrap());
        let clisi = |x: &[f64]| median(lisi(x, 10, &kind, 3, 30.0, &Meter::default()).unwrap());
        let (before, after) = (ilisi(&data), ilisi(&h.embedding));
        assert!(before < 1.05 && after > 1.8, "iLISI {before} -> {after}");
        assert!(clisi(&h.embedding) < 1.01, "cLISI {}", clisi(&h.embedding));
        // The objective falls.
        assert!(h.objective.windows(2).all(|w| w[1] < w[0]), "{:?}", h.objective);
    }

    #[test]
    fn the_result_depends_on_the_seed_not_the_threads() {
        let (data, batch, _) = two_batches(5000);
        let batches = Batches {
            codes: vec![batch],
            counts: vec![2],
        };
        let run = |threads: usize, seed: u64| {
            let o = HarmonyOptions {
                seed,
                ..Default::default()
            };
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    harmonize(&data, 10, &batches, &o, Monitor::quiet())
                        .unwrap()
                        .embedding
                })
        };
        let one = run(1, 3);
        assert_eq!(one, run(3, 3));
        assert_ne!(one, run(1, 4));
    }

    #[test]
    fn bad_batches_are_errors() {
        let (data, batch, _) = two_batches(300);
        let o = HarmonyOptions::default();
        let one = Batches {
            codes: vec![vec![0; 300]],
            counts: vec![1],
        };
        let e = harmonize(&data, 10, &one, &o, Monitor::quiet())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("at least 2 batches"), "{e}");
        let short = Batches {
            codes: vec![batch[..299].to_vec()],
            counts: vec![2],
        };
        let e = harmonize(&data, 10, &short, &o, Monitor::quiet())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("labels 299 cells, not 300"), "{e}");
        let mut bad = data.clone();
        bad[5] = f64::NAN;
        let fine = Batches {
            codes: vec![batch],
            counts: vec![2],
        };
        assert!(harmonize(&bad, 10, &fine, &o, Monitor::quiet()).is_err());
    }
}
