//! Gene regulatory networks: for every target gene, which transcription factors (TFs) predict
//! its expression, scored by tree-ensemble importance (GENIE3 / GRNBoost2, SCENIC's first
//! step). The TFs' values are quantised once (`codes`) and shared read-only by every tree;
//! trees are grown level by level over those codes for a batch of jobs (`tree`); `boost` is
//! GRNBoost2's gradient boosting, `forest` GENIE3's random forest (one target at a time, or
//! B targets in one pass), `shared` one forest for a batch of correlated targets; `input`
//! reads TF and target columns over the fitting cells from the gene-major chunks, a chunk of
//! targets at a time; `network` turns importances into the edge table.

pub mod boost;
pub mod codes;
pub mod forest;
pub mod input;
pub mod network;
pub mod shared;
pub mod tree;

use crate::error::{Error, Result};
use crate::monitor::Monitor;
use boost::{boost, BoostParams};
use codes::{Binning, TfCodes};
use forest::{forest, ForestParams};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use shared::{correlation_batches, shared};

/// Sparse columns (genes) over the fitting cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub n_cells: usize,
    pub ptr: Vec<usize>,
    pub cells: Vec<u32>,
    pub values: Vec<f32>,
}

impl Columns {
    pub fn n_columns(&self) -> usize {
        self.ptr.len() - 1
    }

    pub fn dense(&self, j: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.n_cells];
        for k in self.ptr[j]..self.ptr[j + 1] {
            out[self.cells[k] as usize] = self.values[k] as f64;
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GRNBoost2's stochastic gradient boosting, one target at a time.
    Gbm,
    /// GENIE3's random forest, one target at a time.
    Rf,
    /// GENIE3's random forest, `batch_size` targets' trees grown in one pass.
    Batched,
    /// One random forest per batch of correlated targets, each split shared by the batch.
    SharedSplits,
}

impl Method {
    /// The names R and the benchmark use, in `parse`'s order.
    pub const NAMES: [&'static str; 4] = ["batched", "gbm", "rf", "shared_splits"];

    pub fn parse(name: &str) -> Option<Method> {
        let all = [Method::Batched, Method::Gbm, Method::Rf, Method::SharedSplits];
        Method::NAMES.iter().position(|&n| n == name).map(|k| all[k])
    }

    fn is_forest(self) -> bool {
        self != Method::Gbm
    }
}

#[derive(Debug, Clone, Copy)]
pub struct GrnParams {
    pub method: Method,
    /// Trees per target of `rf` / `batched`.
    pub n_trees: usize,
    /// At most this many trees per target of `gbm` (early stopping ends sooner).
    pub max_trees: usize,
    pub learning_rate: f64,
    /// None: 3 for `gbm` (GRNBoost2), [`FOREST_DEPTH`] for the forests.
    pub max_depth: Option<usize>,
    /// Share of the TFs visited per split; None: 0.1 for `gbm`, sqrt(p) TFs for the forests.
    pub max_features: Option<f64>,
    /// Share of the cells each tree is fitted on; None: 0.9 for `gbm`, 0.632 for the forests.
    pub subsample: Option<f64>,
    pub early_stop_window: usize,
    pub batch_size: usize,
    pub n_bins: usize,
    pub binning: Binning,
    /// Fit each target only on its this many TFs of largest |Pearson| correlation.
    pub screen_k: Option<usize>,
    pub seed: u64,
}

/// The forests' default depth: on the SERGIO benchmarks 100 trees of depth 6 reach a median
/// AUPR of 0.615 against 0.649 for trees grown to pure leaves, are better on the larger network
/// (DS2: 0.33 against 0.29) and take about a quarter of the time: the many small nodes of deep
/// trees cost the most.
pub const FOREST_DEPTH: usize = 6;

impl GrnParams {
    /// The depth limit in effect.
    pub fn depth(&self) -> usize {
        self.max_depth.unwrap_or(match self.method {
            Method::Gbm => 3,
            _ => FOREST_DEPTH,
        })
    }
}

impl Default for GrnParams {
    fn default() -> Self {
        GrnParams {
            method: Method::Batched,
            n_trees: 100,
            max_trees: 5000,
            learning_rate: 0.01,
            max_depth: None,
            max_features: None,
            subsample: None,
            early_stop_window: 25,
            batch_size: 4,
            n_bins: 255,
            binning: Binning::Quantile,
            screen_k: None,
            seed: 777,
        }
    }
}

/// One target to fit: its values over the fitting cells, the TFs it may be fitted on (never
/// its own), the TFs visited per split and its gene (which seeds its trees).
pub struct Target<'a> {
    pub y: &'a [f64],
    pub candidates: Vec<u32>,
    pub max_features: usize,
    pub gene: usize,
}

/// What was learned for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Per TF; 0 for the target's own TF.
    pub importance: Vec<f64>,
    pub n_trees: usize,
    /// Why nothing was learned, when so.
    pub note: Option<String>,
}

