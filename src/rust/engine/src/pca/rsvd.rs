//! Truncated SVD of the scaled matrix X = B - 1 cᵀ by randomised block Krylov iteration
//! (Musco & Musco 2015; the block Lanczos form of Halko, Martinsson & Tropp's range finder).
//! Starting from a random block V₀ of l gene-space directions, each step forms
//! Pᵢ = Xᵀ X Vᵢ (two passes over X) and orthonormalises it against every earlier block
//! into Vᵢ₊₁. The leading singular vectors are then taken from the whole Krylov space
//! K = [V₀ … V_q] (Rayleigh-Ritz on Kᵀ Xᵀ X K, which the stored Pᵢ give for free), not from
//! the last block only as plain power iteration does: on PBMC3k this needs a few blocks
//! where power iteration needed dozens. Everything but the products lives in gene space
//! (n_genes x l(q+1)), small; the products stream over X one block at a time.

use super::kernels::{Dense, Products};
use crate::error::{Error, Result};
use crate::monitor::Monitor;
use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

pub struct Svd {
    /// Cell embeddings X V = U S, n_cells x n (row-major).
    pub embedding: Dense<f32>,
    /// Singular values, decreasing.
    pub s: Vec<f64>,
    /// Right singular vectors (gene loadings), n_genes x n (row-major).
    pub v: Dense<f64>,
}

pub struct SvdOptions {
    pub n: usize,
    /// Block size l - n: extra random directions.
    pub oversample: usize,
    /// Krylov blocks after the first; with `until_converged`, the most to try.
    pub blocks: usize,
    /// Stop adding blocks once the n leading singular values change by less than 1e-10
    /// (relative) from one block to the next.
    pub until_converged: bool,
    pub seed: u64,
}

impl SvdOptions {
    /// Columns of each Krylov block on a matrix of `n_cols` columns.
    pub fn block_columns(&self, n_cols: usize) -> usize {
        (self.n + self.oversample).min(n_cols)
    }
}

