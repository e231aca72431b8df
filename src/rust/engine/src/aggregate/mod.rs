//! Expression summarised over groups of cells, from the chunk files: per gene and group the
//! sum, detection count, maximum, mean and variance of raw counts, normalised counts (CP10k)
//! or exact log-normalised values (`summary`, one read of each gene's gene-major chunk), and
//! pseudobulk sums of raw counts per sample and group (`pseudobulk`, one pass over the
//! cell-major chunks). `Cells` (groups and library sizes of the cells taking part) also
//! serves the marker tests.

pub mod pseudobulk;
pub mod summary;

use crate::hvg::genestats::group_sizes;

/// The value of one non-zero entry that is summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// The raw count.
    Raw,
    /// log1p(count / library size x target), exactly (not the stored f16).
    Norm,
    /// count / library size x target (expm1 of `Norm`; Seurat's `AverageExpression` scale).
    Scaled,
}

impl Value {
    #[inline]
    pub fn of(self, count: u32, library: f64, target_sum: f64) -> f64 {
        match self {
            Value::Raw => count as f64,
            Value::Norm => (count as f64 / library * target_sum).ln_1p(),
            Value::Scaled => count as f64 / library * target_sum,
        }
    }
}

/// The cells that take part and how they are grouped and normalised.
pub struct Cells {
    /// Group of each cell of the store in 0..n_groups, or
    /// [`NO_GROUP`](crate::hvg::genestats::NO_GROUP).
    pub group: Vec<u32>,
    pub n_groups: usize,
    /// Cells in each group.
    pub sizes: Vec<u64>,
    /// Library size (total count) of each cell.
    pub library: Vec<f64>,
    /// The normalisation's target sum (1e4, as Seurat and the store's norm layer).
    pub target_sum: f64,
}

impl Cells {
    pub fn new(group: Vec<u32>, n_groups: usize, library: Vec<f64>, target_sum: f64) -> Self {
        Cells {
            sizes: group_sizes(&group, n_groups),
            group,
            n_groups,
            library,
            target_sum,
        }
    }

    /// Cells taking part.
    pub fn n(&self) -> u64 {
        self.sizes.iter().sum()
    }
}
