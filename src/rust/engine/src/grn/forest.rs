//! `rf` and `batched`: GENIE3's random forest of each target (standardised to unit
//! variance; each tree on a subsample of the cells, `max_features` TFs per split, grown
//! until its leaves are pure or the depth limit). `batched` grows tree t of B targets in one
//! level-by-level pass over the TF codes; every tree is the one `rf` grows alone, since tree t
//! of every target draws its cells and its TF order from the same (seed, t) stream.

use super::codes::TfCodes;
use super::tree::{Batch, Grower, TreeJob};
use super::{subsample, tree_seed, Fit, Target, EVERY_TARGET};

#[derive(Debug, Clone, Copy)]
pub struct ForestParams {
    pub n_trees: usize,
    pub max_depth: usize,
    pub subsample: f64,
}

/// Importance per TF as scikit-learn's `feature_importances_` of a forest (what arboreto's
/// GENIE3 returns): each tree's variance reductions per TF normalised to sum 1, averaged over
/// the trees and normalised again, so a target's importances sum to 1 however much of its
/// variance the trees explain (depth-limited trees explain more of some targets than of others,
/// and a network ranked over all targets would then favour those).
pub fn forest(codes: &TfCodes, targets: &[Target], seed: u64, p: &ForestParams) -> Vec<Fit> {
    let n = codes.n_cells;
    let n_in = ((p.subsample * n as f64) as usize).clamp(1, n);
    let n_jobs = targets.len();
    let mut y = vec![[0.0]; n * n_jobs];
    for (j, target) in targets.iter().enumerate() {
        for (c, &v) in target.y.iter().enumerate() {
            y[c * n_jobs + j] = [v];
        }
    }
    let jobs: Vec<TreeJob> = targets
        .iter()
        .map(|target| TreeJob {
            candidates: &target.candidates,
            own: &[],
            max_features: target.max_features,
        })
        .collect();
    let mut importance = vec![vec![0.0; codes.n_tfs]; n_jobs];
    let mut grower = Grower::default();
    for t in 0..p.n_trees {
        let seed = tree_seed(seed, EVERY_TARGET, t);
        let bag = subsample(n, n_in, seed);
        let batch = Batch {
            y: &y,
            bag: &bag,
            seed,
        };
        for (imp, grown) in importance
            .iter_mut()
            .zip(grower.grow(codes, &batch, &jobs, p.max_depth))
        {
            add_tree(imp, &grown.gain, 0);
        }
    }
    importance
        .into_iter()
        .map(|imp| forest_fit(imp, p.n_trees))
        .collect()
}

/// Adds one tree's gains of response `r`, normalised to sum 1 (a tree without a split adds
/// nothing).
pub(crate) fn add_tree<const W: usize>(importance: &mut [f64], gain: &[[f64; W]], r: usize) {
    let total: f64 = gain.iter().map(|g| g[r]).sum();
    if total > 0.0 {
        importance
            .iter_mut()
            .zip(gain)
            .for_each(|(i, g)| *i += g[r] / total);
    }
}

/// The trees' summed normalised importances, normalised to sum 1.
pub(crate) fn forest_fit(mut importance: Vec<f64>, n_trees: usize) -> Fit {
    let total: f64 = importance.iter().sum();
    if total > 0.0 {
        importance.iter_mut().for_each(|i| *i /= total);
    }
    Fit {
        importance,
        n_trees,
        note: None,
    }
}