/// A target's fit and its Pearson correlation with every TF.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetFit {
    pub gene: usize,
    pub fit: Fit,
    pub rho: Vec<f64>,
}

/// The TFs and how to fit: shared by every chunk of targets.
pub struct Regulators<'a> {
    pub values: &'a Columns,
    pub codes: TfCodes,
    /// The gene of each TF (as the targets' genes are numbered).
    pub genes: &'a [usize],
}

impl<'a> Regulators<'a> {
    pub fn new(values: &'a Columns, genes: &'a [usize], params: &GrnParams) -> Result<Self> {
        if genes.is_empty() || values.n_columns() != genes.len() {
            return Err(Error::Request("no TF to fit the targets on".into()));
        }
        Ok(Regulators {
            codes: TfCodes::build(values, params.n_bins, params.binning)?,
            values,
            genes,
        })
    }
}

/// A target read for fitting: its gene, its values and its own TF (as a TF index).
type Prepared = (usize, Vec<f64>, Option<u32>);

/// Fits every column of `targets` (genes `target_genes`) on the TFs.
pub fn fit_targets(
    tfs: &Regulators,
    targets: &Columns,
    target_genes: &[usize],
    params: &GrnParams,
) -> Result<Vec<TargetFit>> {
    if targets.n_cells != tfs.codes.n_cells {
        return Err(Error::Request("targets and TFs must cover the same cells".into()));
    }
    let prepared: Vec<Prepared> = (0..targets.n_columns())
        .into_par_iter()
        .map(|j| {
            let gene = target_genes[j];
            let masked = tfs.genes.iter().position(|&g| g == gene).map(|p| p as u32);
            (gene, targets.dense(j), masked)
        })
        .collect();
    let batches: Vec<Vec<usize>> = match params.method {
        Method::SharedSplits => {
            let ys: Vec<&[f64]> = prepared.iter().map(|p| p.1.as_slice()).collect();
            correlation_batches(&ys, params.seed)
        }
        method => {
            let size = if method == Method::Batched {
                params.batch_size.max(1)
            } else {
                1
            };
            (0..prepared.len())
                .collect::<Vec<_>>()
                .chunks(size)
                .map(<[usize]>::to_vec)
                .collect()
        }
    };
    let fits: Vec<Vec<(usize, TargetFit)>> = batches
        .par_iter()
        .map(|batch| {
            let chunk: Vec<&Prepared> = batch.iter().map(|&k| &prepared[k]).collect();
            batch
                .iter()
                .copied()
                .zip(fit_batch(tfs, &chunk, params))
                .collect()
        })
        .collect();
    let mut out: Vec<(usize, TargetFit)> = fits.into_iter().flatten().collect();
    out.sort_unstable_by_key(|f| f.0);
    Ok(out.into_iter().map(|f| f.1).collect())
}

/// The TFs a target may be fitted on: every TF but its own, or of those the `screen_k` of
/// largest |rho| (ties to the first TF).
fn candidates(rho: &[f64], masked: Option<u32>, screen_k: Option<usize>) -> Vec<u32> {
    let mut out: Vec<u32> = (0..rho.len() as u32).filter(|&f| Some(f) != masked).collect();
    if let Some(k) = screen_k.filter(|&k| k < out.len()) {
        out.sort_by(|&a, &b| {
            rho[b as usize]
                .abs()
                .total_cmp(&rho[a as usize].abs())
                .then(a.cmp(&b))
        });
        out.truncate(k);
        out.sort_unstable();
    }
    out
}

