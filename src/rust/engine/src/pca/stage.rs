//! The scaled matrix PCA works on, kept sparse. Seurat's `ScaleData` gives each gene's
//! log-normalised values x the value min((x - mean) / sd, clip) (mean and sd over the kept
//! cells, zeros included; only the upper side is clipped). A zero becomes -mean/sd = -c, so
//! the scaled matrix is X = B - 1 cᵀ with B sparse on the non-zeros:
//! b = min((x - mean) / sd, clip) + c. Staging reads the chunks once and holds B in memory
//! as compressed rows (6 bytes per non-zero); every product of the SVD then reads B.

use super::kernels::SparseRows;
use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::store::norm::log_normalised;
use crate::store::scan::scan;
use crate::store::Store;

pub struct Staged {
    pub b: SparseRows,
    /// c = mean / sd per gene (0 for a gene without variance).
    pub offset: Vec<f32>,
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    /// Total variance of X (sum over genes of their scaled, clipped variance).
    pub total_variance: f64,
}

/// Cells read per scan while staging: bounds the per-cell vectors held at once.
const CELLS_PER_SCAN: usize = 1 << 16;

/// `cells`: kept cells (0-based, ascending); `genes`: 0-based, distinct, at most 65,535;
/// `library`: the library size of every cell of the store (obs `n_counts`).
/// Without `scale`, values are only centred (Seurat's `do.scale = FALSE`).
#[allow(clippy::too_many_arguments)]
pub fn stage(
    store: &Store,
    cells: &[usize],
    genes: &[u32],
    library: &[f64],
    target_sum: f64,
    scale: bool,
    clip: f64,
    monitor: Monitor,
) -> Result<Staged> {
    if genes.len() > u16::MAX as usize {
        return Err(Error::Request(format!(
            "PCA takes at most {} genes, not {}",
            u16::MAX,
            genes.len()
        )));
    }
    if cells.len() < 2 {
        return Err(Error::Request("PCA needs at least 2 kept cells".into()));
    }
    let n = cells.len() as f64;
    let normalised = |count: u32, cell: usize| log_normalised(count, library[cell], target_sum);

    // Mean and sd of each gene over the kept cells, from its gene-major chunk.
    let mut kept = vec![false; store.n_cells()];
    cells.iter().for_each(|&c| kept[c] = true);
    let mut by_gene: Vec<usize> = genes.iter().map(|&g| g as usize).collect();
    by_gene.sort_unstable();
    let moments = scan(
        &store.genes,
        &by_gene,
        "PCA: gene means and sds",
        monitor,
        || (),
        |_, _, chunk| {
            let (mut sum, mut sum_sq) = (0f64, 0f64);
            for (&c, &x) in chunk.indices.iter().zip(&chunk.counts) {
                if kept[c as usize] {
                    let v = normalised(x, c as usize);
                    sum += v;
                    sum_sq += v * v;
                }
            }
            (sum, sum_sq)
        },
    )?;
    let mut mean = vec![0f64; genes.len()];
    let mut sd = vec![0f64; genes.len()];
    let position: std::collections::HashMap<usize, usize> =
        genes.iter().enumerate().map(|(k, &g)| (g as usize, k)).collect();
    for (&g, &(sum, sum_sq)) in by_gene.iter().zip(&moments) {
        let k = position[&g];
        mean[k] = sum / n;
        sd[k] = if scale {
            ((sum_sq - n * mean[k] * mean[k]) / (n - 1.0)).max(0.0).sqrt()
        } else {
            1.0
        };
    }
    let offset: Vec<f64> = mean
        .iter()
        .zip(&sd)
        .map(|(&m, &s)| if s > 0.0 { m / s } else { 0.0 })
        .collect();

    // B in compressed rows, one scan of the kept cells' chunks at a time.
    let mut slot = vec![u16::MAX; store.n_genes()];
    genes
        .iter()
        .enumerate()
        .filter(|(k, _)| sd[*k] > 0.0)
        .for_each(|(k, &g)| slot[g as usize] = k as u16);
    let mut b = SparseRows {
        n_cols: genes.len(),
        row_ptr: vec![0],
        col: Vec::new(),
        val: Vec::new(),
    };
    // Per gene: non-zeros and the sum of their squared scaled values (for the total variance).
    let mut squares = vec![(0u64, 0f64); genes.len()];
    for (p, part) in cells.chunks(CELLS_PER_SCAN).enumerate() {
        let before = (p * CELLS_PER_SCAN) as u64;
        let overall = |task: &str, done: u64, _: u64| monitor.report(task, before + done, cells.len() as u64);
        let rows = scan(
            &store.cells,
            part,
            "PCA: scaling the cells",
            monitor.reporting_to(&overall),
            || (),
            |_, cell, chunk| {
                chunk
                    .indices
                    .iter()
                    .zip(&chunk.counts)
                    .filter_map(|(&g, &x)| {
                        let j = slot[g as usize];
                        (j != u16::MAX).then(|| {
                            (
                                j,
                                ((normalised(x, cell) - mean[j as usize]) / sd[j as usize]).min(clip),
                            )
                        })
                    })
                    .collect::<Vec<(u16, f64)>>()
            },
        )?;
        for row in rows {
            for (j, scaled) in row {
                let s = &mut squares[j as usize];
                s.0 += 1;
                s.1 += scaled * scaled;
                b.col.push(j);
                b.val.push((scaled + offset[j as usize]) as f32);
            }
            b.row_ptr.push(b.col.len());
        }
    }
    let total_variance = squares
        .iter()
        .zip(&offset)
        .map(|(&(nnz, sq), &c)| (sq + (n - nnz as f64) * c * c) / (n - 1.0))
        .sum();
    Ok(Staged {
        b,
        offset: offset.iter().map(|&c| c as f32).collect(),
        mean,
        sd,
        total_variance,
    })
}
