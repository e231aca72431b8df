//! `gbm`: GRNBoost2's stochastic gradient boosting of one target, as arboreto 0.1.6 runs
//! scikit-learn 1.2's `GradientBoostingRegressor` (squared error, start at the mean, each
//! tree fitted to the residuals on a fresh subsample, leaves the residual means, shrunk by
//! the learning rate), stopped when the mean out-of-bag improvement of the last `window`
//! trees is below 0, where a tree's improvement is the squared error **on that tree's
//! out-of-bag cells** before it minus after it (scikit-learn < 1.3).

use super::codes::TfCodes;
use super::tree::{Batch, Grower, TreeJob};
use super::{subsample, tree_seed, Fit, Target};

#[derive(Debug, Clone, Copy)]
pub struct BoostParams {
    pub learning_rate: f64,
    pub max_depth: usize,
    pub subsample: f64,
    pub window: usize,
    pub max_trees: usize,
}

/// Importances in arboreto's convention: scikit-learn's normalised `feature_importances_`
/// times the number of trees kept.
pub fn boost(codes: &TfCodes, target: &Target, seed: u64, p: &BoostParams) -> Fit {
    let y = target.y;
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let mut prediction = vec![mean; n];
    let mut residual = vec![0.0; n];
    let mut gain = vec![0.0; codes.n_tfs];
    let mut improvements: Vec<f64> = Vec::new();
    let mut in_bag = vec![false; n];
    let n_in = ((p.subsample * n as f64) as usize).max(1);
    let mut grower = Grower::default();
    for t in 0..p.max_trees {
        let s = tree_seed(seed, target.gene, t);
        let bag = subsample(n, n_in, s);
        bag.iter().for_each(|&c| in_bag[c as usize] = true);
        for c in 0..n {
            residual[c] = y[c] - prediction[c];
        }
        let oob_loss = |pred: &[f64]| -> f64 {
            let (mut sum, mut m) = (0.0, 0usize);
            for c in (0..n).filter(|&c| !in_bag[c]) {
                sum += (y[c] - pred[c]).powi(2);
                m += 1;
            }
            if m == 0 {
                0.0
            } else {
                sum / m as f64
            }
        };
        let before = oob_loss(&prediction);
        let job = TreeJob {
            candidates: &target.candidates,
            own: &[],
            max_features: target.max_features,
        };
        let batch = Batch {
            y: residual.as_chunks::<1>().0,
            bag: &bag,
            seed: s,
        };
        let grown = grower.grow_one(codes, &batch, job, p.max_depth);
        for (c, pred) in prediction.iter_mut().enumerate() {
            *pred += p.learning_rate * grown.tree.predict(codes, c)[0];
        }
        gain.iter_mut()
            .zip(&grown.gain)
            .for_each(|(g, x)| *g += x[0] / n_in as f64);
        improvements.push(before - oob_loss(&prediction));
        in_bag.iter_mut().for_each(|b| *b = false);
        let k = improvements.len();
        if k >= p.window && improvements[k - p.window..].iter().sum::<f64>() / (p.window as f64) < 0.0 {
            break;
        }
    }
    let n_trees = improvements.len();
    let total: f64 = gain.iter().sum();
    let importance = if total > 0.0 {
        gain.iter().map(|g| g / total * n_trees as f64).collect()
    } else {
        gain
    };
    Fit {
        importance,
        n_trees,
        note: None,
    }
}
