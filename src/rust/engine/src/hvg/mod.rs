//! Highly variable genes: per-gene statistics over the gene-major chunks (`genestats`), the
//! loess fit Seurat's vst uses (`loess`), and the selection itself (this file).
//!
//! Highly variable genes on the kept cells, per batch, combined across batches.
//!
//! - `Vst` (Seurat v3 `FindVariableFeatures(selection.method = "vst")`): mean and variance of
//!   raw counts; loess (span 0.3, degree 2) of log10 variance on log10 mean over genes with
//!   non-zero variance; each gene's variance of its values standardised by the fitted
//!   standard deviation and clipped at sqrt(number of cells); genes ranked by it.
//! - `Dispersion` (Seurat v1 / scanpy `flavor = "seurat"`): mean and variance of normalised
//!   counts (count / library size x target sum); log dispersion (variance / mean) z-scored
//!   within 20 equal-width bins of log1p(mean); genes ranked by that normalised dispersion.
//!
//! With batches, each batch ranks genes on its own; genes are then ordered by the number of
//! batches whose top `n` include them, then by their median rank in those batches (Seurat's
//! `SelectIntegrationFeatures`, scanpy's `batch_key`). Statistics are averaged over batches.

pub mod genestats;
pub mod loess;

use crate::error::{Error, Result};
use crate::hvg::genestats::{clipped_square_sums, gene_sums, CellGroups, GroupSums};
use crate::hvg::loess::loess;
use crate::monitor::Monitor;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Vst,
    Dispersion,
}

/// Seurat's `loess.span` for vst and scanpy's `n_bins` for dispersion.
pub const VST_SPAN: f64 = 0.3;
pub const DISPERSION_BINS: usize = 20;

