//! Marker genes and differential expression with cells as observations: for every gene, one
//! read of its gene-major chunk ranks its values over the cells taking part once, and every
//! group's rank sum and value sums follow (`ranks`); each group against the other cells is
//! then a few arithmetic operations (`test`: Wilcoxon, ROC, Welch's t, fold changes), with
//! p-values in log space (`dist`); `table` applies Seurat's filters, adjustments and order.

pub mod dist;
pub mod ranks;
pub mod table;
pub mod test;

use crate::error::{Error, Result};
use crate::hvg::genestats::NO_GROUP;
use crate::monitor::Monitor;
use crate::store::Store;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use ranks::{gene_rank_sums, Cells, Ranking};
use table::{marker_table, Filters, MarkerRow};
use test::TestOptions;

/// What to compare and how.
pub struct MarkerRequest<'a> {
    /// Groups to report, each against all other cells taking part.
    pub report: &'a [usize],
    pub ranking: Ranking,
    pub test: TestOptions,
    pub filters: Filters,
}

/// Marker rows for every group of `req.report`, over all genes of the store, in one pass.
pub fn find_markers(
    store: &Store,
    cells: &Cells,
    req: &MarkerRequest,
    monitor: Monitor,
) -> Result<Vec<MarkerRow>> {
    if cells.group.len() != store.n_cells() || cells.library.len() != store.n_cells() {
        return Err(Error::Request(
            "one group and one library size per cell are needed".into(),
        ));
    }
    let n = cells.n();
    for &k in req.report {
        if cells.sizes[k] == 0 || cells.sizes[k] == n {
            return Err(Error::Request(
                "each group needs cells on both sides of its comparison".into(),
            ));
        }
    }
    let genes: Vec<usize> = (0..store.n_genes()).collect();
    let sums = gene_rank_sums(store, &genes, cells, req.ranking, req.test.needs_logs(), monitor)?;
    Ok(marker_table(
        &sums,
        req.report,
        &cells.sizes,
        &req.test,
        &req.filters,
        store.n_genes(),
    ))
}

/// Keeps at most `max` cells of each group (chosen at random with `seed`; others leave the
/// comparison), as Seurat's `max.cells.per.ident`.
pub fn downsample(group: &mut [u32], n_groups: usize, max: usize, seed: u64) {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
    for (c, &g) in group.iter().enumerate() {
        if g != NO_GROUP {
            members[g as usize].push(c);
        }
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    for cells in members.iter_mut().filter(|m| m.len() > max) {
        cells.shuffle(&mut rng);
        cells[max..].iter().for_each(|&c| group[c] = NO_GROUP);
    }
}
