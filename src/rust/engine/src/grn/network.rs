//! The edge table of a network: per target, every TF with a positive importance, its share
//! of the target's importance, its rank within the target and its correlation.

use super::TargetFit;

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Index into the TFs.
    pub tf: usize,
    pub target: usize,
    pub importance: f64,
    /// importance / the target's total: sums to 1 over a target's edges.
    pub importance_norm: f64,
    /// 1 for the target's most important TF.
    pub rank_in_target: u32,
    pub rho: f64,
}

/// Edges target by target (in the order of `fits`), each target's by importance, highest
/// first (ties by TF).
pub fn edges(fits: &[TargetFit]) -> Vec<Edge> {
    let mut out = Vec::new();
    for t in fits {
        let mut tfs: Vec<usize> = (0..t.fit.importance.len())
            .filter(|&k| t.fit.importance[k] > 0.0)
            .collect();
        tfs.sort_by(|&a, &b| {
            t.fit.importance[b]
                .total_cmp(&t.fit.importance[a])
                .then(a.cmp(&b))
        });
        let total: f64 = tfs.iter().map(|&k| t.fit.importance[k]).sum();
        out.extend(tfs.iter().enumerate().map(|(r, &k)| Edge {
            tf: k,
            target: t.gene,
            importance: t.fit.importance[k],
            importance_norm: t.fit.importance[k] / total,
            rank_in_target: r as u32 + 1,
            rho: t.rho[k],
        }));
    }
    out
}