pub struct Hvg {
    /// Named per-gene statistics (averaged over batches), in gene order.
    pub stats: Vec<(&'static str, Vec<f64>)>,
    /// 1-based position in the combined order; None for genes no batch could rank (no
    /// counts, or no variance).
    pub rank: Vec<Option<u32>>,
    /// Number of batches whose top `n` hold the gene.
    pub n_batches: Vec<u32>,
}

impl Hvg {
    pub fn selected(&self, n: usize) -> Vec<bool> {
        self.rank
            .iter()
            .map(|r| r.is_some_and(|r| r as usize <= n))
            .collect()
    }
}

/// One batch's statistics (named, per gene) and score per gene (None: not ranked).
struct BatchResult {
    stats: Vec<(&'static str, Vec<f64>)>,
    score: Vec<Option<f64>>,
}

pub fn find_hvg(
    store: &Store,
    cells: &CellGroups,
    method: Method,
    n: usize,
    monitor: Monitor,
) -> Result<Hvg> {
    if n == 0 || n > store.n_genes() {
        return Err(Error::Request(format!(
            "n must be between 1 and the number of genes ({}), not {n}",
            store.n_genes()
        )));
    }
    let genes: Vec<usize> = (0..store.n_genes()).collect();
    let sums = gene_sums(store, &genes, cells, monitor)?;
    let batches: Vec<BatchResult> = match method {
        Method::Vst => vst(store, cells, &sums, monitor)?,
        Method::Dispersion => (0..cells.n_groups)
            .map(|b| dispersion(&sums, b, cells.sizes[b]))
            .collect(),
    };
    Ok(combine(batches, n, store.n_genes()))
}

fn vst(
    store: &Store,
    cells: &CellGroups,
    sums: &[Vec<GroupSums>],
    monitor: Monitor,
) -> Result<Vec<BatchResult>> {
    let n_genes = sums.len();
    let mut mean = vec![vec![0f64; cells.n_groups]; n_genes];
    let mut variance = mean.clone();
    let mut expected = mean.clone();
    for b in 0..cells.n_groups {
        let n = cells.sizes[b] as u128;
        for (g, s) in sums.iter().enumerate() {
            let s = &s[b];
            mean[g][b] = s.sum as f64 / n as f64;
            // Exact in integers: (n sum x^2 - (sum x)^2) / (n (n - 1)).
            variance[g][b] = (n * s.sum_sq - s.sum as u128 * s.sum as u128) as f64 / (n * (n - 1)) as f64;
        }
        let varying: Vec<usize> = (0..n_genes).filter(|&g| variance[g][b] > 0.0).collect();
        let x: Vec<f64> = varying.iter().map(|&g| mean[g][b].log10()).collect();
        let y: Vec<f64> = varying.iter().map(|&g| variance[g][b].log10()).collect();
        for (&g, fit) in varying.iter().zip(loess(&x, &y, VST_SPAN)) {
            expected[g][b] = 10f64.powf(fit);
        }
    }
    let sd: Vec<Vec<f64>> = expected
        .iter()
        .map(|e| e.iter().map(|v| v.sqrt()).collect())
        .collect();
    let clip: Vec<f64> = cells.sizes.iter().map(|&n| (n as f64).sqrt()).collect();
    // Unclipped, a gene's standardised variance is variance / expected; only genes with a
    // count beyond mean + clip x sd need their values read again.
    let needs_clip: Vec<usize> = (0..n_genes)
        .filter(|&g| {
            (0..cells.n_groups)
                .any(|b| sd[g][b] > 0.0 && sums[g][b].max as f64 > mean[g][b] + clip[b] * sd[g][b])
        })
        .collect();
    let pick = |m: &[Vec<f64>]| needs_clip.iter().map(|&g| m[g].clone()).collect::<Vec<_>>();
    let clipped = clipped_square_sums(
        store,
        &needs_clip,
        cells,
        &pick(&mean),
        &pick(&sd),
        &clip,
        monitor,
    )?;
    let mut standardized: Vec<Vec<f64>> = (0..n_genes)
        .map(|g| {
            (0..cells.n_groups)
                .map(|b| {
                    if sd[g][b] > 0.0 {
                        variance[g][b] / expected[g][b]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    for (k, &g) in needs_clip.iter().enumerate() {
        for b in 0..cells.n_groups {
            if sd[g][b] > 0.0 {
                let n = cells.sizes[b] as f64;
                let zeros = n - sums[g][b].n_nonzero as f64;
                standardized[g][b] = (clipped[k][b] + zeros * (mean[g][b] / sd[g][b]).powi(2)) / (n - 1.0);
            }
        }
    }
    Ok((0..cells.n_groups)
        .map(|b| {
            let column = |m: &[Vec<f64>]| m.iter().map(|v| v[b]).collect::<Vec<f64>>();
            BatchResult {
                // Seurat ranks every gene with a non-zero mean.
                score: (0..n_genes)
                    .map(|g| (mean[g][b] > 0.0).then_some(standardized[g][b]))
                    .collect(),
                stats: vec![
                    ("hvg_mean", column(&mean)),
                    ("hvg_variance", column(&variance)),
                    ("hvg_variance_expected", column(&expected)),
                    ("hvg_variance_standardized", column(&standardized)),
                ],
            }
        })
        .collect())
}

/// scanpy's `highly_variable_genes(flavor = "seurat")` for batch `b` of `n` cells.
fn dispersion(sums: &[Vec<GroupSums>], b: usize, n: u64) -> BatchResult {
    let n = n as f64;
    let (mut log_mean, mut log_disp) = (Vec::with_capacity(sums.len()), Vec::with_capacity(sums.len()));
    for s in sums {
        let s = &s[b];
        let mean = s.norm_sum / n;
        let variance = ((s.norm_sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
        let dispersion = variance / if mean == 0.0 { 1e-12 } else { mean };
        log_disp.push(if dispersion == 0.0 {
            f64::NAN
        } else {
            dispersion.ln()
        });
        log_mean.push(mean.ln_1p());
    }
    let (lo, hi) = log_mean
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &m| {
            (a.min(m), b.max(m))
        });
    let width = (hi - lo) / DISPERSION_BINS as f64;
    // pandas.cut: equal-width bins closed on the right, the lowest one holding the minimum.
    let bin = |m: f64| {
        if width > 0.0 {
            (((m - lo) / width).ceil() as usize).clamp(1, DISPERSION_BINS) - 1
        } else {
            0
        }
    };
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); DISPERSION_BINS];
    for (&m, &d) in log_mean.iter().zip(&log_disp) {
        if !d.is_nan() {
            members[bin(m)].push(d);
        }
    }
    let centre: Vec<(f64, f64)> = members
        .iter()
        .map(|d| {
            let k = d.len() as f64;
            let mean = d.iter().sum::<f64>() / k;
            let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
            // scanpy: a bin with a single gene has no spread; its gene scores 1.
            if d.len() < 2 {
                (0.0, mean)
            } else {
                (mean, sd)
            }
        })
        .collect();
    let norm: Vec<f64> = log_mean
        .iter()
        .zip(&log_disp)
        .map(|(&m, &d)| {
            let (c, s) = centre[bin(m)];
            (d - c) / s
        })
        .collect();
    BatchResult {
        score: norm.iter().map(|&v| v.is_finite().then_some(v)).collect(),
        stats: vec![
            ("hvg_mean", log_mean),
            ("hvg_dispersion", log_disp),
            ("hvg_dispersion_norm", norm),
        ],
    }
}

/// Ranks genes within each batch, then across batches (see the module notes).
fn combine(batches: Vec<BatchResult>, n: usize, n_genes: usize) -> Hvg {
    let ranks: Vec<Vec<Option<u32>>> = batches.iter().map(|b| rank_by_score(&b.score)).collect();
    let selected_in = |g: usize| {
        ranks
            .iter()
            .filter_map(|r| r[g])
            .filter(|&r| r as usize <= n)
            .collect::<Vec<u32>>()
    };
    let all_in = |g: usize| ranks.iter().filter_map(|r| r[g]).collect::<Vec<u32>>();
    let n_batches: Vec<u32> = (0..n_genes).map(|g| selected_in(g).len() as u32).collect();
    // Genes some batch ranks, ordered by batches selecting them, then median rank among
    // those (or among all ranks for genes no batch selects), then gene order.
    let key: Vec<Option<(u32, f64)>> = (0..n_genes)
        .map(|g| {
            let (chosen, any) = (selected_in(g), all_in(g));
            let ranks = if chosen.is_empty() { any } else { chosen };
            (!ranks.is_empty()).then(|| (n_batches[g], median(ranks)))
        })
        .collect();
    let mut order: Vec<usize> = (0..n_genes).filter(|&g| key[g].is_some()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key[a].unwrap(), key[b].unwrap());
        kb.0.cmp(&ka.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(&b))
    });
    let mut rank = vec![None; n_genes];
    order
        .iter()
        .enumerate()
        .for_each(|(k, &g)| rank[g] = Some(k as u32 + 1));
    let n_b = batches.len() as f64;
    let mut stats: Vec<(&'static str, Vec<f64>)> = batches[0]
        .stats
        .iter()
        .map(|(name, _)| (*name, vec![0f64; n_genes]))
        .collect();
    for b in &batches {
        for ((_, total), (_, values)) in stats.iter_mut().zip(&b.stats) {
            total.iter_mut().zip(values).for_each(|(t, v)| *t += v / n_b);
        }
    }
    Hvg {
        stats,
        rank,
        n_batches,
    }
}

/// 1-based rank by decreasing score, ties in gene order (R's `order(decreasing = TRUE)`).
fn rank_by_score(score: &[Option<f64>]) -> Vec<Option<u32>> {
    let mut order: Vec<usize> = (0..score.len()).filter(|&g| score[g].is_some()).collect();
    order.sort_by(|&a, &b| score[b].unwrap().total_cmp(&score[a].unwrap()).then(a.cmp(&b)));
    let mut rank = vec![None; score.len()];
    order
        .iter()
        .enumerate()
        .for_each(|(k, &g)| rank[g] = Some(k as u32 + 1));
    rank
}

fn median(mut v: Vec<u32>) -> f64 {
    v.sort_unstable();
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2] as f64
    } else {
        (v[k / 2 - 1] as f64 + v[k / 2] as f64) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(scores: &[Option<f64>]) -> BatchResult {
        BatchResult {
            stats: vec![("s", scores.iter().map(|s| s.unwrap_or(0.0)).collect())],
            score: scores.to_vec(),
        }
    }

    #[test]
    fn one_batch_ranks_by_score_with_ties_in_gene_order() {
        let h = combine(
            vec![batch(&[Some(1.0), Some(3.0), None, Some(3.0), Some(0.5)])],
            2,
            5,
        );
        assert_eq!(h.rank, vec![Some(3), Some(1), None, Some(2), Some(4)]);
        assert_eq!(h.selected(2), vec![false, true, false, true, false]);
        assert_eq!(h.n_batches, vec![0, 1, 0, 1, 0]);
    }

    #[test]
    fn batches_combine_by_count_then_median_rank_and_average_statistics() {
        // Batch ranks (n = 2): a: g0=1 g1=2 g2=3 g3=4; b: g2=1 g1=2 g0=3 g3=4; c: g2=1 g0=2 g1=3 g3=4
        let a = batch(&[Some(9.0), Some(8.0), Some(7.0), Some(1.0)]);
        let b = batch(&[Some(7.0), Some(8.0), Some(9.0), Some(1.0)]);
        let c = batch(&[Some(8.0), Some(7.0), Some(9.0), Some(1.0)]);
        let h = combine(vec![a, b, c], 2, 4);
        // g0: 2 batches, median 1.5; g1: 2, median 2; g2: 2, median 1; g3: 0 batches.
        assert_eq!(h.n_batches, vec![2, 2, 2, 0]);
        assert_eq!(h.rank, vec![Some(2), Some(3), Some(1), Some(4)]);
        for (got, want) in h.stats[0].1.iter().zip([8.0, 23.0 / 3.0, 25.0 / 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
}
