//! Gene regulatory networks: for every target gene, which transcription factors (TFs) predict
//! its expression, scored by tree-ensemble importance (GENIE3 / GRNBoost2, SCENIC's first
//! step). The TFs' values are quantised once (`codes`) and shared read-only by every tree;
//! trees are grown level by level over those codes for a batch of jobs (`tree`); `boost` is
//! GRNBoost2's gradient boosting, `forest` GENIE3's random forest (one target at a time, or
//! B targets in one pass); `input` reads TF and target columns over the fitting cells from
//! the gene-major chunks, a chunk of targets at a time; `network` turns importances into the
//! edge table.

pub mod boost;
pub mod codes;
pub mod forest;
pub mod input;
pub mod network;
pub mod tree;

use crate::error::{Error, Result};
use crate::monitor::Monitor;
use boost::{boost, BoostParams};
use codes::{Binning, TfCodes};
use forest::{forest, ForestParams};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

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
}

#[derive(Debug, Clone, Copy)]
pub struct GrnParams {
    pub method: Method,
    /// Trees per target of `rf` / `batched`.
    pub n_trees: usize,
    /// At most this many trees per target of `gbm` (early stopping ends sooner).
    pub max_trees: usize,
    pub learning_rate: f64,
    /// None: 3 for `gbm` (GRNBoost2), unlimited for the forests (GENIE3).
    pub max_depth: Option<usize>,
    /// Share of the TFs visited per split; None: 0.1 for `gbm`, sqrt(p) TFs for the forests.
    pub max_features: Option<f64>,
    /// Share of the cells each tree is fitted on; None: 0.9 for `gbm`, 0.632 for the forests.
    pub subsample: Option<f64>,
    pub early_stop_window: usize,
    pub batch_size: usize,
    pub n_bins: usize,
    pub binning: Binning,
    pub seed: u64,
}

impl Default for GrnParams {
    fn default() -> Self {
        GrnParams {
            method: Method::Batched,
            n_trees: 500,
            max_trees: 5000,
            learning_rate: 0.01,
            max_depth: None,
            max_features: None,
            subsample: None,
            early_stop_window: 25,
            batch_size: 16,
            n_bins: 255,
            binning: Binning::Quantile,
            seed: 777,
        }
    }
}

/// One target to fit: its values over the fitting cells, its own TF (masked), the TFs
/// visited per split and its gene (which seeds its trees).
pub struct Target<'a> {
    pub y: &'a [f64],
    pub masked: Option<u32>,
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
    let n_tfs = tfs.genes.len();
    let prepared: Vec<(usize, Vec<f64>, Option<u32>)> = (0..targets.n_columns())
        .into_par_iter()
        .map(|j| {
            let gene = target_genes[j];
            let masked = tfs.genes.iter().position(|&g| g == gene).map(|p| p as u32);
            (gene, targets.dense(j), masked)
        })
        .collect();
    let batch = match params.method {
        Method::Batched => params.batch_size.max(1),
        _ => 1,
    };
    let fits: Vec<Vec<TargetFit>> = prepared
        .par_chunks(batch)
        .map(|chunk| fit_batch(tfs, chunk, n_tfs, params))
        .collect();
    Ok(fits.into_iter().flatten().collect())
}

fn fit_batch(
    tfs: &Regulators,
    chunk: &[(usize, Vec<f64>, Option<u32>)],
    n_tfs: usize,
    params: &GrnParams,
) -> Vec<TargetFit> {
    let forest_y: Vec<Option<Vec<f64>>> = chunk
        .iter()
        .map(|(_, y, _)| {
            let sd = sd(y);
            (sd > 0.0).then(|| y.iter().map(|v| v / sd).collect())
        })
        .collect();
    let mut fits: Vec<Option<Fit>> = vec![None; chunk.len()];
    let (mut slots, mut learnable): (Vec<usize>, Vec<Target>) = (Vec::new(), Vec::new());
    for (k, ((gene, y, masked), fy)) in chunk.iter().zip(&forest_y).enumerate() {
        let avail = n_tfs - usize::from(masked.is_some());
        if avail == 0 || fy.is_none() {
            let why = if avail == 0 {
                "no TF other than itself"
            } else {
                "constant over the fitting cells"
            };
            fits[k] = Some(Fit {
                importance: vec![0.0; n_tfs],
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
        let y = if params.method == Method::Gbm {
            y
        } else {
            fy.as_ref().expect("checked")
        };
        slots.push(k);
        learnable.push(Target {
            y,
            masked: *masked,
            max_features,
            gene: *gene,
        });
    }
    let learned: Vec<Fit> = match params.method {
        Method::Gbm => {
            let p = BoostParams {
                learning_rate: params.learning_rate,
                max_depth: params.max_depth.unwrap_or(3),
                subsample: params.subsample.unwrap_or(0.9),
                window: params.early_stop_window,
                max_trees: params.max_trees,
            };
            learnable
                .iter()
                .map(|t| boost(&tfs.codes, t, params.seed, &p))
                .collect()
        }
        Method::Rf | Method::Batched => {
            let p = ForestParams {
                n_trees: params.n_trees,
                max_depth: params.max_depth.unwrap_or(usize::MAX),
                subsample: params.subsample.unwrap_or(0.632),
            };
            forest(&tfs.codes, &learnable, params.seed, &p)
        }
    };
    for (k, fit) in slots.into_iter().zip(learned) {
        fits[k] = Some(fit);
    }
    chunk
        .iter()
        .zip(fits)
        .map(|((gene, y, _), fit)| TargetFit {
            gene: *gene,
            fit: fit.expect("every target fitted or noted"),
            rho: correlations(tfs.values, y),
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
    let per_chunk = (16 * rayon::current_num_threads()).max(params.batch_size);
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

/// The random stream of tree `tree` of target `gene`: independent of batches and threads.
pub(crate) fn tree_seed(seed: u64, gene: usize, tree: usize) -> u64 {
    let mut z = seed
        ^ (gene as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
        ^ (tree as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

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
