//! Count matrices stored in HDF5, read in bounded slices: compressed sparse (`data`,
//! `indices`, `indptr`, as 10x HDF5 and anndata CSR/CSC write them) and dense 2-D datasets.
//! "Major" is the compressed axis (cells for 10x and CSR, genes for CSC).

use crate::error::{Error, Result};
use crate::input::h5;
use crate::input::CellBatch;
use hdf5::{Dataset, Group};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Entries read at once (values and indices of ~4M non-zeros: ~50 MB).
pub const SLICE_ENTRIES: u64 = 4 << 20;

/// How stored values become counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Every value must be a whole number (raw UMI counts).
    Refuse,
    /// Values are rounded to the nearest whole number (e.g. ambient-corrected counts).
    Nearest,
}

/// Converts stored values to counts; zeros become `0` (callers drop them). Returns how many
/// values were rounded.
pub fn to_counts(values: &[f64], rounding: Rounding, what: &dyn Fn() -> String) -> Result<(Vec<u32>, u64)> {
    let mut rounded = 0u64;
    let counts = values
        .iter()
        .map(|&v| {
            if v.is_nan() || v < 0.0 || v > u32::MAX as f64 {
                return Err(Error::Input(format!(
                    "{} holds the value {v}; counts must be whole numbers from \
                    0 to 4,294,967,295",
                    what()
                )));
            }
            if v.fract() != 0.0 {
                if rounding == Rounding::Refuse {
                    return Err(Error::Input(format!(
                        "{} holds the value {v}, which is not a whole number: this looks like normalised \
                            data, not raw counts. Point `counts` at the raw counts (often layers/counts \
                            or raw/X), or set allow_non_integer = TRUE to round",
                        what()
                    )));
                }
                rounded += 1;
            }
            Ok(v.round() as u32)
        })
        .collect::<Result<Vec<u32>>>()?;
    Ok((counts, rounded))
}

/// A compressed sparse matrix in an HDF5 group. `indptr` (one entry per major + 1) is held in
/// memory; values and indices are read in slices.
pub struct Compressed {
    file: PathBuf,
    data: Dataset,
    indices: Dataset,
    pub indptr: Vec<u64>,
    pub n_minor: usize,
}

impl Compressed {
    /// Opens `data`, `indices`, `indptr` of `g` and checks them against the expected shape.
    pub fn open(g: &Group, file: &Path, n_major: usize, n_minor: usize) -> Result<Self> {
        let data = h5::dataset(g, "data", file)?;
        let indices = h5::dataset(g, "indices", file)?;
        let indptr_ds = h5::dataset(g, "indptr", file)?;
        let here = || format!("'{}': sparse matrix '{}'", file.display(), g.name());
        if h5::len(&indptr_ds) != n_major + 1 {
            return Err(Error::Input(format!(
                "{}: indptr has {} entries but the matrix has {n_major} rows \
                along its compressed axis (expected {})",
                here(),
                h5::len(&indptr_ds),
                n_major + 1
            )));
        }
        let indptr = h5::read_index(&indptr_ds, 0..n_major + 1, file)?;
        let nnz = *indptr.last().unwrap_or(&0);
        if indptr[0] != 0 || indptr.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::Input(format!(
                "{}: indptr must start at 0 and never decrease",
                here()
            )));
        }
        if h5::len(&data) as u64 != nnz || h5::len(&indices) as u64 != nnz {
            return Err(Error::Input(format!(
                "{}: indptr ends at {nnz} but data holds {} and indices {} values",
                here(),
                h5::len(&data),
                h5::len(&indices)
            )));
        }
        if h5::is_integer_type(&data).is_none() {
            return Err(Error::Input(format!("{}: data is not numeric", here())));
        }
        Ok(Compressed {
            file: file.to_path_buf(),
            data,
            indices,
            indptr,
            n_minor,
        })
    }

    pub fn nnz(&self) -> u64 {
        *self.indptr.last().unwrap_or(&0)
    }

    /// Consecutive ranges of majors holding about `budget` entries each.
    pub fn batches(&self, budget: u64) -> Vec<Range<usize>> {
        let n = self.indptr.len() - 1;
        let mut out = Vec::new();
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && self.indptr[end + 1] - self.indptr[start] <= budget {
                end += 1;
            }
            out.push(start..end);
            start = end;
        }
        out
    }

    /// The entries of majors `r`: minor indices and stored values (as f64).
    pub fn read(&self, r: Range<usize>) -> Result<(Vec<u64>, Vec<f64>)> {
        let entries = self.indptr[r.start] as usize..self.indptr[r.end] as usize;
        let minor = h5::read_index(&self.indices, entries.clone(), &self.file)?;
        if let Some(bad) = minor.iter().find(|&&i| i as usize >= self.n_minor) {
            return Err(Error::Input(format!(
                "'{}': '{}' holds index {bad}, outside the matrix (size {})",
                self.file.display(),
                self.indices.name(),
                self.n_minor
            )));
        }
        Ok((minor, h5::read_range::<f64>(&self.data, entries, &self.file)?))
    }

    /// Like [`read`](Self::read), with values converted to counts and zeros dropped, as a
    /// batch whose "cells" are the majors `r` (empty ones left out) and whose "genes" are the
    /// minor indices, in stored order. Returns the batch and how many values were rounded.
    pub fn read_counts(&self, r: Range<usize>, rounding: Rounding) -> Result<(CellBatch, u64)> {
        let (minor, values) = self.read(r.clone())?;
        let (counts, rounded) = to_counts(&values, rounding, &|| {
            format!("'{}': '{}'", self.file.display(), self.data.name())
        })?;
        let base = self.indptr[r.start];
        let mut batch = CellBatch::new();
        for m in r {
            for k in (self.indptr[m] - base) as usize..(self.indptr[m + 1] - base) as usize {
                if counts[k] > 0 {
                    batch.push(minor[k] as u32, counts[k]);
                }
            }
            batch.end_cell(m as u32);
        }
        Ok((batch, rounded))
    }
}

/// A dense 2-D count matrix, cells in rows; read in blocks of whole rows.
pub struct Dense {
    file: PathBuf,
    ds: Dataset,
    pub n_rows: usize,
    pub n_cols: usize,
}

impl Dense {
    pub fn open(ds: Dataset, file: &Path) -> Result<Self> {
        let shape = ds.shape();
        if shape.len() != 2 {
            return Err(Error::Input(format!(
                "'{}': '{}' has {} dimensions; a dense matrix has 2",
                file.display(),
                ds.name(),
                shape.len()
            )));
        }
        if h5::is_integer_type(&ds).is_none() {
            return Err(Error::Input(format!(
                "'{}': '{}' is not numeric",
                file.display(),
                ds.name()
            )));
        }
        Ok(Dense {
            file: file.to_path_buf(),
            n_rows: shape[0],
            n_cols: shape[1],
            ds,
        })
    }

    /// Row ranges of about `budget` values each.
    pub fn batches(&self, budget: u64) -> Vec<Range<usize>> {
        let rows = (budget as usize / self.n_cols.max(1)).max(1);
        (0..self.n_rows)
            .step_by(rows)
            .map(|s| s..(s + rows).min(self.n_rows))
            .collect()
    }

    /// Rows `r`, row-major.
    pub fn read(&self, r: Range<usize>) -> Result<Vec<f64>> {
        self.ds
            .read_slice_2d::<f64, _>((r, ..))
            .map(|a| a.as_standard_layout().iter().copied().collect())
            .map_err(h5::err(&self.file, &self.ds.name()))
    }
}
