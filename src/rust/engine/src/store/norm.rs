//! The normalised layer: log1p(count / library size x target), stored as f16.

use half::f16;

/// Seurat's `LogNormalize` / scanpy's `normalize_total` + `log1p`, for one value.
#[inline]
pub fn log_normalised(count: u32, library_size: f64, target_sum: f64) -> f64 {
    (count as f64 / library_size * target_sum).ln_1p()
}

/// [`log_normalised`] as stored in the chunks.
#[inline]
pub fn log_normalise(count: u32, library_size: u64, target_sum: f64) -> f16 {
    f16::from_f64(log_normalised(count, library_size as f64, target_sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_log1p_of_scaled_count_within_f16_precision() {
        for (c, lib) in [(1u32, 1000u64), (7, 2419), (300, 4903), (65_536, 70_000)] {
            let exact = (c as f64 / lib as f64 * 1e4).ln_1p();
            let stored = log_normalise(c, lib, 1e4).to_f64();
            assert!(
                (stored - exact).abs() <= exact * 2f64.powi(-11),
                "{c}/{lib}: {stored} vs {exact}"
            );
        }
    }
}
