//! The two products PCA repeats over the scaled matrix X = B - 1 cᵀ (B sparse, cells x genes;
//! c the per-gene offset that makes zeros scale to -mean/sd): Y = X Ω and Z = Xᵀ Y, with Ω,
//! Y, Z dense and row-major. The inner loops run over the k columns of one dense row, in
//! SIMD lanes (`wide`), with a scalar twin that the tests hold them to. [`Products`] is what
//! the SVD asks of X, so the same solver runs on these kernels or on the GPU's.

use crate::error::Result;
use rayon::prelude::*;
use wide::{f32x8, f64x4};

/// A sparse matrix in compressed rows: row r holds `col[row_ptr[r]..row_ptr[r+1]]`.
pub struct SparseRows {
    pub n_cols: usize,
    pub row_ptr: Vec<usize>,
    pub col: Vec<u16>,
    pub val: Vec<f32>,
}

impl SparseRows {
    pub fn n_rows(&self) -> usize {
        self.row_ptr.len() - 1
    }
}

/// A dense row-major matrix of `rows` x `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<T> {
    pub rows: usize,
    pub k: usize,
    pub data: Vec<T>,
}

impl<T: Copy + Default> Dense<T> {
    pub fn zeros(rows: usize, k: usize) -> Self {
        Dense {
            rows,
            k,
            data: vec![T::default(); rows * k],
        }
    }
    pub fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.k..(r + 1) * self.k]
    }
}

/// The scaled matrix X (n_rows x n_cols) as the SVD uses it: its products with thin dense
/// blocks.
pub trait Products {
    fn n_rows(&self) -> usize;
    fn n_cols(&self) -> usize;
    /// X Ω for Ω n_cols x k.
    fn times(&self, omega: &Dense<f32>) -> Result<Dense<f32>>;
    /// Xᵀ X V for V n_cols x k, accumulated in f64.
    fn gram_times(&self, v: &Dense<f32>) -> Result<Dense<f64>>;
}

/// X = B - 1 cᵀ multiplied on the CPU, all threads.
pub struct Scaled<'a> {
    pub b: &'a SparseRows,
    pub c: &'a [f32],
    pub simd: bool,
}

impl Products for Scaled<'_> {
    fn n_rows(&self) -> usize {
        self.b.n_rows()
    }
    fn n_cols(&self) -> usize {
        self.b.n_cols
    }
    fn times(&self, omega: &Dense<f32>) -> Result<Dense<f32>> {
        Ok(times(self.b, self.c, omega, self.simd))
    }
    fn gram_times(&self, v: &Dense<f32>) -> Result<Dense<f64>> {
        let y = times(self.b, self.c, v, self.simd);
        Ok(times_transposed(self.b, self.c, &y, self.simd))
    }
}

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 4096;

/// Y = (B - 1 cᵀ) Ω: `omega` is n_cols x k.
pub fn times(b: &SparseRows, c: &[f32], omega: &Dense<f32>, simd: bool) -> Dense<f32> {
    let k = omega.k;
    // Every row subtracts the same cᵀ Ω.
    let mut shift = vec![0f64; k];
    for (j, &cj) in c.iter().enumerate() {
        shift
            .iter_mut()
            .zip(omega.row(j))
            .for_each(|(s, &w)| *s += cj as f64 * w as f64);
    }
    let shift: Vec<f32> = shift.iter().map(|&s| s as f32).collect();
    let mut y = Dense::zeros(b.n_rows(), k);
    y.data
        .par_chunks_mut(ROWS_PER_TASK * k)
        .enumerate()
        .for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK;
            for (local, out_row) in out.chunks_mut(k).enumerate() {
                let r = first + local;
                out_row.iter_mut().zip(&shift).for_each(|(o, &s)| *o = -s);
                for p in b.row_ptr[r]..b.row_ptr[r + 1] {
                    axpy_f32(out_row, b.val[p], omega.row(b.col[p] as usize), simd);
                }
            }
        });
    y
}

/// Z = (B - 1 cᵀ)ᵀ Y: `y` is n_rows x k; the result is n_cols x k, accumulated in f64.
pub fn times_transposed(b: &SparseRows, c: &[f32], y: &Dense<f32>, simd: bool) -> Dense<f64> {
    let k = y.k;
    let partials: Vec<(Vec<f64>, Vec<f64>)> = (0..b.n_rows().div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|task| {
            let mut z = vec![0f64; b.n_cols * k];
            let mut column_sums = vec![0f64; k];
            for r in task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(b.n_rows()) {
                let yr = y.row(r);
                column_sums.iter_mut().zip(yr).for_each(|(s, &v)| *s += v as f64);
                for p in b.row_ptr[r]..b.row_ptr[r + 1] {
                    let j = b.col[p] as usize;
                    axpy_f64(&mut z[j * k..(j + 1) * k], b.val[p] as f64, yr, simd);
                }
            }
            (z, column_sums)
        })
        .collect();
    let mut z = Dense::<f64>::zeros(b.n_cols, k);
    let mut column_sums = vec![0f64; k];
    for (part, sums) in partials {
        z.data.iter_mut().zip(&part).for_each(|(a, &v)| *a += v);
        column_sums.iter_mut().zip(&sums).for_each(|(a, &v)| *a += v);
    }
    for (j, &cj) in c.iter().enumerate() {
        z.data[j * k..(j + 1) * k]
            .iter_mut()
            .zip(&column_sums)
            .for_each(|(v, &s)| *v -= cj as f64 * s);
    }
    z
}

