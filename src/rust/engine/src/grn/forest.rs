//! `rf` and `batched`: GENIE3's random forest of each target (standardised to unit
//! variance; each tree on a subsample of the cells, `max_features` TFs per split, grown
//! until its leaves are pure or the depth limit). `batched` grows tree t of B targets in one
//! level-by-level pass over the TF codes; every tree is the one `rf` grows alone, since each
//! draws from its own (seed, target, tree) stream.

use super::codes::TfCodes;
use super::tree::{grow, TreeJob};
use super::{subsample, tree_seed, Fit, Target};

#[derive(Debug, Clone, Copy)]
pub struct ForestParams {
    pub n_trees: usize,
    pub max_depth: usize,
    pub subsample: f64,
}

/// Importance per TF: the variance reduction of its splits per fitting cell, averaged over
/// the trees (GENIE3's unnormalised importance; on unit-variance targets, the share of the
/// target's variance the TF explains).
pub fn forest(codes: &TfCodes, targets: &[Target], seed: u64, p: &ForestParams) -> Vec<Fit> {
    let n = codes.n_cells;
    let n_in = ((p.subsample * n as f64) as usize).clamp(1, n);
    let mut importance = vec![vec![0.0; codes.n_tfs]; targets.len()];
    for t in 0..p.n_trees {
        let jobs = targets
            .iter()
            .map(|target| {
                let s = tree_seed(seed, target.gene, t);
                TreeJob {
                    y: target.y,
                    bag: subsample(n, n_in, s),
                    masked: target.masked,
                    max_features: target.max_features,
                    seed: s,
                }
            })
            .collect();
        for (imp, grown) in importance.iter_mut().zip(grow(codes, jobs, p.max_depth)) {
            imp.iter_mut()
                .zip(&grown.gain)
                .for_each(|(i, g)| *i += g / n_in as f64);
        }
    }
    importance
        .into_iter()
        .map(|mut imp| {
            imp.iter_mut().for_each(|i| *i /= p.n_trees as f64);
            Fit {
                importance: imp,
                n_trees: p.n_trees,
                note: None,
            }
        })
        .collect()
}
