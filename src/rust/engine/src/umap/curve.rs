//! The a, b of UMAP's low-dimensional similarity 1 / (1 + a d^(2b)), fitted (least squares,
//! Levenberg-Marquardt) to 1 for d < min_dist and exp(-(d - min_dist) / spread) beyond, on
//! 300 points over [0, 3 spread], as umap-learn's `find_ab_params`.

pub fn fit_ab(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let target: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let residuals = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&target)
            .map(|(&x, &y)| (1.0 / (1.0 + a * x.powf(2.0 * b)) - y).powi(2))
            .sum()
    };
    let (mut a, mut b, mut lambda) = (1.0f64, 1.0f64, 1e-3);
    let mut cost = residuals(a, b);
    for _ in 0..200 {
        // Normal equations J^T J δ = -J^T r, damped.
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&target) {
            let u = if x > 0.0 { x.powf(2.0 * b) } else { 0.0 };
            let g = 1.0 / (1.0 + a * u);
            let da = -u * g * g;
            let db = if x > 0.0 {
                -a * u * 2.0 * x.ln() * g * g
            } else {
                0.0
            };
            let r = g - y;
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        let (maa, mbb) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = maa * mbb - jab * jab;
        if det.abs() < 1e-300 {
            break;
        }
        let step_a = -(mbb * ga - jab * gb) / det;
        let step_b = -(maa * gb - jab * ga) / det;
        let trial = residuals(a + step_a, b + step_b);
        if trial < cost {
            let converged = (cost - trial) < 1e-15 * cost.max(1e-300);
            (a, b, cost) = (a + step_a, b + step_b, trial);
            lambda /= 10.0;
            if converged {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_umap_learn() {
        // umap.umap_.find_ab_params(spread, min_dist) from umap-learn 0.5.12.
        for (spread, min_dist, a, b) in [
            (1.0, 0.1, 1.5769434602367338, 0.8950608781254812),
            (1.0, 0.3, 0.9921756194669702, 1.1122533842833633),
            (1.0, 0.5, 0.5830300199320585, 1.334166993096798),
            (2.0, 0.3, 0.37949468869883957, 0.9488152193295217),
        ] {
            let (fa, fb) = fit_ab(spread, min_dist);
            assert!(
                (fa - a).abs() < 1e-4 && (fb - b).abs() < 1e-4,
                "{spread} {min_dist}: {fa} {fb} vs {a} {b}"
            );
        }
    }
}
