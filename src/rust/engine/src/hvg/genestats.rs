//! Per-gene statistics over the kept cells, per group of cells (batch), in one pass over the
//! gene-major chunks: what highly-variable-gene selection needs.

use crate::error::Result;
use crate::monitor::Monitor;
use crate::store::scan::scan;
use crate::store::Store;

/// Cells outside every group (not kept) carry this group code.
pub const NO_GROUP: u32 = u32::MAX;

/// One gene's sums over the cells of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupSums {
    pub n_nonzero: u64,
    /// Raw counts: sum, sum of squares (exact integers) and the largest.
    pub sum: u64,
    pub sum_sq: u128,
    pub max: u32,
    /// Normalised counts (count / library size x target sum, before log1p).
    pub norm_sum: f64,
    pub norm_sum_sq: f64,
}

/// How cells are grouped and scaled for [`gene_sums`].
pub struct CellGroups<'a> {
    /// Group of each cell in 0..n_groups, or [`NO_GROUP`].
    pub group: &'a [u32],
    pub n_groups: usize,
    /// Number of cells in each group.
    pub sizes: Vec<u64>,
    /// target_sum / library size of each cell.
    pub scale: &'a [f64],
}

impl<'a> CellGroups<'a> {
    pub fn new(group: &'a [u32], n_groups: usize, scale: &'a [f64]) -> Self {
        CellGroups {
            group,
            n_groups,
            sizes: group_sizes(group, n_groups),
            scale,
        }
    }
}

/// Cells in each of `n_groups` groups (cells with [`NO_GROUP`] count in none).
pub fn group_sizes(group: &[u32], n_groups: usize) -> Vec<u64> {
    let mut sizes = vec![0u64; n_groups];
    group
        .iter()
        .filter(|&&g| g != NO_GROUP)
        .for_each(|&g| sizes[g as usize] += 1);
    sizes
}

/// Sums per gene (outer) and group (inner) for the genes `genes` (0-based, ascending).
pub fn gene_sums(
    store: &Store,
    genes: &[usize],
    cells: &CellGroups,
    monitor: Monitor,
) -> Result<Vec<Vec<GroupSums>>> {
    let sums = scan(
        &store.genes,
        genes,
        "HVG: gene means and variances",
        monitor,
        || (),
        |_, _, chunk| {
            let mut per_group = vec![GroupSums::default(); cells.n_groups];
            for (&c, &x) in chunk.indices.iter().zip(&chunk.counts) {
                let g = cells.group[c as usize];
                if g == NO_GROUP {
                    continue;
                }
                let s = &mut per_group[g as usize];
                let norm = x as f64 * cells.scale[c as usize];
                s.n_nonzero += 1;
                s.sum += x as u64;
                s.sum_sq += (x as u64 * x as u64) as u128;
                s.max = s.max.max(x);
                s.norm_sum += norm;
                s.norm_sum_sq += norm * norm;
            }
            per_group
        },
    )?;
    Ok(sums)
}

/// For each gene of `genes` and each group: the sum over the group's non-zero counts of
/// min(clip, (x - mean) / sd)^2 (Seurat's `SparseRowVarStd`), with `mean[k][b]`, `sd[k][b]`
/// for the k-th gene of `genes` and `clip[b]` per group.
pub fn clipped_square_sums(
    store: &Store,
    genes: &[usize],
    cells: &CellGroups,
    mean: &[Vec<f64>],
    sd: &[Vec<f64>],
    clip: &[f64],
    monitor: Monitor,
) -> Result<Vec<Vec<f64>>> {
    let position: std::collections::HashMap<usize, usize> =
        genes.iter().enumerate().map(|(k, &g)| (g, k)).collect();
    let sums = scan(
        &store.genes,
        genes,
        "HVG: clipped variances",
        monitor,
        || (),
        |_, gene, chunk| {
            let k = position[&gene];
            let mut per_group = vec![0f64; cells.n_groups];
            for (&c, &x) in chunk.indices.iter().zip(&chunk.counts) {
                let b = cells.group[c as usize];
                if b != NO_GROUP {
                    let b = b as usize;
                    let z = ((x as f64 - mean[k][b]) / sd[k][b]).min(clip[b]);
                    per_group[b] += z * z;
                }
            }
            per_group
        },
    )?;
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_group_skip_cells_outside_every_group() {
        let dir = crate::testdir::TestDir::new();
        let store = crate::testdir::simulated_store(&dir, 500, 200);
        let group: Vec<u32> = (0..500)
            .map(|c| if c % 5 == 0 { NO_GROUP } else { (c % 2) as u32 })
            .collect();
        let scale: Vec<f64> = (0..500).map(|c| 1.0 + c as f64 / 100.0).collect();
        let cells = CellGroups::new(&group, 2, &scale);
        assert_eq!(cells.sizes, vec![200, 200]);
        let genes = [0usize, 17, 199];
        let sums = gene_sums(&store, &genes, &cells, Monitor::quiet()).unwrap();
        for (k, &g) in genes.iter().enumerate() {
            let chunk = store.genes.read(g).unwrap();
            for b in 0..2u32 {
                let mine: Vec<(u32, u32)> = chunk
                    .indices
                    .iter()
                    .zip(&chunk.counts)
                    .filter(|(c, _)| group[**c as usize] == b)
                    .map(|(&c, &x)| (c, x))
                    .collect();
                let s = &sums[k][b as usize];
                assert_eq!(s.n_nonzero as usize, mine.len());
                assert_eq!(s.sum, mine.iter().map(|&(_, x)| x as u64).sum::<u64>());
                assert_eq!(
                    s.sum_sq,
                    mine.iter().map(|&(_, x)| (x as u128).pow(2)).sum::<u128>()
                );
                assert_eq!(s.max, mine.iter().map(|&(_, x)| x).max().unwrap_or(0));
                let norm: f64 = mine.iter().map(|&(c, x)| x as f64 * scale[c as usize]).sum();
                assert!((s.norm_sum - norm).abs() < 1e-9 * norm.max(1.0));
            }
        }
    }
}