/// out += a x.
fn axpy_f32(out: &mut [f32], a: f32, x: &[f32], simd: bool) {
    let split = if simd { out.len() / 8 * 8 } else { 0 };
    let (head, tail) = out.split_at_mut(split);
    let av = f32x8::splat(a);
    for (o, xs) in head.chunks_exact_mut(8).zip(x.chunks_exact(8)) {
        let v = f32x8::from(<[f32; 8]>::try_from(&*o).unwrap())
            + av * f32x8::from(<[f32; 8]>::try_from(xs).unwrap());
        o.copy_from_slice(&v.to_array());
    }
    tail.iter_mut().zip(&x[split..]).for_each(|(o, &v)| *o += a * v);
}

/// out += a x, x widened to f64.
fn axpy_f64(out: &mut [f64], a: f64, x: &[f32], simd: bool) {
    let split = if simd { out.len() / 4 * 4 } else { 0 };
    let (head, tail) = out.split_at_mut(split);
    let av = f64x4::splat(a);
    for (o, xs) in head.chunks_exact_mut(4).zip(x.chunks_exact(4)) {
        let xv = f64x4::from([xs[0] as f64, xs[1] as f64, xs[2] as f64, xs[3] as f64]);
        let v = f64x4::from(<[f64; 4]>::try_from(&*o).unwrap()) + av * xv;
        o.copy_from_slice(&v.to_array());
    }
    tail.iter_mut()
        .zip(&x[split..])
        .for_each(|(o, &v)| *o += a * v as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn random_sparse(rng: &mut Xoshiro256PlusPlus, n_rows: usize, n_cols: usize) -> SparseRows {
        let mut m = SparseRows {
            n_cols,
            row_ptr: vec![0],
            col: Vec::new(),
            val: Vec::new(),
        };
        for _ in 0..n_rows {
            for j in 0..n_cols {
                if rng.random_bool(0.1) {
                    m.col.push(j as u16);
                    m.val.push(rng.random_range(-3.0..10.0));
                }
            }
            m.row_ptr.push(m.col.len());
        }
        m
    }

    fn dense(rng: &mut Xoshiro256PlusPlus, rows: usize, k: usize) -> Dense<f32> {
        Dense {
            rows,
            k,
            data: (0..rows * k).map(|_| rng.random_range(-1.0..1.0)).collect(),
        }
    }

    /// The products written out over the dense X.
    fn reference(b: &SparseRows, c: &[f32], omega: &Dense<f32>, y: &Dense<f32>) -> (Vec<f64>, Vec<f64>) {
        let mut x = vec![0f64; b.n_rows() * b.n_cols];
        for r in 0..b.n_rows() {
            for j in 0..b.n_cols {
                x[r * b.n_cols + j] = -c[j] as f64;
            }
            for p in b.row_ptr[r]..b.row_ptr[r + 1] {
                x[r * b.n_cols + b.col[p] as usize] += b.val[p] as f64;
            }
        }
        let k = omega.k;
        let mut xo = vec![0f64; b.n_rows() * k];
        let mut xty = vec![0f64; b.n_cols * k];
        for r in 0..b.n_rows() {
            for j in 0..b.n_cols {
                for t in 0..k {
                    xo[r * k + t] += x[r * b.n_cols + j] * omega.data[j * k + t] as f64;
                    xty[j * k + t] += x[r * b.n_cols + j] * y.data[r * k + t] as f64;
                }
            }
        }
        (xo, xty)
    }

    fn assert_close(got: impl Iterator<Item = f64>, want: &[f64], what: &str) {
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (g, w) in got.zip(want) {
            assert!(
                (g - w).abs() <= 1e-5 * scale,
                "{what}: {g} vs {w} (scale {scale})"
            );
        }
    }

    #[test]
    fn simd_and_scalar_kernels_agree_with_the_dense_products() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        // k = 13 leaves a scalar tail after the SIMD lanes; 9000 rows span several tasks.
        for (n_rows, n_cols, k) in [(9000, 40, 13), (50, 7, 8), (3, 5, 1)] {
            let b = random_sparse(&mut rng, n_rows, n_cols);
            let c: Vec<f32> = (0..n_cols).map(|_| rng.random_range(-1.0..1.0)).collect();
            let omega = dense(&mut rng, n_cols, k);
            let y = dense(&mut rng, n_rows, k);
            let (xo, xty) = reference(&b, &c, &omega, &y);
            for simd in [true, false] {
                assert_close(
                    times(&b, &c, &omega, simd).data.iter().map(|&v| v as f64),
                    &xo,
                    "X Ω",
                );
                assert_close(times_transposed(&b, &c, &y, simd).data.into_iter(), &xty, "Xᵀ Y");
            }
            let (a, s) = (times(&b, &c, &omega, true), times(&b, &c, &omega, false));
            for (u, v) in a.data.iter().zip(&s.data) {
                assert!((u - v).abs() <= 1e-5 * v.abs().max(1.0), "SIMD {u} vs scalar {v}");
            }
        }
    }
}
