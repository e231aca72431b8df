//! Harmony's soft k-means with the diversity penalty. For cell n and cluster k the distance is
//! d = 2 (1 - yₖ · zₙ) on cosine-normalised vectors; R[n, k] ∝ exp(-d / σ) · Πᵥ penalty, the
//! penalty of the cell's batch b being (E[k, b] / (O[k, b] + E[k, b]))^θ_b with O the cluster's
//! observed cells of the batch (Σ R) and E those expected from the batch's share of all cells.
//! (With several batch variables the penalties add, as in Harmony's code.) R is updated in
//! blocks of cells in a random order, each block's cells taken out of O and E first and put
//! back after. The objective is Harmony 2's: Σ R d + σ Σ R ln R + σ Σ θ_b O ln((O + E) / E),
//! times 2,000 / N.

use super::{HarmonyOptions, CHUNK};
use crate::error::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Rounds of objectives compared by the k-means convergence check (Harmony's window).
const WINDOW: usize = 3;

pub(super) struct Clustering {
    pub(super) n: usize,
    pub(super) dims: usize,
    pub(super) k: usize,
    /// Batch variables, and each cell's batch in each (`Batches::flattened`).
    pub(super) variables: usize,
    pub(super) batch: Vec<u32>,
    pub(super) n_batches: usize,
    /// Batches of the first variable (numbered 0..first_batches).
    pub(super) first_batches: usize,
    /// The cells of each batch, ascending.
    pub(super) members: Vec<Vec<u32>>,
    theta: Vec<f64>,
    sigma: f64,
    /// Each batch's share of the cells.
    share: Vec<f64>,
    pub(super) z_corr: Vec<f64>,
    z_cos: Vec<f64>,
    /// Centroids, clusters x dims, unit length.
    y: Vec<f64>,
    /// Cells x clusters.
    pub(super) r: Vec<f32>,
    /// Clusters x batches: expected and observed cells.
    pub(super) e: Vec<f64>,
    pub(super) o: Vec<f64>,
    kmeans_objective: Vec<f64>,
    rng: Xoshiro256PlusPlus,
}

/// Rows scaled to unit length (a zero row stays zero).
pub(super) fn unit_rows(data: &[f64], dims: usize) -> Vec<f64> {
    let mut out = data.to_vec();
    out.par_chunks_mut(dims).for_each(|row| {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    });
    out
}

/// Per chunk of `items`, `part(chunk)`, added up in chunk order (so independent of threads).
fn sum_chunks<T: Sync>(items: &[T], size: usize, part: impl Fn(&[T]) -> Vec<f64> + Sync) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = items.par_chunks(CHUNK).map(&part).collect();
    let mut total = vec![0f64; size];
    for p in parts {
        total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
    }
    total
}

