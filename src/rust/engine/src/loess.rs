//! Local quadratic regression of one variable on another: R's
//! `loess(y ~ x, span, degree = 2, family = "gaussian")`, each fitted value computed exactly
//! at its own x (R's `surface = "direct"`; R's default interpolates between kd-tree vertices,
//! which differs from this in the 3rd-4th significant digit).

/// Fitted values at every `x[i]`. Each fit uses the `floor(n * span)` nearest points,
/// weighted by the tricube of their distance over the farthest one's.
pub fn loess(x: &[f64], y: &[f64], span: f64) -> Vec<f64> {
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let q = ((n as f64 * span).floor() as usize).clamp(1.min(n), n);
    let mut fitted = vec![0f64; n];
    let mut lo = 0;
    for (k, &x0) in xs.iter().enumerate() {
        // The q nearest points of sorted data form a window; slide it right while that
        // brings a nearer point in.
        while lo + q < n && xs[lo + q] - x0 < x0 - xs[lo] {
            lo += 1;
        }
        let rho = (x0 - xs[lo]).max(xs[lo + q - 1] - x0) * span.max(1.0);
        fitted[order[k]] = local_fit(&xs[lo..lo + q], &ys[lo..lo + q], x0, rho);
    }
    fitted
}

/// Weighted least-squares quadratic around `x0` evaluated at `x0`. Falls back to a line, then
/// a weighted mean, when the window has too few distinct x.
fn local_fit(xs: &[f64], ys: &[f64], x0: f64, rho: f64) -> f64 {
    // Moments of t = (x - x0) / rho (scaled for conditioning): s[p] = sum w t^p,
    // r[p] = sum w t^p y.
    let (mut s, mut r) = ([0f64; 5], [0f64; 3]);
    for (&x, &y) in xs.iter().zip(ys) {
        let t = if rho > 0.0 { (x - x0) / rho } else { 0.0 };
        let d = t.abs();
        let w = if rho > 0.0 { if d < 1.0 { (1.0 - d * d * d).powi(3) } else { 0.0 } } else { 1.0 };
        let mut tp = w;
        for (p, sp) in s.iter_mut().enumerate() {
            if p < 3 {
                r[p] += tp * y;
            }
            *sp += tp;
            tp *= t;
        }
    }
    for degree in (0..=2).rev() {
        let m = degree + 1;
        let mut a = [[0f64; 4]; 3];
        for i in 0..m {
            for j in 0..m {
                a[i][j] = s[i + j];
            }
            a[i][m] = r[i];
        }
        if let Some(beta) = solve(&mut a, m) {
            return beta;
        }
    }
    f64::NAN
}

/// Gaussian elimination with partial pivoting on the m x (m+1) augmented system; returns the
/// first unknown (the fit at x0), or None when the system is (nearly) singular.
fn solve(a: &mut [[f64; 4]; 3], m: usize) -> Option<f64> {
    let scale = (0..m).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    for col in 0..m {
        let pivot = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= scale * 1e-10 {
            return None;
        }
        a.swap(col, pivot);
        for row in col + 1..m {
            let f = a[row][col] / a[col][col];
            for k in col..=m {
                a[row][k] -= f * a[col][k];
            }
        }
    }
    let mut beta = [0f64; 3];
    for i in (0..m).rev() {
        let tail: f64 = (i + 1..m).map(|k| a[i][k] * beta[k]).sum();
        beta[i] = (a[i][m] - tail) / a[i][i];
    }
    Some(beta[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_loess_direct() {
        // R: x <- c(1:20, 5.5, 12); y <- sin(x/3) + (x %% 4)/10
        //    fitted(loess(y ~ x, span = 0.5, degree = 2, control = loess.control(surface = "direct")))
        let x: Vec<f64> = (1..=20).map(f64::from).chain([5.5, 12.0]).collect();
        let y: Vec<f64> = x.iter().map(|&v| (v / 3.0).sin() + (v % 4.0) / 10.0).collect();
        let r = [
            0.470447967659, 0.786178587842, 1.003981928531, 1.124421029860, 1.139623599713, 1.053500185037, 0.872407188122, 0.578890422178, 0.275251031204, -0.040868728641, -0.387852448441,
            -0.636795318817, -0.799949066178, -0.855925353499, -0.800696479488, -0.652391494079, -0.427813015912, -0.165711143380, 0.149687489722, 0.516489216147, 1.111676433703, -0.636795318817,
        ];
        for (got, want) in loess(&x, &y, 0.5).iter().zip(r) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
    }

    #[test]
    fn windows_without_three_distinct_x_fall_back_to_lower_degrees() {
        let fitted = loess(&[1.0, 1.0, 1.0, 2.0, 2.0], &[1.0, 2.0, 3.0, 5.0, 7.0], 1.0);
        assert!(fitted.iter().all(|v| v.is_finite()), "{fitted:?}");
        // Two distinct x: the local fit is the line through the two weighted means.
        assert!((fitted[0] - 2.0).abs() < 1e-9 && (fitted[4] - 6.0).abs() < 1e-9, "{fitted:?}");
    }
}