/// `monitor` is told of each block (on the calling thread, between passes).
pub fn block_krylov_svd(x: &dyn Products, o: &SvdOptions, monitor: Monitor) -> Result<Svd> {
    let n_genes = x.n_cols();
    let l = o.block_columns(n_genes);
    if o.n == 0 || o.n > l || o.n >= x.n_rows() {
        return Err(Error::Request(format!(
            "cannot compute {} components of a {} x {} matrix",
            o.n,
            x.n_rows(),
            n_genes
        )));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let omega = Mat::<f64>::from_fn(n_genes, l, |_, _| StandardNormal.sample(&mut rng));
    let mut basis = orthonormal_against(&Mat::<f64>::zeros(n_genes, 0), &omega);
    let mut products = Mat::<f64>::zeros(n_genes, 0);
    let mut block = basis.clone();
    let mut previous: Option<Vec<f64>> = None;
    // The Krylov space cannot outgrow the gene space.
    let most = ((o.blocks + 1).min(n_genes / l)) as u64;
    loop {
        monitor.tick("PCA: Krylov blocks", (basis.ncols() / l - 1) as u64, most)?;
        let p = gram_times(x, &block)?;
        products = hstack(&products, &p);
        let (values, vectors) = ritz(&basis, &products);
        let top: Vec<f64> = values[..o.n].to_vec();
        let converged = previous.as_ref().is_some_and(|prev| {
            prev.iter()
                .zip(&top)
                .all(|(a, b)| (a - b).abs() <= 1e-10 * b.abs())
        });
        let blocks_done = basis.ncols() / l - 1;
        let room = basis.ncols() + l <= n_genes;
        if blocks_done >= o.blocks || (o.until_converged && converged) || !room {
            monitor.report("PCA: Krylov blocks", most, most);
            return finish(x, &basis, &values, &vectors, o, monitor);
        }
        previous = Some(top);
        block = orthonormal_against(&basis, &p);
        basis = hstack(&basis, &block);
    }
}

/// Xᵀ X V for a gene-space block V (two passes over X).
fn gram_times(x: &dyn Products, v: &Mat<f64>) -> Result<Mat<f64>> {
    let block = Dense {
        rows: v.nrows(),
        k: v.ncols(),
        data: (0..v.nrows() * v.ncols())
            .map(|t| v[(t / v.ncols(), t % v.ncols())] as f32)
            .collect(),
    };
    let p = x.gram_times(&block)?;
    Ok(Mat::from_fn(p.rows, p.k, |i, j| p.data[i * p.k + j]))
}

/// Eigenvalues (decreasing, = squared singular values) and eigenvectors of Kᵀ Xᵀ X K.
fn ritz(basis: &Mat<f64>, products: &Mat<f64>) -> (Vec<f64>, Mat<f64>) {
    let g = basis.transpose() * products;
    let m = g.nrows();
    let symmetric = Mat::<f64>::from_fn(m, m, |i, j| (g[(i, j)] + g[(j, i)]) / 2.0);
    let eig = symmetric
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("the eigen solver converges on a small symmetric matrix");
    let (values, vectors) = (eig.S().column_vector(), eig.U());
    // faer returns increasing eigenvalues.
    let order: Vec<usize> = (0..m).rev().collect();
    (
        order.iter().map(|&k| values[k]).collect(),
        Mat::from_fn(m, m, |i, j| vectors[(i, order[j])]),
    )
}

/// Loadings V = K W (top n), singular values, and embeddings X V (one more pass).
fn finish(
    x: &dyn Products,
    basis: &Mat<f64>,
    values: &[f64],
    vectors: &Mat<f64>,
    o: &SvdOptions,
    monitor: Monitor,
) -> Result<Svd> {
    monitor.check()?;
    let n = o.n;
    let w = vectors.subcols(0, n);
    let v = basis * w;
    let v = Dense {
        rows: v.nrows(),
        k: n,
        data: (0..v.nrows() * n).map(|t| v[(t / n, t % n)]).collect(),
    };
    let v32 = Dense {
        rows: v.rows,
        k: n,
        data: v.data.iter().map(|&x| x as f32).collect(),
    };
    let embedding = x.times(&v32)?;
    Ok(Svd {
        embedding,
        s: values[..n].iter().map(|&l| l.max(0.0).sqrt()).collect(),
        v,
    })
}

/// The columns of `block` made orthonormal and orthogonal to the (orthonormal) `basis`:
/// classical Gram-Schmidt against the basis, then QR, twice for accuracy.
fn orthonormal_against(basis: &Mat<f64>, block: &Mat<f64>) -> Mat<f64> {
    let mut q = block.clone();
    for _ in 0..2 {
        if basis.ncols() > 0 {
            let projection = basis * (basis.transpose() * &q);
            q = &q - &projection;
        }
        q = q.qr().compute_thin_Q();
    }
    q
}

fn hstack(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    let split = a.ncols();
    Mat::from_fn(b.nrows(), split + b.ncols(), |i, j| {
        if j < split {
            a[(i, j)]
        } else {
            b[(i, j - split)]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pca::kernels::{Scaled, SparseRows};
    use rand::Rng;

    #[test]
    fn recovers_the_leading_singular_triplets_of_a_low_rank_matrix() {
        // X = U diag(s) Vᵀ + noise, stored as B with c = 0, dense (every entry stored).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let (n_rows, n_cols, rank) = (3000, 60, 8);
        let s_true = [50.0, 40.0, 30.0, 20.0, 15.0, 10.0, 8.0, 6.0];
        let u0 = Mat::<f64>::from_fn(n_rows, rank, |_, _| rng.random_range(-1.0..1.0))
            .qr()
            .compute_thin_Q();
        let v0 = Mat::<f64>::from_fn(n_cols, rank, |_, _| rng.random_range(-1.0..1.0))
            .qr()
            .compute_thin_Q();
        let mut b = SparseRows {
            n_cols,
            row_ptr: vec![0],
            col: Vec::new(),
            val: Vec::new(),
        };
        let mut full = Mat::<f64>::zeros(n_rows, n_cols);
        for r in 0..n_rows {
            for j in 0..n_cols {
                let x: f64 = (0..rank)
                    .map(|t| u0[(r, t)] * s_true[t] * v0[(j, t)])
                    .sum::<f64>()
                    + rng.random_range(-0.01..0.01);
                full[(r, j)] = x as f32 as f64;
                b.col.push(j as u16);
                b.val.push(x as f32);
            }
            b.row_ptr.push(b.col.len());
        }
        let exact = full.thin_svd().unwrap();
        let o = SvdOptions {
            n: 6,
            oversample: 4,
            blocks: 10,
            until_converged: true,
            seed: 1,
        };
        let c = vec![0.0; n_cols];
        let x = Scaled {
            b: &b,
            c: &c,
            simd: true,
        };
        let svd = block_krylov_svd(&x, &o, Monitor::quiet()).unwrap();
        for t in 0..6 {
            let want = exact.S().column_vector()[t];
            assert!(
                (svd.s[t] - want).abs() < 1e-5 * want,
                "sigma {t}: {} vs {want}",
                svd.s[t]
            );
            let dot: f64 = (0..n_cols)
                .map(|j| svd.v.data[j * 6 + t] * exact.V()[(j, t)])
                .sum();
            assert!(dot.abs() > 0.99999, "loading {t}: |cos| = {}", dot.abs());
            let dot_u: f64 = (0..n_rows)
                .map(|r| svd.embedding.data[r * 6 + t] as f64 / want * exact.U()[(r, t)])
                .sum();
            assert!(dot_u.abs() > 0.9999, "embedding {t}: |cos| = {}", dot_u.abs());
        }
    }
}
