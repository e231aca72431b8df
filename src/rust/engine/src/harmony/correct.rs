//! Harmony's mixture-of-experts correction: per cluster k, a ridge regression of the original
//! embedding on an intercept and the batch indicators, each cell weighted by R[n, k],
//! W = (Φ Rₖ Φᵀ + Λ)⁻¹ Φ Rₖ Zᵀ; the batch terms (not the intercept) are then taken out of
//! every cell in proportion to its R: Z_corr = Z - Σₖ Wₖᵀ Φ Rₖ. The normal equations need,
//! per cluster, Σ R over each pair of a cell's batches and Σ R z over each batch: gathered per
//! batch, its cells in fixed runs.

use super::cluster::Clustering;
use super::{HarmonyOptions, Lambda};
use faer::linalg::solvers::Solve;
use faer::Mat;
use rayon::prelude::*;

/// A batch's cells per task of the gathering.
const RUN: usize = 1 << 16;

impl Clustering {
    pub(super) fn correct(&mut self, data: &[f64], o: &HarmonyOptions) {
        let (k, dims, b, vars) = (self.k, self.dims, self.n_batches, self.variables);
        let runs: Vec<(usize, &[u32])> = self
            .members
            .iter()
            .enumerate()
            .flat_map(|(batch, cells)| cells.chunks(RUN).map(move |run| (batch, run)))
            .collect();
        // Per run: Σ R z (clusters x dims) and Σ R per batch of its cells (clusters x batches).
        let parts: Vec<(usize, Vec<f64>, Vec<f64>)> = runs
            .par_iter()
            .map(|&(batch, cells)| {
                let mut rz = vec![0f64; k * dims];
                let mut pairs = vec![0f64; k * b];
                for &cell in cells {
                    let cell = cell as usize;
                    let z = &data[cell * dims..(cell + 1) * dims];
                    let row = &self.r[cell * k..(cell + 1) * k];
                    let bs = &self.batch[cell * vars..(cell + 1) * vars];
                    for (kk, &r) in row.iter().enumerate() {
                        let r = r as f64;
                        rz[kk * dims..(kk + 1) * dims]
                            .iter_mut()
                            .zip(z)
                            .for_each(|(a, &v)| *a += r * v);
                        bs.iter().for_each(|&other| pairs[kk * b + other as usize] += r);
                    }
                }
                (batch, rz, pairs)
            })
            .collect();
        let mut rz = vec![0f64; b * k * dims];
        let mut pairs = vec![0f64; b * k * b];
        for (batch, part_rz, part_pairs) in parts {
            rz[batch * k * dims..(batch + 1) * k * dims]
                .iter_mut()
                .zip(&part_rz)
                .for_each(|(a, v)| *a += v);
            pairs[batch * k * b..(batch + 1) * k * b]
                .iter_mut()
                .zip(&part_pairs)
                .for_each(|(a, v)| *a += v);
        }
        // The first variable's batches (numbered first) partition the cells: they give the
        // intercept's row.
        let first = self.first_batches;
        let s = b + 1;
        let weights: Vec<Mat<f64>> = (0..k)
            .into_par_iter()
            .map(|kk| {
                let mut gram = Mat::<f64>::zeros(s, s);
                let mut rhs = Mat::<f64>::zeros(s, dims);
                for batch in 0..b {
                    for other in 0..b {
                        gram[(batch + 1, other + 1)] = pairs[(batch * k + kk) * b + other];
                    }
                    let own = gram[(batch + 1, batch + 1)];
                    if batch < first {
                        gram[(0, 0)] += own;
                        for other in 0..b {
                            gram[(0, other + 1)] += pairs[(batch * k + kk) * b + other];
                        }
                    }
                    for d in 0..dims {
                        let v = rz[(batch * k + kk) * dims + d];
                        rhs[(batch + 1, d)] = v;
                        if batch < first {
                            rhs[(0, d)] += v;
                        }
                    }
                    gram[(batch + 1, batch + 1)] += match o.lambda {
                        Lambda::Estimate { alpha } => alpha * self.e[kk * b + batch],
                        Lambda::Fixed(lambda) => lambda,
                    };
                }
                for other in 0..b {
                    gram[(other + 1, 0)] = gram[(0, other + 1)];
                }
                gram.partial_piv_lu().solve(&rhs)
            })
            .collect();
        // Per cluster and batch, the batch's term (a row of W) contiguous.
        let terms: Vec<f64> = weights
            .iter()
            .flat_map(|w| (0..b).flat_map(move |bb| (0..dims).map(move |d| w[(bb + 1, d)])))
            .collect();
        let (r, batch) = (&self.r, &self.batch);
        self.z_corr
            .par_chunks_mut(dims)
            .enumerate()
            .for_each(|(cell, out)| {
                out.copy_from_slice(&data[cell * dims..(cell + 1) * dims]);
                let bs = &batch[cell * vars..(cell + 1) * vars];
                for kk in 0..k {
                    let rk = r[cell * k + kk] as f64;
                    for &bb in bs {
                        let term = &terms[(kk * b + bb as usize) * dims..(kk * b + bb as usize + 1) * dims];
                        out.iter_mut().zip(term).for_each(|(v, &t)| *v -= rk * t);
                    }
                }
            });
        self.renormalise();
    }
}
