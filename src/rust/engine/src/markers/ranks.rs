//! Per gene, in one pass over the gene-major chunks: the gene's values over the cells that
//! take part are ranked once (zeros form one tie block below every non-zero), and every
//! group's rank sum, detection count and value sums are accumulated. The Wilcoxon, ROC and
//! t statistics of any group against the others follow from these sums (see `test`).

use crate::error::Result;
use crate::monitor::Monitor;
use crate::store::chunk::Chunk;
use crate::store::scan::scan;
use crate::store::Store;

pub use crate::aggregate::Cells;
use crate::hvg::genestats::NO_GROUP;

/// Which values are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// count / library size in f64: the ties of the exact log-normalised values (Seurat's
    /// `data`), since log1p(x * target) is increasing in x.
    Exact,
    /// The stored f16 log-normalised values: faster, more ties.
    Stored,
}

/// One gene's sums over the cells of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupSums {
    pub n_nonzero: u64,
    /// Sum of the ranks of the group's non-zero values among the gene's non-zero values
    /// (1 = smallest; ties share their average rank).
    pub nonzero_rank_sum: f64,
    /// Sum of count / library size x target (expm1 of the exact log-normalised value).
    pub scaled_sum: f64,
    /// Sum and sum of squares of the exact log-normalised values (only when asked for).
    pub log_sum: f64,
    pub log_sum_sq: f64,
}

/// One gene's sums over every group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeneSums {
    pub groups: Vec<GroupSums>,
    /// sum of t^3 - t over the tie blocks of the non-zero values (f64: over the zeros of
    /// millions of cells an integer would overflow).
    pub nonzero_tie_term: f64,
}

impl GeneSums {
    pub fn n_nonzero(&self) -> u64 {
        self.groups.iter().map(|g| g.n_nonzero).sum()
    }
}

/// Scratch space of one thread: the (key, group) pairs of one gene.
type Keys = Vec<(u64, u32)>;

/// [`GeneSums`] for each gene of `genes` (0-based, ascending), in that order.
pub fn gene_rank_sums(
    store: &Store,
    genes: &[usize],
    cells: &Cells,
    ranking: Ranking,
    with_logs: bool,
    monitor: Monitor,
) -> Result<Vec<GeneSums>> {
    scan(
        &store.genes,
        genes,
        "markers: ranking each gene",
        monitor,
        Keys::new,
        |keys, _, chunk| one_gene(chunk, cells, ranking, with_logs, keys),
    )
}

fn one_gene(chunk: &Chunk, cells: &Cells, ranking: Ranking, with_logs: bool, keys: &mut Keys) -> GeneSums {
    let mut sums = GeneSums {
        groups: vec![GroupSums::default(); cells.n_groups],
        nonzero_tie_term: 0.0,
    };
    keys.clear();
    for k in 0..chunk.nnz() {
        let c = chunk.indices[k] as usize;
        let g = cells.group[c];
        if g == NO_GROUP {
            continue;
        }
        let fraction = chunk.counts[k] as f64 / cells.library[c];
        let s = &mut sums.groups[g as usize];
        s.n_nonzero += 1;
        let scaled = fraction * cells.target_sum;
        s.scaled_sum += scaled;
        if with_logs {
            let log = scaled.ln_1p();
            s.log_sum += log;
            s.log_sum_sq += log * log;
        }
        // Positive finite f64 and f16 values order as their bit patterns do.
        let key = match ranking {
            Ranking::Exact => fraction.to_bits(),
            Ranking::Stored => chunk.norm[k].to_bits() as u64,
        };
        keys.push((key, g));
    }
    keys.sort_unstable();
    let mut start = 0;
    while start < keys.len() {
        let key = keys[start].0;
        let end = start
            + keys[start..]
                .iter()
                .position(|e| e.0 != key)
                .unwrap_or(keys.len() - start);
        let t = (end - start) as f64;
        // Ranks start+1 ..= end share their average.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &(_, g) in &keys[start..end] {
            sums.groups[g as usize].nonzero_rank_sum += rank;
        }
        sums.nonzero_tie_term += t * t * t - t;
        start = end;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_sums_and_ties_equal_a_direct_ranking() {
        let dir = crate::testdir::TestDir::new();
        let store = crate::testdir::simulated_store(&dir, 400, 150);
        let library = crate::testdir::library_sizes(&store);
        let group: Vec<u32> = (0..400u32)
            .map(|c| if c % 7 == 0 { NO_GROUP } else { c % 3 })
            .collect();
        let cells = Cells::new(group.clone(), 3, library.clone(), 1e4);
        let genes: Vec<usize> = (0..150).collect();
        let sums = gene_rank_sums(&store, &genes, &cells, Ranking::Exact, true, Monitor::quiet()).unwrap();
        for &g in &[0usize, 40, 149] {
            let chunk = store.genes.read(g).unwrap();
            let values: Vec<(f64, u32)> = chunk
                .indices
                .iter()
                .zip(&chunk.counts)
                .filter(|(c, _)| group[**c as usize] != NO_GROUP)
                .map(|(&c, &x)| (x as f64 / library[c as usize], group[c as usize]))
                .collect();
            for b in 0..3u32 {
                // Average rank of value v among the non-zeros: (#smaller) + (#equal + 1) / 2.
                let expected: f64 = values
                    .iter()
                    .filter(|e| e.1 == b)
                    .map(|&(v, _)| {
                        let below = values.iter().filter(|e| e.0 < v).count() as f64;
                        let equal = values.iter().filter(|e| e.0 == v).count() as f64;
                        below + (equal + 1.0) / 2.0
                    })
                    .sum();
                let got = &sums[g].groups[b as usize];
                assert_eq!(got.nonzero_rank_sum, expected);
                assert_eq!(got.n_nonzero as usize, values.iter().filter(|e| e.1 == b).count());
            }
            let mut sorted: Vec<f64> = values.iter().map(|e| e.0).collect();
            sorted.sort_by(f64::total_cmp);
            let mut tie = 0.0;
            for block in sorted.chunk_by(|a, b| a == b) {
                let t = block.len() as f64;
                tie += t * t * t - t;
            }
            assert_eq!(sums[g].nonzero_tie_term, tie);
        }
    }
}
