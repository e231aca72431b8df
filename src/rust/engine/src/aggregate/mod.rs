//! Expression summarised over groups of cells, from the chunk files: per gene and group the
//! sum, detection count, maximum, mean and variance of raw counts, normalised counts (CP10k)
//! or exact log-normalised values (`summary`, one read of each gene's gene-major chunk), and
//! pseudobulk sums of raw counts per sample and group (`pseudobulk`, one pass over the
//! cell-major chunks).

pub mod pseudobulk;
pub mod summary;

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