impl Clustering {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        data: &[f64],
        dims: usize,
        k: usize,
        batch: &[u32],
        variables: usize,
        (n_batches, first_batches): (usize, usize),
        theta: Vec<f64>,
        o: &HarmonyOptions,
    ) -> Result<Clustering> {
        let n = data.len() / dims;
        let z_cos = unit_rows(data, dims);
        let y = match &o.centroids {
            Some(c) => unit_rows(c, dims),
            None => unit_rows(&super::init::kmeans(&z_cos, dims, k, o.seed), dims),
        };
        let mut members = vec![Vec::new(); n_batches];
        for (cell, bs) in batch.chunks(variables).enumerate() {
            bs.iter().for_each(|&b| members[b as usize].push(cell as u32));
        }
        let share = members.iter().map(|m| m.len() as f64 / n as f64).collect();
        let mut state = Clustering {
            n,
            dims,
            k,
            variables,
            batch: batch.to_vec(),
            n_batches,
            first_batches,
            members,
            theta,
            sigma: o.sigma,
            share,
            z_corr: data.to_vec(),
            z_cos,
            y,
            r: vec![0f32; n * k],
            e: vec![0f64; k * n_batches],
            o: vec![0f64; k * n_batches],
            kmeans_objective: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(o.seed),
        };
        // The first probabilities, without the diversity penalty.
        let (k_, dims_) = (state.k, state.dims);
        let (y, z_cos, sigma) = (&state.y, &state.z_cos, state.sigma);
        let terms: Vec<(f64, f64)> = state
            .r
            .par_chunks_mut(CHUNK * k_)
            .zip(z_cos.par_chunks(CHUNK * dims_))
            .map(|(rows, z)| {
                let mut sums = (0.0, 0.0);
                let dist = distances(y, z, dims_);
                let mut logits = vec![0f64; k_];
                for (row, d) in rows.chunks_mut(k_).zip(dist.chunks(k_)) {
                    let t = probabilities(d, sigma, |_| 0.0, &mut logits, row);
                    sums.0 += t.0;
                    sums.1 += t.1;
                }
                sums
            })
            .collect();
        state.recount();
        let (error, entropy) = terms.iter().fold((0.0, 0.0), |a, t| (a.0 + t.0, a.1 + t.1));
        let value = state.scaled_objective(error, entropy);
        state.kmeans_objective.push(value);
        Ok(state)
    }

    /// The objective at the start.
    pub(super) fn objective(&self) -> f64 {
        self.kmeans_objective[0]
    }

    pub(super) fn last_objective(&self) -> f64 {
        *self.kmeans_objective.last().expect("the start's objective")
    }

    pub(super) fn into_corrected(self) -> Vec<f64> {
        self.z_corr
    }

    /// The whole objective from the cell terms Σ R d and Σ R ln R.
    fn scaled_objective(&self, error: f64, entropy: f64) -> f64 {
        let mut cross = 0.0;
        for kk in 0..self.k {
            for b in 0..self.n_batches {
                let (o, e) = (self.o[kk * self.n_batches + b], self.e[kk * self.n_batches + b]);
                if o > 0.0 {
                    cross += self.theta[b] * o * ((o + e) / e).ln();
                }
            }
        }
        (error + self.sigma * entropy + self.sigma * cross) * 2000.0 / self.n as f64
    }

    /// O and E from R.
    fn recount(&mut self) {
        let all: Vec<u32> = (0..self.n as u32).collect();
        let (o, totals) = self.counts_of(&all);
        self.o = o;
        self.e = self.expected(&totals);
    }

    /// Per cluster x batch Σ R over `cells`, and per cluster Σ R.
    fn counts_of(&self, cells: &[u32]) -> (Vec<f64>, Vec<f64>) {
        let (k, b, vars) = (self.k, self.n_batches, self.variables);
        let size = k * b + k;
        let sums = sum_chunks(cells, size, |part| {
            let mut s = vec![0f64; size];
            for &cell in part {
                let row = &self.r[cell as usize * k..(cell as usize + 1) * k];
                for &batch in &self.batch[cell as usize * vars..(cell as usize + 1) * vars] {
                    for (kk, &v) in row.iter().enumerate() {
                        s[kk * b + batch as usize] += v as f64;
                    }
                }
                for (kk, &v) in row.iter().enumerate() {
                    s[k * b + kk] += v as f64;
                }
            }
            s
        });
        (sums[..k * b].to_vec(), sums[k * b..].to_vec())
    }

    fn expected(&self, totals: &[f64]) -> Vec<f64> {
        totals
            .iter()
            .flat_map(|&t| self.share.iter().map(move |&s| t * s))
            .collect()
    }

    /// One Harmony clustering: up to `max_kmeans_iterations` rounds of centroids then
    /// probabilities, stopping early when the objective settles.
    pub(super) fn cluster(&mut self, o: &HarmonyOptions) -> Result<()> {
        for round in 0..o.max_kmeans_iterations {
            self.update_centroids();
            self.update_probabilities(o.block_size);
            if round > WINDOW && self.kmeans_converged(o.epsilon_cluster) {
                break;
            }
        }
        Ok(())
    }

    fn kmeans_converged(&self, epsilon: f64) -> bool {
        let last = self.kmeans_objective.len() - 1;
        let old: f64 = (0..WINDOW).map(|i| self.kmeans_objective[last - 2 - i]).sum();
        let new: f64 = (0..WINDOW).map(|i| self.kmeans_objective[last - 1 - i]).sum();
        (old - new) / old.abs() < epsilon
    }

    /// Y = the unit-length R-weighted means of the cells.
    fn update_centroids(&mut self) {
        let (k, dims) = (self.k, self.dims);
        let cells: Vec<u32> = (0..self.n as u32).collect();
        let (r, z_cos) = (&self.r, &self.z_cos);
        let y = sum_chunks(&cells, k * dims, |part| {
            let (first, last) = (part[0] as usize, *part.last().expect("a chunk") as usize + 1);
            // Rᵀ Z over the chunk's (consecutive) cells.
            let rt: Vec<f64> = (0..k)
                .flat_map(|kk| (first..last).map(move |cell| r[cell * k + kk] as f64))
                .collect();
            let zt: Vec<f64> = (0..dims)
                .flat_map(|d| (first..last).map(move |cell| z_cos[cell * dims + d]))
                .collect();
            let mut y = vec![0f64; k * dims];
            super::times_transposed(&rt, &zt, last - first, &mut y);
            y
        });
        self.y = unit_rows(&y, dims);
    }

    /// R of every cell, block by block in a random order; then the round's objective.
    fn update_probabilities(&mut self, block_size: f64) {
        let (k, b, dims, vars) = (self.k, self.n_batches, self.dims, self.variables);
        let mut order: Vec<u32> = (0..self.n as u32).collect();
        order.shuffle(&mut self.rng);
        let n_blocks = (1.0 / block_size).ceil() as usize;
        let per_block = self.n / n_blocks + 1;
        let (mut error, mut entropy) = (0.0, 0.0);
        for block in order.chunks(per_block) {
            let (o, totals) = self.counts_of(block);
            let expected = self.expected(&totals);
            self.o.iter_mut().zip(&o).for_each(|(a, v)| *a -= v);
            self.e.iter_mut().zip(&expected).for_each(|(a, v)| *a -= v);
            // ln of each cluster x batch penalty.
            let penalty: Vec<f64> = (0..k * b)
                .map(|i| self.theta[i % b] * (self.e[i] / (self.o[i] + self.e[i])).ln())
                .collect();
            let (y, z_cos, batch, sigma) = (&self.y, &self.z_cos, &self.batch, self.sigma);
            let rows: Vec<(Vec<f32>, f64, f64)> = block
                .par_chunks(CHUNK)
                .map(|part| {
                    let mut out = vec![0f32; part.len() * k];
                    let z: Vec<f64> = part
                        .iter()
                        .flat_map(|&cell| &z_cos[cell as usize * dims..(cell as usize + 1) * dims])
                        .copied()
                        .collect();
                    let dist = distances(y, &z, dims);
                    let mut logits = vec![0f64; k];
                    let mut sums = (0.0, 0.0);
                    for (i, &cell) in part.iter().enumerate() {
                        let cell = cell as usize;
                        let bs = &batch[cell * vars..(cell + 1) * vars];
                        let t = probabilities(
                            &dist[i * k..(i + 1) * k],
                            sigma,
                            |kk| match bs {
                                [only] => penalty[kk * b + *only as usize],
                                _ => bs
                                    .iter()
                                    .map(|&bb| penalty[kk * b + bb as usize].exp())
                                    .sum::<f64>()
                                    .ln(),
                            },
                            &mut logits,
                            &mut out[i * k..(i + 1) * k],
                        );
                        sums.0 += t.0;
                        sums.1 += t.1;
                    }
                    (out, sums.0, sums.1)
                })
                .collect();
            for (part, (values, e1, e2)) in block.chunks(CHUNK).zip(rows) {
                for (&cell, row) in part.iter().zip(values.chunks(k)) {
                    self.r[cell as usize * k..(cell as usize + 1) * k].copy_from_slice(row);
                }
                error += e1;
                entropy += e2;
            }
            let (o, totals) = self.counts_of(block);
            let expected = self.expected(&totals);
            self.o.iter_mut().zip(&o).for_each(|(a, v)| *a += v);
            self.e.iter_mut().zip(&expected).for_each(|(a, v)| *a += v);
        }
        let value = self.scaled_objective(error, entropy);
        self.kmeans_objective.push(value);
    }

    /// After a correction: Z_cos from Z_corr.
    pub(super) fn renormalise(&mut self) {
        self.z_cos = unit_rows(&self.z_corr, self.dims);
    }
}

