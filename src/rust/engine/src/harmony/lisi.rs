//! The local inverse Simpson's index (Korsunsky et al. 2019, as R `lisi` computes it): for
//! each cell, its 3 x perplexity nearest neighbours (exact Euclidean search, the cell itself
//! left out) weighted by a Gaussian kernel whose width gives the weights the entropy
//! ln(perplexity) (bisection on the precision, tolerance 1e-5, at most 50 steps); LISI is
//! 1 / Σ_label (the label's weight)², the effective number of labels around the cell.

use crate::error::{Error, Result};
use crate::graph::knn::{find_knn, Method, Metric};
use crate::monitor::Meter;
use rayon::prelude::*;

const TOLERANCE: f64 = 1e-5;
const STEPS: usize = 50;

/// LISI of every row of `data` (n x `dims`) for the labels `codes` (0-based, `n_labels`).
pub fn lisi(
    data: &[f64],
    dims: usize,
    codes: &[u32],
    n_labels: usize,
    perplexity: f64,
    meter: &Meter,
) -> Result<Vec<f64>> {
    let n = data.len() / dims.max(1);
    if codes.len() != n {
        return Err(Error::Request(format!("{} labels for {n} cells", codes.len())));
    }
    if codes.iter().any(|&c| c as usize >= n_labels) {
        return Err(Error::Request("a label code is out of range".into()));
    }
    let k = (3.0 * perplexity) as usize;
    if perplexity < 1.0 || k >= n {
        return Err(Error::Request(format!(
            "perplexity {perplexity} needs more than {k} cells (3 x perplexity), not {n}"
        )));
    }
    let knn = find_knn(data, dims, k, Method::Exact, Metric::Euclidean, 0, meter)?;
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            // The first neighbour is the cell itself.
            let distances: Vec<f64> = knn.distance[i * k + 1..(i + 1) * k]
                .iter()
                .map(|&d| d as f64)
                .collect();
            let labels = knn.index[i * k + 1..(i + 1) * k]
                .iter()
                .map(|&j| codes[j as usize]);
            1.0 / simpson(&distances, labels, n_labels, perplexity)
        })
        .collect())
}

/// The neighbours' kernel weights for precision `beta`, and their entropy.
fn weights(distances: &[f64], beta: f64) -> (Vec<f64>, f64) {
    let p: Vec<f64> = distances.iter().map(|&d| (-d * beta).exp()).collect();
    let total: f64 = p.iter().sum();
    if total == 0.0 {
        return (vec![0.0; p.len()], 0.0);
    }
    let entropy = total.ln() + beta * distances.iter().zip(&p).map(|(d, p)| d * p).sum::<f64>() / total;
    (p.iter().map(|v| v / total).collect(), entropy)
}

/// Simpson's index of the neighbours' labels under the kernel of entropy ln(perplexity);
/// -1 when the kernel is empty (as R lisi, so LISI is then -1).
fn simpson(distances: &[f64], labels: impl Iterator<Item = u32>, n_labels: usize, perplexity: f64) -> f64 {
    let target = perplexity.ln();
    let (mut beta, mut low, mut high) = (1.0, f64::NEG_INFINITY, f64::INFINITY);
    let (mut p, mut entropy) = weights(distances, beta);
    for _ in 0..STEPS {
        let gap = entropy - target;
        if gap.abs() < TOLERANCE {
            break;
        }
        if gap > 0.0 {
            low = beta;
            beta = if high.is_finite() {
                (beta + high) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            high = beta;
            beta = if low.is_finite() {
                (beta + low) / 2.0
            } else {
                beta / 2.0
            };
        }
        (p, entropy) = weights(distances, beta);
    }
    if entropy == 0.0 {
        return -1.0;
    }
    let mut per_label = vec![0f64; n_labels];
    labels.zip(&p).for_each(|(l, &w)| per_label[l as usize] += w);
    per_label.iter().map(|w| w * w).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mixed_labels_give_nearly_two_and_separated_ones_give_one() {
        // Two labels alternating along a line: every neighbourhood is half of each, the
        // nearest two (weighted most) of the other label. R's fixture checks exact values.
        let data: Vec<f64> = (0..400).map(|i| i as f64 * 0.01).collect();
        let mixed: Vec<u32> = (0..400).map(|i| (i % 2) as u32).collect();
        let values = lisi(&data, 1, &mixed, 2, 10.0, &Meter::default()).unwrap();
        assert!(
            values[100..300].iter().all(|&v| (1.8..2.0).contains(&v)),
            "{:?}",
            &values[100..110]
        );
        let apart: Vec<u32> = (0..400).map(|i| (i >= 200) as u32).collect();
        let values = lisi(&data, 1, &apart, 2, 10.0, &Meter::default()).unwrap();
        assert!(
            (values[20] - 1.0).abs() < 1e-9 && (values[380] - 1.0).abs() < 1e-9,
            "{} {}",
            values[20],
            values[380]
        );
    }
}
