//! Per gene and group of cells: detection count, sum, maximum, and mean and variance over all
//! the group's cells (zeros included), in one read of each gene's gene-major chunk. Means and
//! variances are accumulated over the non-zeros (Welford) and joined with the group's zeros
//! (Chan et al.), so they keep full precision even where the mean is large.

use crate::aggregate::{Cells, Value};
use crate::error::Result;
use crate::hvg::genestats::NO_GROUP;
use crate::monitor::Monitor;
use crate::store::scan::scan;
use crate::store::Store;

/// One gene over the non-zero values of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub n_nonzero: u64,
    pub sum: f64,
    pub max: f64,
    /// Mean of the non-zero values and the sum of their squared deviations from it.
    pub nonzero_mean: f64,
    pub nonzero_m2: f64,
}

/// The statistics `aggregate_expression()` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Sum,
    Mean,
    CountNonzero,
    /// Percent of the group's cells with a non-zero value.
    Pct,
    Max,
    /// Sample variance (n - 1) over all the group's cells.
    Var,
    MeanNonzero,
}

impl Summary {
    fn add(&mut self, x: f64) {
        self.n_nonzero += 1;
        self.sum += x;
        self.max = self.max.max(x);
        let delta = x - self.nonzero_mean;
        self.nonzero_mean += delta / self.n_nonzero as f64;
        self.nonzero_m2 += delta * (x - self.nonzero_mean);
    }

    /// `stat` over a group of `n_cells` cells (NaN where undefined: a variance of one cell, a
    /// mean of no non-zero).
    pub fn statistic(&self, stat: Statistic, n_cells: u64) -> f64 {
        let (n, k) = (n_cells as f64, self.n_nonzero as f64);
        match stat {
            Statistic::Sum => self.sum,
            Statistic::Mean => self.sum / n,
            Statistic::CountNonzero => k,
            Statistic::Pct => 100.0 * k / n,
            Statistic::Max => self.max,
            Statistic::MeanNonzero if k == 0.0 => f64::NAN,
            Statistic::MeanNonzero => self.sum / k,
            Statistic::Var if n < 2.0 => f64::NAN,
            Statistic::Var => {
                // The zeros: n - k values of 0, mean 0, no spread.
                let m2 = self.nonzero_m2 + self.nonzero_mean * self.nonzero_mean * k * (n - k) / n;
                m2 / (n - 1.0)
            }
        }
    }
}

/// [`Summary`] per gene of `genes` (0-based, ascending; outer) and group (inner).
pub fn summarise(
    store: &Store,
    genes: &[usize],
    cells: &Cells,
    value: Value,
    monitor: Monitor,
) -> Result<Vec<Vec<Summary>>> {
    scan(
        &store.genes,
        genes,
        "aggregating expression",
        monitor,
        || (),
        |_, _, chunk| {
            let mut per_group = vec![Summary::default(); cells.n_groups];
            for (&c, &x) in chunk.indices.iter().zip(&chunk.counts) {
                let g = cells.group[c as usize];
                if g != NO_GROUP {
                    per_group[g as usize].add(value.of(x, cells.library[c as usize], cells.target_sum));
                }
            }
            per_group
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_include_the_zeros_of_the_group() {
        // Values 0, 0, 2, 4, 9 (n = 5): R's var(c(0, 0, 2, 4, 9)) = 14.
        let mut s = Summary::default();
        [2.0, 4.0, 9.0].into_iter().for_each(|x| s.add(x));
        assert_eq!(s.statistic(Statistic::Sum, 5), 15.0);
        assert_eq!(s.statistic(Statistic::Mean, 5), 3.0);
        assert_eq!(s.statistic(Statistic::CountNonzero, 5), 3.0);
        assert_eq!(s.statistic(Statistic::Pct, 5), 60.0);
        assert_eq!(s.statistic(Statistic::Max, 5), 9.0);
        assert_eq!(s.statistic(Statistic::MeanNonzero, 5), 5.0);
        assert!((s.statistic(Statistic::Var, 5) - 14.0).abs() < 1e-12);
        assert!(Summary::default().statistic(Statistic::MeanNonzero, 3).is_nan());
        assert_eq!(Summary::default().statistic(Statistic::Var, 3), 0.0);
    }

    #[test]
    fn summaries_of_a_store_equal_direct_sums() {
        let dir = crate::testdir::TestDir::new();
        let store = crate::testdir::simulated_store(&dir, 300, 80);
        let library = crate::testdir::library_sizes(&store);
        let group: Vec<u32> = (0..300u32)
            .map(|c| if c % 10 == 0 { NO_GROUP } else { c % 2 })
            .collect();
        let cells = Cells::new(group.clone(), 2, library, 1e4);
        let got = summarise(&store, &[3, 50], &cells, Value::Raw, Monitor::quiet()).unwrap();
        for (k, g) in [3usize, 50].into_iter().enumerate() {
            let chunk = store.genes.read(g).unwrap();
            for b in 0..2u32 {
                let mine: Vec<f64> = chunk
                    .indices
                    .iter()
                    .zip(&chunk.counts)
                    .filter(|(c, _)| group[**c as usize] == b)
                    .map(|(_, &x)| x as f64)
                    .collect();
                assert_eq!(got[k][b as usize].sum, mine.iter().sum::<f64>());
                assert_eq!(got[k][b as usize].n_nonzero as usize, mine.len());
            }
        }
    }
}
