//! Local quadratic regression of one variable on another, as R's
//! `loess(y ~ x, span, degree = 2)` with its defaults (family "gaussian", surface
//! "interpolate", cell 0.2), which Seurat's vst uses: local fits are computed exactly at the
//! vertices of a k-d tree over x, and the fitted values are cubic Hermite interpolations
//! between them (R's `lowesd`/`lowesb`/`ehg128`).

/// Fitted values at every `x[i]`. Each local fit uses the `floor(n * span)` points nearest to
/// its centre, weighted by the tricube of their distance over the farthest one's.
pub fn loess(x: &[f64], y: &[f64], span: f64) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    let q = ((n as f64 * span).floor() as usize).clamp(1, n);
    let fit = |x0: f64| {
        let lo = nearest_window(&xs, q, x0);
        let rho = (x0 - xs[lo]).max(xs[lo + q - 1] - x0) * span.max(1.0);
        local_fit(&xs[lo..lo + q], &ys[lo..lo + q], x0, rho)
    };
    // The bounding interval, widened by 0.5% of the range as R's ehg126.
    let (min, max) = (xs[0], xs[n - 1]);
    let margin = 0.005 * (max - min).max(1e-10 * min.abs().max(max.abs()) + 1e-30);
    let mut vertices = vec![min - margin, max + margin];
    let cell_points = (n as f64 * span * CELL).floor() as usize;
    split(
        &xs,
        0,
        n - 1,
        min - margin,
        max + margin,
        cell_points,
        &mut vertices,
    );
    vertices.sort_by(f64::total_cmp);
    vertices.dedup();
    let at_vertex: Vec<(f64, f64)> = vertices.iter().map(|&v| fit(v)).collect();
    let mut fitted = vec![0f64; n];
    let mut cell = 0;
    for (k, &x0) in xs.iter().enumerate() {
        while cell + 2 < vertices.len() && x0 > vertices[cell + 1] {
            cell += 1;
        }
        fitted[order[k]] = hermite(
            vertices[cell],
            vertices[cell + 1],
            at_vertex[cell],
            at_vertex[cell + 1],
            x0,
        );
    }
    fitted
}

/// R's default `loess.control(cell = 0.2)`: a k-d tree cell holds at most
/// `floor(n * span * cell)` points.
const CELL: f64 = 0.2;

/// Splits the cell of sorted points `l..=u` (bounds `lower`, `upper`) at its middle point,
/// moved off ties as R's ehg124 (ties go to the upper cell), until cells hold few enough
/// points; records the split values.
fn split(
    xs: &[f64],
    l: usize,
    u: usize,
    lower: f64,
    upper: f64,
    cell_points: usize,
    vertices: &mut Vec<f64>,
) {
    if u - l < cell_points.max(1) {
        return;
    }
    // Fortran's m = (l + u) / 2 on 1-based positions.
    let mut m = (l + u + 2) / 2 - 1;
    let mut offset: i64 = 0;
    loop {
        let at = m as i64 + offset;
        if at >= u as i64 || at < l as i64 {
            break;
        }
        if xs[at as usize] == xs[at as usize + 1] {
            offset = -offset;
            if offset >= 0 {
                offset += 1;
            }
        } else {
            m = at as usize;
            break;
        }
    }
    let t = xs[m];
    if t == lower || t == upper {
        return;
    }
    vertices.push(t);
    split(xs, l, m, lower, t, cell_points, vertices);
    split(xs, m + 1, u, t, upper, cell_points, vertices);
}

/// Start of the `q` points of sorted `xs` nearest to `x0`.
fn nearest_window(xs: &[f64], q: usize, x0: f64) -> usize {
    let n = xs.len();
    let mut lo = xs.partition_point(|&v| v < x0).saturating_sub(q).min(n - q);
    while lo + q < n && xs[lo + q] - x0 < x0 - xs[lo] {
        lo += 1;
    }
    lo
}

/// Cubic Hermite interpolation on [a, b] from values and slopes at both ends.
fn hermite(a: f64, b: f64, (fa, da): (f64, f64), (fb, db): (f64, f64), x: f64) -> f64 {
    let h = b - a;
    let t = (x - a) / h;
    let (t2, t3) = (t * t, t * t * t);
    fa * (2.0 * t3 - 3.0 * t2 + 1.0)
        + fb * (3.0 * t2 - 2.0 * t3)
        + h * (da * (t3 - 2.0 * t2 + t) + db * (t3 - t2))
}

