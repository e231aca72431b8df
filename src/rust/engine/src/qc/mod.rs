//! Quality control of cells: per-cell metrics from the cell-major chunks (this file) and
//! outlier calls on them (`outlier`).
//!
//! Per-cell quality-control metrics in one pass over the cell-major chunks: library size,
//! genes detected, % of counts in gene sets (mitochondrial, ribosomal, ...) and % of counts
//! in the cell's N most-expressed genes (scanpy's `pct_counts_in_top_N_genes`).

pub mod outlier;

use crate::error::{Error, Result};
use crate::monitor::Monitor;
use crate::store::scan::{all, scan};
use crate::store::Store;

/// At most this many gene sets per pass (one bit each per gene).
pub const MAX_GENE_SETS: usize = 64;

pub struct CellQc {
    pub n_counts: Vec<u64>,
    pub n_genes: Vec<u32>,
    /// One vector per gene set: % of each cell's counts in the set (NaN for an empty cell).
    pub pct_in_set: Vec<Vec<f64>>,
    /// One vector per `top_n`: % of each cell's counts in its N most-expressed genes.
    pub pct_in_top: Vec<Vec<f64>>,
}

/// `gene_sets`: 0-based gene indices per set; `top_n`: the N of each top-N metric.
pub fn cell_qc(store: &Store, gene_sets: &[Vec<u32>], top_n: &[usize], monitor: Monitor) -> Result<CellQc> {
    if gene_sets.len() > MAX_GENE_SETS {
        return Err(Error::Request(format!(
            "at most {MAX_GENE_SETS} gene sets can be measured in one pass, not {}",
            gene_sets.len()
        )));
    }
    let mut membership = vec![0u64; store.n_genes()];
    for (s, set) in gene_sets.iter().enumerate() {
        for &g in set {
            *membership
                .get_mut(g as usize)
                .ok_or_else(|| Error::Request(format!("gene index {} is out of range", g as u64 + 1)))? |=
                1 << s;
        }
    }
    let per_cell = scan(
        &store.cells,
        &all(&store.cells),
        "QC metrics",
        monitor,
        Vec::<u32>::new,
        |scratch, _, chunk| {
            let library: u64 = chunk.counts.iter().map(|&c| c as u64).sum();
            let mut in_set = vec![0u64; gene_sets.len()];
            for (&g, &c) in chunk.indices.iter().zip(&chunk.counts) {
                let mut bits = membership[g as usize];
                while bits != 0 {
                    in_set[bits.trailing_zeros() as usize] += c as u64;
                    bits &= bits - 1;
                }
            }
            let top = top_sums(&chunk.counts, top_n, scratch);
            let pct = |part: u64| part as f64 / library as f64 * 100.0;
            let pcts: Vec<f64> = in_set.into_iter().chain(top).map(pct).collect();
            (library, chunk.nnz() as u32, pcts)
        },
    )?;
    let n_sets = gene_sets.len();
    let column = |k: usize| per_cell.iter().map(|c| c.2[k]).collect::<Vec<f64>>();
    Ok(CellQc {
        n_counts: per_cell.iter().map(|c| c.0).collect(),
        n_genes: per_cell.iter().map(|c| c.1).collect(),
        pct_in_set: (0..n_sets).map(column).collect(),
        pct_in_top: (0..top_n.len()).map(|k| column(n_sets + k)).collect(),
    })
}

/// Sum of the `n` largest counts for each `n` of `top_n` (all counts when a cell has fewer):
/// nested partial selections, largest `n` first, instead of a sort.
fn top_sums(counts: &[u32], top_n: &[usize], scratch: &mut Vec<u32>) -> Vec<u64> {
    scratch.clear();
    scratch.extend_from_slice(counts);
    let mut by_depth: Vec<usize> = (0..top_n.len()).collect();
    by_depth.sort_by(|&a, &b| top_n[b].cmp(&top_n[a]));
    let mut sums = vec![0u64; top_n.len()];
    let mut largest: &mut [u32] = scratch;
    for k in by_depth {
        let n = top_n[k];
        if n < largest.len() {
            largest.select_nth_unstable_by(n, |a, b| b.cmp(a));
            largest = &mut largest[..n];
        }
        sums[k] = largest.iter().map(|&c| c as u64).sum();
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_sums_take_the_largest_counts_and_all_of_a_small_cell() {
        let mut scratch = Vec::new();
        assert_eq!(
            top_sums(&[5, 1, 9, 3, 7], &[1, 3, 2], &mut scratch),
            vec![9, 21, 16]
        );
        assert_eq!(top_sums(&[2, 4], &[50, 1], &mut scratch), vec![6, 4]);
        assert_eq!(top_sums(&[], &[5], &mut scratch), vec![0]);
        assert_eq!(
            top_sums(&[3, 3, 1, 3, 2, 3], &[2, 4, 5], &mut scratch),
            vec![6, 12, 14]
        );
    }

    #[test]
    fn metrics_match_the_cells_read_one_by_one() {
        let dir = crate::testdir::TestDir::new();
        let store = crate::testdir::simulated_store(&dir, 700, 300);
        let sets = vec![(0..13).collect::<Vec<u32>>(), vec![20, 5, 299]];
        let qc = cell_qc(&store, &sets, &[10, 1000], Monitor::quiet()).unwrap();
        for c in [0usize, 1, 350, 699] {
            let chunk = store.cells.read(c).unwrap();
            let total: u64 = chunk.counts.iter().map(|&x| x as u64).sum();
            let in_set = |set: &[u32]| {
                chunk
                    .indices
                    .iter()
                    .zip(&chunk.counts)
                    .filter(|(g, _)| set.contains(g))
                    .map(|(_, &x)| x as u64)
                    .sum::<u64>()
            };
            let mut sorted = chunk.counts.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let top10: u64 = sorted.iter().take(10).map(|&x| x as u64).sum();
            assert_eq!((qc.n_counts[c], qc.n_genes[c] as usize), (total, chunk.nnz()));
            assert_eq!(
                qc.pct_in_set[0][c],
                in_set(&sets[0]) as f64 / total as f64 * 100.0
            );
            assert_eq!(
                qc.pct_in_set[1][c],
                in_set(&sets[1]) as f64 / total as f64 * 100.0
            );
            assert_eq!(qc.pct_in_top[0][c], top10 as f64 / total as f64 * 100.0);
            assert_eq!(qc.pct_in_top[1][c], 100.0);
        }
        assert!(cell_qc(&store, &vec![vec![0]; 65], &[], Monitor::quiet()).is_err());
    }
}