/// d = 2 (1 - yₖ · z) for every centroid and every row of `z` (rows x clusters).
fn distances(y: &[f64], z: &[f64], dims: usize) -> Vec<f64> {
    let mut out = vec![0f64; z.len() / dims * (y.len() / dims)];
    super::times_transposed(z, y, dims, &mut out);
    out.iter_mut().for_each(|d| *d = 2.0 * (1.0 - *d));
    out
}

/// One cell's probabilities exp(-d / σ + ln penalty(k)), summing to 1, into `row`; returns
/// the cell's Σ R d and Σ R ln R. `logits` is scratch space of one value per cluster.
fn probabilities(
    dist: &[f64],
    sigma: f64,
    ln_penalty: impl Fn(usize) -> f64,
    logits: &mut [f64],
    row: &mut [f32],
) -> (f64, f64) {
    let mut top = f64::NEG_INFINITY;
    for (kk, (l, &d)) in logits.iter_mut().zip(dist).enumerate() {
        *l = -d / sigma + ln_penalty(kk);
        top = top.max(*l);
    }
    // With e = exp(l - top): p = e / Σe, Σ p d = Σ e d / Σe, Σ p ln p = Σ e (l - top) / Σe - ln Σe.
    let (mut total, mut error, mut weighted) = (0.0, 0.0, 0.0);
    for (l, &d) in logits.iter_mut().zip(dist) {
        let shifted = *l - top;
        let e = shifted.exp();
        total += e;
        error += e * d;
        weighted += e * shifted;
        *l = e;
    }
    row.iter_mut()
        .zip(logits.iter())
        .for_each(|(out, &e)| *out = (e / total) as f32);
    (error / total, weighted / total - total.ln())
}