/// Weighted least-squares quadratic around `x0`: its value and slope at `x0`. Falls back to a
/// line, then a weighted mean, when the window has too few distinct x.
fn local_fit(xs: &[f64], ys: &[f64], x0: f64, rho: f64) -> (f64, f64) {
    // Moments of t = (x - x0) / rho (scaled for conditioning): s[p] = sum w t^p,
    // r[p] = sum w t^p y.
    let (mut s, mut r) = ([0f64; 5], [0f64; 3]);
    for (&x, &y) in xs.iter().zip(ys) {
        let t = if rho > 0.0 { (x - x0) / rho } else { 0.0 };
        let d = t.abs();
        let w = if rho > 0.0 {
            if d < 1.0 {
                (1.0 - d * d * d).powi(3)
            } else {
                0.0
            }
        } else {
            1.0
        };
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
            a[i][..m].copy_from_slice(&s[i..i + m]);
            a[i][m] = r[i];
        }
        if let Some(beta) = solve(&mut a, m) {
            let slope = if rho > 0.0 { beta[1] / rho } else { 0.0 };
            return (beta[0], slope);
        }
    }
    (f64::NAN, 0.0)
}

/// Gaussian elimination with partial pivoting on the m x (m+1) augmented system; returns the
/// unknowns (zero beyond m), or None when the system is (nearly) singular.
fn solve(a: &mut [[f64; 4]; 3], m: usize) -> Option<[f64; 3]> {
    let scale = (0..m).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    for col in 0..m {
        let pivot = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= scale * 1e-10 {
            return None;
        }
        a.swap(col, pivot);
        for row in col + 1..m {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (target, &p) in a[row][col..=m].iter_mut().zip(&pivot_row[col..=m]) {
                *target -= f * p;
            }
        }
    }
    let mut beta = [0f64; 3];
    for i in (0..m).rev() {
        let tail: f64 = (i + 1..m).map(|k| a[i][k] * beta[k]).sum();
        beta[i] = (a[i][m] - tail) / a[i][i];
    }
    Some(beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn matches_r_loess_with_its_default_interpolation() {
        // R: x <- c(1:20, 5.5, 12); y <- sin(x/3) + (x %% 4)/10
        //    fitted(loess(y ~ x, span = 0.5, degree = 2))
        let x: Vec<f64> = (1..=20).map(f64::from).chain([5.5, 12.0]).collect();
        let y: Vec<f64> = x.iter().map(|&v| (v / 3.0).sin() + (v % 4.0) / 10.0).collect();
        let r = [
            0.470401024287,
            0.786178587842,
            1.003981928531,
            1.121823379067,
            1.139623599713,
            1.054002490049,
            0.872407188122,
            0.578890422178,
            0.277291277945,
            -0.040868728641,
            -0.368798015131,
            -0.636795318817,
            -0.789893459957,
            -0.855925353499,
            -0.800696479488,
            -0.649094907762,
            -0.427813015912,
            -0.165711143380,
            0.148536592540,
            0.516059013267,
            1.111676433703,
            -0.636795318817,
        ];
        loess(&x, &y, 0.5)
            .into_iter()
            .zip(r)
            .for_each(|(g, w)| close(g, w));
    }

    #[test]
    fn matches_r_loess_on_data_with_many_ties() {
        // R: i <- 1:400; x <- ((i*37) %% 101)/10; y <- sin(x) + ((i*13) %% 7)/10
        //    fitted(loess(y ~ x, span = 0.3, degree = 2))[c(1, seq(50, 400, 50))]
        let x: Vec<f64> = (1..=400).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let y: Vec<f64> = (1..=400)
            .zip(&x)
            .map(|(i, &v)| v.sin() + ((i * 13) % 7) as f64 / 10.0)
            .collect();
        let fitted = loess(&x, &y, 0.3);
        let r = [
            (0, -0.222676327959),
            (49, 0.250584707026),
            (99, 0.405072873157),
            (149, 0.166755112113),
            (199, 0.723917747375),
            (249, -0.076275830337),
            (299, 0.651951070988),
            (349, 1.092373761375),
            (399, -0.469089261223),
        ];
        r.into_iter().for_each(|(k, w)| close(fitted[k], w));
    }

    #[test]
    fn windows_without_three_distinct_x_fall_back_to_lower_degrees() {
        let fitted = loess(&[1.0, 1.0, 1.0, 2.0, 2.0], &[1.0, 2.0, 3.0, 5.0, 7.0], 1.0);
        // Two distinct x: the local fit is the line through the two weighted means.
        close(fitted[0], 2.0);
        close(fitted[4], 6.0);
    }
}