fn fit_batch(tfs: &Regulators, chunk: &[&Prepared], params: &GrnParams) -> Vec<TargetFit> {
    let rho: Vec<Vec<f64>> = chunk
        .iter()
        .map(|(_, y, _)| correlations(tfs.values, y))
        .collect();
    let forest_y: Vec<Option<Vec<f64>>> = chunk
        .iter()
        .map(|(_, y, _)| {
            let sd = sd(y);
            (sd > 0.0).then(|| y.iter().map(|v| v / sd).collect())
        })
        .collect();
    let mut fits: Vec<Option<Fit>> = vec![None; chunk.len()];
    let (mut slots, mut learnable, mut own) = (Vec::new(), Vec::new(), Vec::new());
    for (k, ((gene, y, masked), fy)) in chunk.iter().copied().zip(&forest_y).enumerate() {
        let candidates = candidates(&rho[k], *masked, params.screen_k);
        let avail = candidates.len();
        if avail == 0 || fy.is_none() {
            let why = if avail == 0 {
                "no TF other than itself"
            } else {
                "constant over the fitting cells"
            };
            fits[k] = Some(Fit {
                importance: vec![0.0; tfs.genes.len()],
                n_trees: 0,
                note: Some(why.into()),
            });
            continue;
        }
        let max_features = match (params.max_features, params.method) {
            (Some(share), _) => (share * avail as f64) as usize,
            (None, Method::Gbm) => (0.1 * avail as f64) as usize,
            (None, _) => (avail as f64).sqrt() as usize,
        }
        .clamp(1, avail);
        let y = if params.method.is_forest() {
            fy.as_ref().expect("checked")
        } else {
            y
        };
        slots.push(k);
        own.push(*masked);
        learnable.push(Target {
            y,
            candidates,
            max_features,
            gene: *gene,
        });
    }
    let forest_params = ForestParams {
        n_trees: params.n_trees,
        max_depth: params.depth(),
        subsample: params.subsample.unwrap_or(0.632),
    };
    let learned: Vec<Fit> = match params.method {
        Method::Gbm => {
            let p = BoostParams {
                learning_rate: params.learning_rate,
                max_depth: params.depth(),
                subsample: params.subsample.unwrap_or(0.9),
                window: params.early_stop_window,
                max_trees: params.max_trees,
            };
            learnable
                .iter()
                .map(|t| boost(&tfs.codes, t, params.seed, &p))
                .collect()
        }
        Method::Rf | Method::Batched => forest(&tfs.codes, &learnable, params.seed, &forest_params),
        Method::SharedSplits if learnable.is_empty() => Vec::new(),
        Method::SharedSplits => shared(&tfs.codes, &learnable, &own, params.seed, &forest_params),
    };
    for (k, fit) in slots.into_iter().zip(learned) {
        fits[k] = Some(fit);
    }
    chunk
        .iter()
        .zip(fits)
        .zip(rho)
        .map(|((p, fit), rho)| TargetFit {
            gene: p.0,
            fit: fit.expect("every target fitted or noted"),
            rho,
        })
        .collect()
}

/// Fits targets read a chunk at a time by `read(genes)`, reporting progress between chunks.
pub fn fit_in_chunks(
    tfs: &Regulators,
    target_genes: &[usize],
    read: impl Fn(&[usize]) -> Result<Columns>,
    params: &GrnParams,
    monitor: Monitor,
) -> Result<Vec<TargetFit>> {
    // shared_splits batches correlated targets within a chunk: a larger chunk has more to choose from.
    let per_chunk = match params.method {
        Method::SharedSplits => 16 * shared::WIDTH,
        _ => params.batch_size,
    }
    .max(16 * rayon::current_num_threads());
    let mut out = Vec::with_capacity(target_genes.len());
    for (k, genes) in target_genes.chunks(per_chunk).enumerate() {
        monitor.tick(
            "grn: fitting targets",
            (k * per_chunk) as u64,
            target_genes.len() as u64,
        )?;
        out.extend(fit_targets(tfs, &read(genes)?, genes, params)?);
    }
    monitor.tick(
        "grn: fitting targets",
        target_genes.len() as u64,
        target_genes.len() as u64,
    )?;
    Ok(out)
}

fn sd(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    if var > f64::EPSILON {
        var.sqrt()
    } else {
        0.0
    }
}

/// Pearson correlation of every TF with y over the fitting cells (0 when either is constant).
fn correlations(tfs: &Columns, y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    let sy: f64 = y.iter().sum();
    let syy: f64 = y.iter().map(|v| v * v).sum();
    let vy = syy - sy * sy / n;
    (0..tfs.n_columns())
        .map(|tf| {
            let (mut sx, mut sxx, mut sxy) = (0.0, 0.0, 0.0);
            for k in tfs.ptr[tf]..tfs.ptr[tf + 1] {
                let x = tfs.values[k] as f64;
                sx += x;
                sxx += x * x;
                sxy += x * y[tfs.cells[k] as usize];
            }
            let cov = sxy - sx * sy / n;
            let vx = sxx - sx * sx / n;
            if vx <= 0.0 || vy <= 0.0 {
                0.0
            } else {
                (cov / (vx * vy).sqrt()).clamp(-1.0, 1.0)
            }
        })
        .collect()
}

/// The random stream of tree `tree` of target `gene` (or of [`EVERY_TARGET`]): independent of
/// batches and threads.
pub(crate) fn tree_seed(seed: u64, gene: usize, tree: usize) -> u64 {
    let mut z = seed
        ^ (gene as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ (tree as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream the forests' trees share: tree t of every target is fitted on the same cells and
/// meets the TFs in the same order at the same node position.
pub(crate) const EVERY_TARGET: usize = usize::MAX;

/// `k` of the cells 0..n, drawn without replacement, ascending.
pub(crate) fn subsample(n: usize, k: usize, seed: u64) -> Vec<u32> {
    if k >= n {
        return (0..n as u32).collect();
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut chosen = vec![false; n];
    rand::seq::index::sample(&mut rng, n, k)
        .into_iter()
        .for_each(|c| chosen[c] = true);
    (0..n as u32).filter(|&c| chosen[c as usize]).collect()
}

#[cfg(test)]
mod tests;
