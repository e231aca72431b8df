//! TF codes: each TF's values over the fitting cells quantised to u8, built once and shared
//! read-only by every tree. Code 0 is exactly zero; non-zero values fall into at most
//! `n_bins` bins cut at quantiles of the TF's non-zero values (or at equal widths), ties
//! collapsed, so codes are ordered as the values are and a split "code <= k" is a split on
//! the value. Kept twice: sparse per TF (the non-zeros, for large nodes) and dense per cell
//! (for small nodes).

use super::Columns;
use crate::error::{Error, Result};

/// Where the non-zero bins are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binning {
    /// At quantiles of the TF's non-zero values: every bin holds about as many cells.
    Quantile,
    /// At equal widths between the TF's smallest and largest non-zero value.
    EqualWidth,
}

pub struct TfCodes {
    pub n_cells: usize,
    pub n_tfs: usize,
    /// Per TF the cells with a non-zero value (ascending) and their codes.
    pub ptr: Vec<usize>,
    pub cells: Vec<u32>,
    pub codes: Vec<u8>,
    /// Per TF the number of codes in use (zero included).
    pub n_codes: Vec<u16>,
    /// Per TF the largest value of each non-zero code (code k: `cuts[tf][k - 1]`).
    pub cuts: Vec<Vec<f32>>,
    /// `dense[tf * n_cells + cell]`: the code of every TF and cell.
    dense: Vec<u8>,
}

impl TfCodes {
    pub fn build(tfs: &Columns, n_bins: usize, binning: Binning) -> Result<Self> {
        if !(1..=255).contains(&n_bins) {
            return Err(Error::Request(format!("n_bins must be 1 to 255, not {n_bins}")));
        }
        let (n_cells, n_tfs) = (tfs.n_cells, tfs.n_columns());
        let mut out = TfCodes {
            n_cells,
            n_tfs,
            ptr: tfs.ptr.clone(),
            cells: tfs.cells.clone(),
            codes: vec![0; tfs.cells.len()],
            n_codes: Vec::with_capacity(n_tfs),
            cuts: Vec::with_capacity(n_tfs),
            dense: vec![0; n_cells * n_tfs],
        };
        for tf in 0..n_tfs {
            let range = tfs.ptr[tf]..tfs.ptr[tf + 1];
            let values = &tfs.values[range.clone()];
            if values.iter().any(|&v| v.is_nan() || v < 0.0 || v.is_infinite()) {
                return Err(Error::Request(
                    "TF values must be finite and non-negative (counts or log-normalised values)".into(),
                ));
            }
            let cuts = cut_points(values, n_bins, binning);
            for (k, &v) in values.iter().enumerate() {
                let code = 1 + cuts.partition_point(|&c| c < v) as u8;
                out.codes[range.start + k] = code;
                out.dense[tf * n_cells + tfs.cells[range.start + k] as usize] = code;
            }
            out.n_codes.push(cuts.len() as u16 + 1);
            out.cuts.push(cuts);
        }
        Ok(out)
    }

    pub fn nonzeros(&self, tf: usize) -> (&[u32], &[u8]) {
        let r = self.ptr[tf]..self.ptr[tf + 1];
        (&self.cells[r.clone()], &self.codes[r])
    }

    /// The code of every fitting cell for `tf`.
    pub fn column(&self, tf: usize) -> &[u8] {
        &self.dense[tf * self.n_cells..(tf + 1) * self.n_cells]
    }

    pub fn nnz(&self, tf: usize) -> usize {
        self.ptr[tf + 1] - self.ptr[tf]
    }
}

/// The largest value of each non-zero bin, ascending and distinct; a value v falls into the
/// first bin whose cut is >= v. Stored zeros are not values here (code 0).
fn cut_points(values: &[f32], n_bins: usize, binning: Binning) -> Vec<f32> {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|&v| v > 0.0).collect();
    if sorted.is_empty() {
        return Vec::new();
    }
    sorted.sort_unstable_by(f32::total_cmp);
    let m = sorted.len();
    let (lo, hi) = (sorted[0], sorted[m - 1]);
    let mut cuts: Vec<f32> = match binning {
        Binning::Quantile => (1..=n_bins)
            .map(|k| sorted[(k * m).div_ceil(n_bins) - 1])
            .collect(),
        Binning::EqualWidth => (1..=n_bins)
            .map(|k| {
                let edge = lo + (hi - lo) * k as f32 / n_bins as f32;
                // The largest value at or below the edge keeps every cut a value of the TF.
                sorted[sorted.partition_point(|&v| v <= edge).max(1) - 1]
            })
            .collect(),
    };
    cuts.push(hi);
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_tf(values: &[f32]) -> Columns {
        let cells: Vec<u32> = (0..values.len() as u32)
            .filter(|&c| values[c as usize] != 0.0)
            .collect();
        Columns {
            n_cells: values.len(),
            ptr: vec![0, cells.len()],
            values: cells.iter().map(|&c| values[c as usize]).collect(),
            cells,
        }
    }

    #[test]
    fn few_distinct_values_keep_one_code_each_and_zero_is_code_zero() {
        let v = [0.0, 3.0, 1.0, 0.0, 3.0, 2.0, 1.0, 1.0];
        let codes = TfCodes::build(&one_tf(&v), 255, Binning::Quantile).unwrap();
        assert_eq!(codes.cuts[0], vec![1.0, 2.0, 3.0]);
        assert_eq!(codes.column(0), &[0, 3, 1, 0, 3, 2, 1, 1]);
        assert_eq!(codes.n_codes[0], 4);
        assert_eq!(codes.nonzeros(0).1, &[3, 1, 3, 2, 1, 1]);
    }

    #[test]
    fn quantile_bins_hold_equal_shares_and_equal_width_bins_equal_ranges() {
        let v: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        let q = TfCodes::build(&one_tf(&v), 4, Binning::Quantile).unwrap();
        assert_eq!(q.cuts[0], vec![250.0, 500.0, 750.0, 1000.0]);
        let mut skewed: Vec<f32> = (1..=999).map(|i| i as f32 / 1000.0).collect();
        skewed.push(100.0);
        let w = TfCodes::build(&one_tf(&skewed), 4, Binning::EqualWidth).unwrap();
        assert_eq!(w.cuts[0], vec![0.999, 100.0]);
        assert!(TfCodes::build(&one_tf(&[-1.0, 2.0]), 8, Binning::Quantile).is_err());
    }
}
